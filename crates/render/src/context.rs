//! The render context Helm gives templates: `.Release`, `.Capabilities`, `.Chart`, `.Files`,
//! `.Template`, `.Subcharts` and `.Values`.

use std::collections::BTreeMap;
use std::sync::Arc;

use ferry_chart::{Chart, Metadata};
use ferry_gotmpl::{Function, List, Map, Signature, Struct, Type, TypeInfo, Value};

/// Who is being rendered: `.Release`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReleaseOptions {
    /// `.Release.Name`.
    pub name: String,
    /// `.Release.Namespace`.
    pub namespace: String,
    /// `.Release.Revision`.
    pub revision: i64,
    /// `.Release.IsInstall`.
    pub is_install: bool,
    /// `.Release.IsUpgrade`.
    pub is_upgrade: bool,
}

impl Default for ReleaseOptions {
    fn default() -> Self {
        ReleaseOptions {
            name: "release-name".into(),
            namespace: "default".into(),
            revision: 1,
            is_install: true,
            is_upgrade: false,
        }
    }
}

/// `.Capabilities`: the cluster's version and API groups, and Helm's version.
#[derive(Debug, Clone, PartialEq)]
pub struct Capabilities {
    /// Kubernetes version, e.g. `v1.36.0` (what `--kube-version` sets).
    pub kube_version: String,
    /// `group/version` strings (and `group/version/Kind` entries from `--api-versions`).
    pub api_versions: Vec<String>,
    /// Helm's `BuildInfo.Version` (templates check it as a Helm version).
    pub helm_version: String,
    /// Helm's `BuildInfo.GoVersion`.
    pub go_version: String,
    /// Helm's `BuildInfo.KubeClientVersion`.
    pub kube_client_version: String,
}

/// The API versions Helm 4.2 knows offline (client-go's scheme, in its priority order).
pub const DEFAULT_API_VERSIONS: &[&str] = &[
    "v1",
    "admissionregistration.k8s.io/v1",
    "admissionregistration.k8s.io/v1alpha1",
    "admissionregistration.k8s.io/v1beta1",
    "internal.apiserver.k8s.io/v1alpha1",
    "apps/v1",
    "apps/v1beta1",
    "apps/v1beta2",
    "authentication.k8s.io/v1",
    "authentication.k8s.io/v1alpha1",
    "authentication.k8s.io/v1beta1",
    "authorization.k8s.io/v1",
    "authorization.k8s.io/v1beta1",
    "autoscaling/v1",
    "autoscaling/v2",
    "batch/v1",
    "batch/v1beta1",
    "certificates.k8s.io/v1",
    "certificates.k8s.io/v1beta1",
    "certificates.k8s.io/v1alpha1",
    "coordination.k8s.io/v1alpha2",
    "coordination.k8s.io/v1beta1",
    "coordination.k8s.io/v1",
    "discovery.k8s.io/v1",
    "discovery.k8s.io/v1beta1",
    "events.k8s.io/v1",
    "events.k8s.io/v1beta1",
    "extensions/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1",
    "flowcontrol.apiserver.k8s.io/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1beta2",
    "flowcontrol.apiserver.k8s.io/v1beta3",
    "networking.k8s.io/v1",
    "networking.k8s.io/v1beta1",
    "node.k8s.io/v1",
    "node.k8s.io/v1alpha1",
    "node.k8s.io/v1beta1",
    "policy/v1",
    "policy/v1beta1",
    "rbac.authorization.k8s.io/v1",
    "rbac.authorization.k8s.io/v1beta1",
    "rbac.authorization.k8s.io/v1alpha1",
    "resource.k8s.io/v1",
    "resource.k8s.io/v1beta2",
    "resource.k8s.io/v1beta1",
    "resource.k8s.io/v1alpha3",
    "scheduling.k8s.io/v1alpha2",
    "scheduling.k8s.io/v1beta1",
    "scheduling.k8s.io/v1",
    "storage.k8s.io/v1beta1",
    "storage.k8s.io/v1",
    "storage.k8s.io/v1alpha1",
    "storagemigration.k8s.io/v1beta1",
    "apiextensions.k8s.io/v1beta1",
    "apiextensions.k8s.io/v1",
];

