//! The client side: reading, writing and monitoring other servers' PVs
//! (the scanner IOC, the struck digitiser, the simulator).

use crate::convert::{text_of_chars, PvType, Value};
use epics_base_rs::server::snapshot::DbrClass;
use epics_base_rs::types::{EpicsValue, PvString};
use epics_ca_rs::client::{CaChannel, CaClient, MonitorHandle};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use thiserror::Error;

/// How many channels a [`PvClient`] keeps by default.
///
/// Above what one sequence of the daemon touches, so that a scan never
/// evicts a channel its next step reads (each eviction costs a new search
/// and connection): about 150 PVs in the default groups, up to 10 000 from
/// each of the two extra PV files an operator may name (DataFilePath,
/// MetadataFilePath), and the daemon's own PVs (a few hundred) when a site
/// IOC hosts them; 32 768 leaves more than half again of that. Below it
/// nothing is evicted; beyond it, the least recently used channel that no
/// operation or monitor holds is closed (a name that never connected stops
/// being searched for), so a daemon that reads new names for months stays
/// bounded. A channel costs about 2 kB (measured with 10 000 channels to
/// our own server: client and server together, debug build), so the bound
/// is some 70 MB at worst, here and on the IOCs.
pub const DEFAULT_CHANNEL_CAPACITY: usize = 32_768;

/// Why a client operation failed; the message names the PV.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ClientError {
    /// The CA client could not start.
    #[error("the Channel Access client could not start: {0}")]
    Start(String),
    /// No server answered for the PV in time.
    #[error("{pv}: not connected within {seconds:.1} s")]
    NotConnected {
        /// The PV.
        pv: String,
        /// How long we waited.
        seconds: f64,
    },
    /// The operation timed out or failed on the wire.
    #[error("{pv}: {operation} failed: {reason}")]
    Failed {
        /// The PV.
        pv: String,
        /// "get", "put", "monitor".
        operation: &'static str,
        /// What the CA layer said.
        reason: String,
    },
    /// The PV's value has a type we do not record.
    #[error("{pv}: unsupported value type {kind}")]
    Unsupported {
        /// The PV.
        pv: String,
        /// The wire type.
        kind: String,
    },
}

/// A value read with its engineering unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// The value.
    pub value: Value,
    /// The PV's unit (`.EGU`), when it has a non-empty one.
    pub units: Option<String>,
}

/// A Channel Access client that keeps one channel per PV name, at most
/// [`DEFAULT_CHANNEL_CAPACITY`] of them (or its own capacity) beyond those
/// in use.
pub struct PvClient {
    client: CaClient,
    channels: Mutex<ChannelCache<CaChannel>>,
    connect_timeout: Duration,
}

impl PvClient {
    /// Starts a client (network settings from the `EPICS_CA_*` environment).
    /// A channel not connected within `connect_timeout` fails its operation.
    pub async fn new(connect_timeout: Duration) -> Result<Self, ClientError> {
        Self::with_capacity(connect_timeout, DEFAULT_CHANNEL_CAPACITY).await
    }

    /// [`PvClient::new`], keeping at most `capacity` channels that are not
    /// in use (the least recently used one is closed beyond that).
    pub async fn with_capacity(
        connect_timeout: Duration,
        capacity: usize,
    ) -> Result<Self, ClientError> {
        let client = CaClient::new()
            .await
            .map_err(|e| ClientError::Start(e.to_string()))?;
        // Without this the CA user would be `$USER` or "unknown".
        client.set_user_name(format!("fws-daemon({})", whoami()));
        Ok(Self {
            client,
            channels: Mutex::new(ChannelCache::new(capacity)),
            connect_timeout,
        })
    }

