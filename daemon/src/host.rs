//! Where the daemon's own PVs live: its embedded Channel Access server, or
//! a site IOC (`--pv-host ioc`) that the daemon reaches as a pure client:
//! it monitors the operator's PVs (turned into the same write events the
//! embedded server produces) and writes its status and results, the latest
//! value of each PV.

use ca::{PvClient, PvServer, PvSpec, PvType, Value, Write, WriteEvent};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
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
    /// What waits to be written (each PV's latest value when behind).
    pending: Mutex<PendingWrites>,
    /// Wakes the publisher when a value starts waiting.
    wake: Notify,
    /// Set while writes fail, so a broken IOC is logged once, not per write.
    failing: AtomicBool,
}

/// How long the oldest waiting value may wait before the IOC counts as
/// behind: then only each PV's latest value waits.
const COALESCE_AFTER: Duration = Duration::from_secs(1);

/// The values waiting to be written to the IOC, in the order they were
/// set. While the IOC takes them (the oldest waited less than `after`,
/// fewer wait than the daemon has PVs), every value goes out, in order: a
/// 1 ms Task Fail still shows Busy 1 then 0. Once it falls behind (an IOC
/// away, a channel not connected), only the latest value of each PV waits,
/// at the place of that latest write (so they still go out in the order
/// they were set): an older value is dropped, never replayed after a newer
/// one was set. At most one value per PV waits then, so the queue is
/// bounded by the number of PVs (values of up to max_steps doubles each),
/// however long the IOC is away.
#[derive(Debug)]
struct PendingWrites {
    /// The number of PVs: most values waiting at once.
    bound: usize,
    /// How long the oldest may wait before only latest values are kept.
    after: Duration,
    /// What waits, oldest first.
    queue: VecDeque<Waiting>,
    /// A value was taken and its write has not returned yet.
    in_flight: bool,
}

#[derive(Debug)]
struct Waiting {
    name: String,
    value: Value,
    since: Instant,
}

impl PendingWrites {
    fn new(bound: usize, after: Duration) -> Self {
        Self {
            bound,
            after,
            queue: VecDeque::new(),
            in_flight: false,
        }
    }

    /// `value` for `name`, set at `now`, waits behind the others; refused
    /// only if `bound` other PVs wait already (never for one of `bound`
    /// PVs).
    fn push(&mut self, name: &str, value: Value, now: Instant) -> Result<(), String> {
        let behind = self.queue.len() >= self.bound
            || self
                .queue
                .front()
                .is_some_and(|oldest| now.saturating_duration_since(oldest.since) >= self.after);
        if behind {
            // `value` supersedes what `name` waits with, and each other PV
            // keeps its latest value only.
            self.queue.retain(|w| w.name != name);
            let mut seen = HashSet::new();
            let mut latest_first: VecDeque<Waiting> = VecDeque::new();
            while let Some(w) = self.queue.pop_back() {
                if seen.insert(w.name.clone()) {
                    latest_first.push_front(w);
                }
            }
            self.queue = latest_first;
        }
        if self.queue.len() >= self.bound {
            return Err(format!(
                "{name}: {} PVs wait for the IOC already; not written",
                self.bound
            ));
        }
        self.queue.push_back(Waiting {
            name: name.to_string(),
            value,
            since: now,
        });
        Ok(())
    }

    /// The value waiting longest; in flight until [`PendingWrites::done`].
    fn take(&mut self) -> Option<(String, Value)> {
        let w = self.queue.pop_front()?;
        self.in_flight = true;
        Some((w.name, w.value))
    }

    /// The write taken last has returned.
    fn done(&mut self) {
        self.in_flight = false;
    }

    /// Nothing waits and nothing is in flight.
    fn settled(&self) -> bool {
        self.queue.is_empty() && !self.in_flight
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
            pending: Mutex::new(PendingWrites::new(kinds.len(), COALESCE_AFTER)),
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
        // At most one value per PV of `kinds` when behind: never refused
        // for a name found there.
        self.pending().push(name, value, Instant::now())?;
        self.wake.notify_one();
        Ok(())
    }

    fn pending(&self) -> MutexGuard<'_, PendingWrites> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes the waiting values, oldest first (one server, one circuit:
    /// they arrive in this order).
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

