//! Release storage as Helm's `pkg/storage`: drivers (Secrets, ConfigMaps, memory) with Helm's
//! object names and labels, and the queries and pruning built on them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, ListParams, PostParams};

use crate::codec::{self, CodecError};
use crate::model::{Release, Status};
use crate::retry::{retry, retry_write};

/// Helm's storage type prefix (`sh.helm.release.v1`).
pub const STORAGE_TYPE: &str = "sh.helm.release.v1";
/// The Secret type of release Secrets.
pub const SECRET_TYPE: &str = "helm.sh/release.v1";
/// Labels Helm manages on storage objects; custom release labels may not use them.
pub const SYSTEM_LABELS: &[&str] = &[
    "name",
    "owner",
    "status",
    "version",
    "createdAt",
    "modifiedAt",
];

/// The storage object's name of a revision: `sh.helm.release.v1.NAME.vVERSION`.
pub fn key(name: &str, version: i64) -> String {
    format!("{STORAGE_TYPE}.{name}.v{version}")
}

/// Storage errors, with Helm's wording where users see them.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// No such release or revision.
    #[error("release: not found")]
    NotFound,
    /// The revision already exists (a concurrent writer won).
    #[error("release: already exists")]
    Exists,
    /// A stored record could not be decoded.
    #[error("{key}: {source}")]
    Decode {
        /// The storage object.
        key: String,
        /// Why.
        #[source]
        source: CodecError,
    },
    /// The API refused.
    #[error("{0}")]
    Api(#[from] kube::Error),
}

/// Which driver (`HELM_DRIVER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    /// Secrets (Helm's default).
    Secret,
    /// ConfigMaps.
    ConfigMap,
    /// In process (dry runs, tests).
    Memory,
}

impl Driver {
    /// Parses `HELM_DRIVER` values (`secret`, `secrets`, `configmap`, `configmaps`, `memory`).
    pub fn parse(s: &str) -> Option<Driver> {
        match s {
            "" | "secret" | "secrets" => Some(Driver::Secret),
            "configmap" | "configmaps" => Some(Driver::ConfigMap),
            "memory" => Some(Driver::Memory),
            _ => None,
        }
    }
}

type MemoryMap = Arc<Mutex<BTreeMap<(String, String), (Release, BTreeMap<String, String>)>>>;

enum Backend {
    Secrets(kube::Client),
    ConfigMaps(kube::Client),
    Memory(MemoryMap),
}

/// Release storage in one namespace (or all, for listing).
pub struct Storage {
    backend: Backend,
    /// The namespace releases live in; `None` lists across all namespaces.
    namespace: Option<String>,
}

fn now_unix() -> String {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        .to_string()
}

fn labels_for(rel: &Release, created: bool) -> BTreeMap<String, String> {
    let mut l: BTreeMap<String, String> = rel.labels.clone();
    l.insert("name".into(), rel.name.clone());
    l.insert("owner".into(), "helm".into());
    l.insert("status".into(), rel.info.status.to_string());
    l.insert("version".into(), rel.version.to_string());
    l.insert(
        if created { "createdAt" } else { "modifiedAt" }.into(),
        now_unix(),
    );
    l
}

