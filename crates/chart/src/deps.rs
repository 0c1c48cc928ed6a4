//! `dependency list | build | update`, `Chart.lock` digests and `package`, as Helm's
//! `pkg/action/dependency.go`, `pkg/downloader` and `pkg/chart/v2/util/save.go`.
//!
//! Repositories plug in through [`ChartSource`]: this crate ships [`FileSource`] for
//! `file://` references; HTTP `index.yaml`, OCI and S3 sources implement the same trait.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::load::{Chart, load, load_dir};
use crate::metadata::{Dependency, Lock};
use crate::semver::{Constraints, Version};

/// Helm's `HashReq`: `sha256:` + hex of the Go JSON of `[requirements, locked]`.
pub fn digest(req: &[Dependency], locked: &[Dependency]) -> String {
    let list = |deps: &[Dependency]| {
        let items: Vec<String> = deps.iter().map(|d| d.to_go_json()).collect();
        format!("[{}]", items.join(","))
    };
    let json = format!("[{},{}]", list(req), list(locked));
    format!("sha256:{:x}", Sha256::digest(json.as_bytes()))
}

/// Helm 2's `HashV2Req`, still accepted for `requirements.lock`.
pub fn digest_v2(req: &[Dependency]) -> String {
    let items: Vec<String> = req.iter().map(|d| d.to_go_json()).collect();
    let json = format!("{{\"dependencies\":[{}]}}", items.join(","));
    format!("sha256:{:x}", Sha256::digest(json.as_bytes()))
}

/// Where dependency charts come from.
pub trait ChartSource {
    /// Whether this source serves the repository reference (`file://...`, `https://...`).
    fn handles(&self, repository: &str) -> bool;
    /// The exact version that satisfies `dep.version`, for the lock.
    fn resolve(&self, dep: &Dependency, chart_dir: &Path) -> Result<String>;
    /// Writes the chart archive of a locked dependency into `dest`; returns its path.
    fn fetch(&self, dep: &Dependency, chart_dir: &Path, dest: &Path) -> Result<PathBuf>;
}

/// `file://` repositories: a chart directory relative to the parent chart (or absolute),
/// packaged on the fly.
#[derive(Debug, Default, Clone, Copy)]
pub struct FileSource;

fn local_path(repo: &str, chart_dir: &Path) -> Result<PathBuf> {
    let p = repo.trim_start_matches("file://");
    let path = if p.starts_with('/') {
        PathBuf::from(p)
    } else {
        chart_dir.join(p)
    };
    if !path.exists() {
        return Err(Error::Dependency(format!(
            "directory {} not found",
            path.display()
        )));
    }
    if let (Ok(dep), Ok(me)) = (
        std::fs::canonicalize(&path),
        std::fs::canonicalize(chart_dir),
    ) && me.starts_with(&dep)
    {
        return Err(Error::Dependency(format!(
            "{}: dependency cycle: {repo} refers to the chart itself or to a folder containing it",
            chart_dir.join("Chart.yaml").display()
        )));
    }
    Ok(path)
}

fn constraint(dep: &Dependency) -> Result<Constraints> {
    Constraints::parse(&dep.version).map_err(|e| {
        Error::Dependency(format!(
            "dependency {:?} has an invalid version/constraint format: {e}",
            dep.name
        ))
    })
}

/// Loads a `file://` dependency; `Err(None)` when its version does not satisfy the constraint.
fn load_matching(dep: &Dependency, chart_dir: &Path) -> std::result::Result<Chart, Option<Error>> {
    let c = constraint(dep)?;
    let ch = load_dir(&local_path(&dep.repository, chart_dir)?)?;
    let v = Version::parse_lenient(&ch.metadata.version)
        .ok_or_else(|| Error::Dependency(format!("invalid version {:?}", ch.metadata.version)))?;
    if c.check(&v) { Ok(ch) } else { Err(None) }
}

impl ChartSource for FileSource {
    fn handles(&self, repository: &str) -> bool {
        repository.starts_with("file://")
    }

