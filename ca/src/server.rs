//! Serving a fixed set of typed PVs over Channel Access.

use crate::convert::{escaped, shown_write, PvType, Value};
use epics_base_rs::error::CaError;
use epics_base_rs::server::pv::{
    AccessDecision, ProcessVariable, PvMetadata, WriteContext, WriteHook,
};
use epics_base_rs::server::snapshot::{DisplayInfo, EnumInfo};
use epics_base_rs::types::{EpicsValue, PvString};
use epics_ca_rs::server::CaServer;
use std::collections::HashMap;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, error, warn};

/// One PV to serve.
#[derive(Debug, Clone, PartialEq)]
pub struct PvSpec {
    /// Full PV name.
    pub name: String,
    /// Native type and write rule.
    pub kind: PvType,
    /// Value at start (must meet the rule).
    pub initial: Value,
    /// Whether clients may write it; read-only PVs refuse writes with
    /// ECA_NOWTACCESS.
    pub writable: bool,
    /// Engineering unit shown to clients.
    pub units: Option<String>,
    /// Display precision.
    pub precision: i16,
}

/// A client's write that was accepted and stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Write {
    /// The PV written.
    pub name: String,
    /// The value, already converted to the PV's type.
    pub value: Value,
    /// The client's user name, host and address, for the log.
    pub client: String,
}

/// What a client's write did: accepted (stored, and here converted), or
/// refused with the reason the client was sent an error for.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteEvent {
    /// Stored.
    Accepted(Write),
    /// Refused; the PV kept its value.
    Refused {
        /// The PV.
        name: String,
        /// What was sent, as text.
        sent: String,
        /// Why it was refused (for the operator).
        reason: String,
        /// The client's user name, host and address.
        client: String,
    },
}

/// Why serving or setting failed.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ServeError {
    /// A spec is inconsistent (e.g. its initial value breaks its rule).
    #[error("PV {name}: {reason}")]
    Spec {
        /// The PV.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// The server could not start (port taken, no runtime, ...).
    #[error("the Channel Access server could not start: {0}")]
    Start(String),
    /// No such PV is served.
    #[error("no PV named {0} is served")]
    Unknown(String),
}

type Served = HashMap<String, (PvType, Arc<ProcessVariable>)>;

/// A running Channel Access server for a fixed set of PVs.
///
/// It runs on a thread and tokio runtime of its own: `epics-ca-rs` 0.31
/// has no stop call, and dropping that runtime is what ends every task it
/// spawned. Dropping the `PvServer` does so.
pub struct PvServer {
    pvs: Arc<Served>,
    port: u16,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl PvServer {
    /// Serves `specs` on TCP/UDP `port` (0: any free port). Accepted writes,
    /// and refusals of unconvertible values, arrive on the returned receiver,
    /// which holds up to `queue` of them; a write that finds it full is
    /// refused (the client sees ECA_PUTFAIL) rather than stored unseen.
    ///
    /// The network setup (interfaces, beacons) comes from the `EPICS_CAS_*`
    /// environment, which `epics-ca-rs` reads once per process.
    pub fn start(
        specs: Vec<PvSpec>,
        port: u16,
        queue: usize,
    ) -> Result<(Self, mpsc::Receiver<WriteEvent>), ServeError> {
        let mut seen = std::collections::HashSet::new();
        for spec in &specs {
            if !seen.insert(spec.name.clone()) {
                return Err(ServeError::Spec {
                    name: spec.name.clone(),
                    reason: "served twice".into(),
                });
            }
            spec.kind
                .to_epics(&spec.initial)
                .map_err(|reason| ServeError::Spec {
                    name: spec.name.clone(),
                    reason: format!("initial value: {reason}"),
                })?;
        }
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel();
        let (write_tx, write_rx) = mpsc::channel(queue.max(1));
        let thread = std::thread::Builder::new()
            .name("ca-server".into())
            .spawn(move || serve(specs, port, write_tx, ready_tx, stop_rx))
            .map_err(|e| ServeError::Start(e.to_string()))?;
        let (pvs, port) = ready_rx
            .recv()
            .map_err(|_| ServeError::Start("the server thread ended".into()))??;
        Ok((
            Self {
                pvs: Arc::new(pvs),
                port,
                stop: Some(stop_tx),
                thread: Some(thread),
            },
            write_rx,
        ))
    }

    /// The TCP port clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stores `value` in PV `name` and posts it to monitors (no write hook);
    /// text too long for it is shortened to fit.
    pub fn set(&self, name: &str, value: Value) -> Result<(), ServeError> {
        let (kind, pv) = self
            .pvs
            .get(name)
            .ok_or_else(|| ServeError::Unknown(name.to_string()))?;
        let stored = kind
            .to_epics(&kind.fit(value))
            .map_err(|reason| ServeError::Spec {
                name: name.to_string(),
                reason,
            })?;
        pv.set(stored);
        Ok(())
    }

    /// The current value of PV `name`.
    pub fn get(&self, name: &str) -> Option<Value> {
        let (kind, pv) = self.pvs.get(name)?;
        kind.value_of(&pv.get())
    }
}

impl Drop for PvServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            // The thread may already have ended (it logged why).
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                error!("the Channel Access server thread panicked");
            }
        }
    }
}

type Ready = std::sync::mpsc::Sender<Result<(Served, u16), ServeError>>;

