//! Sprig's URL functions: `urlParse` and `urlJoin` (`url.go`), on a port of the parts of
//! Go's `net/url` they use (`Parse`, `URL.String`, `Hostname`, the escaping rules).

use ferry_gotmpl::{FuncError, Funcs, Map, Signature, Type, Value};

use super::util::kind_of;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Path,
    Host,
    Zone,
    UserPassword,
    Fragment,
}

/// Go's `shouldEscape`.
fn should_escape(c: u8, mode: Mode) -> bool {
    if c.is_ascii_alphanumeric() {
        return false;
    }
    if matches!(mode, Mode::Host | Mode::Zone)
        && matches!(
            c,
            b'!' | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'['
                | b']'
                | b'<'
                | b'>'
                | b'"'
        )
    {
        return false;
    }
    match c {
        b'-' | b'_' | b'.' | b'~' => return false,
        b'$' | b'&' | b'+' | b',' | b'/' | b':' | b';' | b'=' | b'?' | b'@' => match mode {
            Mode::Path => return c == b'?',
            Mode::UserPassword => return matches!(c, b'@' | b'/' | b'?' | b':'),
            Mode::Fragment => return false,
            _ => {}
        },
        _ => {}
    }
    if mode == Mode::Fragment && matches!(c, b'!' | b'(' | b')' | b'*') {
        return false;
    }
    true
}

/// Go's `escape`.
fn escape(s: &str, mode: Mode) -> String {
    let mut out = String::with_capacity(s.len());
    for &c in s.as_bytes() {
        if should_escape(c, mode) {
            out.push_str(&format!("%{c:02X}"));
        } else {
            out.push(c as char);
        }
    }
    out
}

fn unhex(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

/// Go's `unescape` (never in query mode here, so `+` stays `+`).
fn unescape(s: &str, mode: Mode) -> Result<String, String> {
    let b = s.as_bytes();
    let quote = ferry_gotmpl::gofmt::quote;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                if i + 2 >= b.len()
                    || !b[i + 1].is_ascii_hexdigit()
                    || !b[i + 2].is_ascii_hexdigit()
                {
                    let end = (i + 3).min(b.len());
                    return Err(format!(
                        "invalid URL escape {}",
                        quote(&String::from_utf8_lossy(&b[i..end]))
                    ));
                }
                let esc = &s[i..i + 3];
                if mode == Mode::Host && unhex(b[i + 1]) < 8 && esc != "%25" {
                    return Err(format!("invalid URL escape {}", quote(esc)));
                }
                if mode == Mode::Zone {
                    let v = unhex(b[i + 1]) << 4 | unhex(b[i + 2]);
                    if esc != "%25" && v != b' ' && should_escape(v, Mode::Host) {
                        return Err(format!("invalid URL escape {}", quote(esc)));
                    }
                }
                i += 3;
            }
            c => {
                if matches!(mode, Mode::Host | Mode::Zone) && c < 0x80 && should_escape(c, mode) {
                    return Err(format!(
                        "invalid character {} in host name",
                        quote(&(c as char).to_string())
                    ));
                }
                i += 1;
            }
        }
    }
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            out.push(unhex(b[i + 1]) << 4 | unhex(b[i + 2]));
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn valid_optional_port(port: &str) -> bool {
    match port.strip_prefix(':') {
        None => port.is_empty(),
        Some(digits) => digits.bytes().all(|b| b.is_ascii_digit()),
    }
}

/// Go's `netip.ParseAddr` as `parseHost` uses it: `Some(is IPv4)` when valid.
fn parse_ip(s: &str) -> Result<bool, String> {
    if s.parse::<std::net::Ipv4Addr>().is_ok() {
        return Ok(true);
    }
    let no_zone = s.split_once('%').map_or(s, |(a, _)| a);
    if no_zone.parse::<std::net::Ipv6Addr>().is_ok() {
        return Ok(false);
    }
    Err(format!(
        "ParseAddr({}): unable to parse IP",
        ferry_gotmpl::gofmt::quote(s)
    ))
}

