//! `ferry show` prints what `helm show` prints (layout from Helm's `pkg/action/show.go`).

use std::path::Path;
use std::process::Command;

fn ferry(args: &[&str]) -> (bool, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(args)
        .output()
        .unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn chart(dir: &Path) {
    let files = [
        (
            "Chart.yaml",
            "apiVersion: v2\nname: demo\nversion: 1.2.3\ndescription: A demo\nkeywords: [a]\n",
        ),
        ("values.yaml", "# comment kept\nreplicas: 2\n"),
        ("README.md", "# Demo\n"),
        ("crds/a.yaml", "kind: CustomResourceDefinition\n"),
        ("crds/b.yaml", "---\nkind: CustomResourceDefinition\n"),
        ("crds/notes.txt", "not a manifest\n"),
    ];
    for (n, d) in files {
        let p = dir.join(n);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, d).unwrap();
    }
}

#[test]
fn show_prints_as_helm() {
    let t = tempfile::tempdir().unwrap();
    chart(t.path());
    let c = t.path().to_str().unwrap();
    let chart_yaml =
        "apiVersion: v2\ndescription: A demo\nkeywords:\n- a\nname: demo\nversion: 1.2.3\n\n";
    assert_eq!(ferry(&["show", "chart", c]).1, chart_yaml);
    assert_eq!(
        ferry(&["show", "values", c]).1,
        "# comment kept\nreplicas: 2\n\n"
    );
    assert_eq!(ferry(&["show", "readme", c]).1, "# Demo\n\n");
    let crds = "---\nkind: CustomResourceDefinition\n\n---\nkind: CustomResourceDefinition\n\n";
    assert_eq!(ferry(&["show", "crds", c]).1, crds);
    let all = ferry(&["show", "all", c]).1;
    assert_eq!(
        all,
        format!("{chart_yaml}---\n# comment kept\nreplicas: 2\n\n---\n# Demo\n\n{crds}")
    );
}

#[test]
fn computed_values_take_helm_flags() {
    let t = tempfile::tempdir().unwrap();
    chart(t.path());
    let c = t.path().to_str().unwrap();
    let extra = t.path().join("extra.yaml");
    std::fs::write(&extra, "replicas: 5\nname: from-file\n").unwrap();
    let (ok, out, err) = ferry(&[
        "show",
        "values",
        "--computed",
        c,
        "-o",
        "json",
        "-f",
        extra.to_str().unwrap(),
        "--set",
        "replicas=7",
        "--set-string",
        "tag=010",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"replicas": 7, "name": "from-file", "tag": "010"})
    );
    let (ok, _, err) = ferry(&["show", "values", "--computed", c, "--set", "a["]);
    assert!(!ok);
    assert!(err.contains("failed parsing --set data"), "{err}");
    let (ok, _, err) = ferry(&["show", "chart", "/nonexistent/chart"]);
    assert!(!ok && err.contains("/nonexistent/chart"), "{err}");
}

#[test]
fn set_file_literal_and_stdin_values() {
    use std::io::Write;
    let t = tempfile::tempdir().unwrap();
    chart(t.path());
    let c = t.path().to_str().unwrap();
    let cert = t.path().join("cert.pem");
    std::fs::write(&cert, "-----BEGIN-----\nabc\n").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args([
            "show",
            "values",
            "--computed",
            c,
            "-o",
            "json",
            "-f",
            "-",
            "--set-file",
            &format!("tls.cert={}", cert.display()),
            "--set-literal",
            "raw=a,b={c}",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"fromStdin: yes\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"replicas": 2, "fromStdin": true, "raw": "a,b={c}",
                           "tls": {"cert": "-----BEGIN-----\nabc\n"}})
    );
}
