//! A Kubernetes API server simulator that real `kubectl` and real Helm accept.
//! Serves discovery, OpenAPI, CRUD, watch, patches and server-side apply over HTTP on
//! loopback, with simulated controllers so that waiting for rollouts is real. It is not a
//! cluster: nothing runs, images are never pulled, and there is no authentication.
//!
//! Conventions of the simulated kubelet:
//! - a Pod becomes Ready after [`Config::ready_after`]; the annotation
//!   `sim.ferry.dev/ready-after: 2s` on the Pod, its template, or its owner sets the delay;
//! - a container image whose tag is `fail` (`nginx:fail`) never becomes ready
//!   (CrashLoopBackOff with growing restart counts and a `BackOff` event); a Job running it fails.
//!
//! ```no_run
//! # async fn demo() -> Result<(), kubesim::Error> {
//! let sim = kubesim::Sim::start(kubesim::Config::default()).await?;
//! sim.write_kubeconfig(std::path::Path::new("/tmp/kubeconfig"))?;
//! println!("serving at {}", sim.url()); // then: kubectl --kubeconfig /tmp/kubeconfig get ns
//! let ns = sim.get("", "namespaces", "", "default");
//! assert!(ns.is_some());
//! sim.shutdown().await;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod controllers;
mod error;
mod faults;
mod patch;
mod proto;
mod registry;
mod schema;
mod selector;
mod server;
mod ssa;
mod store;
mod table;
#[cfg(feature = "tls")]
mod tls;
mod util;

pub use controllers::READY_AFTER;
pub use error::{ApiError, Error};
pub use faults::FaultRule;
pub use schema::{FieldPatch, PatchMeta};
pub use util::parse_duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use server::Shared;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use store::State;
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// How to run the simulator. Plain struct with [`Default`].
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port.
    pub addr: SocketAddr,
    /// How long a Pod takes to become Ready (overridden per object by [`READY_AFTER`]).
    pub ready_after: Duration,
    /// Run the simulated controllers and kubelet.
    pub controllers: bool,
    /// Number of simulated nodes.
    pub nodes: usize,
    /// How many events the watch log keeps; older resourceVersions get 410 Gone.
    pub watch_history: usize,
    /// How often watches with `allowWatchBookmarks` get a BOOKMARK.
    pub bookmark_interval: Duration,
    /// Directory where the state is saved and restored from (`--state DIR`).
    pub state_dir: Option<PathBuf>,
    /// Seed of the fault injector's random choices.
    pub fault_seed: u64,
    /// Serve HTTPS with a generated CA (put in the kubeconfig); needs the `tls` feature.
    pub tls: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            ready_after: Duration::from_millis(500),
            controllers: true,
            nodes: 3,
            watch_history: 10_000,
            bookmark_interval: Duration::from_secs(5),
            state_dir: None,
            fault_seed: 1,
            tls: false,
        }
    }
}

