//! Where the daemon's own PVs live: its embedded Channel Access server, or
//! a site IOC (`--pv-host ioc`) that the daemon reaches as a pure client:
//! it monitors the operator's PVs (turned into the same write events the
//! embedded server produces) and writes its status and results, the latest
//! value of each PV.

use ca::{PvClient, PvServer, PvSpec, PvType, Value, Write, WriteEvent};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::{mpsc, Notify};
use tracing::{debug, info, warn};

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
    /// What waits to be written: the latest value of each PV.
    pending: Mutex<PendingWrites>,
    /// Wakes the publisher when a value starts waiting.
    wake: Notify,
    /// Set while writes fail, so a broken IOC is logged once, not per write.
    failing: AtomicBool,
}

/// The values waiting to be written to the IOC: one slot per PV, holding
/// its latest value. A newer value replaces the one waiting (an old value
/// is never sent after a newer one was set), and keeps its place: PVs go
/// out in the order they started waiting, so each one waiting is sent
/// within one pass over the others, however often they change. Bounded by
/// the number of PVs (values up to max_steps doubles each), whatever a
/// missing IOC holds back.
#[derive(Debug)]
struct PendingWrites {
    /// Most PVs waiting at once.
    bound: usize,
    /// Names in the order they started waiting.
    order: VecDeque<String>,
    /// The value each waiting name is to be written.
    latest: HashMap<String, Value>,
    /// A value was taken and its write has not returned yet.
    in_flight: bool,
}

impl PendingWrites {
    fn new(bound: usize) -> Self {
        Self {
            bound,
            order: VecDeque::new(),
            latest: HashMap::new(),
            in_flight: false,
        }
    }

    /// `value` is now what `name` is to be written; refused if `name` is
    /// not waiting yet and `bound` PVs are.
    fn push(&mut self, name: &str, value: Value) -> Result<(), String> {
        if let Some(waiting) = self.latest.get_mut(name) {
            *waiting = value;
            return Ok(());
        }
        if self.order.len() >= self.bound {
            return Err(format!(
                "{name}: {} PVs wait for the IOC already; not written",
                self.bound
            ));
        }
        self.order.push_back(name.to_string());
        self.latest.insert(name.to_string(), value);
        Ok(())
    }

    /// The PV waiting longest, with its latest value; in flight until
    /// [`PendingWrites::done`].
    fn take(&mut self) -> Option<(String, Value)> {
        while let Some(name) = self.order.pop_front() {
            if let Some(value) = self.latest.remove(&name) {
                self.in_flight = true;
                return Some((name, value));
            }
        }
        None
    }

    /// The write taken last has returned.
    fn done(&mut self) {
        self.in_flight = false;
    }

    /// Nothing waits and nothing is in flight.
    fn settled(&self) -> bool {
        self.order.is_empty() && !self.in_flight
    }
}

impl IocBridge {
    /// Starts writing to and monitoring `specs` on the IOC: accepted and
    /// refused operator values go to `events`, like the embedded server's.
    pub fn start(
        client: Arc<PvClient>,
        specs: &[PvSpec],
        events: mpsc::Sender<WriteEvent>,
    ) -> Arc<Self> {
        let kinds: HashMap<String, PvType> = specs
            .iter()
            .map(|s| (s.name.clone(), s.kind.clone()))
            .collect();
        let bridge = Arc::new(Self {
            client,
            pending: Mutex::new(PendingWrites::new(kinds.len())),
            kinds,
            mirror: Mutex::new(HashMap::new()),
            wake: Notify::new(),
            failing: AtomicBool::new(false),
        });
        tokio::spawn(Arc::clone(&bridge).publish());
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
        // One slot per PV of `kinds`: never full for a name found there.
        self.pending().push(name, value)?;
        self.wake.notify_one();
        Ok(())
    }

