//! The API a renderer builds on: registering functions with Go signatures,
//! executing other templates from a function (`include`, `tpl`), per-render
//! state, named types, methods and errors as data.

use std::sync::Arc;

use ferry_gotmpl::{
    Error, Funcs, Function, Limits, List, Map, MissingKey, Signature, Templates, Type, TypeInfo,
    Value,
};

fn funcs() -> Funcs {
    let mut f = Funcs::new();
    f.add(
        "include",
        Signature::new([Type::String, Type::Interface], Type::String),
        |ctx, a| {
            let name = a[0].as_str().unwrap_or_default().to_string();
            Ok(Value::from(ctx.execute_template(&name, a[1].clone())?))
        },
    );
    // Helm's tpl: clone the running set, parse the text under the current
    // template's name, execute it there.
    f.add(
        "tpl",
        Signature::new([Type::String, Type::Interface], Type::String),
        |ctx, a| {
            let mut set = ctx.templates().clone();
            let name = ctx.template_name().to_string();
            set.parse(&name, a[0].as_str().unwrap_or_default())?;
            Ok(Value::from(ctx.execute_in(&set, &name, a[1].clone())?))
        },
    );
    f.add("count", Signature::new([], Type::Int), |ctx, _| {
        let n = ctx.ext::<usize>().ok_or("no state")?;
        *n += 1;
        Ok(Value::Int(*n as i64))
    });
    f.add(
        "fail",
        Signature::new([Type::String], Type::String),
        |_, a| Err(a[0].as_str().unwrap_or_default().into()),
    );
    f
}

fn set(text: &str) -> Templates {
    let mut t = Templates::new(funcs()).with_missing_key(MissingKey::Zero);
    t.parse("main", text).expect("parses");
    t
}

#[test]
fn include_and_tpl_see_the_set() {
    let t = set(
        r#"{{ define "h" }}<{{ . }}>{{ end }}{{ include "h" 1 }}{{ tpl "{{ include \"h\" . }}!" 2 }}"#,
    );
    assert_eq!(t.execute("main", &Value::Nil).unwrap(), "<1><2>!");
}

#[test]
fn per_render_state_reaches_functions() {
    let t =
        set("{{ count }}{{ count }}{{ include \"x\" . }}{{ define \"x\" }}{{ count }}{{ end }}");
    let mut n = 0usize;
    assert_eq!(t.execute_with("main", &Value::Nil, &mut n).unwrap(), "123");
    assert_eq!(n, 3);
}

#[test]
fn function_errors_wrap_like_go() {
    let t = set(r#"{{ define "x" }}{{ fail "boom" }}{{ end }}{{ include "x" . }}"#);
    let e = t.execute("main", &Value::Nil).unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"template: main:1:45: executing "main" at <include "x" .>: error calling include: template: main:1:19: executing "x" at <fail "boom">: error calling fail: boom"#
    );
    let inner = e.inner().expect("the include error is kept");
    assert_eq!(inner.message(), "error calling fail: boom");
    assert_eq!(inner.span().map(|s| (s.line, s.col)), Some((1, 19)));
}

#[test]
fn parse_errors_are_data() {
    let e = Templates::default()
        .parse("f.yaml", "a\n{{ if }}")
        .unwrap_err();
    match &e {
        Error::Parse(p) => {
            assert_eq!(
                (p.name.as_str(), p.line, p.message.as_str()),
                ("f.yaml", 2, "missing value for if")
            );
        }
        other => panic!("not a parse error: {other}"),
    }
}