    fn resolve(&self, dep: &Dependency, chart_dir: &Path) -> Result<String> {
        let ch = load_matching(dep, chart_dir).map_err(|e| match e {
            Some(e) => e,
            None => Error::Dependency(format!(
                "can't get a valid version for 1 subchart(s): {:?} (repository {:?}, version {:?}). Make sure a matching chart version exists in the repo, or change the version constraint in Chart.yaml",
                dep.name, dep.repository, dep.version
            )),
        })?;
        Ok(ch.metadata.version)
    }

    fn fetch(&self, dep: &Dependency, chart_dir: &Path, dest: &Path) -> Result<PathBuf> {
        let ch = load_matching(dep, chart_dir).map_err(|e| {
            e.unwrap_or_else(|| {
                Error::Dependency(format!(
                    "can't get a valid version for dependency {}",
                    dep.name
                ))
            })
        })?;
        package(&ch, dest)
    }
}

fn source_for<'a>(sources: &'a [&'a dyn ChartSource], repo: &str) -> Result<&'a dyn ChartSource> {
    sources.iter().copied().find(|s| s.handles(repo)).ok_or_else(|| {
        Error::Dependency(format!(
            "no repository definition for {repo}: only file:// repositories are supported so far"
        ))
    })
}

/// One row of `dependency list`.
#[derive(Debug, Clone, PartialEq)]
pub struct ListRow {
    /// NAME.
    pub name: String,
    /// VERSION (the constraint).
    pub version: String,
    /// REPOSITORY.
    pub repository: String,
    /// STATUS (`ok`, `unpacked`, `missing`, `wrong version`, ...).
    pub status: String,
}

fn glob_archives(charts: &Path, name: &str) -> Vec<PathBuf> {
    let pattern = format!("{name}-*.tgz");
    let mut out: Vec<PathBuf> = std::fs::read_dir(charts)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| crate::ignore::go_match(&pattern, n).unwrap_or(false))
        })
        .collect();
    out.sort();
    out
}

fn version_status(dep: &Dependency, have: &str) -> Option<&'static str> {
    if have == dep.version {
        return None;
    }
    let Ok(c) = Constraints::parse(&dep.version) else {
        return Some("invalid version");
    };
    let Some(v) = Version::parse_lenient(have) else {
        return Some("invalid version");
    };
    if !c.check(&v) {
        return Some("wrong version");
    }
    None
}

fn archive_status(archive: &Path, dep: &Dependency) -> String {
    match load(archive) {
        Err(_) => "corrupt".into(),
        Ok(c) if c.name() != dep.name => "misnamed".into(),
        Ok(c) => version_status(dep, &c.metadata.version)
            .unwrap_or("ok")
            .into(),
    }
}

fn is_strict_semver(v: &str) -> bool {
    let core = v.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes().all(|b| b.is_ascii_digit())
                && (p.len() == 1 || !p.starts_with('0'))
        })
        && Version::parse_lenient(v).is_some()
}

fn dependency_status(chart_dir: &Path, dep: &Dependency, parent: &Chart) -> String {
    let charts = chart_dir.join("charts");
    let archives = glob_archives(&charts, &dep.name);
    if archives.len() > 1 {
        let found: Vec<&PathBuf> = archives
            .iter()
            .filter(|a| {
                let stem = a
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("")
                    .trim_end_matches(".tgz");
                let maybe = stem.strip_prefix(&format!("{}-", dep.name)).unwrap_or(stem);
                is_strict_semver(maybe)
            })
            .collect();
        if found.len() == 1 {
            return archive_status(found[0], dep);
        } else if found.len() > 1 {
            return "too many matches".into();
        }
    } else if archives.len() == 1 {
        return archive_status(&archives[0], dep);
    }
    let Some(dc) = parent
        .dependencies
        .iter()
        .rev()
        .find(|c| c.name() == dep.name)
    else {
        return "missing".into();
    };
    version_status(dep, &dc.metadata.version)
        .unwrap_or("unpacked")
        .into()
}