impl Default for Capabilities {
    fn default() -> Self {
        Capabilities {
            kube_version: "v1.36.0".into(),
            api_versions: DEFAULT_API_VERSIONS.iter().map(|s| s.to_string()).collect(),
            helm_version: "v4.2".into(),
            go_version: "go1.26.6".into(),
            kube_client_version: "v1.36".into(),
        }
    }
}

impl Capabilities {
    /// Sets the Kubernetes version as `--kube-version` does (`1.30` → `v1.30.0`).
    pub fn with_kube_version(mut self, v: &str) -> Result<Self, String> {
        let t = v.trim_start_matches('v');
        let parts: Vec<&str> = t.split(['.', '-', '+']).collect();
        let num = |i: usize| parts.get(i).and_then(|p| p.parse::<u64>().ok());
        let (Some(major), Some(minor)) = (num(0), num(1)) else {
            return Err(format!("invalid kube version {v:?}"));
        };
        let _ = (major, minor);
        self.kube_version = if v.starts_with('v') {
            v.to_string()
        } else {
            format!("v{v}")
        };
        Ok(self)
    }

    /// Kubernetes major and minor version numbers as strings, and the normalised version.
    fn parts(&self) -> (String, String, String) {
        let t = self.kube_version.trim_start_matches('v');
        let core: Vec<&str> = t.split(['-', '+']).next().unwrap_or(t).split('.').collect();
        let major = core.first().copied().unwrap_or("0").to_string();
        let minor = core.get(1).copied().unwrap_or("0").to_string();
        let patch = core.get(2).copied().unwrap_or("0").to_string();
        (
            major.clone(),
            minor.clone(),
            format!("v{major}.{minor}.{patch}"),
        )
    }