    /// How many channels this client keeps open: all of them are in its
    /// cache (one in use is never evicted).
    pub fn cached_channels(&self) -> usize {
        self.channels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// `name`'s channel, connected; the `Arc` marks it in use (not evicted)
    /// while it is held.
    async fn channel(&self, name: &str) -> Result<Arc<CaChannel>, ClientError> {
        let channel = self
            .channels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert_with(name, || self.client.create_channel(name));
        channel
            .wait_connected(self.connect_timeout)
            .await
            .map_err(|_| ClientError::NotConnected {
                pv: name.to_string(),
                seconds: self.connect_timeout.as_secs_f64(),
            })?;
        Ok(channel)
    }

    /// Connects to every PV in `names` concurrently (so later operations
    /// do not pay a search each); returns those that did not connect.
    pub async fn connect_all(&self, names: &[String]) -> Vec<ClientError> {
        let results = futures::future::join_all(names.iter().map(|n| self.channel(n))).await;
        results.into_iter().filter_map(Result::err).collect()
    }

    /// Runs `operation` on `name`'s channel (connecting it first), all of it
    /// within `timeout`; failures name the PV and the operation.
    async fn within<T, F, Fut>(
        &self,
        name: &str,
        operation: &'static str,
        timeout: Duration,
        run: F,
    ) -> Result<T, ClientError>
    where
        F: FnOnce(CaChannel) -> Fut,
        Fut: std::future::Future<Output = Result<T, String>>,
    {
        let failed = |reason: String| ClientError::Failed {
            pv: name.to_string(),
            operation,
            reason,
        };
        let attempt = async {
            let channel = self.channel(name).await?;
            // Held (in use) until the operation ends.
            run(CaChannel::clone(&channel)).await.map_err(failed)
        };
        tokio::time::timeout(timeout, attempt).await.map_err(|_| {
            let waited = match operation {
                "put" => "not completed within",
                _ => "no answer within",
            };
            failed(format!("{waited} {:.1} s", timeout.as_secs_f64()))
        })?
    }

    /// Reads `name`'s value and unit within `timeout`.
    pub async fn get(&self, name: &str, timeout: Duration) -> Result<Reading, ClientError> {
        let snapshot = self
            .within(name, "get", timeout, |channel| async move {
                channel
                    .get_with_metadata(DbrClass::Ctrl)
                    .await
                    .map_err(|e| e.to_string())
            })
            .await?;
        let units = snapshot
            .units()
            .map(|u| u.as_str_lossy().trim().to_string())
            .filter(|u| !u.is_empty());
        Ok(Reading {
            value: value_from_wire(name, &snapshot.value)?,
            units,
        })
    }

    /// Writes `value` and waits for the server to complete the put (CA put
    /// with completion), at most `timeout`.
    pub async fn put_wait(
        &self,
        name: &str,
        value: &Value,
        timeout: Duration,
    ) -> Result<(), ClientError> {
        let wire = value_to_wire(value);
        self.within(name, "put", timeout, |channel| async move {
            channel
                .put_with_timeout(&wire, timeout)
                .await
                .map_err(|e| e.to_string())
        })
        .await
    }

    /// Writes `value` in `kind`'s wire form (a long text as a char
    /// waveform, an enum as DBR_ENUM) without waiting for the server to
    /// complete it; connecting waits at most the client's connect timeout.
    /// Writes to one server arrive in the order they were made.
    pub async fn put_nowait(
        &self,
        name: &str,
        kind: &PvType,
        value: &Value,
    ) -> Result<(), ClientError> {
        let wire = kind.to_wire(value).map_err(|reason| ClientError::Failed {
            pv: name.to_string(),
            operation: "put",
            reason,
        })?;
        let channel = self.channel(name).await?;
        channel
            .put_nowait(&wire)
            .await
            .map_err(|e| ClientError::Failed {
                pv: name.to_string(),
                operation: "put",
                reason: e.to_string(),
            })
    }

    /// Subscribes to `name`'s value changes; the first update is the
    /// current value.
    pub async fn monitor(&self, name: &str) -> Result<Monitor, ClientError> {
        let channel = self.channel(name).await?;
        let handle = channel.subscribe().await.map_err(|e| ClientError::Failed {
            pv: name.to_string(),
            operation: "monitor",
            reason: e.to_string(),
        })?;
        Ok(Monitor {
            name: name.to_string(),
            handle,
            _in_use: channel,
        })
    }
}

/// A running subscription; dropping it cancels it. While it lives, its
/// channel stays open and is not evicted from the client's cache.
pub struct Monitor {
    name: String,
    handle: MonitorHandle,
    _in_use: Arc<CaChannel>,
}

/// Channels by PV name, least recently used first out beyond `capacity`.
///
/// An entry whose `Arc` is held elsewhere (an operation in progress, a
/// monitor) is in use: it is never evicted, and counts as just used. So
/// the cache holds at most `capacity` entries plus those in use, and a
/// name in use always maps to the one channel it uses.
struct ChannelCache<T> {
    capacity: usize,
    entries: HashMap<Arc<str>, Cached<T>>,
    /// Names by their last use, oldest first.
    by_use: BTreeMap<u64, Arc<str>>,
    clock: u64,
}

struct Cached<T> {
    name: Arc<str>,
    channel: Arc<T>,
    used: u64,
}

impl<T> ChannelCache<T> {
    fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: HashMap::new(),
            by_use: BTreeMap::new(),
            clock: 0,
        }
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    /// `name`'s entry, made by `make` if there is none; marks it used and
    /// evicts beyond the capacity.
    fn get_or_insert_with(&mut self, name: &str, make: impl FnOnce() -> T) -> Arc<T> {
        let now = self.tick();
        if let Some(entry) = self.entries.get_mut(name) {
            self.by_use.remove(&entry.used);
            entry.used = now;
            self.by_use.insert(now, Arc::clone(&entry.name));
            return Arc::clone(&entry.channel);
        }
        let key: Arc<str> = Arc::from(name);
        let channel = Arc::new(make());
        self.entries.insert(
            Arc::clone(&key),
            Cached {
                name: Arc::clone(&key),
                channel: Arc::clone(&channel),
                used: now,
            },
        );
        self.by_use.insert(now, key);
        // The new entry is in use (returned): never its own victim.
        self.evict();
        channel
    }

