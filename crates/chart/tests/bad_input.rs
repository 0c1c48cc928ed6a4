//! Bad input gets a clear error naming the problem and the file: never a panic.

use std::io::Write;
use std::path::Path;

use ferry_chart::deps::{self, FileSource};
use ferry_chart::strvals::ValueOptions;
use ferry_chart::{Map, load};

mod support;

/// A tar entry with a raw name (the tar crate refuses unsafe names, attackers do not).
fn raw_entry(name: &str, data: &[u8], kind: u8, link: &str) -> Vec<u8> {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..107].copy_from_slice(b"0000644");
    h[108..115].copy_from_slice(b"0000000");
    h[116..123].copy_from_slice(b"0000000");
    h[124..135].copy_from_slice(format!("{:011o}", data.len()).as_bytes());
    h[136..147].copy_from_slice(b"00000000000");
    h[156] = kind;
    h[157..157 + link.len()].copy_from_slice(link.as_bytes());
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| b as u32).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    let mut out = h.to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

fn tgz(entries: &[Vec<u8>]) -> Vec<u8> {
    let mut tar: Vec<u8> = entries.concat();
    tar.extend_from_slice(&[0u8; 1024]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    gz.finish().unwrap()
}

const CHART_YAML: &[u8] = b"apiVersion: v2\nname: bad\nversion: 1.0.0\n";

fn archive_error(dir: &Path, entries: &[Vec<u8>]) -> String {
    let path = dir.join("bad-1.0.0.tgz");
    std::fs::write(&path, tgz(entries)).unwrap();
    load(&path).unwrap_err().to_string()
}

fn check(err: &str, file: &str, problem: &str) {
    assert!(err.contains(file), "error does not name {file:?}: {err}");
    assert!(
        err.contains(problem),
        "error does not say {problem:?}: {err}"
    );
}

#[test]
fn archives_escaping_the_chart_root_are_refused() {
    let t = tempfile::tempdir().unwrap();
    let ok = raw_entry("bad/Chart.yaml", CHART_YAML, b'0', "");
    let e = archive_error(
        t.path(),
        &[ok.clone(), raw_entry("bad/../../etc/x", b"x", b'0', "")],
    );
    check(&e, "bad-1.0.0.tgz", "references parent directory");
    let e = archive_error(
        t.path(),
        &[ok.clone(), raw_entry("bad//etc/passwd", b"x", b'0', "")],
    );
    check(&e, "bad-1.0.0.tgz", "absolute paths");
    let e = archive_error(
        t.path(),
        &[
            ok.clone(),
            raw_entry("bad/templates/l", b"", b'2', "/etc/passwd"),
        ],
    );
    check(&e, "bad-1.0.0.tgz", "link");
    let e = archive_error(t.path(), &[raw_entry("Chart.yaml", CHART_YAML, b'0', "")]);
    check(&e, "bad-1.0.0.tgz", "outside the base directory");
}

#[test]
fn corrupt_and_oversized_archives_are_refused() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("garbage.tgz");
    std::fs::write(&p, b"\x1f\x8b\x08\x00not really gzip").unwrap();
    check(
        &load(&p).unwrap_err().to_string(),
        "garbage.tgz",
        "corrupt archive",
    );
    std::fs::write(&p, b"apiVersion: v2\n").unwrap();
    check(
        &load(&p).unwrap_err().to_string(),
        "garbage.tgz",
        "does not appear to be a gzipped archive",
    );
    // a valid gzip stream holding a truncated tar
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&raw_entry("bad/Chart.yaml", &[b'a'; 2000], b'0', "")[..700])
        .unwrap();
    std::fs::write(&p, gz.finish().unwrap()).unwrap();
    check(
        &load(&p).unwrap_err().to_string(),
        "garbage.tgz",
        "corrupt archive",
    );
    let big = vec![0u8; 5 * 1024 * 1024 + 1];
    let e = archive_error(
        t.path(),
        &[
            raw_entry("bad/Chart.yaml", CHART_YAML, b'0', ""),
            raw_entry("bad/big.bin", &big, b'0', ""),
        ],
    );
    check(
        &e,
        "bad-1.0.0.tgz",
        "larger than the maximum file size 5242880",
    );
    let e = archive_error(t.path(), &[]);
    check(&e, "bad-1.0.0.tgz", "no files in chart archive");
}

fn dir_error(files: &[(&str, &str)]) -> String {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("mychart");
    support::write_dir(&dir, files);
    load(&dir).unwrap_err().to_string()
}

