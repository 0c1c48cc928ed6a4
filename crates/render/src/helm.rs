//! Helm's own template functions (`pkg/engine/funcs.go`, `engine.go`): `include`, `tpl`,
//! `required`, `fail`, `lookup`, the YAML/JSON/TOML converters.

use std::collections::HashMap;
use std::sync::Arc;

use ferry_chart::Value as CValue;
use ferry_gotmpl::{Ctx, FuncError, Funcs, MissingKey, Signature, Type, Value};

use crate::convert::{from_tmpl, to_tmpl};

#[path = "toml.rs"]
mod toml_funcs;

/// Helm's limit on how often one template may include itself (`recursionMaxNums`).
pub const RECURSION_MAX: usize = 1000;

const WARN_START: &str = "HELM_ERR_START";
const WARN_END: &str = "HELM_ERR_END";

/// Queries the cluster for `lookup`; offline renders have none and `lookup` returns `{}`.
pub trait Lookup: Send + Sync {
    /// `lookup apiVersion kind namespace name`: one object, or a list (`items`) when `name`
    /// is empty; `Ok(None)` when nothing is found.
    fn lookup(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Option<CValue>, String>;
}

/// Per-render state shared by `include` and `tpl` (the recursion counters).
#[derive(Default)]
pub(crate) struct RenderState {
    pub(crate) included: HashMap<String, usize>,
    pub(crate) strict: bool,
}

/// Base64 with the standard alphabet and padding (Go's `base64.StdEncoding`).
pub fn b64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

/// `toYaml`: go-yaml's layout without the final newline.
pub(crate) fn to_yaml_string(v: &CValue) -> String {
    let s = ferry_chart::yaml::to_yaml(v);
    s.strip_suffix('\n').unwrap_or(&s).to_string()
}

fn str_arg(args: &[Value], i: usize) -> String {
    args.get(i)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string()
}

fn error_map(msg: String) -> Value {
    Value::map([("Error", Value::string(msg))])
}

/// Registers Helm's functions (on top of Sprig's).
pub fn register(funcs: &mut Funcs, lookup: Option<Arc<dyn Lookup>>) {
    toml_funcs::register(funcs);
    let any = || Type::Interface;
    funcs.add("toYaml", Signature::new([any()], Type::String), |_, a| {
        Ok(Value::string(to_yaml_string(&from_tmpl(&a[0]))))
    });
    funcs.add(
        "mustToYaml",
        Signature::new([any()], Type::String),
        |_, a| Ok(Value::string(to_yaml_string(&from_tmpl(&a[0])))),
    );
    funcs.add(
        "toYamlPretty",
        Signature::new([any()], Type::String),
        |_, a| {
            let s = ferry_chart::yaml::to_yaml_v3(&from_tmpl(&a[0]));
            Ok(Value::string(s.strip_suffix('\n').unwrap_or(&s)))
        },
    );
    funcs.add("toJson", Signature::new([any()], Type::String), |_, a| {
        Ok(Value::string(from_tmpl(&a[0]).to_go_json()))
    });
    funcs.add(
        "mustToJson",
        Signature::new([any()], Type::String),
        |_, a| Ok(Value::string(from_tmpl(&a[0]).to_go_json())),
    );
    funcs.add("fromYaml", Signature::new([Type::String], Type::map()), |_, a| {
        Ok(match ferry_chart::yaml::parse(&str_arg(&a, 0)) {
            Ok(CValue::Map(m)) => to_tmpl(&CValue::Map(m)),
            Ok(CValue::Null) => Value::map(Vec::<(String, Value)>::new()),
            Ok(other) => error_map(format!(
                "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                other.json_type()
            )),
            Err(e) => error_map(e.go_message()),
        })
    });
    funcs.add("fromYamlArray", Signature::new([Type::String], Type::list()), |_, a| {
        Ok(match ferry_chart::yaml::parse(&str_arg(&a, 0)) {
            Ok(CValue::List(l)) => to_tmpl(&CValue::List(l)),
            Ok(CValue::Null) => Value::list(Vec::new()),
            Ok(other) => Value::list([Value::string(format!(
                "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type []interface {{}}",
                other.json_type()
            ))]),
            Err(e) => Value::list([Value::string(e.go_message())]),
        })
    });
    funcs.add(
        "fromJson",
        Signature::new([Type::String], Type::map()),
        |_, a| {
            let text = str_arg(&a, 0);
            Ok(match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(serde_json::Value::Object(o)) => {
                    to_tmpl(&CValue::from_json(&serde_json::Value::Object(o)))
                }
                Ok(serde_json::Value::Null) => Value::map(Vec::<(String, Value)>::new()),
                Ok(other) => error_map(format!(
                    "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                    CValue::from_json(&other).json_type()
                )),
                Err(_) => error_map(go_json_error(&text)),
            })
        },
    );
    funcs.add(
        "fromJsonArray",
        Signature::new([Type::String], Type::list()),
        |_, a| {
            let text = str_arg(&a, 0);
            Ok(match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(serde_json::Value::Array(l)) => {
                    to_tmpl(&CValue::from_json(&serde_json::Value::Array(l)))
                }
                Ok(serde_json::Value::Null) => Value::list(Vec::new()),
                Ok(other) => Value::list([Value::string(format!(
                    "json: cannot unmarshal {} into Go value of type []interface {{}}",
                    CValue::from_json(&other).json_type()
                ))]),
                Err(_) => Value::list([Value::string(go_json_error(&text))]),
            })
        },
    );
    let lk = lookup.clone();
    funcs.add(
        "lookup",
        Signature::new(
            [Type::String, Type::String, Type::String, Type::String],
            Type::map(),
        ),
        move |_, a| {
            let Some(l) = &lk else {
                return Ok(Value::map(Vec::<(String, Value)>::new()));
            };
            match l.lookup(
                &str_arg(&a, 0),
                &str_arg(&a, 1),
                &str_arg(&a, 2),
                &str_arg(&a, 3),
            ) {
                Ok(Some(v)) => Ok(to_tmpl(&v)),
                Ok(None) => Ok(Value::map(Vec::<(String, Value)>::new())),
                Err(e) => Err(FuncError::new(e)),
            }
        },
    );
    funcs.add(
        "getHostByName",
        Signature::new([Type::String], Type::String),
        |_, _| Ok(Value::string("")),
    );
    funcs.add(
        "required",
        Signature::new([Type::String, any()], any()),
        |_, a| {
            let val = a.get(1).cloned().unwrap_or(Value::Nil);
            if val.is_nil() || val.as_str() == Some("") {
                return Err(FuncError::new(format!(
                    "{WARN_START}{}{WARN_END}",
                    str_arg(&a, 0)
                )));
            }
            Ok(val)
        },
    );
    funcs.add(
        "fail",
        Signature::new([Type::String], Type::String),
        |_, a| {
            Err(FuncError::new(format!(
                "{WARN_START}{}{WARN_END}",
                str_arg(&a, 0)
            )))
        },
    );
    funcs.add(
        "include",
        Signature::new([Type::String, any()], Type::String),
        include,
    );
    funcs.add(
        "tpl",
        Signature::new([Type::String, any()], Type::String),
        tpl,
    );
}

