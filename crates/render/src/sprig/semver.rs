//! Sprig's semantic-version functions (`semver.go`): `semver` returns a Masterminds
//! `*semver.Version` (fields through methods: `.Major`, `.Prerelease`, `.Original`, …,
//! comparisons `.LessThan`, `.Compare`, …), `semverCompare` checks a constraint.

use std::cmp::Ordering;
use std::sync::{Arc, OnceLock};

use ferry_chart::semver::{Constraints, Version};
use ferry_gotmpl::{FuncError, Funcs, Function, Signature, Struct, Type, TypeInfo, Value};

const TYPE_NAME: &str = "*semver.Version";

fn version_type() -> Type {
    Type::Named(TYPE_NAME.into(), Box::new(Type::Interface))
}

/// Masterminds' `NewVersion`, with its error messages.
pub(crate) fn parse_version(v: &str) -> Result<Version, FuncError> {
    if let Some(ver) = Version::parse_lenient(v) {
        return Ok(ver);
    }
    // Work out which of Masterminds' errors applies.
    let core_end = v.find(['-', '+']).unwrap_or(v.len());
    let core = v[..core_end].strip_prefix('v').unwrap_or(&v[..core_end]);
    let parts: Vec<&str> = core.split('.').collect();
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if parts.len() <= 3 && parts.iter().all(|p| numeric(p)) {
        if let Some(big) = parts.iter().find(|p| p.parse::<u64>().is_err()) {
            return Err(FuncError::new(format!(
                "error parsing version segment: strconv.ParseUint: parsing \"{big}\": value out of range"
            )));
        }
        let rest = &v[core_end..];
        if let Some(pre) = rest.strip_prefix('-') {
            let pre = pre.split('+').next().unwrap_or_default();
            if pre
                .split('.')
                .any(|p| p.len() > 1 && p.starts_with('0') && numeric(p))
            {
                return Err(FuncError::new("version segment starts with 0"));
            }
        }
    }
    Err(FuncError::new("invalid semantic version"))
}

fn fields(v: &Value) -> Option<Version> {
    let Value::Struct(s) = v else { return None };
    let get_u = |k: &str| match s.field(k) {
        Some(Value::Uint64(u)) => *u,
        _ => 0,
    };
    let get_s = |k: &str| {
        s.field(k)
            .and_then(|x| x.as_str())
            .unwrap_or_default()
            .to_string()
    };
    Some(Version {
        major: get_u("major"),
        minor: get_u("minor"),
        patch: get_u("patch"),
        pre: get_s("pre"),
        metadata: get_s("metadata"),
        original: get_s("original"),
    })
}

fn compare(a: &Value, b: &Value) -> Result<Ordering, FuncError> {
    match (fields(a), fields(b)) {
        (Some(x), Some(y)) => Ok(x.cmp(&y)),
        _ => Err(FuncError::new(
            "runtime error: invalid memory address or nil pointer dereference",
        )),
    }
}

fn type_info() -> Arc<TypeInfo> {
    static T: OnceLock<Arc<TypeInfo>> = OnceLock::new();
    T.get_or_init(|| {
        let getter = |field: &'static str, ret: Type| {
            Function::new(Signature::new([], ret), move |_, a| {
                let Value::Struct(s) = &a[0] else {
                    return Ok(Value::Nil);
                };
                Ok(s.field(field).cloned().unwrap_or(Value::Nil))
            })
        };
        let cmp = |pred: fn(Ordering) -> bool| {
            Function::new(Signature::new([version_type()], Type::Bool), move |_, a| {
                Ok(Value::Bool(pred(compare(&a[0], &a[1])?)))
            })
        };
        let inc = |which: u8| {
            Function::new(Signature::new([], version_type()), move |_, a| {
                let mut v = fields(&a[0])
                    .unwrap_or_else(|| Version::parse_lenient("0.0.0").expect("valid"));
                let had_pre = !v.pre.is_empty();
                match which {
                    0 => {
                        v.major += 1;
                        v.minor = 0;
                        v.patch = 0;
                    }
                    1 => {
                        v.minor += 1;
                        v.patch = 0;
                    }
                    _ => {
                        if !had_pre {
                            v.patch += 1;
                        }
                    }
                }
                v.pre.clear();
                v.metadata.clear();
                let prefix = if v.original.starts_with('v') { "v" } else { "" };
                v.original = format!("{prefix}{v}");
                Ok(version_value(&v))
            })
        };
        Arc::new(
            TypeInfo::new(TYPE_NAME)
                .with_stringer(|v| fields(v).map(|x| x.to_string()).unwrap_or_default())
                .with_method("Major", getter("major", Type::Uint64))
                .with_method("Minor", getter("minor", Type::Uint64))
                .with_method("Patch", getter("patch", Type::Uint64))
                .with_method("Prerelease", getter("pre", Type::String))
                .with_method("Metadata", getter("metadata", Type::String))
                .with_method("Original", getter("original", Type::String))
                .with_method(
                    "String",
                    Function::new(Signature::new([], Type::String), |_, a| {
                        Ok(Value::from(
                            fields(&a[0]).map(|x| x.to_string()).unwrap_or_default(),
                        ))
                    }),
                )
                .with_method("LessThan", cmp(|o| o == Ordering::Less))
                .with_method("LessThanEqual", cmp(|o| o != Ordering::Greater))
                .with_method("GreaterThan", cmp(|o| o == Ordering::Greater))
                .with_method("GreaterThanEqual", cmp(|o| o != Ordering::Less))
                .with_method("Equal", cmp(|o| o == Ordering::Equal))
                .with_method(
                    "Compare",
                    Function::new(Signature::new([version_type()], Type::Int), |_, a| {
                        Ok(Value::Int(compare(&a[0], &a[1])? as i64))
                    }),
                )
                .with_method("IncMajor", inc(0))
                .with_method("IncMinor", inc(1))
                .with_method("IncPatch", inc(2)),
        )
    })
    .clone()
}