fn custom_labels(all: Option<&BTreeMap<String, String>>) -> BTreeMap<String, String> {
    all.into_iter()
        .flatten()
        .filter(|(k, _)| !SYSTEM_LABELS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

impl Storage {
    /// The Secret driver.
    pub fn secrets(client: kube::Client, namespace: Option<&str>) -> Storage {
        Storage {
            backend: Backend::Secrets(client),
            namespace: namespace.map(str::to_string),
        }
    }

    /// The ConfigMap driver.
    pub fn configmaps(client: kube::Client, namespace: Option<&str>) -> Storage {
        Storage {
            backend: Backend::ConfigMaps(client),
            namespace: namespace.map(str::to_string),
        }
    }

    /// An empty in-memory store.
    pub fn memory(namespace: Option<&str>) -> Storage {
        Storage {
            backend: Backend::Memory(MemoryMap::default()),
            namespace: namespace.map(str::to_string),
        }
    }

    /// A driver by kind.
    pub fn new(driver: Driver, client: kube::Client, namespace: Option<&str>) -> Storage {
        match driver {
            Driver::Secret => Storage::secrets(client, namespace),
            Driver::ConfigMap => Storage::configmaps(client, namespace),
            Driver::Memory => Storage::memory(namespace),
        }
    }

    fn ns(&self) -> &str {
        self.namespace.as_deref().unwrap_or("default")
    }

    fn secrets_api(&self, c: &kube::Client) -> Api<Secret> {
        match &self.namespace {
            Some(ns) => Api::namespaced(c.clone(), ns),
            None => Api::all(c.clone()),
        }
    }

    fn configmaps_api(&self, c: &kube::Client) -> Api<ConfigMap> {
        match &self.namespace {
            Some(ns) => Api::namespaced(c.clone(), ns),
            None => Api::all(c.clone()),
        }
    }

    /// Records matching a label selector (`owner=helm` is always added).
    async fn query(&self, selector: &str) -> Result<Vec<Release>, StorageError> {
        let sel = if selector.is_empty() {
            "owner=helm".to_string()
        } else {
            format!("{selector},owner=helm")
        };
        let lp = ListParams::default().labels(&sel);
        let mut out = Vec::new();
        match &self.backend {
            Backend::Secrets(c) => {
                let api = self.secrets_api(c);
                for s in retry(|| api.list(&lp)).await?.items {
                    let key = s.metadata.name.clone().unwrap_or_default();
                    let Some(data) = s.data.as_ref().and_then(|d| d.get("release")) else {
                        continue;
                    };
                    let mut rel = codec::decode(&data.0)
                        .map_err(|source| StorageError::Decode { key, source })?;
                    rel.labels = custom_labels(s.metadata.labels.as_ref());
                    out.push(rel);
                }
            }
            Backend::ConfigMaps(c) => {
                let api = self.configmaps_api(c);
                for m in retry(|| api.list(&lp)).await?.items {
                    let key = m.metadata.name.clone().unwrap_or_default();
                    let Some(data) = m.data.as_ref().and_then(|d| d.get("release")) else {
                        continue;
                    };
                    let mut rel = codec::decode(data.as_bytes())
                        .map_err(|source| StorageError::Decode { key, source })?;
                    rel.labels = custom_labels(m.metadata.labels.as_ref());
                    out.push(rel);
                }
            }
            Backend::Memory(m) => {
                let want: Vec<(&str, &str)> =
                    sel.split(',').filter_map(|kv| kv.split_once('=')).collect();
                let map = m.lock().expect("memory store lock");
                for ((ns, _), (rel, labels)) in map.iter() {
                    if self.namespace.as_deref().is_some_and(|n| n != ns) {
                        continue;
                    }
                    if want
                        .iter()
                        .all(|(k, v)| labels.get(*k).map(String::as_str) == Some(*v))
                    {
                        out.push(rel.clone());
                    }
                }
            }
        }
        out.sort_by(|a, b| {
            (&a.namespace, &a.name, a.version).cmp(&(&b.namespace, &b.name, b.version))
        });
        Ok(out)
    }

    /// One revision.
    pub async fn get(&self, name: &str, version: i64) -> Result<Release, StorageError> {
        self.query(&format!("name={name},version={version}"))
            .await?
            .into_iter()
            .next()
            .ok_or(StorageError::NotFound)
    }

    /// Every revision of a release, oldest first.
    pub async fn history(&self, name: &str) -> Result<Vec<Release>, StorageError> {
        self.query(&format!("name={name}")).await
    }

    /// Every record (of the namespace, or of all namespaces), oldest first per release.
    pub async fn list_all(&self) -> Result<Vec<Release>, StorageError> {
        self.query("").await
    }

    /// The highest revision, whatever its status (`Last`).
    pub async fn last(&self, name: &str) -> Result<Option<Release>, StorageError> {
        Ok(self.history(name).await?.pop())
    }

    /// The highest revision whose status is `deployed` (`Deployed`).
    pub async fn deployed(&self, name: &str) -> Result<Option<Release>, StorageError> {
        Ok(self
            .query(&format!("name={name},status=deployed"))
            .await?
            .pop())
    }

    /// Writes a new revision; fails with [`StorageError::Exists`] when it is already there.
    pub async fn create(&self, rel: &Release) -> Result<(), StorageError> {
        self.write(rel, true).await
    }

    /// Rewrites an existing revision (status changes, hook runs).
    pub async fn update(&self, rel: &Release) -> Result<(), StorageError> {
        self.write(rel, false).await
    }

    async fn write(&self, rel: &Release, create: bool) -> Result<(), StorageError> {
        let name = key(&rel.name, rel.version);
        let ns = if rel.namespace.is_empty() {
            self.ns().to_string()
        } else {
            rel.namespace.clone()
        };
        // Helm rebuilds the labels on every write: createdAt on create, modifiedAt on update.
        let labels = labels_for(rel, create);
        let payload = codec::encode(rel);
        let map_err = |e: kube::Error| match &e {
            kube::Error::Api(s) if s.code == 409 && create => StorageError::Exists,
            kube::Error::Api(s) if s.code == 404 => StorageError::NotFound,
            _ => StorageError::Api(e),
        };
        match &self.backend {
            Backend::Secrets(c) => {
                let api: Api<Secret> = Api::namespaced(c.clone(), &ns);
                let s = Secret {
                    metadata: ObjectMeta {
                        name: Some(name.clone()),
                        namespace: Some(ns.clone()),
                        labels: Some(labels),
                        ..ObjectMeta::default()
                    },
                    type_: Some(SECRET_TYPE.into()),
                    data: Some([("release".to_string(), ByteString(payload.into_bytes()))].into()),
                    ..Secret::default()
                };
                if create {
                    let pp = PostParams::default();
                    retry(|| api.create(&pp, &s)).await.map_err(map_err)?;
                } else {
                    let pp = PostParams::default();
                    retry_write(|| api.replace(&name, &pp, &s))
                        .await
                        .map_err(map_err)?;
                }
            }
            Backend::ConfigMaps(c) => {
                let api: Api<ConfigMap> = Api::namespaced(c.clone(), &ns);
                let m = ConfigMap {
                    metadata: ObjectMeta {
                        name: Some(name.clone()),
                        namespace: Some(ns.clone()),
                        labels: Some(labels),
                        ..ObjectMeta::default()
                    },
                    data: Some([("release".to_string(), payload)].into()),
                    ..ConfigMap::default()
                };
                if create {
                    let pp = PostParams::default();
                    retry(|| api.create(&pp, &m)).await.map_err(map_err)?;
                } else {
                    let pp = PostParams::default();
                    retry_write(|| api.replace(&name, &pp, &m))
                        .await
                        .map_err(map_err)?;
                }
            }
            Backend::Memory(mem) => {
                let mut map = mem.lock().expect("memory store lock");
                let k = (ns.clone(), name);
                if create && map.contains_key(&k) {
                    return Err(StorageError::Exists);
                }
                if !create && !map.contains_key(&k) {
                    return Err(StorageError::NotFound);
                }
                let mut rel = rel.clone();
                rel.namespace = ns;
                map.insert(k, (rel, labels));
            }
        }
        Ok(())
    }

    /// Deletes one revision's record.
    pub async fn delete(
        &self,
        name: &str,
        version: i64,
        namespace: &str,
    ) -> Result<(), StorageError> {
        let k = key(name, version);
        let dp = DeleteParams::default();
        let res = match &self.backend {
            Backend::Secrets(c) => {
                let api = Api::<Secret>::namespaced(c.clone(), namespace);
                retry(|| api.delete(&k, &dp)).await.map(|_| ())
            }
            Backend::ConfigMaps(c) => {
                let api = Api::<ConfigMap>::namespaced(c.clone(), namespace);
                retry(|| api.delete(&k, &dp)).await.map(|_| ())
            }
            Backend::Memory(m) => {
                return m
                    .lock()
                    .expect("memory store lock")
                    .remove(&(namespace.to_string(), k))
                    .map(|_| ())
                    .ok_or(StorageError::NotFound);
            }
        };
        match res {
            Ok(()) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Err(StorageError::NotFound),
            Err(e) => Err(e.into()),
        }
    }

    /// `--history-max` before writing a new revision (`removeLeastRecent`): keeps `max - 1`
    /// records so that `max` remain after the insert, oldest deleted first, never the latest
    /// `deployed` one. `max == 0` keeps everything. Returns the deleted revisions.
    pub async fn prune(&self, name: &str, max: usize) -> Result<Vec<i64>, StorageError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let hist = self.history(name).await?;
        if hist.len() < max {
            return Ok(Vec::new());
        }
        let last_deployed = hist
            .iter()
            .filter(|r| r.info.status == Status::Deployed)
            .map(|r| r.version)
            .max();
        let mut to_delete = hist.len() + 1 - max;
        let mut deleted = Vec::new();
        let mut errors = Vec::new();
        for r in &hist {
            if to_delete == 0 {
                break;
            }
            if Some(r.version) == last_deployed {
                continue;
            }
            match self.delete(&r.name, r.version, &r.namespace).await {
                Ok(()) | Err(StorageError::NotFound) => deleted.push(r.version),
                Err(e) => errors.push(format!("{}: {e}", key(&r.name, r.version))),
            }
            to_delete -= 1;
        }
        if !errors.is_empty() {
            return Err(StorageError::Api(kube::Error::Service(
                errors.join("; ").into(),
            )));
        }
        Ok(deleted)
    }
}