fn go_json_error(text: &str) -> String {
    go_json_syntax_error(text)
}

fn include(ctx: &mut Ctx<'_, '_>, mut a: Vec<Value>) -> Result<Value, FuncError> {
    let data = if a.len() > 1 {
        std::mem::take(&mut a[1])
    } else {
        Value::Nil
    };
    let name = a.first().and_then(|v| v.as_str()).unwrap_or_default();
    if let Some(st) = ctx.ext::<RenderState>() {
        // (the name is copied for its first call only)
        let n = match st.included.get_mut(name) {
            Some(n) => n,
            None => st.included.entry(name.to_string()).or_insert(0),
        };
        if *n > RECURSION_MAX {
            return Err(FuncError::new(format!(
                "rendering template has a nested reference name: {name}: unable to execute template"
            )));
        }
        *n += 1;
    }
    if !ctx.templates().contains(name) {
        // Helm binds include to its root template, so Go names that one
        return Err(FuncError::new(format!(
            "template: no template {} associated with template {}",
            ferry_gotmpl::gofmt::quote(name),
            ferry_gotmpl::gofmt::quote(ROOT_NAME)
        )));
    }
    let r = ctx.execute_template(name, data);
    if let Some(st) = ctx.ext::<RenderState>()
        && let Some(n) = st.included.get_mut(name)
    {
        *n = n.saturating_sub(1);
    }
    Ok(Value::string(r?))
}

fn tpl(ctx: &mut Ctx<'_, '_>, a: Vec<Value>) -> Result<Value, FuncError> {
    let text = str_arg(&a, 0);
    let vals = a.get(1).cloned().unwrap_or(Value::Nil);
    let strict = ctx.ext::<RenderState>().is_some_and(|s| s.strict);
    let mut set = ctx.templates().clone();
    set.set_missing_key(if strict {
        MissingKey::Error
    } else {
        MissingKey::Zero
    });
    // (the text is quoted for an error only)
    let quoted = || ferry_gotmpl::gofmt::quote(&text);
    set.parse(ROOT_NAME, &text)
        .map_err(|e| FuncError::new(format!("cannot parse template {}: {e}", quoted())))?;
    let out = ctx.execute_in(&set, ROOT_NAME, vals).map_err(|e| {
        FuncError::new(format!(
            "error during tpl function execution for {}: {e}",
            quoted()
        ))
    })?;
    Ok(Value::string(without_no_value(out)))
}

