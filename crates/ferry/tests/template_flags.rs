//! The `ferry` binary, as users run it: every corpus case through `ferry template --raw-json`
//! and `ferry install --dry-run=client -o json` against Helm's outputs; `--post-renderer`
//! with shell scripts and a Helm 4 plugin; template error snippets; the Jinja example chart.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use ferry::chart::Value;

struct Out {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn ferry_env(args: &[&str], env: &[(&str, &str)]) -> Out {
    let o = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    Out {
        ok: o.status.success(),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn ferry(args: &[&str]) -> Out {
    ferry_env(args, &[])
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

// ---- the corpus through the CLI ----

/// Same structure: maps with the same keys, lists of the same length, any scalars.
fn same_shape(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_shape(v, w)))
        }
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same_shape(v, w))
        }
        (Value::Map(_) | Value::List(_), _) | (_, Value::Map(_) | Value::List(_)) => false,
        _ => true,
    }
}

/// "Same documents, same keys": what a nondeterministic template is compared by.
fn docs_same_shape(a: &str, b: &str) -> Result<(), String> {
    let (da, db) = (
        ferry::render::manifest::split_manifests(a),
        ferry::render::manifest::split_manifests(b),
    );
    if da.len() != db.len() {
        return Err(format!("{} documents vs helm's {}", da.len(), db.len()));
    }
    for (i, (x, y)) in da.iter().zip(&db).enumerate() {
        let parse = |s: &str| ferry::chart::yaml::parse(s).map_err(|e| e.to_string());
        if !same_shape(&parse(x)?, &parse(y)?) {
            return Err(format!("document {} differs in shape", i + 1));
        }
    }
    Ok(())
}

fn first_difference(a: &str, b: &str) -> String {
    let (al, bl): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    match al.iter().zip(&bl).position(|(x, y)| x != y) {
        Some(i) => format!("line {}: ferry {:?} vs helm {:?}", i + 1, al[i], bl[i]),
        None => format!(
            "{} lines vs helm's {} (final newline {} vs {})",
            al.len(),
            bl.len(),
            a.ends_with('\n'),
            b.ends_with('\n')
        ),
    }
}

/// A stored manifest as `(source, document)` chunks.
fn manifest_chunks(m: &str) -> Vec<(String, String)> {
    m.split("---\n# Source: ")
        .filter(|c| !c.is_empty())
        .map(|c| {
            let (src, doc) = c.split_once('\n').unwrap_or((c, ""));
            (src.to_string(), doc.to_string())
        })
        .collect()
}

struct Case {
    name: String,
    dir: PathBuf,
    chart: String,
    release: String,
    namespace: String,
    revision: i64,
    is_install: bool,
    values: Vec<String>,
    nondeterministic: BTreeSet<String>,
}