    /// Drops the least recently used entries not in use until at most
    /// `capacity` remain; one look at each entry at most (if all are in
    /// use, the cache stays over until some are released).
    fn evict(&mut self) {
        let mut looks = self.entries.len();
        while self.entries.len() > self.capacity && looks > 0 {
            looks -= 1;
            let Some((_, name)) = self.by_use.pop_first() else {
                break;
            };
            let Some(entry) = self.entries.get(&name) else {
                continue;
            };
            if Arc::strong_count(&entry.channel) > 1 {
                let now = self.tick();
                if let Some(entry) = self.entries.get_mut(&name) {
                    entry.used = now;
                }
                self.by_use.insert(now, name);
            } else {
                self.entries.remove(&name);
            }
        }
    }
}

impl Monitor {
    /// The next value. A disconnection is reported as an error and the
    /// subscription goes on (it resumes when the server is back); `None`
    /// means it ended.
    pub async fn next(&mut self) -> Option<Result<Value, ClientError>> {
        let update = self.handle.recv().await?;
        Some(match update {
            Ok(snapshot) => value_from_wire(&self.name, &snapshot.value),
            Err(e) => Err(ClientError::Failed {
                pv: self.name.clone(),
                operation: "monitor",
                reason: e.to_string(),
            }),
        })
    }
}

/// The login name this process runs as (`$USER`, else `$LOGNAME`, else
/// "unknown"): the CA user name and the files' `username`.
pub fn whoami() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into())
}

/// Our value of any wire value a PV may hold.
pub(crate) fn value_from_wire(name: &str, value: &EpicsValue) -> Result<Value, ClientError> {
    let unsupported = || ClientError::Unsupported {
        pv: name.to_string(),
        kind: format!("{:?}", value.dbr_type()),
    };
    Ok(match value {
        EpicsValue::Double(v) => Value::Double(*v),
        EpicsValue::Float(v) => Value::Double(f64::from(*v)),
        EpicsValue::String(s) => Value::Text(s.as_str_lossy().into_owned()),
        EpicsValue::CharArray(a) | EpicsValue::UCharArray(a) => Value::Text(text_of_chars(a)),
        EpicsValue::DoubleArray(a) => Value::Doubles(a.to_vec()),
        EpicsValue::FloatArray(a) => Value::Doubles(a.iter().map(|&v| f64::from(v)).collect()),
        EpicsValue::LongArray(a) => Value::Longs(a.iter().map(|&v| i64::from(v)).collect()),
        EpicsValue::ShortArray(a) => Value::Longs(a.iter().map(|&v| i64::from(v)).collect()),
        other => match other.to_f64() {
            Some(v) if v.fract() == 0.0 => Value::Long(v as i64),
            _ => return Err(unsupported()),
        },
    })
}

