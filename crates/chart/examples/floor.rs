//! The floor of `ferry template`: what any tool must do to print a chart's manifests, and
//! nothing more.
//!
//! `floor CHART.tgz OUT_BYTES` reads the archive, decompresses and untars it into memory,
//! parses every `values.yaml` in it (the chart's and its subcharts'; on a second thread while
//! the archive decompresses, as ferry does), and writes OUT_BYTES of output to stdout. `cargo xtask bench` times it as a whole process beside `ferry template`
//! (with OUT_BYTES = the size of ferry's output), so the ratio shows how much of ferry's time
//! is rendering at all.

use std::io::{Read, Write};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let mut args = std::env::args().skip(1);
    let usage = "usage: floor CHART.tgz OUT_BYTES";
    let path = args.next().expect(usage);
    let out_bytes: usize = args.next().and_then(|s| s.parse().ok()).expect(usage);
    let archive = std::fs::read(&path).expect("archive readable");
    // values files parse on a second thread while the archive decompresses, as ferry's
    // loading does
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let parser = std::thread::spawn(move || {
        rx.into_iter()
            .map(|text| {
                ferry_chart::yaml::parse_values(&text)
                    .expect("values parse")
                    .len()
            })
            .sum::<usize>()
    });
    // tar over the stream as ferry reads it (skipping without zeroing a buffer per entry)
    let gz = flate2::read::GzDecoder::new(&archive[..]);
    let mut tar = tar::Archive::new(ferry_chart::ForwardStream::new(gz));
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for entry in tar.entries_with_seek().expect("a tar archive") {
        let mut entry = entry.expect("a tar entry");
        let name = entry
            .path()
            .expect("entry path")
            .to_string_lossy()
            .into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).expect("entry readable");
        if name.ends_with("/values.yaml") {
            let text = String::from_utf8(data.clone()).expect("utf-8 values");
            tx.send(text).expect("parser running");
        }
        files.push((name, data));
    }
    drop(tx);
    let keys = parser.join().expect("values parsed");
    // the output: the archive's bytes, cycled to the size of a real render
    let mut out = Vec::with_capacity(out_bytes);
    for (_, data) in files.iter().cycle() {
        if out.len() >= out_bytes {
            break;
        }
        out.extend_from_slice(&data[..data.len().min(out_bytes - out.len())]);
        if files.iter().all(|(_, d)| d.is_empty()) {
            break;
        }
    }
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&out).expect("stdout writable");
    stdout.flush().expect("stdout writable");
    eprintln!("floor: {} files, {keys} top-level values keys", files.len());
}