    /// The template value of `.Capabilities` (a `*common.Capabilities`).
    pub fn to_value(&self) -> Value {
        let (major, minor, normalized) = self.parts();
        let kv_type = Arc::new(
            TypeInfo::new("common.KubeVersion")
                .with_stringer(|v| match v {
                    Value::Struct(s) => s
                        .field("normalizedVersion")
                        .and_then(|n| n.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    _ => String::new(),
                })
                .with_method(
                    "String",
                    Function::new(Signature::new([], Type::String), |_, args| {
                        Ok(struct_field(&args[0], "normalizedVersion"))
                    }),
                )
                .with_method(
                    "GitVersion",
                    Function::new(Signature::new([], Type::String), |_, args| {
                        Ok(struct_field(&args[0], "Version"))
                    }),
                ),
        );
        let kube = Value::Struct(Arc::new(Struct::new(
            kv_type,
            vec![
                ("Version".into(), Value::string(self.kube_version.as_str())),
                ("normalizedVersion".into(), Value::string(normalized)),
                ("Major".into(), Value::string(major)),
                ("Minor".into(), Value::string(minor)),
            ],
            false,
        )));
        let vs_type = Arc::new(TypeInfo::new("common.VersionSet").with_method(
            "Has",
            Function::new(Signature::new([Type::String], Type::Bool), |_, args| {
                let want = args
                    .get(1)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string();
                let found = match &args[0] {
                    Value::List(l) => l.items().iter().any(|v| v.as_str() == Some(want.as_str())),
                    _ => false,
                };
                Ok(Value::Bool(found))
            }),
        ));
        let apis = Value::List(List::named(
            self.api_versions
                .iter()
                .map(|s| Value::string(s.as_str()))
                .collect(),
            Type::String,
            vs_type,
        ));
        let helm = Value::Struct(Arc::new(Struct::new(
            Arc::new(TypeInfo::new("version.BuildInfo")),
            vec![
                ("Version".into(), Value::string(self.helm_version.as_str())),
                ("GitCommit".into(), Value::string("")),
                ("GitTreeState".into(), Value::string("")),
                ("GoVersion".into(), Value::string(self.go_version.as_str())),
                (
                    "KubeClientVersion".into(),
                    Value::string(self.kube_client_version.as_str()),
                ),
            ],
            false,
        )));
        Value::Struct(Arc::new(Struct::new(
            Arc::new(TypeInfo::new("*common.Capabilities")),
            vec![
                ("KubeVersion".into(), kube),
                ("APIVersions".into(), apis),
                ("HelmVersion".into(), helm),
            ],
            true,
        )))
    }
}

fn struct_field(v: &Value, name: &str) -> Value {
    match v {
        Value::Struct(s) => s.field(name).cloned().unwrap_or(Value::string("")),
        _ => Value::string(""),
    }
}

impl ReleaseOptions {
    /// `.Release` (a plain `map[string]interface {}`).
    pub fn to_value(&self) -> Value {
        Value::map([
            ("Name", Value::string(self.name.as_str())),
            ("Namespace", Value::string(self.namespace.as_str())),
            ("IsUpgrade", Value::Bool(self.is_upgrade)),
            ("IsInstall", Value::Bool(self.is_install)),
            ("Revision", Value::Int(self.revision)),
            ("Service", Value::string("Helm")),
        ])
    }
}

/// `.Chart`: Helm's `structToMap` of the metadata (Go field names, every field present).
pub fn chart_value(md: &Metadata, is_root: bool) -> Value {
    let strings = |v: &[String]| {
        Value::List(List::new(
            v.iter().map(|s| Value::string(s.as_str())).collect(),
        ))
    };
    let s = |v: &str| Value::string(v);
    let maintainers = Value::List(List::new(
        md.maintainers
            .iter()
            .map(|m| {
                Value::map([
                    ("Name", s(&m.name)),
                    ("Email", s(&m.email)),
                    ("URL", s(&m.url)),
                ])
            })
            .collect(),
    ));
    let deps = Value::List(List::new(
        md.dependencies
            .iter()
            .map(|d| {
                Value::map([
                    ("Name", s(&d.name)),
                    ("Version", s(&d.version)),
                    ("Repository", s(&d.repository)),
                    ("Condition", s(&d.condition)),
                    ("Tags", strings(&d.tags)),
                    ("Enabled", Value::Bool(d.enabled)),
                    (
                        "ImportValues",
                        Value::List(List::new(
                            d.import_values
                                .iter()
                                .map(crate::convert::to_tmpl)
                                .collect(),
                        )),
                    ),
                    ("Alias", s(&d.alias)),
                ])
            })
            .collect(),
    ));
    let annotations = if md.annotations.is_empty() {
        Value::Map(Map::with_type(BTreeMap::new(), Type::String, None))
    } else {
        Value::Map(Map::with_type(
            md.annotations
                .iter()
                .map(|(k, v)| (k.clone(), s(v)))
                .collect(),
            Type::String,
            None,
        ))
    };
    Value::map([
        ("Name", s(&md.name)),
        ("Home", s(&md.home)),
        ("Sources", strings(&md.sources)),
        ("Version", s(&md.version)),
        ("Description", s(&md.description)),
        ("Keywords", strings(&md.keywords)),
        ("Maintainers", maintainers),
        ("Icon", s(&md.icon)),
        ("APIVersion", s(&md.api_version)),
        ("Condition", s(&md.condition)),
        ("Tags", s(&md.tags)),
        ("AppVersion", s(&md.app_version)),
        ("Deprecated", Value::Bool(md.deprecated)),
        ("Annotations", annotations),
        ("KubeVersion", s(&md.kube_version)),
        ("Dependencies", deps),
        ("Type", s(&md.chart_type)),
        ("IsRoot", Value::Bool(is_root)),
    ])
}

/// `.Files`: the chart's non-template files, with Helm's accessor methods.
pub fn files_value(chart: &Chart) -> Value {
    // the files' own shared strings: no copy (a binary file's text keeps its bytes)
    let entries = |files: &[ferry_chart::File]| {
        files
            .iter()
            .map(|f| {
                let text = f.shared_text();
                if let Some(bytes) = f.binary_data() {
                    ferry_gotmpl::remember_bytes(&text, bytes);
                }
                (f.name.clone(), Value::String(text))
            })
            .collect()
    };
    if chart.files.iter().any(ferry_chart::File::is_lazy) {
        // files left compressed are read only if a template reaches `.Files`
        let files = chart.files.clone();
        return Value::Map(Map::lazy(
            move || entries(&files),
            Type::Interface,
            Some(files_type()),
        ));
    }
    Value::Map(Map::with_type(
        entries(&chart.files),
        Type::Interface,
        Some(files_type()),
    ))
}

fn files_type() -> Arc<TypeInfo> {
    static T: std::sync::OnceLock<Arc<TypeInfo>> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        let arg = |args: &[Value], i: usize| {
            args.get(i)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        // one file, without copying the others
        let file = |v: &Value, name: &str| -> Option<Value> {
            match v {
                Value::Map(m) => m.get(name),
                _ => None,
            }
        };
        let entries = |v: &Value| -> BTreeMap<String, Value> {
            match v {
                Value::Map(m) => m.read().clone(),
                _ => BTreeMap::new(),
            }
        };
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        Arc::new(
            TypeInfo::new("engine.files")
                .with_method(
                    "Get",
                    Function::new(Signature::new([Type::String], Type::String), move |_, a| {
                        let name = arg(&a, 1);
                        Ok(match file(&a[0], &name) {
                            Some(v @ Value::String(_)) => v,
                            _ => Value::string(""),
                        })
                    }),
                )
                .with_method(
                    "GetBytes",
                    Function::new(
                        Signature::new([Type::String], Type::Slice(Box::new(Type::uint8()))),
                        move |_, a| {
                            let name = arg(&a, 1);
                            let data = file(&a[0], &name);
                            let data = data.as_ref().and_then(Value::as_str).unwrap_or_default();
                            Ok(Value::List(List::bytes(&ferry_gotmpl::go_bytes(data))))
                        },
                    ),
                )
                .with_method(
                    "Glob",
                    Function::new(
                        Signature::new(
                            [Type::String],
                            Type::Named("engine.files".into(), Box::new(Type::map())),
                        ),
                        move |_, a| {
                            let pattern = arg(&a, 1);
                            let picked = match &a[0] {
                                Value::Map(m) => m
                                    .read()
                                    .iter()
                                    .filter(|(k, _)| glob_match(&pattern, k))
                                    .map(|(k, v)| (k.clone(), v.clone()))
                                    .collect(),
                                _ => BTreeMap::new(),
                            };
                            Ok(files_from(picked))
                        },
                    ),
                )
                .with_method(
                    "Lines",
                    Function::new(
                        Signature::new([Type::String], Type::Slice(Box::new(Type::String))),
                        move |_, a| {
                            let name = arg(&a, 1);
                            let Some(s) = file(&a[0], &name) else {
                                return Ok(Value::List(List::typed(vec![], Type::String)));
                            };
                            let s = s.as_str().unwrap_or_default();
                            let s = s.strip_suffix('\n').unwrap_or(s);
                            Ok(Value::List(List::typed(
                                s.split('\n').map(Value::string).collect(),
                                Type::String,
                            )))
                        },
                    ),
                )
                .with_method(
                    "AsConfig",
                    Function::new(Signature::new([], Type::String), move |_, a| {
                        let m: ferry_chart::Map = entries(&a[0])
                            .into_iter()
                            .map(|(k, v)| (base(&k), ferry_chart::Value::String(text(&v))))
                            .collect();
                        Ok(Value::string(crate::helm::to_yaml_string(
                            &ferry_chart::Value::Map(m),
                        )))
                    }),
                )
                .with_method(
                    "AsSecrets",
                    Function::new(Signature::new([], Type::String), move |_, a| {
                        let m: ferry_chart::Map = entries(&a[0])
                            .into_iter()
                            .map(|(k, v)| {
                                (
                                    base(&k),
                                    ferry_chart::Value::String(crate::helm::b64(
                                        &ferry_gotmpl::go_bytes(v.as_str().unwrap_or_default()),
                                    )),
                                )
                            })
                            .collect();
                        Ok(Value::string(crate::helm::to_yaml_string(
                            &ferry_chart::Value::Map(m),
                        )))
                    }),
                ),
        )
    })
    .clone()
}

