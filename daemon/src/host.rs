//! Where the daemon's own PVs live: its embedded Channel Access server, or
//! a site IOC (`--pv-host ioc`) that the daemon reaches as a pure client:
//! it monitors the operator's PVs (turned into the same write events the
//! embedded server produces) and writes its status and results in order.

use ca::{PvClient, PvServer, PvSpec, PvType, Value, Write, WriteEvent};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

/// Values waiting to be written to the IOC; beyond this, new ones are
/// dropped (and counted in the log) rather than holding memory while the
/// IOC is away.
const PUBLISH_QUEUE: usize = 20_000;
/// Who the cycle's messages name as the writer of an IOC-hosted PV.
pub const IOC_CLIENT: &str = "the IOC";

/// The daemon's PVs, wherever they are hosted.
#[derive(Clone)]
pub enum Bridge {
    /// Served by the daemon itself.
    Embedded(Arc<PvServer>),
    /// Hosted by a site IOC.
    Ioc(Arc<IocBridge>),
}

impl Bridge {
    /// The last known value of PV `name` (full name).
    pub fn get(&self, name: &str) -> Option<Value> {
        match self {
            Self::Embedded(server) => server.get(name),
            Self::Ioc(ioc) => ioc.get(name),
        }
    }

    /// Sets PV `name` (full name).
    pub fn set(&self, name: &str, value: Value) -> Result<(), String> {
        match self {
            Self::Embedded(server) => server.set(name, value).map_err(|e| e.to_string()),
            Self::Ioc(ioc) => ioc.set(name, value),
        }
    }
}

/// A site IOC's copy of the daemon's PVs.
pub struct IocBridge {
    client: Arc<PvClient>,
    kinds: HashMap<String, PvType>,
    /// What the daemon last saw or wrote, by full name.
    mirror: Mutex<HashMap<String, Value>>,
    queue: mpsc::Sender<(String, Value)>,
    /// Set while writes fail, so a broken IOC is logged once, not per write.
    failing: AtomicBool,
    /// Writes queued and not yet sent.
    pending: AtomicUsize,
    /// Set while the queue is full, so dropped writes are reported once.
    dropping: AtomicBool,
}

impl IocBridge {
    /// Starts writing to and monitoring `specs` on the IOC: accepted and
    /// refused operator values go to `events`, like the embedded server's.
    pub fn start(
        client: Arc<PvClient>,
        specs: &[PvSpec],
        events: mpsc::Sender<WriteEvent>,
    ) -> Arc<Self> {
        let (queue, pending) = mpsc::channel(PUBLISH_QUEUE);
        let bridge = Arc::new(Self {
            client,
            kinds: specs
                .iter()
                .map(|s| (s.name.clone(), s.kind.clone()))
                .collect(),
            mirror: Mutex::new(HashMap::new()),
            queue,
            failing: AtomicBool::new(false),
            pending: AtomicUsize::new(0),
            dropping: AtomicBool::new(false),
        });
        tokio::spawn(Arc::clone(&bridge).publish(pending));
        for spec in specs.iter().filter(|s| s.writable) {
            tokio::spawn(Arc::clone(&bridge).watch(spec.name.clone(), events.clone()));
        }
        bridge
    }

    fn get(&self, name: &str) -> Option<Value> {
        self.mirror.lock().ok()?.get(name).cloned()
    }

    fn remember(&self, name: &str, value: Value) {
        if let Ok(mut m) = self.mirror.lock() {
            m.insert(name.to_string(), value);
        }
    }

    fn set(&self, name: &str, value: Value) -> Result<(), String> {
        let kind = self
            .kinds
            .get(name)
            .ok_or_else(|| format!("{name} is not one of the daemon's PVs"))?;
        let value = kind.accept_value(&kind.fit(value))?;
        self.remember(name, value.clone());
        self.pending.fetch_add(1, Ordering::Relaxed);
        match self.queue.try_send((name.to_string(), value)) {
            Ok(()) => {
                self.dropping.store(false, Ordering::Relaxed);
                Ok(())
            }
            Err(_) => {
                self.pending.fetch_sub(1, Ordering::Relaxed);
                // Said once until the queue moves again, not once a beat.
                if self.dropping.swap(true, Ordering::Relaxed) {
                    Ok(())
                } else {
                    Err(format!(
                        "{name}: {PUBLISH_QUEUE} writes wait for the IOC; newer ones are dropped \
                         until it answers again"
                    ))
                }
            }
        }
    }

