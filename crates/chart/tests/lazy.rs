//! `load_observed_lazily` leaves an archive's large `.Files`-only files compressed until
//! something reads them, and then gives exactly what `load` gives.

use std::io::Write;
use std::path::{Path, PathBuf};

use ferry_chart::{Chart, LAZY_FILE_SIZE, load, load_observed_lazily};

mod support;

fn big(fill: &str) -> Vec<u8> {
    fill.repeat(LAZY_FILE_SIZE as usize / fill.len() + 1)
        .into_bytes()
}

fn archive(dir: &Path, files: &[(&str, Vec<u8>)]) -> PathBuf {
    let files: Vec<(&str, &[u8])> = files.iter().map(|(n, d)| (*n, &d[..])).collect();
    let path = dir.join("lazy-1.0.0.tgz");
    std::fs::write(&path, support::tgz("lazy", &files)).unwrap();
    path
}

fn find<'a>(chart: &'a Chart, name: &str) -> &'a ferry_chart::File {
    chart
        .files
        .iter()
        .chain(&chart.templates)
        .chain(&chart.raw)
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("{name} is not in {}", chart.origin))
}

#[test]
fn large_files_only_files_reach_are_read_on_first_use_and_equal_an_eager_load() {
    let t = tempfile::tempdir().unwrap();
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend(big("with a byte-order mark\n"));
    let mut binary = big("bytes");
    binary[7] = 0xff;
    let values = format!("k: {}\n", "v".repeat(LAZY_FILE_SIZE as usize));
    let path = archive(
        t.path(),
        &[
            (
                "Chart.yaml",
                b"apiVersion: v2\nname: lazy\nversion: 1.0.0\n".to_vec(),
            ),
            ("values.yaml", values.clone().into_bytes()),
            ("templates/big.yaml", big("# {{ .Values.k }}\n")),
            ("files/big.txt", big("a large file\n")),
            ("files/small.txt", b"small".to_vec()),
            ("files/bom.txt", bom),
            ("files/bin.dat", binary.clone()),
            (
                "charts/sub/Chart.yaml",
                b"apiVersion: v2\nname: sub\nversion: 0.1.0\n".to_vec(),
            ),
            ("charts/sub/values.yaml", values.into_bytes()),
            ("charts/sub/crds/big.yaml", big("# a CRD\n")),
        ],
    );
    let mut seen = Vec::new();
    let lazy = load_observed_lazily(&path, &mut |f| seen.push(f.name.clone())).unwrap();
    let sub = &lazy.dependencies[0];
    // what `.Files` and `crds/` alone reach stays compressed; what the loader reads does not
    for (chart, name, is_lazy) in [
        (&lazy, "files/big.txt", true),
        (&lazy, "files/bom.txt", true),
        (&lazy, "files/bin.dat", true),
        (&lazy, "files/small.txt", false),
        (&lazy, "templates/big.yaml", false),
        (&lazy, "values.yaml", false),
        (sub, "crds/big.yaml", true),
        (sub, "values.yaml", false),
    ] {
        assert_eq!(
            find(chart, name).is_lazy(),
            is_lazy,
            "{name} of {}",
            chart.origin
        );
    }
    assert!(!seen.contains(&"files/big.txt".to_string()), "{seen:?}");
    assert!(seen.contains(&"templates/big.yaml".to_string()), "{seen:?}");
    assert_eq!(lazy.values, load(&path).unwrap().values);
    // one read decompresses them all
    assert_eq!(
        find(&lazy, "files/big.txt").data(),
        &big("a large file\n")[..]
    );
    assert!(!find(sub, "crds/big.yaml").is_lazy());
    assert!(!find(&lazy, "files/bin.dat").is_lazy());
    // the byte-order mark goes as an eager load drops it; invalid UTF-8 stays bytes
    assert_eq!(
        find(&lazy, "files/bom.txt").data(),
        &big("with a byte-order mark\n")[..]
    );
    assert_eq!(find(&lazy, "files/bin.dat").data(), &binary[..]);
    assert_eq!(lazy, load(&path).unwrap());
}

#[test]
fn a_truncated_large_file_is_refused_on_the_first_pass() {
    let t = tempfile::tempdir().unwrap();
    let path = archive(
        t.path(),
        &[
            (
                "Chart.yaml",
                b"apiVersion: v2\nname: lazy\nversion: 1.0.0\n".to_vec(),
            ),
            ("files/big.txt", big("a large file\n")),
        ],
    );
    // cut the tar inside the large file's data, and compress it again
    let mut tar = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&std::fs::read(&path).unwrap()[..]),
        &mut tar,
    )
    .unwrap();
    tar.truncate(2048 + 4096);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    std::fs::write(&path, gz.finish().unwrap()).unwrap();
    let err = load_observed_lazily(&path, &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("lazy-1.0.0.tgz"), "{err}");
    assert!(err.contains("corrupt archive"), "{err}");
    assert_eq!(err, load(&path).unwrap_err().to_string());
}

/// The archive reader reads every entry through one buffer: each file keeps exactly its own
/// bytes (a short file after a long one holds nothing of it; a byte-order mark goes; invalid
/// UTF-8 stays bytes), as the same files loaded from a folder.
#[test]
fn archive_entries_read_through_one_buffer_keep_their_own_bytes() {
    let t = tempfile::tempdir().unwrap();
    let long = "a long line of text\n".repeat(300);
    let files: Vec<(&str, Vec<u8>)> = vec![
        (
            "Chart.yaml",
            b"apiVersion: v2\nname: lazy\nversion: 1.0.0\n".to_vec(),
        ),
        ("values.yaml", b"k: v\n".to_vec()),
        ("templates/long.yaml", long.clone().into_bytes()),
        ("templates/short.yaml", b"short\n".to_vec()),
        ("templates/empty.yaml", Vec::new()),
        ("files/a-long.txt", long.clone().into_bytes()),
        ("files/b-bom.txt", b"\xEF\xBB\xBFmarked\n".to_vec()),
        ("files/c-bin.dat", b"by\xfftes".to_vec()),
        ("files/d-tiny.txt", b"x".to_vec()),
    ];
    let path = archive(t.path(), &files);
    let folder = t.path().join("folder");
    support::write_dir(&folder, &files);
    for chart in [
        load(&path).unwrap(),
        load_observed_lazily(&path, &mut |_| {}).unwrap(),
    ] {
        assert_eq!(find(&chart, "templates/long.yaml").data(), long.as_bytes());
        assert_eq!(find(&chart, "templates/short.yaml").data(), b"short\n");
        assert_eq!(find(&chart, "templates/empty.yaml").data(), b"");
        assert_eq!(find(&chart, "files/b-bom.txt").data(), b"marked\n");
        assert_eq!(find(&chart, "files/b-bom.txt").text(), "marked\n");
        assert_eq!(find(&chart, "files/c-bin.dat").data(), b"by\xfftes");
        assert_eq!(find(&chart, "files/c-bin.dat").text(), "by\u{fffd}tes");
        assert_eq!(find(&chart, "files/d-tiny.txt").data(), b"x");
        let from_folder = load(&folder).unwrap();
        for f in chart.templates.iter().chain(&chart.files) {
            assert_eq!(f.data(), find(&from_folder, &f.name).data(), "{}", f.name);
        }
    }
}