fn base(p: &str) -> String {
    p.rsplit('/').next().unwrap_or(p).to_string()
}

fn files_from(entries: BTreeMap<String, Value>) -> Value {
    Value::Map(Map::with_type(entries, Type::Interface, Some(files_type())))
}

/// gobwas/glob with `/` as separator: `*` and `?` stay within a segment, `**` crosses them,
/// `{a,b}` alternatives, `[...]` classes.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    glob_at(&p, &n)
}

fn glob_at(p: &[char], n: &[char]) -> bool {
    if p.is_empty() {
        return n.is_empty();
    }
    match p[0] {
        '*' => {
            let super_star = p.get(1) == Some(&'*');
            let rest = if super_star { &p[2..] } else { &p[1..] };
            for i in 0..=n.len() {
                if glob_at(rest, &n[i..]) {
                    return true;
                }
                if i < n.len() && n[i] == '/' && !super_star {
                    return false;
                }
            }
            false
        }
        '?' => !n.is_empty() && n[0] != '/' && glob_at(&p[1..], &n[1..]),
        '{' => {
            let Some(close) = p.iter().position(|c| *c == '}') else {
                return !n.is_empty() && n[0] == '{' && glob_at(&p[1..], &n[1..]);
            };
            let inner: String = p[1..close].iter().collect();
            let rest = &p[close + 1..];
            inner.split(',').any(|alt| {
                let mut cand: Vec<char> = alt.chars().collect();
                cand.extend_from_slice(rest);
                glob_at(&cand, n)
            })
        }
        '[' => {
            let Some(close) = p.iter().skip(1).position(|c| *c == ']').map(|i| i + 1) else {
                return !n.is_empty() && n[0] == '[' && glob_at(&p[1..], &n[1..]);
            };
            if n.is_empty() {
                return false;
            }
            let class = &p[1..close];
            let (neg, class) = match class.first() {
                Some('!') | Some('^') => (true, &class[1..]),
                _ => (false, class),
            };
            let mut hit = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == '-' {
                    if class[i] <= n[0] && n[0] <= class[i + 2] {
                        hit = true;
                    }
                    i += 3;
                } else {
                    if class[i] == n[0] {
                        hit = true;
                    }
                    i += 1;
                }
            }
            hit != neg && glob_at(&p[close + 1..], &n[1..])
        }
        '\\' if p.len() > 1 => !n.is_empty() && n[0] == p[1] && glob_at(&p[2..], &n[1..]),
        c => !n.is_empty() && n[0] == c && glob_at(&p[1..], &n[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn gobwas_glob_rules() {
        assert!(glob_match("files/*.json", "files/a.json"));
        assert!(!glob_match("files/*.json", "files/x/a.json"));
        assert!(glob_match("files/**.json", "files/x/a.json"));
        assert!(glob_match("dashboards/{a,b}.json", "dashboards/b.json"));
        assert!(glob_match("f[0-9].txt", "f3.txt"));
    }
}
