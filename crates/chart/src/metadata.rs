//! `Chart.yaml`, `Chart.lock` and their Helm field names.
//!
//! Helm decodes these files YAML → JSON → Go struct, so a field of the wrong JSON type is an
//! error (`version: 1.0` is a number, not a string) and unknown fields are ignored.

use crate::value::{Map, Value};

/// A maintainer entry of `Chart.yaml`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Maintainer {
    /// `name`.
    pub name: String,
    /// `email`.
    pub email: String,
    /// `url`.
    pub url: String,
}

/// A dependency entry of `Chart.yaml` (or `requirements.yaml`), and of `Chart.lock`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Dependency {
    /// `name`.
    pub name: String,
    /// `version` (a SemVer constraint in Chart.yaml, an exact version in a lock).
    pub version: String,
    /// `repository`.
    pub repository: String,
    /// `condition`.
    pub condition: String,
    /// `tags`.
    pub tags: Vec<String>,
    /// `enabled` (runtime only).
    pub enabled: bool,
    /// `import-values`, in both forms (strings and `{child, parent}` maps).
    pub import_values: Vec<Value>,
    /// `alias`.
    pub alias: String,
}

impl Dependency {
    /// The name the subchart goes by in its parent: its alias, else its name.
    pub fn effective_name(&self) -> &str {
        if self.alias.is_empty() {
            &self.name
        } else {
            &self.alias
        }
    }
}

/// `Chart.yaml`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Metadata {
    /// `name`.
    pub name: String,
    /// `home`.
    pub home: String,
    /// `sources`.
    pub sources: Vec<String>,
    /// `version`.
    pub version: String,
    /// `description`.
    pub description: String,
    /// `keywords`.
    pub keywords: Vec<String>,
    /// `maintainers`.
    pub maintainers: Vec<Maintainer>,
    /// `icon`.
    pub icon: String,
    /// `apiVersion` (`v1` when absent, as Helm assumes).
    pub api_version: String,
    /// `condition`.
    pub condition: String,
    /// `tags`.
    pub tags: String,
    /// `appVersion`.
    pub app_version: String,
    /// `deprecated`.
    pub deprecated: bool,
    /// `annotations`.
    pub annotations: Vec<(String, String)>,
    /// `kubeVersion`.
    pub kube_version: String,
    /// `dependencies`.
    pub dependencies: Vec<Dependency>,
    /// `type` (`application`, `library` or empty).
    pub chart_type: String,
}

/// `Chart.lock` / `requirements.lock`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Lock {
    /// `generated`, as written (RFC 3339).
    pub generated: String,
    /// `digest` (`sha256:<hex>`).
    pub digest: String,
    /// `dependencies` (name, repository, version).
    pub dependencies: Vec<Dependency>,
}

/// Decoding of a JSON-typed value into a struct field, with Go's error wording.
pub(crate) struct Fields<'a> {
    map: &'a Map,
    ty: &'static str,
}

/// sigs.k8s.io/yaml decodes a YAML scalar into a Go `string` field as text: booleans as
/// `true`/`false`, integers in decimal, floats with `FormatFloat(f, 'g', -1, 32)`.
pub fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::Null => Some(String::new()),
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Some((*f as i64).to_string()),
        Value::Float(f) => Some(crate::value::go_format_g(*f, true)),
        Value::List(_) | Value::Map(_) => None,
    }
}

impl<'a> Fields<'a> {
    pub(crate) fn new(v: &'a Value, ty: &'static str) -> Result<Fields<'a>, String> {
        static EMPTY: std::sync::OnceLock<Map> = std::sync::OnceLock::new();
        match v {
            Value::Map(map) => Ok(Fields { map, ty }),
            Value::Null => Ok(Fields {
                map: EMPTY.get_or_init(Map::new),
                ty,
            }),
            other => Err(format!(
                "json: cannot unmarshal {} into Go value of type {ty}",
                other.json_type()
            )),
        }
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        // Go's encoding/json matches field names case-insensitively, preferring an exact match.
        self.map.get(key).or_else(|| {
            self.map
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v)
        })
    }

    fn mismatch(&self, key: &str, v: &Value, want: &str) -> String {
        format!(
            "json: cannot unmarshal {} into Go struct field {}.{key} of type {want}",
            v.json_type(),
            self.ty
        )
    }

    pub(crate) fn string(&self, key: &str) -> Result<String, String> {
        match self.get(key) {
            None => Ok(String::new()),
            Some(v) => scalar_string(v).ok_or_else(|| self.mismatch(key, v, "string")),
        }
    }

    pub(crate) fn bool(&self, key: &str) -> Result<bool, String> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(self.mismatch(key, v, "bool")),
        }
    }

    pub(crate) fn strings(&self, key: &str) -> Result<Vec<String>, String> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::List(items)) => items
                .iter()
                .map(|i| scalar_string(i).ok_or_else(|| self.mismatch(key, i, "string")))
                .collect(),
            Some(v) => Err(self.mismatch(key, v, "[]string")),
        }
    }

    pub(crate) fn list(&self, key: &str) -> Result<Vec<&'a Value>, String> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::List(items)) => Ok(items.iter().collect()),
            Some(v) => Err(self.mismatch(key, v, "[]")),
        }
    }
}

