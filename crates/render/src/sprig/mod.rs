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
mod random;
mod regex;
mod semver;
mod strings;
mod types;
mod url;

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
