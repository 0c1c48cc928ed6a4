//! Sprig's path functions: `base`, `dir`, `clean`, `ext`, `isAbs` (Go's `path`) and their
//! `os*` twins (Go's `path/filepath`, which on Helm's Unix platforms behaves the same).

use ferry_gotmpl::{Funcs, Signature, Type, Value};

/// Go's `path.Clean`: the shortest equivalent path, by lexical processing.
fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for elem in path.split('/') {
        match elem {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            e => parts.push(e),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// Go's `path.Base`.
fn base(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let trimmed = path.trim_end_matches('/');
    let last = match trimmed.rfind('/') {
        Some(i) => &trimmed[i + 1..],
        None => trimmed,
    };
    if last.is_empty() {
        "/".to_string()
    } else {
        last.to_string()
    }
}

/// Go's `path.Dir`.
fn dir(path: &str) -> String {
    let end = path.rfind('/').map_or(0, |i| i + 1);
    clean(&path[..end])
}

/// Go's `path.Ext`.
fn ext(path: &str) -> String {
    for (i, b) in path.bytes().enumerate().rev() {
        match b {
            b'/' => break,
            b'.' => return path[i..].to_string(),
            _ => {}
        }
    }
    String::new()
}

/// Registers this group's functions.
pub fn register(funcs: &mut Funcs) {
    use Type::String as S;
    type PathFn = fn(&str) -> String;
    let table: [(&str, PathFn); 4] = [("base", base), ("dir", dir), ("clean", clean), ("ext", ext)];
    for (name, f) in table {
        let os_name = format!("os{}{}", name[..1].to_uppercase(), &name[1..]);
        for n in [name, os_name.as_str()] {
            funcs.add(n, Signature::new([S], S), move |_, a| {
                Ok(Value::string(f(a[0].as_str().unwrap_or_default())))
            });
        }
    }
    for name in ["isAbs", "osIsAbs"] {
        funcs.add(name, Signature::new([S], Type::Bool), |_, a| {
            Ok(Value::Bool(
                a[0].as_str().unwrap_or_default().starts_with('/'),
            ))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_path_semantics() {
        assert_eq!(clean("a//b/../c"), "a/c");
        assert_eq!(clean("/../a/."), "/a");
        assert_eq!(clean("../../a/.."), "../..");
        assert_eq!(clean("a/.."), ".");
        assert_eq!(base("/"), "/");
        assert_eq!(base("a/b/"), "b");
        assert_eq!(dir("/a"), "/");
        assert_eq!(dir(""), ".");
        assert_eq!(dir("a/b/"), "a/b");
        assert_eq!(ext("a.b/c"), "");
        assert_eq!(ext(".bashrc"), ".bashrc");
    }
}
