//! Versions and constraints with the rules of Masterminds/semver v3, which Helm uses: lenient
//! versions (`v1.2` is `1.2.0`), `~`, `^`, wildcards, hyphen ranges, `,`/space for AND and `||`
//! for OR; pre-releases match only constraints that carry a pre-release.

use std::cmp::Ordering;
use std::sync::OnceLock;

use regex::Regex;

/// A version as Masterminds/semver parses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// Major.
    pub major: u64,
    /// Minor.
    pub minor: u64,
    /// Patch.
    pub patch: u64,
    /// Pre-release (without `-`).
    pub pre: String,
    /// Build metadata (without `+`).
    pub metadata: String,
    /// The text it was parsed from.
    pub original: String,
}

const LOOSE: &str = r"v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?";
const CV: &str = r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?";
const OPS: &str = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^";

fn re(cell: &'static OnceLock<Regex>, pat: impl FnOnce() -> String) -> &'static Regex {
    cell.get_or_init(|| Regex::new(&pat()).expect("static regex"))
}

fn loose_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    re(&R, || format!("^{LOOSE}$"))
}

impl Version {
    /// Parses as Helm's `semver.NewVersion` (coercing: leading zeros, missing minor/patch and a
    /// leading `v` are accepted).
    pub fn parse_lenient(v: &str) -> Option<Version> {
        let m = loose_re().captures(v)?;
        let num = |i: usize| -> Option<u64> {
            match m.get(i) {
                None => Some(0),
                Some(s) => s.as_str().trim_start_matches('.').parse().ok(),
            }
        };
        let pre = m.get(5).map(|x| x.as_str()).unwrap_or("").to_string();
        let metadata = m.get(8).map(|x| x.as_str()).unwrap_or("").to_string();
        for part in pre.split('.').filter(|_| !pre.is_empty()) {
            if part.len() > 1 && part.starts_with('0') && part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
        }
        Some(Version {
            major: num(1)?,
            minor: num(2)?,
            patch: num(3)?,
            pre,
            metadata,
            original: v.to_string(),
        })
    }

    fn cmp_version(&self, o: &Version) -> Ordering {
        self.major
            .cmp(&o.major)
            .then(self.minor.cmp(&o.minor))
            .then(self.patch.cmp(&o.patch))
            .then_with(|| match (self.pre.is_empty(), o.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => compare_prerelease(&self.pre, &o.pre),
            })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.cmp_version(other)
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.pre.is_empty() {
            write!(f, "-{}", self.pre)?;
        }
        if !self.metadata.is_empty() {
            write!(f, "+{}", self.metadata)?;
        }
        Ok(())
    }
}

fn compare_prerelease(a: &str, b: &str) -> Ordering {
    let sa: Vec<&str> = a.split('.').collect();
    let sb: Vec<&str> = b.split('.').collect();
    for i in 0..sa.len().max(sb.len()) {
        let x = sa.get(i).copied().unwrap_or("");
        let y = sb.get(i).copied().unwrap_or("");
        let d = compare_pre_part(x, y);
        if d != Ordering::Equal {
            return d;
        }
    }
    Ordering::Equal
}