/// `helm dependency list`: the rows and the warnings printed after the table.
pub fn list(chart_dir: &Path) -> Result<(Vec<ListRow>, Vec<String>)> {
    let c = load(chart_dir)?;
    let mut rows = Vec::new();
    for d in &c.metadata.dependencies {
        rows.push(ListRow {
            name: d.name.clone(),
            version: d.version.clone(),
            repository: d.repository.clone(),
            status: dependency_status(chart_dir, d, &c),
        });
    }
    let mut warnings = Vec::new();
    let charts = chart_dir.join("charts");
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&charts)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for f in entries {
        if !f.is_dir() && f.extension().and_then(|e| e.to_str()) != Some("tgz") {
            continue;
        }
        match load(&f) {
            Err(_) => warnings.push(format!(
                "WARNING: {:?} is not a chart.",
                f.display().to_string()
            )),
            Ok(sc) => {
                if !c.metadata.dependencies.iter().any(|d| d.name == sc.name()) {
                    warnings.push(format!(
                        "WARNING: {:?} is not in Chart.yaml.",
                        f.display().to_string()
                    ));
                }
            }
        }
    }
    Ok((rows, warnings))
}

/// Formats rows as Helm's `uitable` does: columns padded to their widest cell, tab-separated.
pub fn format_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut all: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    all.extend(rows.iter().cloned());
    let cols = header.len();
    let widths: Vec<usize> = (0..cols)
        .map(|i| {
            all.iter()
                .map(|r| r[i].chars().count().min(80))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for (ri, r) in all.iter().enumerate() {
        if ri > 0 {
            out.push('\n');
        }
        for (i, cell) in r.iter().enumerate() {
            if i > 0 {
                out.push('\t');
            }
            let cell: String = if cell.chars().count() > 80 {
                cell.chars().take(77).collect::<String>() + "..."
            } else {
                cell.clone()
            };
            out.push_str(&cell);
            for _ in cell.chars().count()..widths[i] {
                out.push(' ');
            }
        }
    }
    out
}

/// The current time as Go's RFC 3339 with nanoseconds, in UTC.
pub fn now_rfc3339() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format_rfc3339(d.as_secs() as i64, d.subsec_nanos())
}

