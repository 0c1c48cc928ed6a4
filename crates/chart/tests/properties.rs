//! Property tests where there is algebra: YAML emit/parse round trip, coalescing idempotence,
//! and "the YAML layer never panics".

use ferry_chart::coalesce::{Warnings, coalesce_values};
use ferry_chart::{File, Map, Value, load_files, yaml};
use proptest::prelude::*;

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{0,8}",
        "[ -~]{0,12}",
        Just("yes".to_string()),
        Just("1.0".to_string()),
        Just("- a".to_string()),
        Just("a: b".to_string()),
        Just("<<".to_string()),
        Just("2024-01-02".to_string()),
        "[a-z ]{70,120}",
        "([a-z]{1,5}\n){1,4}",
        "[a-z]{1,4} \n[a-z]{1,4}\n\n",
        "\t[a-z\u{e9}\u{2028}]{1,4}",
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-1e12f64..1e12f64).prop_map(Value::Float),
        (-1000i64..1000).prop_map(|i| Value::Float(i as f64)),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::List),
            prop::collection::btree_map(text(), inner, 0..5).prop_map(Value::Map),
        ]
    })
}

fn strip_nulls(m: Map) -> Map {
    m.into_iter()
        .filter(|(_, v)| *v != Value::Null)
        .map(|(k, v)| match v {
            Value::Map(inner) => (k, Value::Map(strip_nulls(inner))),
            v => (k, v),
        })
        .collect()
}

proptest! {
    #[test]
    fn yaml_emit_then_parse_is_identity(v in prop::collection::btree_map(text(), value(), 0..6)) {
        let v = Value::Map(v);
        let text = yaml::to_yaml(&v);
        let back = yaml::parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let back = if back == Value::Null { Value::Map(Map::new()) } else { back };
        prop_assert_eq!(back, v, "emitted:\n{}", text);
    }

    #[test]
    fn yaml_parser_never_panics(s in "[ -~\n]{0,200}") {
        let _ = yaml::parse_all(&s);
    }

    /// A user `null` deletes a default (so re-applying the result brings the default back);
    /// without nulls, coalescing the result again changes nothing.
    #[test]
    fn coalescing_is_idempotent(defaults in prop::collection::btree_map("[a-e]", value(), 0..5),
                                user in prop::collection::btree_map("[a-e]", value(), 0..5)) {
        let values = yaml::to_yaml(&Value::Map(defaults));
        let chart = load_files(vec![
            File::new("Chart.yaml", b"apiVersion: v2\nname: p\nversion: 1.0.0\n".to_vec()),
            File::new("values.yaml", values.into_bytes()),
        ], "p").unwrap();
        let user = strip_nulls(user);
        let mut w = Warnings::default();
        let once = coalesce_values(&chart, &user, &mut w).unwrap();
        let twice = coalesce_values(&chart, &once, &mut w).unwrap();
        prop_assert_eq!(once, twice);
    }
}