impl Maintainer {
    fn from_value(v: &Value) -> Result<Option<Maintainer>, String> {
        if matches!(v, Value::Null) {
            return Ok(None);
        }
        let f = Fields::new(v, "chart.Maintainer")?;
        Ok(Some(Maintainer {
            name: f.string("name")?,
            email: f.string("email")?,
            url: f.string("url")?,
        }))
    }
}

impl Dependency {
    /// Decodes one dependency entry; `Ok(None)` for a `null` entry.
    pub(crate) fn from_value(v: &Value) -> Result<Option<Dependency>, String> {
        if matches!(v, Value::Null) {
            return Ok(None);
        }
        let f = Fields::new(v, "chart.Dependency")?;
        Ok(Some(Dependency {
            name: f.string("name")?,
            version: f.string("version")?,
            repository: f.string("repository")?,
            condition: f.string("condition")?,
            tags: f.strings("tags")?,
            enabled: f.bool("enabled")?,
            import_values: f.list("import-values")?.into_iter().cloned().collect(),
            alias: f.string("alias")?,
        }))
    }

    /// The dependency as Helm's JSON would show it (omitting empty fields as Go does).
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), self.name.as_str().into());
        if !self.version.is_empty() {
            m.insert("version".into(), self.version.as_str().into());
        }
        m.insert("repository".into(), self.repository.as_str().into());
        if !self.condition.is_empty() {
            m.insert("condition".into(), self.condition.as_str().into());
        }
        if !self.tags.is_empty() {
            m.insert(
                "tags".into(),
                Value::List(self.tags.iter().map(|t| t.as_str().into()).collect()),
            );
        }
        if self.enabled {
            m.insert("enabled".into(), Value::Bool(true));
        }
        if !self.import_values.is_empty() {
            m.insert(
                "import-values".into(),
                Value::List(self.import_values.clone()),
            );
        }
        if !self.alias.is_empty() {
            m.insert("alias".into(), self.alias.as_str().into());
        }
        Value::Map(m)
    }

    /// Go's `json.Marshal` of the dependency, fields in struct order (for the lock digest).
    pub fn to_go_json(&self) -> String {
        let mut out = String::from("{");
        let field = |out: &mut String, k: &str, v: String| {
            if out.len() > 1 {
                out.push(',');
            }
            crate::value::write_json_string(k, out);
            out.push(':');
            out.push_str(&v);
        };
        let s = |x: &str| Value::String(x.to_string()).to_go_json();
        field(&mut out, "name", s(&self.name));
        if !self.version.is_empty() {
            field(&mut out, "version", s(&self.version));
        }
        field(&mut out, "repository", s(&self.repository));
        if !self.condition.is_empty() {
            field(&mut out, "condition", s(&self.condition));
        }
        if !self.tags.is_empty() {
            let l = Value::List(self.tags.iter().map(|t| t.as_str().into()).collect());
            field(&mut out, "tags", l.to_go_json());
        }
        if self.enabled {
            field(&mut out, "enabled", "true".into());
        }
        if !self.import_values.is_empty() {
            field(
                &mut out,
                "import-values",
                Value::List(self.import_values.clone()).to_go_json(),
            );
        }
        if !self.alias.is_empty() {
            field(&mut out, "alias", s(&self.alias));
        }
        out.push('}');
        out
    }
}

impl Metadata {
    /// Decodes `Chart.yaml` content already parsed to a value.
    pub fn from_value(v: &Value) -> Result<Metadata, String> {
        let f = Fields::new(v, "chart.Metadata")?;
        let mut maintainers = Vec::new();
        for m in f.list("maintainers")? {
            match Maintainer::from_value(m)? {
                Some(m) => maintainers.push(m),
                None => {
                    return Err(
                        "validation: maintainers must not contain empty or null nodes".into(),
                    );
                }
            }
        }
        let mut annotations = Vec::new();
        match f.get("annotations") {
            None | Some(Value::Null) => {}
            Some(Value::Map(m)) => {
                for (k, v) in m {
                    match scalar_string(v) {
                        Some(s) => annotations.push((k.clone(), s)),
                        None => {
                            return Err(format!(
                                "json: cannot unmarshal {} into Go struct field Metadata.annotations of type string",
                                v.json_type()
                            ));
                        }
                    }
                }
            }
            Some(other) => {
                return Err(format!(
                    "json: cannot unmarshal {} into Go struct field Metadata.annotations of type map[string]string",
                    other.json_type()
                ));
            }
        }
        Ok(Metadata {
            name: f.string("name")?,
            home: f.string("home")?,
            sources: f.strings("sources")?,
            version: f.string("version")?,
            description: f.string("description")?,
            keywords: f.strings("keywords")?,
            maintainers,
            icon: f.string("icon")?,
            api_version: f.string("apiVersion")?,
            condition: f.string("condition")?,
            tags: f.string("tags")?,
            app_version: f.string("appVersion")?,
            deprecated: f.bool("deprecated")?,
            annotations,
            kube_version: f.string("kubeVersion")?,
            dependencies: decode_dependencies(&f)?,
            chart_type: f.string("type")?,
        })
    }