#[test]
fn later_definitions_replace_earlier_ones_but_empty_ones_do_not() {
    let mut t = Templates::default();
    t.parse("a", r#"{{ define "x" }}A{{ end }}{{ template "x" }}"#)
        .unwrap();
    t.parse("b", r#"{{ define "x" }}B{{ end }}"#).unwrap();
    t.parse("c", r#"{{ define "x" }} {{ end }}"#).unwrap();
    assert_eq!(t.execute("a", &Value::Nil).unwrap(), "B");
}

#[test]
fn named_types_and_methods() {
    let values_ty = Arc::new(TypeInfo::new("common.Values"));
    let has = Function::new(Signature::new([Type::String], Type::Bool), |_, a| {
        let Value::List(l) = &a[0] else {
            return Ok(Value::Bool(false));
        };
        Ok(Value::Bool(
            l.items().iter().any(|v| v.as_str() == a[1].as_str()),
        ))
    });
    let vs = Arc::new(TypeInfo::new("common.VersionSet").with_method("Has", has));
    let data = Value::map([
        (
            "Values",
            Value::Map(Map::with_type(
                Default::default(),
                Type::Interface,
                Some(values_ty),
            )),
        ),
        (
            "APIVersions",
            Value::List(List::named(vec![Value::from("v1")], Type::String, vs)),
        ),
    ]);
    let t = set(
        r#"{{ printf "%T %T" .Values .APIVersions }} {{ .APIVersions.Has "v1" }} {{ .APIVersions.Has "v2" }}"#,
    );
    assert_eq!(
        t.execute("main", &data).unwrap(),
        "common.Values common.VersionSet true false"
    );
}

#[test]
fn missing_key_modes() {
    let data = Value::map([("m", Value::map([("a", Value::from("x"))]))]);
    let run = |mk: MissingKey, text: &str| {
        let mut t = Templates::default().with_missing_key(mk);
        t.parse("t", text).unwrap();
        t.execute("t", &data).map_err(|e| e.to_string())
    };
    assert_eq!(
        run(MissingKey::Invalid, "{{ .m.zz }}"),
        Ok("<no value>".into())
    );
    assert_eq!(
        run(MissingKey::Invalid, "{{ .zz.deeper }}"),
        Ok("<no value>".into())
    );
    assert_eq!(
        run(MissingKey::Zero, "{{ .m.zz }}"),
        Ok("<no value>".into())
    );
    assert!(
        run(MissingKey::Zero, "{{ .zz.deeper }}")
            .unwrap_err()
            .ends_with("nil pointer evaluating interface {}.deeper")
    );
    assert!(
        run(MissingKey::Error, "{{ .m.zz }}")
            .unwrap_err()
            .ends_with(r#"map has no entry for key "zz""#)
    );
}

#[test]
fn typed_parameters_reject_like_go() {
    let mut f = Funcs::new();
    f.add(
        "rep",
        Signature::new([Type::Int, Type::String], Type::String),
        |_, a| {
            let n = match a[0] {
                Value::Int(n) => n,
                _ => 0,
            };
            Ok(Value::from(
                a[1].as_str().unwrap_or_default().repeat(n as usize),
            ))
        },
    );
    let mut t = Templates::new(f);
    t.parse("ok", r#"{{ "ab" | rep 2 }}"#).unwrap();
    assert_eq!(t.execute("ok", &Value::Nil).unwrap(), "abab");
    t.parse("bad", r#"{{ rep "2" "ab" }}"#).unwrap();
    assert!(
        t.execute("bad", &Value::Nil)
            .unwrap_err()
            .to_string()
            .ends_with(r#"expected integer; found "2""#)
    );
    t.parse("bad2", r#"{{ rep .n "ab" }}"#).unwrap();
    let e = t
        .execute("bad2", &Value::map([("n", Value::Float(2.0))]))
        .unwrap_err();
    assert!(
        e.to_string()
            .ends_with("wrong type for value; expected int; got float64"),
        "{e}"
    );
}

#[test]
fn preparsed_trees_are_used_under_their_names() {
    // parsed ahead with a function the set lacks: the set can only run it if it took the
    // preparsed tree instead of parsing the text again
    let mut ahead = Funcs::new();
    ahead.add("shout", Signature::new([], Type::String), |_, _| {
        Ok(Value::from("HEY"))
    });
    let text: Arc<str> = r#"{{define "d"}}[{{template "t2" .}}]{{end}}{{shout}} {{.}}"#.into();
    let other: Arc<str> = "x{{.}}".into();
    let mut pre =
        Some(Templates::preparse(&ahead, &Limits::default(), text.clone()).expect("parses"));
    let mut bare = Templates::new(Funcs::new());
    bare.parse_many_with(&[("t1", text.clone()), ("t2", other.clone())], &mut |t| {
        if Arc::ptr_eq(t, &text) {
            pre.take()
        } else {
            None
        }
    })
    .expect("the preparsed tree is used");
    // (to run it, the set needs the function after all)
    bare.funcs_mut()
        .add("shout", Signature::new([], Type::String), |_, _| {
            Ok(Value::from("HEY"))
        });
    assert_eq!(bare.execute("t1", &Value::from(1)).expect("runs"), "HEY 1");
    assert_eq!(bare.execute("d", &Value::from(2)).expect("runs"), "[x2]");
    assert_eq!(bare.names(), ["d", "t1", "t2"]);

    // another text than the one preparsed: parsed again, and the error names the template
    let mut pre =
        Some(Templates::preparse(&ahead, &Limits::default(), text.clone()).expect("parses"));
    let copy: Arc<str> = text.to_string().into();
    let err = Templates::new(Funcs::new())
        .parse_many_with(&[("t1", copy)], &mut |_| pre.take())
        .expect_err("shout is not defined here");
    assert_eq!(err.0, 0);
    assert!(err.1.to_string().contains("t1"), "{}", err.1);
}

#[test]
fn a_lazy_map_is_built_once_on_first_use_and_only_then() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let built = Arc::new(AtomicUsize::new(0));
    let lazy = |built: &Arc<AtomicUsize>| {
        let built = built.clone();
        Value::Map(Map::lazy(
            move || {
                built.fetch_add(1, Ordering::SeqCst);
                [
                    ("a".to_string(), Value::Int(1)),
                    ("b".to_string(), Value::Int(2)),
                ]
                .into_iter()
                .collect()
            },
            Type::Interface,
            None,
        ))
    };
    let t = set(r#"{{ if .use }}{{ .m.b }} {{ len .m }} {{ .m }}{{ else }}none{{ end }}"#);
    let data = |use_it: bool, built: &Arc<AtomicUsize>| {
        Value::map([("use", Value::Bool(use_it)), ("m", lazy(built))])
    };
    // a render that never touches the map never builds it
    assert_eq!(t.execute("main", &data(false, &built)).unwrap(), "none");
    assert_eq!(built.load(Ordering::SeqCst), 0);
    // one that does sees the entries, built a single time for three reads
    assert_eq!(
        t.execute("main", &data(true, &built)).unwrap(),
        "2 2 map[a:1 b:2]"
    );
    assert_eq!(built.load(Ordering::SeqCst), 1);
    // writes go to the built entries too
    let Value::Map(m) = lazy(&built) else {
        unreachable!()
    };
    m.insert("c", Value::Int(3));
    assert_eq!(m.len(), 3);
    assert_eq!(built.load(Ordering::SeqCst), 2);
}

#[test]
fn a_clone_parses_over_the_shared_trees_without_changing_the_original() {
    let base = set(r#"{{ define "a" }}A{{ end }}{{ define "b" }}B{{ end }}main"#);
    let mut clone = base.clone();
    clone
        .parse("x", r#"{{ define "a" }}A2{{ end }}{{ define "b" }}{{ end }}x:{{ template "a" }}{{ template "b" }}"#)
        .expect("parses");
    // the clone's own `a` wins; its empty `b` does not replace the non-empty one
    assert_eq!(clone.execute("x", &Value::Nil).unwrap(), "x:A2B");
    assert_eq!(clone.names(), ["a", "b", "main", "x"]);
    assert!(clone.contains("x") && clone.contains("main"));
    // the original is as it was
    assert_eq!(base.names(), ["a", "b", "main"]);
    assert!(!base.contains("x"));
    let mut again = base.clone();
    again.parse("y", r#"{{ template "a" }}"#).expect("parses");
    assert_eq!(again.execute("y", &Value::Nil).unwrap(), "A");
    // a clone of the clone keeps its trees, and adds over them
    let mut deeper = clone.clone();
    drop(clone);
    deeper
        .parse("z", r#"{{ define "a" }}A3{{ end }}{{ template "a" }}"#)
        .expect("parses");
    assert_eq!(deeper.execute("z", &Value::Nil).unwrap(), "A3");
    assert_eq!(deeper.execute("x", &Value::Nil).unwrap(), "x:A3B");
    assert_eq!(deeper.names(), ["a", "b", "main", "x", "z"]);
}

#[test]
fn writes_to_maps_older_than_a_watch_are_reported() {
    use ferry_gotmpl::watch_shared_writes;
    let mut f = funcs();
    f.add(
        "put",
        Signature::new([Type::map(), Type::String, Type::Interface], Type::String),
        |_, a| {
            if let Value::Map(m) = &a[0] {
                m.insert(a[1].as_str().unwrap_or_default(), a[2].clone());
            }
            Ok(Value::from(""))
        },
    );
    f.add("fresh", Signature::new([], Type::map()), |_, _| {
        Ok(Value::Map(Map::new()))
    });
    let mut t = Templates::new(f).with_missing_key(MissingKey::Zero);
    t.parse("data", r#"{{ put .m "k" 1 }}{{ .m.k }}"#).unwrap();
    t.parse("nested", r#"{{ put .m.inner "k" 2 }}{{ .m.inner.k }}"#)
        .unwrap();
    t.parse("own", r#"{{ $d := fresh }}{{ put $d "k" 3 }}{{ $d.k }}"#)
        .unwrap();
    t.parse("read", r#"{{ .m.inner }}"#).unwrap();
    let data = || {
        Value::map([(
            "m",
            Value::map([("inner", Value::map([("x", Value::Int(0))]))]),
        )])
    };
    let run = |name: &str, d: &Value| watch_shared_writes(|| t.execute(name, d).unwrap());
    // writing the data's map, or a map inside it, is a shared write; the write happened
    let d = data();
    assert_eq!(run("data", &d), ("1".to_string(), true));
    assert_eq!(t.execute("read", &d).unwrap(), "map[x:0]");
    assert_eq!(run("nested", &d), ("2".to_string(), true));
    // a map the execution made is its own; reading is no write
    assert_eq!(run("own", &d), ("3".to_string(), false));
    assert_eq!(run("read", &d), ("map[k:2 x:0]".to_string(), false));
    // a map made in an earlier watch is older than a later one
    let (made, _) = watch_shared_writes(Map::new);
    let (_, wrote) = watch_shared_writes(|| made.insert("k", Value::Int(1)));
    assert!(wrote);
    // a nested watch: the inner map is the outer call's own; the outer sees the inner's writes
    let (wrote_inner, wrote_outer) = watch_shared_writes(|| {
        let own = Map::new();
        let (_, a) = watch_shared_writes(|| own.insert("k", Value::Int(1)));
        let (_, b) = watch_shared_writes(|| Map::new().insert("k", Value::Int(1)));
        assert!(!b);
        a
    });
    assert!(wrote_inner && !wrote_outer);
    let (_, outer) = watch_shared_writes(|| watch_shared_writes(|| made.insert("j", Value::Nil)));
    assert!(outer);
    // entries of a lazy map are as old as the map: writing them inside a watch is shared
    let lazy = Map::lazy(
        || {
            [("inner".to_string(), Value::Map(Map::new()))]
                .into_iter()
                .collect()
        },
        Type::Interface,
        None,
    );
    let (_, wrote) = watch_shared_writes(|| {
        let Some(Value::Map(inner)) = lazy.get("inner") else {
            unreachable!()
        };
        inner.insert("k", Value::Int(1));
    });
    assert!(wrote);
    // outside any watch, nothing is tracked and nothing leaks into the next watch
    made.insert("z", Value::Nil);
    assert!(!watch_shared_writes(|| ()).1);
}

#[test]
fn a_detached_copy_shares_no_map_with_its_source() {
    use ferry_gotmpl::watch_shared_writes;
    let inner = Map::from_entries([("b", Value::Int(1))]);
    let in_list = Map::from_entries([("c", Value::Int(2))]);
    let source = Map::from_entries([
        ("a", Value::Map(inner.clone())),
        (
            "l",
            Value::list([Value::Map(in_list.clone()), Value::Int(3)]),
        ),
        ("s", Value::string("x")),
    ]);
    let copy = source.detached();
    // a change to the source before the copy is first used shows in the copy
    source.insert("late", Value::Bool(true));
    assert_eq!(copy.get("late"), Some(Value::Bool(true)));
    let Some(Value::Map(copy_inner)) = copy.get("a") else {
        panic!("a map")
    };
    let Some(Value::List(copy_list)) = copy.get("l") else {
        panic!("a list")
    };
    let Value::Map(copy_in_list) = &copy_list.items()[0] else {
        panic!("a map in the list")
    };
    // writes to the copy, at every depth, are the copy's alone, and count as writes to
    // maps older than the watch
    let (_, wrote) = watch_shared_writes(|| {
        copy.insert("s", Value::string("y"));
        copy_inner.insert("b", Value::Int(9));
        copy_in_list.insert("c", Value::Int(9));
    });
    assert!(wrote);
    assert_eq!(source.get("s"), Some(Value::string("x")));
    assert_eq!(inner.get("b"), Some(Value::Int(1)));
    assert_eq!(in_list.get("c"), Some(Value::Int(2)));
    assert_eq!(copy_inner.get("b"), Some(Value::Int(9)));
    // and what the copy holds keeps its types
    assert_eq!(copy.type_info().map(|t| t.name().to_string()), None);
    assert_eq!(copy_list.items()[1], Value::Int(3));
}

#[test]
fn work_done_meanwhile_runs_once_and_the_parse_is_unchanged() {
    // few texts (parsed in order by the caller) and many (shared out among threads), with
    // and without an error among them
    for n in [2usize, 64] {
        for bad in [None, Some(n / 2)] {
            let texts: Vec<(String, Arc<str>)> = (0..n)
                .map(|i| {
                    let text = if Some(i) == bad {
                        "{{ nosuchfunc }}".to_string()
                    } else {
                        format!(
                            r#"{{{{define "d{i}"}}}}{i}{{{{end}}}}t{i}={{{{template "d{i}"}}}}"#
                        )
                    };
                    (format!("t{i}"), text.into())
                })
                .collect();
            let named: Vec<(&str, Arc<str>)> =
                texts.iter().map(|(k, t)| (k.as_str(), t.clone())).collect();
            let mut plain = Templates::new(Funcs::new());
            let expected = plain.parse_many(&named);
            let mut runs = 0;
            let mut set = Templates::new(Funcs::new());
            let got = set.parse_many_meanwhile(&named, &mut |_| None, &mut || runs += 1);
            assert_eq!(runs, 1, "{n} texts, error at {bad:?}");
            match (expected, got) {
                (Ok(()), Ok(())) => {
                    assert_eq!(set.names(), plain.names());
                    for i in 0..n {
                        assert_eq!(
                            set.execute(&format!("t{i}"), &Value::Nil).unwrap(),
                            format!("t{i}={i}")
                        );
                    }
                }
                (Err(e), Err(g)) => {
                    assert_eq!((g.0, g.1.to_string()), (e.0, e.1.to_string()));
                    assert_eq!(Some(g.0), bad);
                }
                (e, g) => panic!("{n} texts: parse_many gave {e:?}, the other {g:?}"),
            }
        }
    }
}
