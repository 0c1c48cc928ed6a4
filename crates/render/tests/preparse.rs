//! Templates parsed ahead (`Preparse`: while the archive is read, or by `render_release` while
//! it computes the values) render exactly as templates parsed at render time: same output,
//! same `define` precedence, same errors.

use ferry_chart::Map;
use ferry_render::{Capabilities, Engine, Preparse, ReleaseOptions, RenderRequest, render_release};

/// Writes a chart archive (`name/...` entries) and returns its path.
fn archive(dir: &tempfile::TempDir, files: &[(&str, &str)]) -> std::path::PathBuf {
    let path = dir.path().join("chart.tgz");
    let gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&path).expect("archive file"),
        flate2::Compression::fast(),
    );
    let mut tar = tar::Builder::new(gz);
    for (name, text) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(text.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, format!("demo/{name}"), text.as_bytes())
            .expect("tar entry");
    }
    tar.into_inner().expect("tar").finish().expect("gzip");
    path
}

/// A release `r` in `default` of `chart` with `user` values, rendered by `engine`.
fn request<'a>(chart: &'a ferry_chart::Chart, user: &'a Map, engine: Engine) -> RenderRequest<'a> {
    RenderRequest {
        chart,
        user_values: user,
        release: ReleaseOptions {
            name: "r".into(),
            namespace: "default".into(),
            revision: 1,
            is_install: true,
            is_upgrade: false,
        },
        caps: Capabilities::default(),
        engine,
        include_crds: false,
        sub_notes: false,
        skip_schema_validation: false,
    }
}