    /// Writes queued values in order (one server, one circuit: they arrive
    /// in this order).
    async fn publish(self: Arc<Self>, mut pending: mpsc::Receiver<(String, Value)>) {
        while let Some((name, value)) = pending.recv().await {
            let Some(kind) = self.kinds.get(&name) else {
                self.pending.fetch_sub(1, Ordering::Relaxed);
                continue;
            };
            let sent = self.client.put_nowait(&name, kind, &value).await;
            self.pending.fetch_sub(1, Ordering::Relaxed);
            match sent {
                Ok(()) => {
                    if self.failing.swap(false, Ordering::Relaxed) {
                        info!("writing to the IOC works again");
                    }
                }
                Err(e) => {
                    if !self.failing.swap(true, Ordering::Relaxed) {
                        warn!("writing to the IOC failed: {e}; further failures are not logged until a write succeeds");
                    }
                }
            }
        }
    }

    /// Follows one operator PV for good (a monitor resumes by itself when
    /// the IOC comes back).
    async fn watch(self: Arc<Self>, name: String, events: mpsc::Sender<WriteEvent>) {
        let Some(kind) = self.kinds.get(&name).cloned() else {
            return;
        };
        loop {
            let mut monitor = match self.client.monitor(&name).await {
                Ok(m) => m,
                Err(e) => {
                    debug!("{e}; trying again");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            while let Some(update) = monitor.next().await {
                let value = match update {
                    Ok(v) => v,
                    Err(e) => {
                        debug!("{e}");
                        continue;
                    }
                };
                let event = match kind.accept_input(&value) {
                    Ok(accepted) => {
                        self.remember(&name, accepted.clone());
                        WriteEvent::Accepted(Write {
                            name: name.clone(),
                            value: accepted,
                            client: IOC_CLIENT.into(),
                        })
                    }
                    Err(reason) => WriteEvent::Refused {
                        name: name.clone(),
                        sent: value.shown(),
                        reason,
                        client: IOC_CLIENT.into(),
                    },
                };
                if events.send(event).await.is_err() {
                    return;
                }
            }
            // The subscription ended: not in a tight loop.
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Waits (at most `limit`) until every queued write was sent and the
    /// IOC has processed them: the last status must reach it before the
    /// process ends.
    pub async fn flush(&self, limit: Duration, probe: &str) {
        let deadline = tokio::time::Instant::now() + limit;
        while self.pending.load(Ordering::Relaxed) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // A read on the same circuit is answered after the writes before it.
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let _ = self
            .client
            .get(probe, left.max(Duration::from_millis(100)))
            .await;
    }

    /// Reads `names` from the IOC now, so a sequence starts from the IOC's
    /// values whatever order its monitors were delivered in. Returns, per
    /// name, the accepted value or why it cannot be used.
    pub async fn read_now(&self, names: &[String]) -> Vec<(String, Result<Value, String>)> {
        let reads = names.iter().map(|name| async move {
            let result = match self.client.get(name, Duration::from_secs(2)).await {
                Ok(reading) => match self.kinds.get(name) {
                    Some(kind) => kind.accept_input(&reading.value).map_err(|reason| {
                        format!(
                            "the IOC's value {} was refused ({reason})",
                            reading.value.shown()
                        )
                    }),
                    None => Err("not one of the daemon's PVs".into()),
                },
                Err(e) => Err(format!("cannot be read from the IOC: {e}")),
            };
            if let Ok(v) = &result {
                self.remember(name, v.clone());
            }
            (name.clone(), result)
        });
        futures::future::join_all(reads).await
    }
}