/// Go's `parseHost`.
fn parse_host(scheme: &str, host: &str) -> Result<String, String> {
    match host.rfind('[') {
        Some(i) if i > 0 => return Err("invalid IP-literal".into()),
        Some(_) => {
            let Some(close) = host.rfind(']') else {
                return Err("missing ']' in host".into());
            };
            let colon_port = &host[close + 1..];
            if !valid_optional_port(colon_port) {
                return Err(format!(
                    "invalid port {} after host",
                    ferry_gotmpl::gofmt::quote(colon_port)
                ));
            }
            let colon_port = unescape(colon_port, Mode::Host)?;
            let hostname = &host[1..close];
            let unescaped = match hostname.find("%25") {
                Some(z) => {
                    unescape(&hostname[..z], Mode::Host)? + &unescape(&hostname[z..], Mode::Zone)?
                }
                None => unescape(hostname, Mode::Host)?,
            };
            if parse_ip(&unescaped).map_err(|e| format!("invalid host: {e}"))? {
                return Err("invalid IP-literal".into());
            }
            return Ok(format!("[{unescaped}]{colon_port}"));
        }
        None => {}
    }
    if let Some(mut i) = host.find(':') {
        let last = host.rfind(':').unwrap_or(i);
        if last != i && scheme != "http" && scheme != "https" {
            i = last;
        }
        let colon_port = &host[i..];
        if !valid_optional_port(colon_port) {
            return Err(format!(
                "invalid port {} after host",
                ferry_gotmpl::gofmt::quote(colon_port)
            ));
        }
    }
    unescape(host, Mode::Host)
}

/// Go's `url.Userinfo`.
struct User {
    name: String,
    password: Option<String>,
}

impl User {
    fn to_go_string(&self) -> String {
        let mut s = escape(&self.name, Mode::UserPassword);
        if let Some(p) = &self.password {
            s.push(':');
            s.push_str(&escape(p, Mode::UserPassword));
        }
        s
    }
}

/// The fields of Go's `url.URL` that Sprig reads or writes.
#[derive(Default)]
struct Url {
    scheme: String,
    opaque: String,
    user: Option<User>,
    host: String,
    path: String,
    raw_query: String,
    fragment: String,
    force_query: bool,
    omit_host: bool,
}

fn valid_userinfo(s: &str) -> bool {
    s.chars().all(|r| {
        r.is_ascii_alphanumeric()
            || matches!(
                r,
                '-' | '.'
                    | '_'
                    | ':'
                    | '~'
                    | '!'
                    | '$'
                    | '&'
                    | '\''
                    | '('
                    | ')'
                    | '*'
                    | '+'
                    | ','
                    | ';'
                    | '='
                    | '%'
                    | '@'
            )
    })
}

fn get_scheme(raw: &str) -> Result<(&str, &str), String> {
    for (i, c) in raw.bytes().enumerate() {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' => {
                if i == 0 {
                    return Ok(("", raw));
                }
            }
            b':' => {
                if i == 0 {
                    return Err("missing protocol scheme".into());
                }
                return Ok((&raw[..i], &raw[i + 1..]));
            }
            _ => return Ok(("", raw)),
        }
    }
    Ok(("", raw))
}