/// Renders the archive four times: its templates parsed at render time (an engine with
/// functions of its own parses everything itself), parsed by `render_release` while it
/// computes the values (the default), parsed while the archive was read, and parsed while
/// the archive was read with every text begun before the render began (so a thread that helps
/// execute makes its contexts while the render thread makes its own).
fn all_ways(files: &[(&str, &str)]) -> [Result<Vec<(String, String)>, String>; 4] {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = archive(&dir, files);
    [0, 1, 2, 3].map(|way| {
        let preparse = (way >= 2).then(Preparse::start);
        let chart = match &preparse {
            Some(p) => ferry_chart::load_observed(&path, &mut |f| p.offer(f)),
            None => ferry_chart::load(&path),
        }
        .expect("chart loads");
        if way == 3 {
            let p = preparse.as_ref().expect("started");
            let start = std::time::Instant::now();
            while !p.has_begun_all() {
                assert!(start.elapsed().as_secs() < 60, "the preparse never ends");
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
        let no_functions: ferry_render::CustomFuncs = std::sync::Arc::new(|_| {});
        let engine = Engine {
            preparsed: preparse.clone(),
            custom: (way == 0).then_some(no_functions),
            exec_threads: (way == 3).then_some(3),
            ..Engine::default()
        };
        render_release(&request(&chart, &Map::new(), engine))
            .map(|r| r.files.into_iter().collect())
            .map_err(|e| e.to_string())
    })
}

const CHART: &str = "apiVersion: v2\nname: demo\nversion: 1.0.0\n";
const SUB: &str = "apiVersion: v2\nname: sub\nversion: 0.1.0\n";

#[test]
fn preparsed_templates_render_the_same() {
    let [plain, ahead, pre, done] = all_ways(&[
        ("Chart.yaml", CHART),
        ("values.yaml", "x: 1\n"),
        // enough templates for the render to execute on more than one thread
        ("templates/a.yaml", "a: {{ .Values.x }} {{ .Chart.Name }}\n"),
        (
            "templates/b.yaml",
            "b: {{ include \"greet\" . }} {{ .Template.Name }}\n",
        ),
        (
            "templates/_helpers.tpl",
            r#"{{- define "greet" -}}top {{ .Chart.Name }}{{- end -}}"#,
        ),
        (
            "templates/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  g: {{ include \"greet\" . | quote }}\n  t: {{ .Template.Name }}\n",
        ),
        ("templates/NOTES.txt", "{{ template \"greet\" . }}\n"),
        ("charts/sub/Chart.yaml", SUB),
        (
            "charts/sub/templates/_helpers.tpl",
            r#"{{- define "greet" -}}sub {{ .Chart.Name }}{{- end -}}"#,
        ),
        (
            "charts/sub/templates/s.yaml",
            // long to execute: a thread that helps from the end of the order gets to the
            // root chart's templates meanwhile
            "kind: Secret\nmetadata:\n  name: {{ include \"greet\" . }}\n{{- range until 200000 }}{{ end }}\n",
        ),
    ]);
    let plain = plain.expect("renders");
    assert_eq!(Ok(plain.clone()), ahead);
    assert_eq!(Ok(plain.clone()), pre);
    assert_eq!(Ok(plain.clone()), done);
    // the names the trees were parsed under are the files' own
    let cm = &plain
        .iter()
        .find(|(k, _)| k == "demo/templates/cm.yaml")
        .expect("cm")
        .1;
    assert!(cm.contains("t: demo/templates/cm.yaml"), "{cm}");
}

#[test]
fn preparsed_errors_name_the_file() {
    for bad in [
        "{{ if .Values.x }}\nunclosed\n",
        "{{ nosuchfunc 1 }}",
        // a define of the file's own name clashes with the file itself
        "x{{ define \"demo/templates/bad.yaml\" }}y{{ end }}",
    ] {
        let [plain, ahead, pre, done] = all_ways(&[
            ("Chart.yaml", CHART),
            ("templates/ok.yaml", "kind: A\n"),
            ("templates/bad.yaml", bad),
        ]);
        let err = plain.expect_err("fails");
        assert!(err.contains("demo/templates/bad.yaml"), "{err}");
        assert_eq!(Err(err.clone()), ahead, "{bad}");
        assert_eq!(Err(err.clone()), pre, "{bad}");
        assert_eq!(Err(err), done, "{bad}");
    }
}

/// Templates are parsed ahead before dependency processing decides which subcharts render:
/// a disabled subchart's broken template, parsed (and failing) ahead, is no error, as in Helm.
#[test]
fn a_disabled_subchart_is_not_parsed_for_the_render() {
    let chart = "apiVersion: v2\nname: demo\nversion: 1.0.0\ndependencies:\n  - name: sub\n    version: 0.1.0\n    condition: sub.enabled\n";
    for enabled in [false, true] {
        let values = format!("sub:\n  enabled: {enabled}\n");
        let results = all_ways(&[
            ("Chart.yaml", chart),
            ("values.yaml", &values),
            ("templates/ok.yaml", "kind: A\n"),
            ("charts/sub/Chart.yaml", SUB),
            (
                "charts/sub/templates/bad.yaml",
                "{{ if .Values.x }}unclosed\n",
            ),
        ]);
        for r in results {
            match r {
                Ok(files) => {
                    assert!(!enabled, "renders though its subchart is broken: {files:?}");
                    assert!(files.iter().any(|(k, _)| k == "demo/templates/ok.yaml"));
                }
                Err(e) => {
                    assert!(enabled, "disabled subchart failed the render: {e}");
                    assert!(e.contains("demo/charts/sub/templates/bad.yaml"), "{e}");
                }
            }
        }
    }
}

/// A chart loaded with its large `.Files`-only files left compressed renders as one loaded
/// whole; they stay compressed through a render whose templates never reach `.Files`.
#[test]
fn files_left_compressed_render_the_same_and_are_read_only_when_reached() {
    let dir = tempfile::tempdir().expect("temp dir");
    let big = "a line of a large file\n".repeat(4000);
    let crd = format!("# {}\n", "x".repeat(70_000));
    let render = |chart: &ferry_chart::Chart, reach: bool| {
        let mut user = Map::new();
        user.insert("reach".to_string(), ferry_chart::Value::Bool(reach));
        render_release(&request(chart, &user, Engine::default()))
            .map(|r| r.files)
            .expect("renders")
    };
    let path = archive(
        &dir,
        &[
            ("Chart.yaml", CHART),
            ("values.yaml", "reach: false\n"),
            ("files/big.txt", &big),
            ("crds/big.yaml", &crd),
            (
                "templates/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  a: b\n{{- if .Values.reach }}\n  n: {{ len .Files | quote }}\n  sum: {{ .Files.Get \"files/big.txt\" | sha256sum }}\n  crds: {{ range $p, $_ := .Files.Glob \"crds/*\" }}{{ $p }}{{ end }}\n{{- end }}\n",
            ),
        ],
    );
    let lazy_file = |c: &ferry_chart::Chart| {
        c.files
            .iter()
            .find(|f| f.name == "files/big.txt")
            .expect("big.txt")
            .is_lazy()
    };
    let eager = ferry_chart::load(&path).expect("loads");
    for reach in [false, true] {
        let lazy = ferry_chart::load_observed_lazily(&path, &mut |_| {}).expect("loads");
        assert!(lazy_file(&lazy));
        let m = render(&lazy, reach);
        assert_eq!(m, render(&eager, reach), "reach: {reach}");
        // read when a template reaches `.Files`, not before
        assert_eq!(lazy_file(&lazy), !reach);
        assert_eq!(
            m["demo/templates/cm.yaml"].contains("n: \"2\""),
            reach,
            "{m:?}"
        );
    }
}