    fn pending(&self) -> MutexGuard<'_, PendingWrites> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes the waiting values, the PV waiting longest first (one
    /// server, one circuit: they arrive in this order).
    async fn publish(self: Arc<Self>) {
        loop {
            let next = self.pending().take();
            let Some((name, value)) = next else {
                // A value set since `take` left a permit: no wake is lost.
                self.wake.notified().await;
                continue;
            };
            let sent = match self.kinds.get(&name) {
                Some(kind) => self.client.put_nowait(&name, kind, &value).await,
                None => Ok(()),
            };
            self.pending().done();
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

    /// Waits (at most `limit`) until the latest value of every PV waiting
    /// was sent and the IOC has processed them: the last status must reach
    /// it before the process ends.
    pub async fn flush(&self, limit: Duration, probe: &str) {
        let deadline = tokio::time::Instant::now() + limit;
        while !self.pending().settled() && tokio::time::Instant::now() < deadline {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(pending: &mut PendingWrites) -> Vec<(String, Value)> {
        let mut sent = Vec::new();
        while let Some(write) = pending.take() {
            pending.done();
            sent.push(write);
        }
        sent
    }

    fn long(name: &str, n: i64) -> (String, Value) {
        (name.to_string(), Value::Long(n))
    }

    #[test]
    fn a_newer_value_replaces_the_waiting_one_and_keeps_its_place() {
        let mut pending = PendingWrites::new(10);
        for (name, n) in [("A", 1), ("B", 1), ("A", 2), ("C", 1), ("A", 3), ("B", 2)] {
            pending.push(name, Value::Long(n)).unwrap();
        }
        // Each PV once, with its latest value, in the order they started
        // waiting: no stale value is ever sent.
        assert_eq!(
            drain(&mut pending),
            [long("A", 3), long("B", 2), long("C", 1)]
        );
    }

    #[test]
    fn a_pv_sent_starts_waiting_again_at_the_back() {
        let mut pending = PendingWrites::new(10);
        pending.push("A", Value::Long(1)).unwrap();
        pending.push("B", Value::Long(1)).unwrap();
        assert_eq!(pending.take(), Some(long("A", 1)));
        pending.done();
        // A changes again while B waits: B goes first.
        pending.push("A", Value::Long(2)).unwrap();
        assert_eq!(drain(&mut pending), [long("B", 1), long("A", 2)]);
    }

    #[test]
    fn a_pv_changing_all_the_time_does_not_starve_the_others() {
        let mut pending = PendingWrites::new(10);
        let mut sent = Vec::new();
        for n in 0..30 {
            // Heartbeat changes before every send; each other PV once.
            pending.push("Heartbeat", Value::Long(n)).unwrap();
            if n < 5 {
                pending.push(&format!("P{n}"), Value::Long(n)).unwrap();
            }
            if let Some((name, _)) = pending.take() {
                pending.done();
                sent.push(name);
            }
        }
        for n in 0..5 {
            assert!(sent.contains(&format!("P{n}")), "P{n} never sent: {sent:?}");
        }
    }

    #[test]
    fn bounded_by_the_number_of_pvs_whatever_the_number_of_writes() {
        let mut pending = PendingWrites::new(3);
        for n in 0..20_000 {
            for name in ["A", "B", "C"] {
                pending
                    .push(name, Value::Doubles(vec![n as f64; 4]))
                    .unwrap();
            }
        }
        assert_eq!((pending.order.len(), pending.latest.len()), (3, 3));
        // A fourth PV while three wait: refused, and said so.
        let refused = pending.push("D", Value::Long(1)).unwrap_err();
        assert!(
            refused.contains("D:") && refused.contains("3 PVs"),
            "{refused}"
        );
        // A slot freed: it may wait.
        assert_eq!(pending.take().map(|(n, _)| n), Some("A".to_string()));
        pending.done();
        pending.push("D", Value::Long(1)).unwrap();
    }

    #[test]
    fn a_flush_waits_until_every_latest_value_was_written() {
        let mut pending = PendingWrites::new(4);
        assert!(pending.settled());
        pending.push("A", Value::Long(1)).unwrap();
        pending.push("B", Value::Long(1)).unwrap();
        pending.push("A", Value::Long(2)).unwrap();
        assert!(!pending.settled());
        assert_eq!(pending.take(), Some(long("A", 2)));
        assert_eq!(pending.take(), Some(long("B", 1)));
        // Both taken, the last still being written: a flush waits on.
        assert!(!pending.settled());
        pending.done();
        assert!(pending.settled());
        assert_eq!(pending.take(), None);
    }
}