impl Case {
    fn load(corpus: &Path, dir: &Path) -> Case {
        let c: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("case.json")).unwrap()).unwrap();
        let strings = |k: &str| -> Vec<String> {
            c[k].as_array()
                .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
                .unwrap_or_default()
        };
        Case {
            name: dir.file_name().unwrap().to_string_lossy().into_owned(),
            dir: dir.to_path_buf(),
            chart: corpus
                .join(c["chart"].as_str().unwrap())
                .display()
                .to_string(),
            release: c["release"].as_str().unwrap_or("release").into(),
            namespace: c["namespace"].as_str().unwrap_or("default").into(),
            revision: c["revision"].as_i64().unwrap_or(1),
            is_install: c["is_install"].as_bool().unwrap_or(true),
            values: strings("values_files")
                .iter()
                .map(|f| dir.join(f).display().to_string())
                .collect(),
            nondeterministic: strings("nondeterministic").into_iter().collect(),
        }
    }

    fn expected(&self, f: &str) -> Option<String> {
        std::fs::read_to_string(self.dir.join("expected").join(f)).ok()
    }

    fn args(&self, command: &[&str]) -> Vec<String> {
        let mut a: Vec<String> = command.iter().map(|s| s.to_string()).collect();
        a.extend([
            self.release.clone(),
            self.chart.clone(),
            "-n".into(),
            self.namespace.clone(),
        ]);
        for v in &self.values {
            a.extend(["-f".into(), v.clone()]);
        }
        a
    }

    fn template(&self) -> Out {
        let mut a = self.args(&["template"]);
        a.extend([
            "--raw-json".into(),
            "--revision".into(),
            self.revision.to_string(),
        ]);
        if !self.is_install {
            a.push("--is-upgrade".into());
        }
        ferry(&a.iter().map(String::as_str).collect::<Vec<_>>())
    }

    fn install(&self) -> Out {
        let mut a = self.args(&["install"]);
        a.extend(["--dry-run=client".into(), "-o".into(), "json".into()]);
        ferry(&a.iter().map(String::as_str).collect::<Vec<_>>())
    }

    fn check_error(&self, what: &str, out: Out, want: &str) -> Result<(), String> {
        if out.ok {
            return Err(format!("{what} rendered, but helm failed: {want}"));
        }
        let want = format!("Error: {}", want.trim_end());
        if !out.stderr.starts_with(&want) {
            return Err(format!("{what}: error {:?} vs helm {want:?}", out.stderr));
        }
        Ok(())
    }

    fn check(&self) -> Result<(), String> {
        if let Some(want) = self.expected("error.txt") {
            self.check_error("template", self.template(), &want)?;
            if self.is_install {
                self.check_error("install", self.install(), &want)?;
            }
            return Ok(());
        }
        // ferry template --raw-json == render.json
        let out = self.template();
        if !out.ok {
            return Err(format!("template failed: {}", out.stderr));
        }
        let got: BTreeMap<String, String> =
            serde_json::from_str(&out.stdout).map_err(|e| format!("--raw-json: {e}"))?;
        let want: BTreeMap<String, String> =
            serde_json::from_str(&self.expected("render.json").unwrap()).unwrap();
        let (kg, kw): (Vec<&String>, Vec<&String>) = (got.keys().collect(), want.keys().collect());
        if kg != kw {
            return Err(format!("templates differ: {kg:?} vs {kw:?}"));
        }
        for (k, w) in &want {
            let g = &got[k];
            if self.nondeterministic.contains(k) {
                docs_same_shape(g, w).map_err(|e| format!("{k}: {e}"))?;
            } else if g != w {
                return Err(format!("{k}: {}", first_difference(g, w)));
            }
        }
        if !self.is_install {
            // upgrade cases have no install outputs
            return Ok(());
        }
        // ferry install --dry-run=client -o json: manifest and notes
        let out = self.install();
        if !out.ok {
            return Err(format!("install failed: {}", out.stderr));
        }
        let rel: serde_json::Value =
            serde_json::from_str(&out.stdout).map_err(|e| format!("install -o json: {e}"))?;
        let manifest = rel["manifest"].as_str().unwrap_or_default();
        let want = self.expected("manifest.yaml").unwrap_or_default();
        let (cg, cw) = (manifest_chunks(manifest), manifest_chunks(&want));
        let sources = |c: &[(String, String)]| c.iter().map(|(s, _)| s.clone()).collect::<Vec<_>>();
        if sources(&cg) != sources(&cw) {
            return Err(format!(
                "manifest documents differ: {:?} vs {:?}",
                sources(&cg),
                sources(&cw)
            ));
        }
        for ((src, g), (_, w)) in cg.iter().zip(&cw) {
            if self.nondeterministic.contains(src) {
                docs_same_shape(g, w).map_err(|e| format!("manifest {src}: {e}"))?;
            } else if g != w {
                return Err(format!("manifest {src}: {}", first_difference(g, w)));
            }
        }
        let notes = rel["info"]["notes"].as_str().unwrap_or_default();
        let want_notes = self.expected("notes.txt").unwrap_or_default();
        let root_notes = format!(
            "{}/templates/NOTES.txt",
            got.keys()
                .next()
                .and_then(|k| k.split('/').next())
                .unwrap_or_default()
        );
        if self.nondeterministic.contains(&root_notes) {
            if notes.lines().count() != want_notes.lines().count() {
                return Err("notes differ in shape".into());
            }
        } else if notes != want_notes {
            return Err(format!("notes: {}", first_difference(notes, &want_notes)));
        }
        Ok(())
    }
}