/// Go's `parse(rawURL, false)`.
fn parse_no_frag(raw: &str) -> Result<Url, String> {
    if raw.bytes().any(|b| b < b' ' || b == 0x7f) {
        return Err("net/url: invalid control character in URL".into());
    }
    let mut u = Url::default();
    if raw == "*" {
        u.path = "*".into();
        return Ok(u);
    }
    let (scheme, rest) = get_scheme(raw)?;
    u.scheme = scheme.to_ascii_lowercase();
    let mut rest = if rest.ends_with('?') && rest.matches('?').count() == 1 {
        u.force_query = true;
        &rest[..rest.len() - 1]
    } else {
        match rest.split_once('?') {
            Some((r, q)) => {
                u.raw_query = q.to_string();
                r
            }
            None => rest,
        }
    };
    if !rest.starts_with('/') {
        if !u.scheme.is_empty() {
            u.opaque = rest.to_string();
            return Ok(u);
        }
        let segment = rest.split('/').next().unwrap_or_default();
        if segment.contains(':') {
            return Err("first path segment in URL cannot contain colon".into());
        }
    }
    if (!u.scheme.is_empty() || !rest.starts_with("///")) && rest.starts_with("//") {
        let mut authority = &rest[2..];
        rest = "";
        if let Some(i) = authority.find('/') {
            rest = &authority[i..];
            authority = &authority[..i];
        }
        let at = authority.rfind('@');
        let host_part = at.map_or(authority, |i| &authority[i + 1..]);
        u.host = parse_host(&u.scheme, host_part)?;
        if let Some(i) = at {
            let userinfo = &authority[..i];
            if !valid_userinfo(userinfo) {
                return Err("net/url: invalid userinfo".into());
            }
            u.user = Some(match userinfo.split_once(':') {
                None => User {
                    name: unescape(userinfo, Mode::UserPassword)?,
                    password: None,
                },
                Some((n, p)) => User {
                    name: unescape(n, Mode::UserPassword)?,
                    password: Some(unescape(p, Mode::UserPassword)?),
                },
            });
        }
    } else if !u.scheme.is_empty() && rest.starts_with('/') {
        u.omit_host = true;
    }
    u.path = unescape(rest, Mode::Path)?;
    Ok(u)
}

/// Go's `url.Parse`, with its `*url.Error` text on failure.
fn parse(raw: &str) -> Result<Url, String> {
    let quote = ferry_gotmpl::gofmt::quote;
    let (main, frag) = raw.split_once('#').unwrap_or((raw, ""));
    let mut u = parse_no_frag(main).map_err(|e| format!("parse {}: {e}", quote(main)))?;
    if !frag.is_empty() {
        u.fragment =
            unescape(frag, Mode::Fragment).map_err(|e| format!("parse {}: {e}", quote(raw)))?;
    }
    Ok(u)
}

impl Url {
    /// Go's `URL.Hostname`.
    fn hostname(&self) -> String {
        let mut host = self.host.as_str();
        if let Some(colon) = host.rfind(':')
            && valid_optional_port(&host[colon..])
        {
            host = &host[..colon];
        }
        if host.starts_with('[') && host.ends_with(']') && host.len() >= 2 {
            host = &host[1..host.len() - 1];
        }
        host.to_string()
    }

    /// Go's `URL.String` (no raw path or raw fragment: Sprig builds URLs from fields).
    fn to_go_string(&self) -> String {
        let mut out = String::new();
        if !self.scheme.is_empty() {
            out.push_str(&self.scheme);
            out.push(':');
        }
        if !self.opaque.is_empty() {
            out.push_str(&self.opaque);
        } else {
            let has_authority =
                !self.scheme.is_empty() || !self.host.is_empty() || self.user.is_some();
            let omit = self.omit_host && self.host.is_empty() && self.user.is_none();
            if has_authority && !omit {
                if !self.host.is_empty() || !self.path.is_empty() || self.user.is_some() {
                    out.push_str("//");
                }
                if let Some(u) = &self.user {
                    out.push_str(&u.to_go_string());
                    out.push('@');
                }
                if !self.host.is_empty() {
                    out.push_str(&escape(&self.host, Mode::Host));
                }
            }
            let path = if self.path == "*" {
                "*".to_string()
            } else {
                escape(&self.path, Mode::Path)
            };
            if !path.is_empty() && !path.starts_with('/') && !self.host.is_empty() {
                out.push('/');
            }
            if out.is_empty() && path.split('/').next().unwrap_or_default().contains(':') {
                out.push_str("./");
            }
            out.push_str(&path);
        }
        if self.force_query || !self.raw_query.is_empty() {
            out.push('?');
            out.push_str(&self.raw_query);
        }
        if !self.fragment.is_empty() {
            out.push('#');
            out.push_str(&escape(&self.fragment, Mode::Fragment));
        }
        out
    }
}