/// The server thread: build, report ready, serve until told to stop.
fn serve(
    specs: Vec<PvSpec>,
    port: u16,
    writes: mpsc::Sender<WriteEvent>,
    ready: Ready,
    stop: oneshot::Receiver<()>,
) {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("ca-server-io")
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.send(Err(ServeError::Start(e.to_string())));
            return;
        }
    };
    runtime.block_on(async move {
        let server = match build(&specs, port, writes).await {
            Ok(built) => built,
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        let (server, served) = server;
        if ready.send(Ok((served, server.tcp_port()))).is_err() {
            return;
        }
        tokio::select! {
            result = server.run() => error!("the Channel Access server stopped: {result:?}"),
            _ = stop => {}
        }
    });
    // Ends every task the server spawned, closing its sockets.
    runtime.shutdown_timeout(Duration::from_secs(1));
}

async fn build(
    specs: &[PvSpec],
    port: u16,
    writes: mpsc::Sender<WriteEvent>,
) -> Result<(CaServer, Served), ServeError> {
    let mut builder = CaServer::builder().port(port);
    for spec in specs {
        let initial = spec
            .kind
            .to_epics(&spec.initial)
            .map_err(|reason| ServeError::Spec {
                name: spec.name.clone(),
                reason,
            })?;
        builder = builder.pv(&spec.name, initial);
    }
    let server = builder
        .build()
        .await
        .map_err(|e| ServeError::Start(e.to_string()))?;
    if port != 0 && server.tcp_port() != port {
        // epics-ca-rs falls back to a free port when the one asked for is taken.
        return Err(ServeError::Start(format!("port {port} is in use")));
    }
    let mut served = HashMap::new();
    for spec in specs {
        let pv = server
            .database()
            .find_pv(&spec.name)
            .await
            .ok_or_else(|| ServeError::Start(format!("{} was not created", spec.name)))?;
        pv.set_metadata(PvMetadata {
            display: Some(DisplayInfo {
                units: PvString::from(spec.units.as_deref().unwrap_or("")),
                precision: spec.precision,
                ..Default::default()
            }),
            control: None,
            enums: spec.kind.labels().map(|labels| {
                EnumInfo::new(labels.iter().map(|l| PvString::from(l.as_str())).collect())
            }),
        });
        // Every PV gets a hook: without one, a write of another wire type
        // would change the PV's type.
        pv.set_write_hook(write_hook(spec, Arc::downgrade(&pv), writes.clone()));
        if !spec.writable {
            // Read-only in the access rights every client is told at
            // connection (screens then show it as not editable; a put gets
            // ECA_NOWTACCESS), not only refused after the fact.
            pv.set_access_hook(Arc::new(|_user: &str, _host: &str| AccessDecision {
                read: true,
                write: false,
            }));
        }
        served.insert(spec.name.clone(), (spec.kind.clone(), pv));
    }
    Ok((server, served))
}

fn write_hook(
    spec: &PvSpec,
    pv: std::sync::Weak<ProcessVariable>,
    writes: mpsc::Sender<WriteEvent>,
) -> WriteHook {
    let (name, kind, writable) = (spec.name.clone(), spec.kind.clone(), spec.writable);
    Arc::new(move |value: EpicsValue, ctx: WriteContext| {
        let (name, kind, pv, writes) = (name.clone(), kind.clone(), pv.clone(), writes.clone());
        Box::pin(async move {
            // The user and host names are the client's to choose.
            let client = format!(
                "{}@{} ({})",
                escaped(&ctx.user),
                escaped(&ctx.host),
                ctx.peer
            );
            if !writable {
                // Read-only PVs refuse writes at the access-rights level
                // (see build); this only catches a client that puts anyway.
                debug!(pv = %name, %client, "write refused: read-only");
                return Err(CaError::ReadOnlyField(name));
            }
            let accepted = match kind.accept_write(&value) {
                Ok(v) => v,
                Err(reason) => {
                    // The daemon logs it (once); a full queue already
                    // refuses everything.
                    let _ = writes.try_send(WriteEvent::Refused {
                        name: name.clone(),
                        sent: shown_write(&value),
                        reason: reason.clone(),
                        client,
                    });
                    return Err(CaError::InvalidValue(reason));
                }
            };
            let stored = kind.to_epics(&accepted).map_err(CaError::InvalidValue)?;
            // A place in the queue first: a write the daemon would not see is
            // refused. Then store, then queue: the daemon's reaction (the
            // simulator resetting RunHardScan at once) must come after the
            // stored value, never be overwritten by it.
            let permit = writes.try_reserve().map_err(|e| {
                // A flooding client meets this at every write: said once a
                // few seconds, not once a write.
                if busy_said_now() {
                    warn!(pv = %name, "writes refused: the daemon is not keeping up ({e})");
                }
                CaError::InvalidValue("busy".into())
            })?;
            if let Some(pv) = pv.upgrade() {
                pv.set(stored);
            }
            permit.send(WriteEvent::Accepted(Write {
                name: name.clone(),
                value: accepted,
                client,
            }));
            Ok(())
        })
    })
}

/// Whether the "not keeping up" warning may be said now: at most once per
/// five seconds, for the whole process (a monotonic clock: a stepped wall
/// clock must not silence it).
fn busy_said_now() -> bool {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    use std::time::Instant;
    static START: OnceLock<Instant> = OnceLock::new();
    // Seconds since START, plus one so that 0 means "never said".
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = START.get_or_init(Instant::now).elapsed().as_secs() + 1;
    let last = LAST.load(Ordering::Relaxed);
    (last == 0 || now >= last + 5)
        && LAST
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
}