/// Helm's `strings.ReplaceAll(out, "<no value>", "")` on a template's output; most outputs
/// hold none and keep their buffer.
pub(crate) fn without_no_value(text: String) -> String {
    if text.contains("<no value>") {
        text.replace("<no value>", "")
    } else {
        text
    }
}

/// The name of Helm's root template (`template.New("gotpl")`), which `tpl` parses into.
pub const ROOT_NAME: &str = "gotpl";

/// Helm's `reformatExecErrorMsg` / `cleanupParseError` on a template error.
pub(crate) fn helm_error(filename: &str, err: &ferry_gotmpl::Error) -> String {
    use ferry_gotmpl::Error as E;
    if let E::Parse(_) = err {
        let text = err.to_string();
        let tokens: Vec<&str> = text.split(": ").collect();
        if tokens.len() == 1 {
            return format!("parse error in ({filename}): {text}");
        }
        return format!(
            "parse error at ({}): {}",
            tokens[1],
            tokens[tokens.len() - 1]
        );
    }
    let text = err.to_string();
    if !matches!(err, E::Exec(_)) {
        return text;
    }
    let tokens: Vec<&str> = text.splitn(3, ": ").collect();
    if tokens.len() != 3 {
        return format!("execution error in ({filename}): {text}");
    }
    if let (Some(s), Some(e)) = (tokens[2].find(WARN_START), tokens[2].rfind(WARN_END))
        && s + WARN_START.len() <= e
    {
        return format!(
            "execution error at ({}): {}",
            tokens[1],
            &tokens[2][s + WARN_START.len()..e]
        );
    }
    // Walk the chain as Go's errors.Unwrap would: each template error, then (for function
    // errors) the function's own error, which must itself be a template error.
    let mut out: Vec<String> = Vec::new();
    let mut cur = Some(err);
    while let Some(e) = cur {
        let t = e.to_string();
        let Some(tr) = traceable(&t) else {
            return text;
        };
        if out.last() != Some(&tr) {
            out.push(tr);
        }
        cur = None;
        if let E::Exec(x) = e
            && let Some(rest) = calling_rest(&x.message)
        {
            if !rest.starts_with("template: ") {
                return text;
            }
            cur = e.inner();
            if cur.is_none() {
                // a function error that reads like a template error but carries none
                match traceable(rest) {
                    Some(tr) => {
                        if out.last() != Some(&tr) {
                            out.push(tr);
                        }
                    }
                    None => return text,
                }
            }
        }
    }
    out.concat().trim().to_string()
}

/// The function error inside `error calling NAME: ERR`.
fn calling_rest(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("error calling ")?;
    let (_, err) = rest.split_once(": ")?;
    Some(err)
}

fn traceable(s: &str) -> Option<String> {
    let rem = s.strip_prefix("template: ")?;
    if rem.starts_with("no template ") {
        return Some(format!("{s}\n"));
    }
    let fmt = |location: &str, exec: &str, message: &str| {
        let mut o = String::new();
        if !location.is_empty() {
            o.push_str(location);
            o.push_str("\n  ");
        }
        if !exec.is_empty() {
            o.push_str(exec);
            o.push_str("\n    ");
        }
        if !message.is_empty() {
            o.push_str(message);
            o.push('\n');
        }
        o
    };
    let cut = |m: &str| -> String {
        match m.find(" template:") {
            Some(i) => m[..i].to_string(),
            None => m.to_string(),
        }
    };
    if let Some((name, after)) = rem.split_once(": executing ")
        && let Some(after) = after.strip_prefix('"')
        && let Some(end) = after.find('"')
        && let Some(after_at) = after[end + 1..].strip_prefix(" at <")
        && let Some((loc, msg)) = after_at.split_once(">: ")
    {
        let func = &after[..end];
        return Some(fmt(
            name,
            &format!("executing \"{func}\" at <{loc}>:"),
            &cut(msg),
        ));
    }
    let sep = rem.rfind(": ")?;
    Some(fmt(&rem[..sep], "", &cut(&rem[sep + 2..])))
}