fn compare_pre_part(s: &str, o: &str) -> Ordering {
    if s == o {
        return Ordering::Equal;
    }
    if s.is_empty() {
        return Ordering::Less;
    }
    if o.is_empty() {
        return Ordering::Greater;
    }
    match (s.parse::<u64>(), o.parse::<u64>()) {
        (Err(_), Err(_)) => s.cmp(o),
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Ok(a), Ok(b)) => {
            if a > b {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
    }
}

#[derive(Debug, Clone)]
struct Constraint {
    con: Version,
    op: String,
    minor_dirty: bool,
    patch_dirty: bool,
    dirty: bool,
}

/// A constraint set (`>=1.2, <2 || ^3`).
#[derive(Debug, Clone)]
pub struct Constraints {
    ors: Vec<(Vec<Constraint>, bool)>,
}

fn is_x(s: &str) -> bool {
    matches!(s, "x" | "X" | "*")
}

/// Compiles the regexes versions and constraints are read with (once per process, the
/// first time either is read), so that a thread with time to spare pays for it before a
/// render needs them.
pub fn warm_up() {
    let _ = Constraints::parse(WARM_UP_RANGE);
    let _ = Version::parse_lenient("1.0.0");
}

/// A range that reaches every regex of [`Constraints::parse`] (the rewrite of a range, the
/// check of the whole, then each constraint).
const WARM_UP_RANGE: &str = "1.0.0 - 2.0.0";

impl Constraints {
    /// Parses a constraint; the error reads as Masterminds' (`improper constraint: "..."`).
    pub fn parse(c: &str) -> Result<Constraints, String> {
        static RANGE: OnceLock<Regex> = OnceLock::new();
        static VALID: OnceLock<Regex> = OnceLock::new();
        static FIND: OnceLock<Regex> = OnceLock::new();
        static ONE: OnceLock<Regex> = OnceLock::new();
        // Go's `\s` is ASCII white space without \v (Rust's is Unicode's, and much bigger to
        // compile)
        let ws = |p: String| p.replace(r"\s", r"[\t\n\f\r ]");
        let range = re(&RANGE, || ws(format!(r"\s*({CV})\s+-\s+({CV})\s*")));
        let valid = re(&VALID, || {
            ws(format!(
                r"^(\s*({OPS})\s*({CV})\s*)((?:\s+|,\s*)({OPS})\s*({CV})\s*)*$"
            ))
        });
        let find = re(&FIND, || ws(format!(r"({OPS})\s*({CV})")));
        let one = re(&ONE, || ws(format!(r"^\s*({OPS})\s*({CV})\s*$")));

        // rewriteRange: "a - b" → ">= a, <= b "
        let mut rewritten = c.to_string();
        for m in range.captures_iter(c) {
            let t = format!(">= {}, <= {} ", &m[1], &m[11]);
            rewritten = rewritten.replacen(&m[0], &t, 1);
        }
        let mut ors = Vec::new();
        for part in rewritten.split("||") {
            if !valid.is_match(part) {
                return Err(format!("improper constraint: {part:?}"));
            }
            let mut found: Vec<&str> = find.find_iter(part).map(|m| m.as_str()).collect();
            if found.is_empty() {
                found.push(part);
            }
            let mut list = Vec::new();
            let mut has_pre = false;
            for s in found {
                let con = parse_one(one, s)?;
                if !con.con.pre.is_empty() {
                    has_pre = true;
                }
                list.push(con);
            }
            ors.push((list, has_pre));
        }
        Ok(Constraints { ors })
    }

    /// Whether `v` satisfies the constraints.
    pub fn check(&self, v: &Version) -> bool {
        self.ors
            .iter()
            .any(|(list, pre)| list.iter().all(|c| c.check(v, *pre)))
    }
}

fn parse_one(one: &Regex, s: &str) -> Result<Constraint, String> {
    if s.is_empty() {
        return Ok(Constraint {
            con: Version::parse_lenient("0.0.0").expect("valid"),
            op: String::new(),
            minor_dirty: false,
            patch_dirty: false,
            dirty: true,
        });
    }
    let m = one
        .captures(s)
        .ok_or_else(|| format!("improper constraint: {s:?}"))?;
    let g = |i: usize| m.get(i).map(|x| x.as_str()).unwrap_or("");
    let op = g(1).to_string();
    let (m3, m4, m5, m6) = (g(3), g(4), g(5), g(6));
    let (mut minor_dirty, mut patch_dirty, mut dirty) = (false, false, false);
    let ver = if is_x(m3) || m3.is_empty() {
        dirty = true;
        format!("0.0.0{m6}")
    } else if is_x(m4.trim_start_matches('.')) || m4.is_empty() {
        minor_dirty = true;
        dirty = true;
        format!("{m3}.0.0{m6}")
    } else if is_x(m5.trim_start_matches('.')) || m5.is_empty() {
        dirty = true;
        patch_dirty = true;
        format!("{m3}{m4}.0{m6}")
    } else {
        g(2).to_string()
    };
    let con = Version::parse_lenient(&ver).ok_or_else(|| "constraint parser error".to_string())?;
    Ok(Constraint {
        con,
        op,
        minor_dirty,
        patch_dirty,
        dirty,
    })
}

impl Constraint {
    fn check(&self, v: &Version, include_pre: bool) -> bool {
        if !v.pre.is_empty() && !include_pre {
            return false;
        }
        let c = &self.con;
        match self.op.as_str() {
            "" | "=" => {
                if self.dirty {
                    self.tilde(v)
                } else {
                    v.cmp_version(c) == Ordering::Equal
                }
            }
            "!=" => {
                if self.dirty {
                    if c.major != v.major {
                        return true;
                    }
                    if c.minor != v.minor && !self.minor_dirty {
                        return true;
                    } else if self.minor_dirty {
                        return false;
                    } else if c.patch != v.patch && !self.patch_dirty {
                        return true;
                    } else if self.patch_dirty {
                        if !v.pre.is_empty() || !c.pre.is_empty() {
                            return compare_prerelease(&v.pre, &c.pre) != Ordering::Equal;
                        }
                        return false;
                    }
                }
                v.cmp_version(c) != Ordering::Equal
            }
            ">" => {
                if !self.dirty {
                    return v.cmp_version(c) == Ordering::Greater;
                }
                if v.major > c.major {
                    true
                } else if v.major < c.major || self.minor_dirty {
                    false
                } else if self.patch_dirty {
                    v.minor > c.minor
                } else {
                    v.cmp_version(c) == Ordering::Greater
                }
            }
            "<" => v.cmp_version(c) == Ordering::Less,
            ">=" | "=>" => v.cmp_version(c) != Ordering::Less,
            "<=" | "=<" => {
                if !self.dirty {
                    return v.cmp_version(c) != Ordering::Greater;
                }
                !(v.major > c.major
                    || (v.major == c.major && v.minor > c.minor && !self.minor_dirty))
            }
            "~" | "~>" => self.tilde(v),
            "^" => {
                if v.cmp_version(c) == Ordering::Less {
                    return false;
                }
                if c.major > 0 || self.minor_dirty {
                    return v.major == c.major;
                }
                if c.major == 0 && v.major > 0 {
                    return false;
                }
                if c.minor > 0 || self.patch_dirty {
                    return v.minor == c.minor;
                }
                if c.minor == 0 && v.minor > 0 {
                    return false;
                }
                c.patch == v.patch
            }
            _ => false,
        }
    }

    fn tilde(&self, v: &Version) -> bool {
        let c = &self.con;
        if v.cmp_version(c) == Ordering::Less {
            return false;
        }
        if c.major == 0 && c.minor == 0 && c.patch == 0 && !self.minor_dirty && !self.patch_dirty {
            return true;
        }
        if v.major != c.major {
            return false;
        }
        if v.minor != c.minor && !self.minor_dirty {
            return false;
        }
        true
    }
}

/// Helm's `IsCompatibleRange`: false when either side does not parse.
pub fn is_compatible_range(constraint: &str, version: &str) -> bool {
    match (
        Constraints::parse(constraint),
        Version::parse_lenient(version),
    ) {
        (Ok(c), Some(v)) => c.check(&v),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(c: &str, v: &str) -> bool {
        is_compatible_range(c, v)
    }

    #[test]
    fn the_warm_up_range_is_read_to_its_last_constraint() {
        // a range that failed the check of the whole would leave the last regexes uncompiled
        let c = Constraints::parse(WARM_UP_RANGE).expect("a valid range");
        assert_eq!(c.ors.len(), 1);
        assert_eq!(c.ors[0].0.len(), 2, "rewritten to >= and <=");
        assert!(c.check(&Version::parse_lenient("1.5.0").expect("version")));
        assert!(!c.check(&Version::parse_lenient("2.0.1").expect("version")));
    }

    #[test]
    fn masterminds_rules() {
        assert!(ok("~1.2.3", "1.2.9"));
        assert!(!ok("~1.2.3", "1.3.0"));
        assert!(ok("^1.2", "1.9.0"));
        assert!(!ok("^0.2.3", "0.3.0"));
        assert!(ok("1.2.x", "1.2.7"));
        assert!(ok("1.2 - 1.4.5", "1.4.5"));
        assert!(!ok("1.2 - 1.4.5", "1.4.6"));
        assert!(ok(">=1.0, <2 || ^3", "3.1.0"));
        assert!(ok("*", "9.9.9"));
        assert!(!ok("*", "1.0.0-rc1"));
        assert!(ok(">=1.0.0-0", "1.0.0-rc1"));
        assert!(ok("1.2.3", "v1.2.3"));
        assert!(!ok("", "1.0.0"));
        assert!(ok(">1.2", "1.3.0") && !ok(">1.2", "1.2.9"));
        assert!(ok("<=1.2", "1.2.9") && !ok("<=1.2", "1.3.0"));
    }

    #[test]
    fn lenient_versions() {
        assert_eq!(Version::parse_lenient("v1.2").unwrap().to_string(), "1.2.0");
        assert!(Version::parse_lenient("1.0.0-01").is_none());
        assert!(Version::parse_lenient("abc").is_none());
        assert!(Version::parse_lenient("1.2.3.4").is_none());
    }
}