fn url_parse(s: &str) -> Result<Value, FuncError> {
    let u = parse(s).map_err(|e| FuncError::new(format!("unable to parse url: {e}")))?;
    let userinfo = u.user.as_ref().map(User::to_go_string).unwrap_or_default();
    Ok(Value::map([
        ("scheme", Value::string(u.scheme.as_str())),
        ("host", Value::string(u.host.as_str())),
        ("hostname", Value::string(u.hostname())),
        ("path", Value::string(u.path.as_str())),
        ("query", Value::string(u.raw_query.as_str())),
        ("opaque", Value::string(u.opaque.as_str())),
        ("fragment", Value::string(u.fragment.as_str())),
        ("userinfo", Value::string(userinfo)),
    ]))
}

/// Sprig's `dictGetOrEmpty`: the string at `key`, `""` when absent, a panic otherwise.
fn get_or_empty(d: &Map, key: &str) -> Result<String, FuncError> {
    let Some(v) = d.get(key) else {
        return Ok(String::new());
    };
    match v {
        Value::String(s) => Ok(s.to_string()),
        v => Err(FuncError::new(format!(
            "unable to parse {key} key, must be of type string, but {} found",
            kind_of(&v)?
        ))),
    }
}

fn url_join(d: &Map) -> Result<Value, FuncError> {
    let mut u = Url {
        scheme: get_or_empty(d, "scheme")?,
        host: get_or_empty(d, "host")?,
        path: get_or_empty(d, "path")?,
        raw_query: get_or_empty(d, "query")?,
        opaque: get_or_empty(d, "opaque")?,
        fragment: get_or_empty(d, "fragment")?,
        ..Url::default()
    };
    let userinfo = get_or_empty(d, "userinfo")?;
    if !userinfo.is_empty() {
        let tmp = parse(&format!("proto://{userinfo}@host"))
            .map_err(|e| FuncError::new(format!("unable to parse userinfo in dict: {e}")))?;
        u.user = tmp.user;
    }
    Ok(Value::string(u.to_go_string()))
}

/// Registers this group's functions.
pub fn register(funcs: &mut Funcs) {
    funcs.add(
        "urlParse",
        Signature::new([Type::String], Type::map()),
        |_, a| url_parse(a[0].as_str().unwrap_or_default()),
    );
    funcs.add(
        "urlJoin",
        Signature::new([Type::map()], Type::String),
        |_, a| match &a[0] {
            Value::Map(m) => url_join(m),
            // A nil map reads as empty.
            _ => url_join(&Map::new()),
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_url_round_trips() {
        let u = parse("https://user:p%40w@host.io:8080/p%20a?q=1#f%20g").unwrap();
        assert_eq!(u.path, "/p a");
        assert_eq!(u.fragment, "f g");
        assert_eq!(u.hostname(), "host.io");
        assert_eq!(
            u.to_go_string(),
            "https://user:p%40w@host.io:8080/p%20a?q=1#f%20g"
        );
        assert_eq!(parse("mailto:x@y").unwrap().opaque, "x@y");
        assert_eq!(parse("a:b/c").unwrap().to_go_string(), "a:b/c");
        assert_eq!(
            parse("%zz").err().unwrap(),
            "parse \"%zz\": invalid URL escape \"%zz\""
        );
        assert_eq!(
            parse(":x").err().unwrap(),
            "parse \":x\": missing protocol scheme"
        );
    }
}