    /// The metadata as Helm's JSON shows it (Go field tags, empty fields omitted).
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        let mut s = |k: &str, v: &str| {
            if !v.is_empty() {
                m.insert(k.into(), v.into());
            }
        };
        s("name", &self.name);
        s("home", &self.home);
        s("version", &self.version);
        s("description", &self.description);
        s("icon", &self.icon);
        s("apiVersion", &self.api_version);
        s("condition", &self.condition);
        s("tags", &self.tags);
        s("appVersion", &self.app_version);
        s("kubeVersion", &self.kube_version);
        s("type", &self.chart_type);
        let list = |v: &[String]| Value::List(v.iter().map(|x| x.as_str().into()).collect());
        if !self.sources.is_empty() {
            m.insert("sources".into(), list(&self.sources));
        }
        if !self.keywords.is_empty() {
            m.insert("keywords".into(), list(&self.keywords));
        }
        if self.deprecated {
            m.insert("deprecated".into(), Value::Bool(true));
        }
        if !self.maintainers.is_empty() {
            let ms = self
                .maintainers
                .iter()
                .map(|x| {
                    let mut mm = Map::new();
                    for (k, v) in [("name", &x.name), ("email", &x.email), ("url", &x.url)] {
                        if !v.is_empty() {
                            mm.insert(k.into(), v.as_str().into());
                        }
                    }
                    Value::Map(mm)
                })
                .collect();
            m.insert("maintainers".into(), Value::List(ms));
        }
        if !self.annotations.is_empty() {
            m.insert(
                "annotations".into(),
                Value::Map(
                    self.annotations
                        .iter()
                        .map(|(k, v)| (k.clone(), v.as_str().into()))
                        .collect(),
                ),
            );
        }
        if !self.dependencies.is_empty() {
            m.insert(
                "dependencies".into(),
                Value::List(self.dependencies.iter().map(|d| d.to_value()).collect()),
            );
        }
        Value::Map(m)
    }

    /// True for `type: library`.
    pub fn is_library(&self) -> bool {
        self.chart_type == "library"
    }
}

fn decode_dependencies(f: &Fields<'_>) -> Result<Vec<Dependency>, String> {
    let mut out = Vec::new();
    for d in f.list("dependencies")? {
        match Dependency::from_value(d)? {
            Some(d) => out.push(d),
            None => {
                return Err("validation: dependencies must not contain empty or null nodes".into());
            }
        }
    }
    Ok(out)
}

/// Decodes the dependencies of a `requirements.yaml` (apiVersion v1 charts).
pub(crate) fn requirements_from_value(v: &Value) -> Result<Vec<Dependency>, String> {
    let f = Fields::new(v, "chart.Metadata")?;
    decode_dependencies(&f)
}

impl Lock {
    /// Decodes `Chart.lock` content already parsed to a value.
    pub fn from_value(v: &Value) -> Result<Lock, String> {
        let f = Fields::new(v, "chart.Lock")?;
        Ok(Lock {
            generated: f.string("generated")?,
            digest: f.string("digest")?,
            dependencies: decode_dependencies(&f)?,
        })
    }

    /// The lock file's text as `helm dependency update` writes it.
    pub fn to_yaml(&self) -> String {
        let mut m = Map::new();
        let deps = self
            .dependencies
            .iter()
            .map(|d| {
                let mut e = Map::new();
                e.insert("name".into(), d.name.as_str().into());
                e.insert("repository".into(), d.repository.as_str().into());
                if !d.version.is_empty() {
                    e.insert("version".into(), d.version.as_str().into());
                }
                Value::Map(e)
            })
            .collect();
        m.insert("dependencies".into(), Value::List(deps));
        m.insert("digest".into(), self.digest.as_str().into());
        m.insert("generated".into(), self.generated.as_str().into());
        crate::yaml::to_yaml(&Value::Map(m))
    }
}