#[test]
fn invalid_chart_yaml_is_named() {
    let e = dir_error(&[("values.yaml", "a: 1\n")]);
    check(&e, "mychart", "Chart.yaml file is missing");
    let e = dir_error(&[("Chart.yaml", "apiVersion: v2\nname: [x\nversion: 1\n")]);
    check(&e, "mychart/Chart.yaml:3:", "");
    let e = dir_error(&[("Chart.yaml", "apiVersion: v2\nname: x\nversion: 1.2.3.4\n")]);
    check(
        &e,
        "mychart/Chart.yaml",
        r#"chart.metadata.version "1.2.3.4" is invalid"#,
    );
    let e = dir_error(&[("Chart.yaml", "apiVersion: v2\nversion: 1.0.0\n")]);
    check(&e, "mychart/Chart.yaml", "chart.metadata.name is required");
    let e = dir_error(&[("Chart.yaml", "apiVersion: v2\nname: a/b\nversion: 1.0.0\n")]);
    check(
        &e,
        "mychart/Chart.yaml",
        r#"chart.metadata.name "a/b" is invalid"#,
    );
    let e = dir_error(&[(
        "Chart.yaml",
        "apiVersion: v2\nname: x\nversion: 1.0.0\nmaintainers: me\n",
    )]);
    check(
        &e,
        "mychart/Chart.yaml",
        "cannot unmarshal string into Go struct field",
    );
    let e = dir_error(&[(
        "Chart.yaml",
        "apiVersion: v2\nname: x\nversion: 1.0.0\ntype: plugin\n",
    )]);
    check(
        &e,
        "mychart/Chart.yaml",
        "chart.metadata.type must be application or library",
    );
    let e = dir_error(&[(
        "Chart.yaml",
        "apiVersion: v2\nname: x\nversion: 1.0.0\ndependencies:\n- name: a\n  alias: bad.alias\n",
    )]);
    check(
        &e,
        "mychart/Chart.yaml",
        "disallowed characters in the alias",
    );
    let e = dir_error(&[(
        "Chart.yaml",
        "apiVersion: v2\nname: x\nversion: 1.0.0\ndependencies:\n- name: a\n- name: b\n  alias: a\n",
    )]);
    check(
        &e,
        "mychart/Chart.yaml",
        r#"more than one dependency with name or alias "a""#,
    );
}

#[test]
fn bad_values_are_named_with_position() {
    let chart = ("Chart.yaml", "apiVersion: v2\nname: x\nversion: 1.0.0\n");
    let e = dir_error(&[chart, ("values.yaml", "a:\n  b: 1\n c: 2\n")]);
    check(&e, "mychart/values.yaml:3:", "");
    let e = dir_error(&[chart, ("values.yaml", "- a\n- b\n")]);
    check(&e, "mychart/values.yaml", "cannot unmarshal array");
    let e = dir_error(&[chart, ("values.yaml", "x: .inf\n")]);
    check(&e, "mychart/values.yaml:1:", "unsupported value: +Inf");
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..9 {
        let p = format!("*a{}", i - 1);
        bomb.push_str(&format!("a{i}: &a{i} [{}]\n", vec![p; 10].join(", ")));
    }
    let e = dir_error(&[chart, ("values.yaml", &bomb)]);
    check(&e, "mychart/values.yaml", "excessive aliasing");
    let e = dir_error(&[chart, (".helmignore", "ok\n**/x\n")]);
    check(
        &e,
        ".helmignore:2",
        "double-star (**) syntax is not supported",
    );
}

#[test]
fn bad_set_flags_are_reported() {
    let opts = ValueOptions {
        values: vec!["a.b".into()],
        ..Default::default()
    };
    let e = opts.merge(&mut |_| Ok(Vec::new())).unwrap_err().to_string();
    // as Helm: the error names the innermost key
    assert_eq!(e, r#"failed parsing --set data: key "b" has no value"#);
    let opts = ValueOptions {
        value_files: vec!["missing.yaml".into()],
        ..Default::default()
    };
    let e = opts
        .merge(&mut |p| std::fs::read(p))
        .unwrap_err()
        .to_string();
    check(&e, "missing.yaml", "No such file");
    let opts = ValueOptions {
        json_values: vec!["a={broken".into()],
        ..Default::default()
    };
    let e = opts.merge(&mut |_| Ok(Vec::new())).unwrap_err().to_string();
    assert_eq!(e, "failed parsing --set-json data: a={broken");
    let _ = Map::new();
}

#[test]
fn dependency_cycles_are_refused() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("selfish");
    support::write_dir(
        &dir,
        &[(
            "Chart.yaml",
            "apiVersion: v2\nname: selfish\nversion: 1.0.0\ndependencies:\n- name: selfish\n  version: 1.0.0\n  repository: file://.\n",
        )],
    );
    let e = deps::update(&dir, &[&FileSource], &mut Vec::new())
        .unwrap_err()
        .to_string();
    check(&e, "selfish/Chart.yaml", "dependency cycle");
    // a subchart folder that links back to its parent
    #[cfg(unix)]
    {
        let loop_dir = t.path().join("looping");
        support::write_dir(
            &loop_dir,
            &[(
                "Chart.yaml",
                "apiVersion: v2\nname: looping\nversion: 1.0.0\n",
            )],
        );
        std::fs::create_dir_all(loop_dir.join("charts")).unwrap();
        std::os::unix::fs::symlink(&loop_dir, loop_dir.join("charts/again")).unwrap();
        let e = load(&loop_dir).unwrap_err().to_string();
        check(&e, "looping", "symlink loop");
    }
}
