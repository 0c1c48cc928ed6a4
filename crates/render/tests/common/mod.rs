//! What the render tests share: a chart written to a temporary folder, and a release.

use ferry_render::ReleaseOptions;

/// Writes `files` (paths relative to the chart folder) and loads the chart.
pub fn chart(files: &[(&str, &str)]) -> (tempfile::TempDir, ferry_chart::Chart) {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("dirs");
        std::fs::write(path, text).expect("file written");
    }
    let chart = ferry_chart::load(dir.path()).expect("chart loads");
    (dir, chart)
}

/// Release `r` in `default`, revision 1, an install.
pub fn release() -> ReleaseOptions {
    ReleaseOptions {
        name: "r".into(),
        namespace: "default".into(),
        revision: 1,
        is_install: true,
        is_upgrade: false,
    }
}