/// A running simulator. Dropping it does not stop it; call [`Sim::shutdown`].
pub struct Sim {
    addr: SocketAddr,
    ca_pem: Option<String>,
    shared: Arc<Shared>,
    stop_tx: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Sim {
    /// Binds, restores state if configured, starts the controllers and serves in the background.
    pub async fn start(config: Config) -> Result<Sim, Error> {
        let listener = TcpListener::bind(config.addr)
            .await
            .map_err(|source| Error::Bind {
                addr: config.addr,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| Error::Bind {
            addr: config.addr,
            source,
        })?;
        let mut state = State::new(config.watch_history);
        let restored = match &config.state_dir {
            Some(dir) => load_state(dir, &mut state)?,
            None => false,
        };
        if !restored {
            state.bootstrap(config.nodes);
        }
        #[cfg(feature = "tls")]
        let (acceptor, ca_pem) = if config.tls {
            let (a, ca) = tls::setup()?;
            (Some(a), Some(ca))
        } else {
            (None, None)
        };
        #[cfg(not(feature = "tls"))]
        let ca_pem: Option<String> = if config.tls {
            return Err(Error::Tls {
                message: "kubesim was built without the `tls` feature".into(),
            });
        } else {
            None
        };
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let shared = Arc::new(Shared {
            state: RwLock::new(state),
            faults: faults::Faults::new(config.fault_seed),
            config: config.clone(),
            notify: Notify::new(),
            stop: stop_rx,
            requests: std::sync::atomic::AtomicU64::new(0),
        });
        let mut tasks = Vec::new();
        let sh = shared.clone();
        let mut stop = shared.stop.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    a = listener.accept() => a,
                    _ = stop.changed() => return,
                };
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let sh = sh.clone();
                let mut stop = sh.stop.clone();
                #[cfg(feature = "tls")]
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| server::handle(sh.clone(), req));
                    #[cfg(feature = "tls")]
                    if let Some(acceptor) = acceptor {
                        let handshake =
                            tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream));
                        let Ok(Ok(tls)) = handshake.await else {
                            return;
                        };
                        let conn = http1::Builder::new()
                            .keep_alive(true)
                            .serve_connection(TokioIo::new(tls), svc);
                        tokio::select! {
                            _ = conn => {}
                            _ = stop.changed() => {}
                        }
                        return;
                    }
                    let conn = http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), svc);
                    tokio::select! {
                        _ = conn => {}
                        _ = stop.changed() => {}
                    }
                });
            }
        }));
        if config.controllers {
            tasks.push(tokio::spawn(controllers::run(shared.clone())));
        }
        if let Some(dir) = config.state_dir.clone() {
            let sh = shared.clone();
            tasks.push(tokio::spawn(async move { persist_loop(sh, dir).await }));
        }
        Ok(Sim {
            addr,
            ca_pem,
            shared,
            stop_tx,
            tasks,
        })
    }

    /// `http://127.0.0.1:PORT` (`https://` with [`Config::tls`]).
    pub fn url(&self) -> String {
        let scheme = if self.ca_pem.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    /// The CA certificate (PEM) that signed the server certificate, with [`Config::tls`].
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A kubeconfig (YAML) pointing at this simulator, context `kubesim`.
    pub fn kubeconfig(&self) -> String {
        kubeconfig_for(&self.url(), self.ca_pem.as_deref())
    }

    /// Writes [`Sim::kubeconfig`] to a file.
    pub fn write_kubeconfig(&self, path: &Path) -> Result<(), Error> {
        std::fs::write(path, self.kubeconfig()).map_err(|source| Error::Write {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Reads an object as stored (`group` "" for core; `namespace` "" for cluster-scoped).
    pub fn get(&self, group: &str, plural: &str, namespace: &str, name: &str) -> Option<Value> {
        let st = self.shared.read();
        let rt = st
            .registry
            .types
            .get(&(group.to_string(), plural.to_string()))?
            .clone();
        st.get(&rt, if rt.namespaced { namespace } else { "" }, name)
            .cloned()
    }

    /// Lists objects of a type, in one namespace or all (`None`).
    pub fn list(&self, group: &str, plural: &str, namespace: Option<&str>) -> Vec<Value> {
        let st = self.shared.read();
        let Some(rt) = st
            .registry
            .types
            .get(&(group.to_string(), plural.to_string()))
            .cloned()
        else {
            return Vec::new();
        };
        st.list(&rt, namespace).into_iter().cloned().collect()
    }

    /// Creates an object through the same path as a POST (the kind decides the resource).
    pub fn create(&self, obj: Value) -> Result<Value, Error> {
        let api_version = obj["apiVersion"].as_str().unwrap_or("").to_string();
        let kind = obj["kind"].as_str().unwrap_or("").to_string();
        let group = api_version
            .rsplit_once('/')
            .map(|(g, _)| g.to_string())
            .unwrap_or_default();
        let mut st = self.shared.write();
        let rt = st.registry.by_kind(&group, &kind).cloned().ok_or_else(|| {
            ApiError::new(
                404,
                "NotFound",
                format!("no resource for {api_version} {kind}"),
            )
        })?;
        let ns = obj
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("default")
            .to_string();
        let out = st.create(
            &rt,
            if rt.namespaced { &ns } else { "" },
            obj,
            &store::WriteOpts::default(),
        )?;
        drop(st);
        self.shared.notify.notify_one();
        Ok(out)
    }

    /// How many API requests the simulator has served (admin `/_sim` calls excluded).
    pub fn requests(&self) -> u64 {
        self.shared
            .requests
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The current global resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.shared.read().rv
    }

    /// How many error answers the fault rules injected so far, by status code.
    pub fn faults_injected(&self) -> std::collections::BTreeMap<u16, u64> {
        self.shared.faults.injected()
    }

    /// Replaces the fault rules (empty clears them).
    pub fn set_faults(&self, rules: Vec<FaultRule>) {
        self.shared.faults.set(rules, None);
    }

    /// Saves the state now (if a state directory is configured).
    pub fn save(&self) -> Result<(), Error> {
        match &self.shared.config.state_dir {
            Some(dir) => save_state(&self.shared, dir),
            None => Ok(()),
        }
    }

    /// Stops serving, ends watches and controllers, and saves the state if configured.
    pub async fn shutdown(self) {
        let _ = self.save();
        let _ = self.stop_tx.send(true);
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
        }
    }

    /// Waits until the simulator is stopped (never returns unless [`Sim::shutdown`] runs elsewhere).
    pub async fn wait(&self) {
        let mut stop = self.shared.stop.clone();
        while !*stop.borrow() {
            if stop.changed().await.is_err() {
                return;
            }
        }
    }
}

/// A kubeconfig for a simulator URL, trusting `ca_pem` when serving HTTPS.
pub fn kubeconfig_for(url: &str, ca_pem: Option<&str>) -> String {
    use base64::Engine;
    let ca = ca_pem
        .map(|pem| {
            format!(
                "    certificate-authority-data: {}\n",
                base64::engine::general_purpose::STANDARD.encode(pem)
            )
        })
        .unwrap_or_default();
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: kubesim\n  cluster:\n    server: {url}\n{ca}contexts:\n- name: kubesim\n  context:\n    cluster: kubesim\n    user: kubesim\n    namespace: default\ncurrent-context: kubesim\nusers:\n- name: kubesim\n  user:\n    token: kubesim\npreferences: {{}}\n"
    )
}

/// Runs a simulator for the CLI (`ferry sim serve --addr A --kubeconfig-out P [--state DIR]`):
/// starts it with `config`, writes the kubeconfig if asked, calls `on_ready` with the URL once
/// connections are accepted, and serves until the process is killed.
pub async fn serve(
    config: Config,
    kubeconfig_out: Option<&Path>,
    on_ready: impl FnOnce(&str),
) -> Result<(), Error> {
    let sim = Sim::start(config).await?;
    if let Some(p) = kubeconfig_out {
        sim.write_kubeconfig(p)?;
    }
    on_ready(&sim.url());
    sim.wait().await;
    Ok(())
}

const STATE_FILE: &str = "kubesim-state.json";

fn load_state(dir: &Path, state: &mut State) -> Result<bool, Error> {
    let path = dir.join(STATE_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => {
            return Err(Error::LoadState {
                path,
                message: e.to_string(),
            });
        }
    };
    let v: Value = serde_json::from_str(&text).map_err(|e| Error::LoadState {
        path: path.clone(),
        message: e.to_string(),
    })?;
    state.restore(&v);
    Ok(true)
}

fn save_state(shared: &Shared, dir: &Path) -> Result<(), Error> {
    let dump = {
        let mut st = shared.write();
        st.dirty = false;
        st.dump()
    };
    std::fs::create_dir_all(dir).map_err(|source| Error::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let path = dir.join(STATE_FILE);
    let tmp = dir.join(format!("{STATE_FILE}.tmp"));
    let text = serde_json::to_vec(&dump).unwrap_or_default();
    std::fs::write(&tmp, text).map_err(|source| Error::Write {
        path: tmp.clone(),
        source,
    })?;
    std::fs::rename(&tmp, &path).map_err(|source| Error::Write { path, source })
}

async fn persist_loop(shared: Arc<Shared>, dir: PathBuf) {
    let mut stop = shared.stop.clone();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = stop.changed() => return,
        }
        if shared.read().dirty {
            let _ = save_state(&shared, &dir);
        }
    }
}
