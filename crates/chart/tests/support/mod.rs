//! Helpers shared by the chart crate's integration tests.

// each test file uses some of them
#![allow(dead_code)]

use std::io::Write;

/// A gzipped tar of `files`, each under `folder/` (as `helm package` lays a chart out).
pub fn tgz(folder: &str, files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, format!("{folder}/{name}"), *data)
            .expect("tar entry");
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar.into_inner().expect("tar")).expect("gzip");
    gz.finish().expect("gzip")
}

/// Writes `files` (paths relative to `dir`, parent folders made as needed) under `dir`.
pub fn write_dir<D: AsRef<[u8]>>(dir: &std::path::Path, files: &[(&str, D)]) {
    for (name, data) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().expect("a file's folder")).expect("folder made");
        std::fs::write(path, data).expect("file written");
    }
}