/// Go's `encoding/json` syntax error for an invalid document (its scanner's wording), e.g.
/// `invalid character 'b' looking for beginning of object key string`.
pub(crate) fn go_json_syntax_error(s: &str) -> String {
    struct P<'a> {
        b: &'a [char],
        i: usize,
    }
    fn quote_char(c: char) -> String {
        match c {
            '\'' => "'\\''".into(),
            '"' => "'\"'".into(),
            c => {
                let q = ferry_gotmpl::gofmt::quote(&c.to_string());
                format!("'{}'", &q[1..q.len() - 1])
            }
        }
    }
    type R = Result<(), String>;
    impl P<'_> {
        fn peek(&self) -> Option<char> {
            self.b.get(self.i).copied()
        }
        fn ws(&mut self) {
            while matches!(self.peek(), Some(' ' | '\t' | '\n' | '\r')) {
                self.i += 1;
            }
        }
        fn bad(&self, c: char, ctx: &str) -> String {
            format!("invalid character {} {ctx}", quote_char(c))
        }
        fn need(&mut self, ctx: &str) -> Result<char, String> {
            match self.peek() {
                None => Err("unexpected end of JSON input".into()),
                Some(c) => {
                    let _ = ctx;
                    Ok(c)
                }
            }
        }
        fn value(&mut self) -> R {
            self.ws();
            let c = self.need("")?;
            match c {
                '{' => {
                    self.i += 1;
                    self.ws();
                    if self.need("")? == '}' {
                        self.i += 1;
                        return Ok(());
                    }
                    loop {
                        self.ws();
                        let c = self.need("")?;
                        if c != '"' {
                            return Err(self.bad(c, "looking for beginning of object key string"));
                        }
                        self.string()?;
                        self.ws();
                        let c = self.need("")?;
                        if c != ':' {
                            return Err(self.bad(c, "after object key"));
                        }
                        self.i += 1;
                        self.value()?;
                        self.ws();
                        match self.need("")? {
                            ',' => self.i += 1,
                            '}' => {
                                self.i += 1;
                                return Ok(());
                            }
                            c => return Err(self.bad(c, "after object key:value pair")),
                        }
                    }
                }
                '[' => {
                    self.i += 1;
                    self.ws();
                    if self.need("")? == ']' {
                        self.i += 1;
                        return Ok(());
                    }
                    loop {
                        self.value()?;
                        self.ws();
                        match self.need("")? {
                            ',' => self.i += 1,
                            ']' => {
                                self.i += 1;
                                return Ok(());
                            }
                            c => return Err(self.bad(c, "after array element")),
                        }
                    }
                }
                '"' => self.string(),
                '-' | '0'..='9' => self.number(),
                't' => self.literal("true"),
                'f' => self.literal("false"),
                'n' => self.literal("null"),
                c => Err(self.bad(c, "looking for beginning of value")),
            }
        }
        fn literal(&mut self, word: &str) -> R {
            for (k, want) in word.chars().enumerate() {
                let c = self.need("")?;
                if c != want {
                    return Err(self.bad(
                        c,
                        &format!("in literal {word} (expecting {})", quote_char(want)),
                    ));
                }
                let _ = k;
                self.i += 1;
            }
            Ok(())
        }
        fn string(&mut self) -> R {
            self.i += 1;
            loop {
                let c = self.need("")?;
                self.i += 1;
                match c {
                    '"' => return Ok(()),
                    '\\' => {
                        let e = self.need("")?;
                        self.i += 1;
                        match e {
                            '"' | '\\' | '/' | 'b' | 'f' | 'n' | 'r' | 't' => {}
                            'u' => {
                                for _ in 0..4 {
                                    let h = self.need("")?;
                                    if !h.is_ascii_hexdigit() {
                                        return Err(
                                            self.bad(h, "in \\u hexadecimal character escape")
                                        );
                                    }
                                    self.i += 1;
                                }
                            }
                            e => return Err(self.bad(e, "in string escape code")),
                        }
                    }
                    c if (c as u32) < 0x20 => return Err(self.bad(c, "in string literal")),
                    _ => {}
                }
            }
        }
        fn digits(&mut self) -> usize {
            let st = self.i;
            while matches!(self.peek(), Some('0'..='9')) {
                self.i += 1;
            }
            self.i - st
        }
        fn number(&mut self) -> R {
            if self.peek() == Some('-') {
                self.i += 1;
                let c = self.need("")?;
                if !c.is_ascii_digit() {
                    return Err(self.bad(c, "in numeric literal"));
                }
            }
            if self.peek() == Some('0') {
                self.i += 1;
            } else {
                self.digits();
            }
            if self.peek() == Some('.') {
                self.i += 1;
                let c = self.need("")?;
                if self.digits() == 0 {
                    return Err(self.bad(c, "after decimal point in numeric literal"));
                }
            }
            if matches!(self.peek(), Some('e' | 'E')) {
                self.i += 1;
                if matches!(self.peek(), Some('+' | '-')) {
                    self.i += 1;
                }
                let c = self.need("")?;
                if self.digits() == 0 {
                    return Err(self.bad(c, "in exponent of numeric literal"));
                }
            }
            Ok(())
        }
    }
    let chars: Vec<char> = s.chars().collect();
    let mut p = P { b: &chars, i: 0 };
    if let Err(e) = p.value() {
        return e;
    }
    p.ws();
    match p.peek() {
        Some(c) => p.bad(c, "after top-level value"),
        None => "unexpected end of JSON input".into(),
    }
}