/// A version as the template value Sprig's `semver` returns.
fn version_value(v: &Version) -> Value {
    Value::Struct(Arc::new(Struct::new(
        type_info(),
        vec![
            ("major".into(), Value::Uint64(v.major)),
            ("minor".into(), Value::Uint64(v.minor)),
            ("patch".into(), Value::Uint64(v.patch)),
            ("pre".into(), Value::from(v.pre.as_str())),
            ("metadata".into(), Value::from(v.metadata.as_str())),
            ("original".into(), Value::from(v.original.as_str())),
        ],
        true,
    )))
}

/// Registers this group's functions.
pub fn register(funcs: &mut Funcs) {
    funcs.add(
        "semver",
        Signature::new([Type::String], version_type()),
        |_, a| {
            let v = parse_version(a[0].as_str().unwrap_or_default())?;
            Ok(version_value(&v))
        },
    );
    funcs.add(
        "semverCompare",
        Signature::new([Type::String, Type::String], Type::Bool),
        |_, a| {
            let (c, v) = (
                a[0].as_str().unwrap_or_default(),
                a[1].as_str().unwrap_or_default(),
            );
            semver_compare(c, v).map(Value::Bool)
        },
    );
}

/// How many answers of `semverCompare` a thread keeps.
const COMPARE_CACHE: usize = 64;

/// `(constraint, version, whether the version meets it)`.
type Answers = Vec<(Box<str>, Box<str>, bool)>;

thread_local! {
    /// `semverCompare`'s latest answers: charts ask the same few questions in many templates
    /// (`.Capabilities.KubeVersion.Version` against a constraint), and the answer depends on
    /// the two strings alone. Errors are not kept.
    static COMPARED: std::cell::RefCell<Answers> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Sprig's `semverCompare`: whether version `v` meets constraint `c`.
fn semver_compare(c: &str, v: &str) -> Result<bool, FuncError> {
    let known = COMPARED.with_borrow(|seen| {
        seen.iter()
            .find(|(sc, sv, _)| **sc == *c && **sv == *v)
            .map(|(_, _, ok)| *ok)
    });
    if let Some(ok) = known {
        return Ok(ok);
    }
    let ok = Constraints::parse(c)
        .map_err(FuncError::new)?
        .check(&parse_version(v)?);
    COMPARED.with_borrow_mut(|seen| {
        if seen.len() == COMPARE_CACHE {
            seen.clear();
        }
        seen.push((c.into(), v.into(), ok));
    });
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masterminds_errors() {
        let e = |s: &str| parse_version(s).unwrap_err().to_string();
        assert_eq!(e("bad"), "invalid semantic version");
        assert_eq!(e("1.0.0-01"), "version segment starts with 0");
        assert!(e("99999999999999999999.0.0").starts_with("error parsing version segment"));
        assert_eq!(parse_version("v1.2").unwrap().to_string(), "1.2.0");
    }

    #[test]
    fn compare_answers_are_the_same_when_remembered() {
        let asks = [
            (">=1.21-0", "v1.30.0", true),
            ("<1.19", "1.20.3", false),
            ("~1.2", "1.2.9", true),
            ("^2", "1.9.0", false),
        ];
        for _ in 0..3 {
            for (c, v, want) in asks {
                assert_eq!(semver_compare(c, v).unwrap(), want, "{c} {v}");
            }
        }
        // more questions than the cache keeps: the first ones are worked out again, alike
        for i in 0..COMPARE_CACHE * 2 {
            assert!(semver_compare(&format!(">={i}.0.0"), &format!("{i}.0.1")).unwrap());
            assert!(!semver_compare(&format!(">{i}.0.1"), &format!("{i}.0.1")).unwrap());
        }
        for (c, v, want) in asks {
            assert_eq!(semver_compare(c, v).unwrap(), want, "{c} {v}");
        }
        let err = |c: &str, v: &str| semver_compare(c, v).unwrap_err().to_string();
        assert_eq!(err("~~1", "1.0.0"), err("~~1", "1.0.0"));
        assert_eq!(err(">=1", "bad"), "invalid semantic version");
        assert_eq!(err(">=1", "bad"), "invalid semantic version");
    }
}