#[test]
fn corpus_through_the_cli() {
    let corpus = repo().join("../shared/corpus");
    if !corpus.join("cases").is_dir() {
        eprintln!("skipped: ../shared/corpus not found, no corpus to run the CLI on");
        return;
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(corpus.join("cases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    let cases: Vec<Case> = dirs.iter().map(|d| Case::load(&corpus, d)).collect();
    // two workers: the machine has two cores
    let results: Vec<(String, Result<(), String>)> = std::thread::scope(|s| {
        let (a, b): (Vec<&Case>, Vec<&Case>) =
            cases
                .iter()
                .enumerate()
                .fold((Vec::new(), Vec::new()), |(mut a, mut b), (i, c)| {
                    if i % 2 == 0 {
                        a.push(c)
                    } else {
                        b.push(c)
                    }
                    (a, b)
                });
        let run = |list: Vec<&Case>| {
            list.into_iter()
                .map(|c| (c.name.clone(), c.check()))
                .collect::<Vec<_>>()
        };
        let ha = s.spawn(move || run(a));
        let hb = s.spawn(move || run(b));
        let mut all = ha.join().unwrap();
        all.extend(hb.join().unwrap());
        all
    });
    let mut results = results;
    results.sort_by(|x, y| x.0.cmp(&y.0));
    let mut passed = 0;
    for (name, r) in &results {
        match r {
            Ok(()) => {
                passed += 1;
                println!("pass  {name}");
            }
            Err(e) => println!("FAIL  {name}: {e}"),
        }
    }
    println!(
        "corpus via the ferry CLI: {passed} of {} cases identical to helm",
        results.len()
    );
    let min: usize = std::env::var("FERRY_MIN_CORPUS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    assert!(
        passed >= min,
        "only {passed} corpus cases pass through the CLI, expected at least {min}"
    );
}

// ---- --post-renderer ----

/// A chart with a Deployment, a Service and a pre-install hook Job.
fn hook_chart(dir: &Path) -> String {
    let files = [
        ("Chart.yaml", "apiVersion: v2\nname: pr\nversion: 0.1.0\n"),
        (
            "templates/app.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}-app\nspec:\n  replicas: 1\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}-svc\n  labels:\n    a: b\n",
        ),
        (
            "templates/job.yaml",
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {{ .Release.Name }}-migrate\n  annotations:\n    \"helm.sh/hook\": pre-install\nspec: {}\n",
        ),
        ("templates/NOTES.txt", "notes {{ .Release.Name }}\n"),
    ];
    for (n, d) in files {
        let p = dir.join(n);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, d).unwrap();
    }
    dir.display().to_string()
}

fn script(dir: &Path, name: &str, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt as _;
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p.display().to_string()
}

#[test]
fn post_renderer_rewrites_every_document_hooks_included() {
    let t = tempfile::tempdir().unwrap();
    let chart = hook_chart(&t.path().join("chart"));
    let cat = script(t.path(), "cat.sh", "cat");
    let plain = ferry(&["template", "r", &chart]);
    assert!(plain.ok, "{}", plain.stderr);
    // an identity post-renderer changes nothing
    let same = ferry(&["template", "r", &chart, "--post-renderer", &cat]);
    assert!(same.ok, "{}", same.stderr);
    assert_eq!(same.stdout, plain.stdout);

    // the stream the program gets: every document, hooks too, annotated with its template
    let seen = t.path().join("seen.yaml");
    let tee = script(t.path(), "tee.sh", &format!("tee {}", seen.display()));
    assert!(ferry(&["template", "r", &chart, "--post-renderer", &tee]).ok);
    assert_eq!(
        std::fs::read_to_string(&seen).unwrap(),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: r-app\n  annotations:\n    postrenderer.helm.sh/postrender-filename: 'pr/templates/app.yaml'\nspec:\n  replicas: 1\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: r-svc\n  labels:\n    a: b\n  annotations:\n    postrenderer.helm.sh/postrender-filename: 'pr/templates/app.yaml'\n---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: r-migrate\n  annotations:\n    \"helm.sh/hook\": pre-install\n    postrenderer.helm.sh/postrender-filename: 'pr/templates/job.yaml'\nspec: {}\n"
    );

    // its output replaces the manifest (args from --post-renderer-args), hooks included;
    // a document it adds without the annotation gets a generated name
    let patch = script(
        t.path(),
        "patch.sh",
        "sed \"s/^  name: \\(.*\\)$/  name: \\1-$1/\"\nprintf -- '---\\napiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: extra\\n'",
    );
    let out = ferry(&[
        "template",
        "r",
        &chart,
        "--post-renderer",
        &patch,
        "--post-renderer-args",
        "patched",
    ]);
    assert!(out.ok, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        // (the last document of each file keeps its final newline, as in Helm's output)
        "---\n# Source: generated-by-postrender-3.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n\n---\n# Source: pr/templates/app.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: r-svc-patched\n  labels:\n    a: b\n\n---\n# Source: pr/templates/app.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: r-app-patched\nspec:\n  replicas: 1\n---\n# Source: pr/templates/job.yaml\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: r-migrate-patched\n  annotations:\n    \"helm.sh/hook\": pre-install\nspec: {}\n\n"
    );

    // install --dry-run: the stored manifest, hooks and notes
    let out = ferry(&[
        "install",
        "r",
        &chart,
        "--dry-run=client",
        "-o",
        "json",
        "--post-renderer",
        &patch,
        "--post-renderer-args",
        "p",
    ]);
    assert!(out.ok, "{}", out.stderr);
    let rel: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let manifest = rel["manifest"].as_str().unwrap();
    assert!(manifest.contains("  name: r-app-p\n") && manifest.contains("  name: extra\n"));
    assert_eq!(rel["hooks"][0]["name"], "r-migrate-p");
    assert_eq!(rel["info"]["notes"], "notes r\n");
}

#[test]
fn post_renderer_failures_read_as_helm_4() {
    let t = tempfile::tempdir().unwrap();
    let chart = hook_chart(&t.path().join("chart"));
    let fail = script(t.path(), "fail.sh", "echo 'something broke' >&2\nexit 3");
    let out = ferry(&["template", "r", &chart, "--post-renderer", &fail]);
    assert!(!out.ok);
    assert_eq!(
        out.stderr,
        format!(
            "something broke\nError: error while running post render on files: failed to invoke post-renderer plugin {fail:?}: plugin {fail:?} exited with error\n"
        )
    );
    let empty = script(t.path(), "empty.sh", "cat >/dev/null\necho '  '");
    let out = ferry(&["template", "r", &chart, "--post-renderer", &empty]);
    assert_eq!(
        out.stderr,
        format!(
            "Error: error while running post render on files: post-renderer {empty:?} produced empty output\n"
        )
    );
    let junk = script(t.path(), "junk.sh", "cat >/dev/null\necho 'a: b: c'");
    let out = ferry(&["template", "r", &chart, "--post-renderer", &junk]);
    assert!(
        out.stderr
            .starts_with("Error: error while parsing post rendered output: error parsing YAML: "),
        "{}",
        out.stderr
    );
    let out = ferry(&[
        "template",
        "r",
        &chart,
        "--post-renderer",
        "no-such-renderer",
    ]);
    assert_eq!(
        out.stderr,
        "Error: invalid argument \"no-such-renderer\" for \"--post-renderer\" flag: plugin: {Name:no-such-renderer Type:postrenderer/v1} not found\n"
    );
}

#[test]
fn post_renderer_plugins_are_found_by_name() {
    let t = tempfile::tempdir().unwrap();
    let chart = hook_chart(&t.path().join("chart"));
    let plugin = t.path().join("plugins/rename");
    std::fs::create_dir_all(&plugin).unwrap();
    std::fs::write(
        plugin.join("plugin.yaml"),
        "name: \"rename\"\nversion: \"1.2.3\"\ntype: postrenderer/v1\napiVersion: v1\nruntime: subprocess\nruntimeConfig:\n  platformCommand:\n  - command: \"${HELM_PLUGIN_DIR}/run.sh\"\n",
    )
    .unwrap();
    script(
        &plugin,
        "run.sh",
        "sed \"s/^  name: r-app$/  name: $HELM_PLUGIN_NAME-$1/\"",
    );
    let plugins = t.path().join("plugins").display().to_string();
    let out = ferry_env(
        &[
            "template",
            "r",
            &chart,
            "--post-renderer",
            "rename",
            "--post-renderer-args",
            "x",
        ],
        &[("HELM_PLUGINS", &plugins)],
    );
    assert!(out.ok, "{}", out.stderr);
    assert!(out.stdout.contains("  name: rename-x\n"), "{}", out.stdout);
}

// ---- errors and the Jinja flavour on the command line ----

#[test]
fn template_errors_print_the_source_line_with_a_caret() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path();
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    std::fs::write(
        dir.join("Chart.yaml"),
        "apiVersion: v2\nname: mychart\nversion: 0.1.0\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("templates/deploy.yaml"),
        "kind: Deployment\nspec:\n  image: {{ .Values.image | required \"image is required\" }}\n",
    )
    .unwrap();
    let out = ferry(&["template", dir.to_str().unwrap()]);
    assert!(!out.ok);
    assert_eq!(
        out.stderr,
        "Error: execution error at (mychart/templates/deploy.yaml:3:28): image is required\n  3 |   image: {{ .Values.image | required \"image is required\" }}\n    |                             ^\n"
    );
}

#[test]
fn the_jinja_example_renders_through_the_cli() {
    let chart = repo().join("testdata/charts/jinja-example");
    let out = ferry(&[
        "template",
        "demo",
        chart.to_str().unwrap(),
        "--set",
        "replicaCount=3",
        "--show-only",
        "templates/deployment.yaml",
    ]);
    assert!(out.ok, "{}", out.stderr);
    assert!(
        out.stdout
            .starts_with("---\n# Source: jinja-example/templates/deployment.yaml\napiVersion: apps/v1\nkind: Deployment\n"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("  replicas: 3\n"), "{}", out.stdout);
    // errors point into the partial the macro lives in
    let out = ferry(&[
        "template",
        "demo",
        chart.to_str().unwrap(),
        "--set",
        "image.repository=",
    ]);
    assert!(!out.ok);
    let line = "{{ Values.image.repository | required(\"image.repository is required\") }}:{{ Values.image.tag | default(Chart.AppVersion) }}";
    assert_eq!(
        out.stderr,
        format!(
            "Error: execution error at (jinja-example/templates/_helpers.j2:3:29): image.repository is required\n  3 | {line}\n    | {}^\n",
            " ".repeat(29)
        )
    );
}