/// Formats a Unix time as RFC 3339 with trimmed nanoseconds (Go's `RFC3339Nano`), UTC.
pub fn format_rfc3339(secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // civil_from_days (Howard Hinnant)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    let mut s = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

fn load_for_deps(chart_dir: &Path) -> Result<Chart> {
    let meta = std::fs::metadata(chart_dir).map_err(|e| Error::io(chart_dir, e))?;
    if !meta.is_dir() {
        return Err(Error::Dependency(format!(
            "{}: dependency commands need a chart directory",
            chart_dir.display()
        )));
    }
    load_dir(chart_dir)
}

/// `helm dependency update`: resolves constraints, places `<name>-<version>.tgz` archives in
/// `charts/`, and writes the lock when its digest changed.
pub fn update(chart_dir: &Path, sources: &[&dyn ChartSource], out: &mut dyn Write) -> Result<()> {
    let c = load_for_deps(chart_dir)?;
    let req = &c.metadata.dependencies;
    if req.is_empty() {
        return Ok(());
    }
    let mut locked = Vec::new();
    for d in req {
        constraint(d)?;
        let version = if d.repository.is_empty() {
            local_path(&format!("charts/{}", d.name), chart_dir)?;
            d.version.clone()
        } else {
            source_for(sources, &d.repository)?.resolve(d, chart_dir)?
        };
        locked.push(Dependency {
            name: d.name.clone(),
            repository: d.repository.clone(),
            version,
            ..Default::default()
        });
    }
    download_all(chart_dir, &mut locked, sources, out)?;
    let lock = Lock {
        generated: now_rfc3339(),
        digest: digest(req, &locked),
        dependencies: locked,
    };
    if c.lock.as_ref().is_some_and(|old| old.digest == lock.digest) {
        return Ok(());
    }
    let name = if c.metadata.api_version == "v1" {
        "requirements.lock"
    } else {
        "Chart.lock"
    };
    let dest = chart_dir.join(name);
    if dest
        .symlink_metadata()
        .is_ok_and(|m| m.file_type().is_symlink())
    {
        return Err(Error::Dependency(format!("the {name} file is a symlink")));
    }
    std::fs::write(&dest, lock.to_yaml()).map_err(|e| Error::io(&dest, e))
}

/// `helm dependency build`: recreates `charts/` from the lock; refuses a lock whose digest
/// does not match `Chart.yaml`. Without a lock it runs [`update`].
pub fn build(chart_dir: &Path, sources: &[&dyn ChartSource], out: &mut dyn Write) -> Result<()> {
    let c = load_for_deps(chart_dir)?;
    let Some(lock) = &c.lock else {
        return update(chart_dir, sources, out);
    };
    let req = &c.metadata.dependencies;
    if digest(req, &lock.dependencies) != lock.digest {
        if c.metadata.api_version != "v1" {
            return Err(Error::Dependency(format!(
                "{}: the lock file (Chart.lock) is out of sync with the dependencies file (Chart.yaml). Please update the dependencies with 'ferry dependency update'",
                chart_dir.join("Chart.lock").display()
            )));
        }
        if digest_v2(req) != lock.digest {
            return Err(Error::Dependency(format!(
                "{}: the lock file (requirements.lock) is out of sync with the dependencies file (requirements.yaml). Please update the dependencies",
                chart_dir.join("requirements.lock").display()
            )));
        }
    }
    let mut locked = lock.dependencies.clone();
    download_all(chart_dir, &mut locked, sources, out)
}

fn download_all(
    chart_dir: &Path,
    deps: &mut [Dependency],
    sources: &[&dyn ChartSource],
    out: &mut dyn Write,
) -> Result<()> {
    let dest = chart_dir.join("charts");
    if dest.exists() && !dest.is_dir() {
        return Err(Error::Dependency(format!(
            "{:?} is not a directory",
            dest.display().to_string()
        )));
    }
    std::fs::create_dir_all(&dest).map_err(|e| Error::io(&dest, e))?;
    let tmp = chart_dir.join(format!("tmpcharts-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let result = (|| -> Result<()> {
        let _ = writeln!(out, "Saving {} charts", deps.len());
        for dep in deps.iter_mut() {
            if dep.repository.is_empty() {
                let _ = writeln!(
                    out,
                    "Dependency {} did not declare a repository. Assuming it exists in the charts directory",
                    dep.name
                );
                let path = dest.join(&dep.name);
                let ch = load_dir(&path)?;
                let c = constraint(dep)?;
                let v = Version::parse_lenient(&ch.metadata.version).ok_or_else(|| {
                    Error::Dependency(format!(
                        "invalid version {} for dependency {}",
                        dep.version, dep.name
                    ))
                })?;
                if !c.check(&v) {
                    return Err(Error::Dependency(format!(
                        "dependency {} at version {} does not satisfy the constraint {}",
                        dep.name, ch.metadata.version, dep.version
                    )));
                }
                continue;
            }
            let src = source_for(sources, &dep.repository)?;
            let path = src.fetch(dep, chart_dir, &tmp)?;
            if let Ok(ch) = load(&path) {
                dep.version = ch.metadata.version;
            }
        }
        // safeMoveDeps: move the new archives in, delete outdated ones
        let local: std::collections::HashSet<&str> = deps
            .iter()
            .filter(|d| d.repository.is_empty())
            .map(|d| d.name.as_str())
            .collect();
        let mut moved = std::collections::HashSet::new();
        let dest_before: Vec<PathBuf> = std::fs::read_dir(&dest)
            .map_err(|e| Error::io(&dest, e))?
            .flatten()
            .map(|e| e.path())
            .collect();
        for e in std::fs::read_dir(&tmp)
            .map_err(|e| Error::io(&tmp, e))?
            .flatten()
        {
            let p = e.path();
            if p.is_dir() {
                continue;
            }
            let name = e.file_name();
            if load(&p).is_err() {
                let _ = write!(
                    out,
                    "Could not verify {} for moving (Skipping)",
                    p.display()
                );
                continue;
            }
            let target = dest.join(&name);
            std::fs::rename(&p, &target).map_err(|e| Error::io(&target, e))?;
            moved.insert(name);
        }
        let _ = writeln!(out, "Deleting outdated charts");
        for p in dest_before {
            let Some(name) = p.file_name().map(|n| n.to_os_string()) else {
                continue;
            };
            if p.is_dir() || moved.contains(&name) {
                continue;
            }
            match load(&p) {
                Err(e) => {
                    let _ = writeln!(
                        out,
                        "Could not verify {} for deletion: {e} (Skipping)",
                        p.display()
                    );
                }
                Ok(ch) if local.contains(ch.name()) => {}
                Ok(_) => {
                    std::fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
                }
            }
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

/// Writes `chart` as `<out_dir>/<name>-<version>.tgz` in Helm's layout (`chartutil.Save`):
/// a top folder named after the chart, `Chart.yaml` re-serialised, subcharts as folders.
pub fn package(chart: &Chart, out_dir: &Path) -> Result<PathBuf> {
    let mut md = chart.metadata.clone();
    crate::load::validate_metadata(&mut md)
        .map_err(|m| Error::invalid(format!("{}/Chart.yaml", chart.origin), m))?;
    std::fs::create_dir_all(out_dir).map_err(|e| Error::io(out_dir, e))?;
    let path = out_dir.join(format!("{}-{}.tgz", chart.name(), chart.metadata.version));
    let mut data = Vec::new();
    {
        let gz = flate2::GzBuilder::new()
            .comment("Helm")
            .write(&mut data, flate2::Compression::default());
        let mut tar = tar::Builder::new(gz);
        write_tar_contents(&mut tar, chart, "")?;
        let gz = tar.into_inner().map_err(|e| Error::io(&path, e))?;
        gz.finish().map_err(|e| Error::io(&path, e))?;
    }
    std::fs::write(&path, data).map_err(|e| Error::io(&path, e))?;
    Ok(path)
}

fn write_tar_contents<W: Write>(tar: &mut tar::Builder<W>, c: &Chart, prefix: &str) -> Result<()> {
    let base = if prefix.is_empty() {
        c.name().to_string()
    } else {
        format!("{prefix}/{}", c.name())
    };
    let mut md = c.metadata.clone();
    if md.api_version == "v1" {
        md.dependencies.clear();
    }
    let mut add = |name: String, data: &[u8]| -> Result<()> {
        let mut h = tar::Header::new_ustar();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        let mtime = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        h.set_mtime(mtime);
        h.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut h, &name, data)
            .map_err(|e| Error::io(&name, e))
    };
    add(
        format!("{base}/Chart.yaml"),
        crate::yaml::to_yaml(&md.to_value()).as_bytes(),
    )?;
    if md.api_version == "v2"
        && let Some(lock) = &c.lock
    {
        add(format!("{base}/Chart.lock"), lock.to_yaml().as_bytes())?;
    }
    if let Some(v) = c.raw_file("values.yaml") {
        add(format!("{base}/values.yaml"), v.data())?;
    }
    if let Some(s) = &c.schema {
        if serde_json::from_slice::<serde_json::Value>(s).is_err() {
            return Err(Error::invalid(
                format!("{}/values.schema.json", c.origin),
                "invalid JSON in values.schema.json",
            ));
        }
        add(format!("{base}/values.schema.json"), s)?;
    }
    for f in c.templates.iter().chain(c.files.iter()) {
        add(format!("{base}/{}", f.name), f.data())?;
    }
    for d in &c.dependencies {
        write_tar_contents(tar, d, &format!("{base}/charts"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_like_go() {
        assert_eq!(format_rfc3339(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(
            format_rfc3339(1_700_000_000, 120_000_000),
            "2023-11-14T22:13:20.12Z"
        );
    }

    #[test]
    fn digest_escapes_like_go_json() {
        let d = Dependency {
            name: "a".into(),
            version: ">=1.0".into(),
            repository: "file://../a".into(),
            ..Default::default()
        };
        assert_eq!(
            d.to_go_json(),
            r#"{"name":"a","version":"\u003e=1.0","repository":"file://../a"}"#
        );
    }

    #[test]
    fn uitable_layout() {
        let t = format_table(&["NAME", "VERSION"], &[vec!["a".into(), "1.0.0".into()]]);
        assert_eq!(t, "NAME\tVERSION\na   \t1.0.0  ");
    }
}
