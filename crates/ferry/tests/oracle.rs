//! Differential tests against real Helm (`../shared/tools/helm-oracle`): computed values of
//! every `testdata/values` case and of the umbrella chart, and `dependency update | build |
//! list` on a copy of the umbrella chart. Without the oracle they print why and pass, unless
//! `FERRY_REQUIRE_ORACLE=1` (set by `.ci/run`) makes its absence a failure.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn oracle() -> Option<PathBuf> {
    let script = repo().join("../shared/tools/helm-oracle");
    let venv = std::env::var_os("HELM_ORACLE_VENV")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/helm-oracle/venv"))
        });
    let ready = script.exists() && venv.is_some_and(|v| v.join("bin/python").exists());
    if ready {
        return Some(script);
    }
    assert!(
        std::env::var("FERRY_REQUIRE_ORACLE").as_deref() != Ok("1"),
        "FERRY_REQUIRE_ORACLE=1 but the helm oracle is not installed (run ../shared/tools/setup-oracle)"
    );
    eprintln!("skipped: the helm oracle is not installed (run ../shared/tools/setup-oracle)");
    None
}

struct Out {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn run(cmd: &mut Command) -> Out {
    let o = cmd.output().expect("spawn");
    Out {
        ok: o.status.success(),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn ferry(dir: &Path, args: &[&str]) -> Out {
    run(Command::new(env!("CARGO_BIN_EXE_ferry"))
        .current_dir(dir)
        .args(args))
}

fn helm(oracle: &Path, dir: &Path, args: &[&str]) -> Out {
    run(Command::new(oracle).current_dir(dir).args(args))
}

fn json_eq(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value as J;
    match (a, b) {
        (J::Number(x), J::Number(y)) => x.as_f64() == y.as_f64(),
        (J::Array(x), J::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (J::Object(x), J::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// Compares `ferry show values --computed` with the oracle's `values` for one chart.
fn compare_values(oracle: &Path, dir: &Path, chart: &str, args: &[String]) -> Result<(), String> {
    let mut fa = vec!["show", "values", "--computed", "-o", "json", chart];
    fa.extend(args.iter().map(|s| s.as_str()));
    let f = ferry(dir, &fa);
    let mut ha = vec!["values", chart];
    ha.extend(args.iter().map(|s| s.as_str()));
    let h = helm(oracle, dir, &ha);
    match (f.ok, h.ok) {
        (true, true) => {
            let a: serde_json::Value =
                serde_json::from_str(&f.stdout).map_err(|e| e.to_string())?;
            let b: serde_json::Value =
                serde_json::from_str(&h.stdout).map_err(|e| e.to_string())?;
            if json_eq(&a, &b) {
                Ok(())
            } else {
                Err(format!("values differ\nferry: {a}\nhelm:  {b}"))
            }
        }
        (false, false) => {
            // schema reports must read the same; other errors name files, which helm does not
            let theirs = h.stderr.trim();
            let ours = f.stderr.trim().trim_start_matches("Error: ");
            // Helm lists a chart's failures in Go map order, which varies: compare as sets
            fn sorted(s: &str) -> Vec<&str> {
                let mut l: Vec<&str> = s.lines().collect();
                l.sort();
                l
            }
            if theirs.starts_with("values don't meet") && sorted(ours) != sorted(theirs) {
                return Err(format!(
                    "schema errors differ\nferry: {ours}\nhelm:  {theirs}"
                ));
            }
            Ok(())
        }
        (true, false) => Err(format!(
            "helm failed but ferry did not: {}",
            h.stderr.trim()
        )),
        (false, true) => Err(format!(
            "ferry failed but helm did not: {}",
            f.stderr.trim()
        )),
    }
}

#[test]
fn computed_values_match_helm_for_testdata() {
    let Some(oracle) = oracle() else { return };
    let base = repo().join("testdata/values");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&base)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    let mut failures = Vec::new();
    for case in &cases {
        let args: Vec<String> = std::fs::read_to_string(case.join("args"))
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect();
        if let Err(e) = compare_values(&oracle, case, "chart", &args) {
            failures.push(format!(
                "{}: {e}",
                case.file_name().unwrap().to_string_lossy()
            ));
        }
    }
    println!(
        "testdata values: {} compared with helm, {} differ",
        cases.len(),
        failures.len()
    );
    assert!(!cases.is_empty());
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn lock_without_time(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("Chart.lock"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("generated:"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn chart_archives(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join("charts"))
        .map(|r| {
            r.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn dependency_commands_match_helm_on_the_umbrella_chart() {
    let Some(oracle) = oracle() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (ours, theirs) = (tmp.path().join("ferry"), tmp.path().join("helm"));
    for d in [&ours, &theirs] {
        copy_dir(&repo().join("testdata/charts"), d);
        let _ = std::fs::remove_dir_all(d.join("umbrella-chart/charts"));
        std::fs::remove_file(d.join("umbrella-chart/Chart.lock")).unwrap();
    }
    let (u_ours, u_theirs) = (ours.join("umbrella-chart"), theirs.join("umbrella-chart"));

    // update: same lock (digest included) and same archives
    let f = ferry(&ours, &["dependency", "update", "umbrella-chart"]);
    assert!(f.ok, "ferry dependency update failed: {}", f.stderr);
    let h = helm(&oracle, &theirs, &["deps", "update", "umbrella-chart"]);
    assert!(h.ok, "helm dependency update failed: {}", h.stderr);
    assert_eq!(lock_without_time(&u_ours), lock_without_time(&u_theirs));
    assert_eq!(chart_archives(&u_ours), chart_archives(&u_theirs));
    // the committed lock is current for both tools
    assert_eq!(
        lock_without_time(&u_ours),
        lock_without_time(&repo().join("testdata/charts/umbrella-chart"))
    );

    // list: same rows and statuses
    let f = ferry(&ours, &["dependency", "list", "umbrella-chart"]);
    assert!(f.ok, "{}", f.stderr);
    let h = helm(&oracle, &theirs, &["deps", "list", "umbrella-chart"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&h.stdout).unwrap();
    let mut lines = f.stdout.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap()
        .split('\t')
        .map(str::trim_end)
        .collect();
    assert_eq!(header, ["NAME", "VERSION", "REPOSITORY", "STATUS"]);
    for row in &rows {
        let ours: Vec<&str> = lines
            .next()
            .unwrap()
            .split('\t')
            .map(str::trim_end)
            .collect();
        assert_eq!(
            ours,
            [
                row["name"].as_str().unwrap(),
                row["version"].as_str().unwrap(),
                row["repository"].as_str().unwrap(),
                row["status"].as_str().unwrap()
            ]
        );
    }

    // values of the built umbrella chart
    compare_values(&oracle, &ours, "umbrella-chart", &[]).unwrap();

    // `ferry template` prints what `helm template` prints: Helm's stored manifest, trimmed
    let f = ferry(
        &ours,
        &[
            "template",
            "production",
            "umbrella-chart",
            "-n",
            "production",
        ],
    );
    assert!(f.ok, "{}", f.stderr);
    let h = helm(
        &oracle,
        &ours,
        &[
            "manifest",
            "umbrella-chart",
            "--name",
            "production",
            "--namespace",
            "production",
        ],
    );
    assert!(h.ok, "{}", h.stderr);
    assert_eq!(f.stdout, format!("{}\n", h.stdout.trim()));

    // build from the lock recreates the same charts/
    for d in [&u_ours, &u_theirs] {
        std::fs::remove_dir_all(d.join("charts")).unwrap();
    }
    assert!(ferry(&ours, &["dependency", "build", "umbrella-chart"]).ok);
    assert!(helm(&oracle, &theirs, &["deps", "build", "umbrella-chart"]).ok);
    assert_eq!(chart_archives(&u_ours), chart_archives(&u_theirs));
    let f = ferry(&ours, &["dependency", "list", "umbrella-chart"]);
    assert!(
        f.stdout
            .lines()
            .skip(1)
            .take(3)
            .all(|l| l.trim_end().ends_with("ok")),
        "{}",
        f.stdout
    );

    // a lock out of sync with Chart.yaml is refused by both
    for d in [&u_ours, &u_theirs] {
        let p = d.join("Chart.yaml");
        let t = std::fs::read_to_string(&p)
            .unwrap()
            .replace("\"~0.1.0\"", "\"~0.1.1\"");
        std::fs::write(p, t).unwrap();
    }
    let f = ferry(&ours, &["dependency", "build", "umbrella-chart"]);
    let h = helm(&oracle, &theirs, &["deps", "build", "umbrella-chart"]);
    assert!(!f.ok && !h.ok, "both must refuse an out-of-sync lock");
    assert!(
        f.stderr.contains("out of sync") && f.stderr.contains("Chart.lock"),
        "{}",
        f.stderr
    );
    assert!(h.stderr.contains("out of sync"), "{}", h.stderr);
    println!("dependency update/build/list: ferry and helm agree");
}

#[test]
fn packaged_charts_load_in_helm() {
    let Some(oracle) = oracle() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let charts = tmp.path().join("charts");
    copy_dir(&repo().join("testdata/charts"), &charts);
    let f = ferry(&charts, &["dependency", "build", "umbrella-chart"]);
    assert!(f.ok, "{}", f.stderr);
    for (chart, archive) in [
        ("order-service", "order-service-0.1.3.tgz"),
        ("umbrella-chart", "umbrella-chart-0.1.0.tgz"),
    ] {
        let f = ferry(&charts, &["package", chart, "-d", "../out"]);
        assert!(f.ok, "ferry package {chart}: {}", f.stderr);
        assert!(f.stdout.contains(archive), "{}", f.stdout);
        let path = tmp.path().join("out").join(archive);
        let h = helm(&oracle, tmp.path(), &["render", path.to_str().unwrap()]);
        assert!(h.ok, "helm cannot render ferry's {archive}: {}", h.stderr);
        compare_values(&oracle, tmp.path(), path.to_str().unwrap(), &[]).unwrap();
    }
    println!("packaged charts: helm loads and renders both archives");
}

/// A chart's binary file, as a directory and as an archive: what Helm's templates see of
/// its bytes (`.Files.Get` into `b64enc`, the checksums and `len`; `GetBytes`; `AsSecrets`
/// of a glob), Go strings of binary data (`b64dec`, `b32dec`), and `GetBytes` as the
/// `[]byte` it is, as Helm renders them.
#[test]
fn binary_files_and_decoded_bytes_render_as_in_helm() {
    let Some(oracle) = oracle() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let chart = tmp.path().join("bin");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::create_dir_all(chart.join("files")).unwrap();
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: bin\nversion: 0.1.0\n",
    )
    .unwrap();
    // not UTF-8: bytes 0xff, 0xfe and 0x80 are no characters' encodings
    std::fs::write(
        chart.join("files/ks.bin"),
        [0xff, 0xfe, 0x00, 0x01, b'a', b'b', b'c', 0x80],
    )
    .unwrap();
    std::fs::write(chart.join("files/note.txt"), "hello\n").unwrap();
    std::fs::write(
        chart.join("templates/secret.yaml"),
        r#"apiVersion: v1
kind: Secret
metadata:
  name: bin
data:
  get: {{ .Files.Get "files/ks.bin" | b64enc }}
  b32: {{ .Files.Get "files/ks.bin" | b32enc }}
  sha256: {{ .Files.Get "files/ks.bin" | sha256sum }}
  sha1: {{ .Files.Get "files/ks.bin" | sha1sum }}
  sha512: {{ .Files.Get "files/ks.bin" | sha512sum }}
  adler: {{ .Files.Get "files/ks.bin" | adler32sum | quote }}
  len: {{ .Files.Get "files/ks.bin" | len | quote }}
  getbytes: {{ .Files.GetBytes "files/ks.bin" | len | quote }}
  first: {{ index (.Files.GetBytes "files/ks.bin") 0 | quote }}
  b64rt: {{ "//4AAWFiY4A=" | b64dec | b64enc }}
  b64len: {{ "//4AAWFiY4A=" | b64dec | len | quote }}
  b32rt: {{ "777AAALBMJRYA===" | b32dec | b64enc }}
  text: {{ .Files.Get "files/note.txt" | b64enc }}
---
apiVersion: v1
kind: Secret
metadata:
  name: globbed
data:
{{ (.Files.Glob "files/*").AsSecrets | indent 2 }}
"#,
    )
    .unwrap();
    // `.Files.GetBytes` is a []byte: printed as numbers, as text by %s and toString, base64
    // in JSON and YAML
    std::fs::write(
        chart.join("templates/bytes.yaml"),
        r#"a: {{ .Files.GetBytes "files/note.txt" | toJson | quote }}
b: {{ .Files.GetBytes "files/note.txt" | toString | quote }}
c: {{ .Files.GetBytes "files/note.txt" | printf "%s" | quote }}
d: {{ .Files.GetBytes "files/note.txt" | quote }}
e: {{ .Files.GetBytes "files/note.txt" | print | quote }}
f: {{ .Files.GetBytes "files/note.txt" | toYaml | quote }}
g: {{ .Files.GetBytes "files/note.txt" | typeOf | quote }}
h: {{ .Files.GetBytes "files/note.txt" | kindOf | quote }}
i: {{ printf "%v" (.Files.GetBytes "files/note.txt") | quote }}
j: {{ printf "%x|%X|%q" (.Files.GetBytes "files/note.txt") (.Files.GetBytes "files/note.txt") (.Files.GetBytes "files/note.txt") | quote }}
k: {{ .Files.GetBytes "files/ks.bin" | toJson | quote }}
l: {{ dict "b" (.Files.GetBytes "files/note.txt") | toPrettyJson | quote }}
"#,
    )
    .unwrap();
    let f = ferry(tmp.path(), &["package", "bin", "-d", "out"]);
    assert!(f.ok, "{}", f.stderr);
    for path in [chart.clone(), tmp.path().join("out/bin-0.1.0.tgz")] {
        let path = path.to_str().unwrap();
        let h = helm(&oracle, tmp.path(), &["render", path]);
        assert!(h.ok, "{}", h.stderr);
        let f = ferry(tmp.path(), &["template", "x", path, "--raw-json"]);
        assert!(f.ok, "{}", f.stderr);
        let helm_map: serde_json::Value = serde_json::from_str(&h.stdout).unwrap();
        let ferry_map: serde_json::Value = serde_json::from_str(&f.stdout).unwrap();
        assert_eq!(ferry_map, helm_map, "{path}");
        assert!(h.stdout.contains("//4AAWFiY4A="), "{}", h.stdout);
    }
    println!("binary files: ferry renders their bytes as helm does (directory and archive)");
}

/// `ferry template --raw-json` prints Helm's engine map, the render before the manifest
/// stage: a template whose text is not YAML is shown as Helm's engine renders it (the plain
/// `ferry template` refuses it, as `helm template` does).
#[test]
fn raw_json_shows_a_render_that_is_not_yaml() {
    let Some(oracle) = oracle() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let chart = tmp.path().join("broken");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: broken\nversion: 0.1.0\n",
    )
    .unwrap();
    std::fs::write(chart.join("values.yaml"), "name: web\n").unwrap();
    std::fs::write(
        chart.join("templates/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Values.name }}\ndata:\n  a: b\n c: [\n",
    )
    .unwrap();
    std::fs::write(
        chart.join("templates/NOTES.txt"),
        "Hello {{ .Release.Name }}\n",
    )
    .unwrap();
    let path = chart.to_str().unwrap();
    let h = helm(&oracle, tmp.path(), &["render", path, "--name", "x"]);
    assert!(h.ok, "{}", h.stderr);
    let f = ferry(tmp.path(), &["template", "x", path, "--raw-json"]);
    assert!(f.ok, "{}", f.stderr);
    let helm_map: serde_json::Value = serde_json::from_str(&h.stdout).unwrap();
    let ferry_map: serde_json::Value = serde_json::from_str(&f.stdout).unwrap();
    assert_eq!(ferry_map, helm_map);
    let f = ferry(tmp.path(), &["template", "x", path]);
    assert!(!f.ok, "{}", f.stdout);
    assert!(
        f.stderr
            .contains("YAML parse error on broken/templates/cm.yaml"),
        "{}",
        f.stderr
    );
    println!("--raw-json: the engine map of a render that is not YAML, as helm's");
}
