//! Sprig's functions as Helm ships them (`sprig.TxtFuncMap()` without `env` and `expandenv`),
//! one module per group of Sprig's documentation.

use ferry_gotmpl::Funcs;

mod conv;
mod crypto;
mod date;
mod defaults;
mod dicts;
mod encoding;
mod lists;
mod math;
mod paths;
mod primes;
mod random;
mod regex;
mod semver;
mod strings;
mod types;
mod url;
mod util;

/// How Go's `encoding/json` marshals Sprig's struct values that implement `MarshalJSON` /
/// `MarshalText`: a `time.Time` as RFC 3339 with nanoseconds, a `*semver.Version` as its
/// string. `None` for other values.
pub(crate) fn marshal_json(v: &ferry_gotmpl::Value) -> Option<String> {
    let ferry_gotmpl::Value::Struct(s) = v else {
        return None;
    };
    match s.type_info().name() {
        "time.Time" => date::as_time(v).map(|t| t.format("2006-01-02T15:04:05.999999999Z07:00")),
        "*semver.Version" => s.type_info().stringify(v),
        _ => None,
    }
}

/// Registers every Sprig function.
pub fn register(funcs: &mut Funcs) {
    strings::register(funcs);
    regex::register(funcs);
    conv::register(funcs);
    defaults::register(funcs);
    encoding::register(funcs);
    url::register(funcs);
    paths::register(funcs);
    lists::register(funcs);
    dicts::register(funcs);
    types::register(funcs);
    math::register(funcs);
    semver::register(funcs);
    crypto::register(funcs);
    date::register(funcs);
    random::register(funcs);
}