    /// Waits (at most `limit`) until every value waiting (at least the
    /// latest of each PV) was sent and the IOC has processed them: the last status must reach
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

    const AFTER: Duration = Duration::from_secs(1);

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

    fn push_all(pending: &mut PendingWrites, writes: &[(&str, i64)], at: Instant) {
        for (name, n) in writes {
            pending.push(name, Value::Long(*n), at).unwrap();
        }
    }

    #[test]
    fn while_the_ioc_keeps_up_every_value_goes_out_in_order() {
        let mut pending = PendingWrites::new(10, AFTER);
        let t = Instant::now();
        // A Task Fail within a millisecond: Busy must still show 1 then 0.
        push_all(
            &mut pending,
            &[("Busy", 1), ("TaskStatus", 2), ("Busy", 0), ("Trigger", 0)],
            t,
        );
        assert_eq!(
            drain(&mut pending),
            [
                long("Busy", 1),
                long("TaskStatus", 2),
                long("Busy", 0),
                long("Trigger", 0)
            ]
        );
    }

    #[test]
    fn once_behind_only_the_latest_value_of_each_pv_waits() {
        let mut pending = PendingWrites::new(10, AFTER);
        let t = Instant::now();
        push_all(&mut pending, &[("A", 1), ("B", 1), ("A", 2), ("C", 1)], t);
        // The oldest has waited too long (the IOC is away): the next value
        // coalesces what waits. A's 1 is superseded, never sent.
        let later = t + AFTER;
        push_all(&mut pending, &[("B", 2), ("A", 3), ("B", 3)], later);
        assert_eq!(pending.queue.len(), 3);
        // In the order of each PV's latest write.
        assert_eq!(
            drain(&mut pending),
            [long("C", 1), long("A", 3), long("B", 3)]
        );
    }

    #[test]
    fn a_stale_value_is_never_replayed_after_an_outage() {
        let mut pending = PendingWrites::new(5, AFTER);
        let t = Instant::now();
        // Heartbeat and a step counter for an hour while nothing is sent.
        for s in 0..3600 {
            let at = t + Duration::from_secs(s);
            push_all(
                &mut pending,
                &[("Heartbeat", s as i64 % 2), ("Step", s as i64)],
                at,
            );
        }
        assert_eq!(
            drain(&mut pending),
            [long("Heartbeat", 1), long("Step", 3599)]
        );
    }

    #[test]
    fn bounded_by_the_number_of_pvs_whatever_the_number_of_writes() {
        let mut pending = PendingWrites::new(3, AFTER);
        let t = Instant::now();
        // Many writes at once, none sent: as many wait as there are PVs.
        for n in 0..20_000 {
            for name in ["A", "B", "C"] {
                pending
                    .push(name, Value::Doubles(vec![f64::from(n); 4]), t)
                    .unwrap();
                assert!(pending.queue.len() <= 3);
            }
        }
        let last = Value::Doubles(vec![19_999.0; 4]);
        assert!(pending.queue.iter().all(|w| w.value == last));
        // A fourth PV while three wait: refused, and said so.
        let refused = pending.push("D", Value::Long(1), t).unwrap_err();
        assert!(
            refused.contains("D:") && refused.contains("3 PVs"),
            "{refused}"
        );
        // A value sent: it may wait.
        assert_eq!(pending.take().map(|(n, _)| n), Some("A".to_string()));
        pending.done();
        pending.push("D", Value::Long(1), t).unwrap();
    }

    #[test]
    fn a_flush_waits_until_every_latest_value_was_written() {
        let mut pending = PendingWrites::new(4, AFTER);
        let t = Instant::now();
        assert!(pending.settled());
        push_all(&mut pending, &[("A", 1), ("B", 1)], t);
        push_all(&mut pending, &[("A", 2)], t + AFTER);
        assert!(!pending.settled());
        assert_eq!(pending.take(), Some(long("B", 1)));
        assert_eq!(pending.take(), Some(long("A", 2)));
        // Both taken, the last still being written: a flush waits on.
        assert!(!pending.settled());
        pending.done();
        assert!(pending.settled());
        assert_eq!(pending.take(), None);
    }
}
