//! A chart archive's `values.yaml` files are parsed on a second thread while the archive is
//! read: the chart and the errors must be those of parsing them after.

use ferry_chart::{archive_files, load_archive, load_files};

mod support;

/// The archive loaded (values parsed ahead), and its files read then loaded (parsed after).
fn both(files: &[(&str, &str)]) -> [Result<ferry_chart::Chart, String>; 2] {
    let files: Vec<(&str, &[u8])> = files.iter().map(|(n, t)| (*n, t.as_bytes())).collect();
    let data = support::tgz("demo", &files);
    let ahead = load_archive(&data, "demo.tgz").map_err(|e| e.to_string());
    let after = archive_files(&data, "demo.tgz")
        .and_then(|f| load_files(f, "demo.tgz"))
        .map_err(|e| e.to_string());
    [ahead, after]
}

const CHART: &str = "apiVersion: v2\nname: demo\nversion: 1.0.0\n";
const SUB: &str = "apiVersion: v2\nname: sub\nversion: 0.1.0\n";

#[test]
fn values_parsed_ahead_load_as_parsed_after() {
    let [ahead, after] = both(&[
        ("Chart.yaml", CHART),
        ("values.yaml", "a: 1\nb:\n  c: [x, y]\non: yes\n"),
        ("files/values.yaml", "not: [the, chart's\n"),
        ("charts/sub/Chart.yaml", SUB),
        ("charts/sub/values.yaml", "s: 1.5\n"),
        ("charts/sub/charts/deeper/Chart.yaml", SUB),
        ("charts/sub/charts/deeper/values.yaml", "d: ~\n"),
    ]);
    let ahead = ahead.expect("loads");
    assert_eq!(Ok(ahead.clone()), after);
    assert_eq!(ahead.values["a"], ferry_chart::Value::Float(1.0));
    assert_eq!(
        ahead.dependencies[0].values["s"],
        ferry_chart::Value::Float(1.5)
    );
}

#[test]
fn bad_values_parsed_ahead_fail_as_parsed_after() {
    for (path, bad) in [
        ("values.yaml", "a:\n  b: 1\n c: 2\n"),
        ("values.yaml", "- a\n"),
        ("charts/sub/values.yaml", "x: .inf\n"),
    ] {
        let [ahead, after] = both(&[
            ("Chart.yaml", CHART),
            ("charts/sub/Chart.yaml", SUB),
            (path, bad),
        ]);
        let err = ahead.expect_err("fails");
        assert!(err.contains("values.yaml"), "{err}");
        assert_eq!(Err(err), after, "{path}: {bad}");
    }
}