/// The wire form of a value we write.
fn value_to_wire(value: &Value) -> EpicsValue {
    match value {
        Value::Double(v) => EpicsValue::Double(*v),
        Value::Long(v) => EpicsValue::Long(*v as i32),
        Value::Text(t) => EpicsValue::String(PvString::from(t.as_str())),
        Value::Doubles(v) => EpicsValue::DoubleArray(v.clone().into()),
        Value::Longs(v) => {
            EpicsValue::LongArray(v.iter().map(|&x| x as i32).collect::<Vec<_>>().into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cache of numbered stand-ins for channels; `made` counts creations.
    fn get(cache: &mut ChannelCache<String>, name: &str, made: &mut usize) -> Arc<String> {
        cache.get_or_insert_with(name, || {
            *made += 1;
            name.to_string()
        })
    }

    fn names(cache: &ChannelCache<String>) -> Vec<String> {
        let mut all: Vec<String> = cache.entries.keys().map(|k| k.to_string()).collect();
        all.sort();
        all
    }

    #[test]
    fn one_channel_per_name_reused_until_evicted() {
        let mut cache = ChannelCache::new(3);
        let mut made = 0;
        let a = get(&mut cache, "A", &mut made);
        let again = get(&mut cache, "A", &mut made);
        assert!(Arc::ptr_eq(&a, &again));
        assert_eq!((made, cache.len()), (1, 1));
    }

    #[test]
    fn the_least_recently_used_idle_channel_goes_first() {
        let mut cache = ChannelCache::new(3);
        let mut made = 0;
        for name in ["A", "B", "C"] {
            get(&mut cache, name, &mut made);
        }
        // A is used again: B is now the oldest.
        get(&mut cache, "A", &mut made);
        get(&mut cache, "D", &mut made);
        assert_eq!(names(&cache), ["A", "C", "D"]);
        get(&mut cache, "E", &mut made);
        assert_eq!(names(&cache), ["A", "D", "E"]);
        // B comes back as a new channel.
        get(&mut cache, "B", &mut made);
        assert_eq!(
            (made, names(&cache)),
            (6, vec!["B".into(), "D".into(), "E".into()])
        );
    }

    #[test]
    fn a_channel_in_use_is_never_evicted() {
        let mut cache = ChannelCache::new(2);
        let mut made = 0;
        // Held, as a monitor holds its channel.
        let held = get(&mut cache, "M", &mut made);
        for i in 0..100 {
            get(&mut cache, &format!("P{i}"), &mut made);
            assert!(cache.len() <= 2, "{} entries", cache.len());
            assert!(cache.entries.contains_key("M"));
        }
        // Still the one channel of its name.
        assert!(Arc::ptr_eq(&held, &get(&mut cache, "M", &mut made)));
        assert_eq!(made, 101);
    }

    #[test]
    fn over_capacity_while_all_are_in_use_then_back_within_it() {
        let mut cache = ChannelCache::new(2);
        let mut made = 0;
        let held: Vec<_> = (0..5)
            .map(|i| get(&mut cache, &format!("P{i}"), &mut made))
            .collect();
        // Every one in use: none could go.
        assert_eq!(cache.len(), 5);
        drop(held);
        get(&mut cache, "Q", &mut made);
        assert_eq!(cache.len(), 2);
        // Q (just used) and the newest of the released ones stay.
        assert_eq!(names(&cache), ["P4", "Q"]);
        assert_eq!(cache.by_use.len(), cache.entries.len());
    }
}
