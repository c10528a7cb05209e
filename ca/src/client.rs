//! The client side: reading, writing and monitoring other servers' PVs
//! (the scanner IOC, the struck digitiser, the simulator).

use crate::convert::{text_of_chars, PvType, Value};
use epics_base_rs::server::snapshot::DbrClass;
use epics_base_rs::types::{EpicsValue, PvString};
use epics_ca_rs::client::{CaChannel, CaClient, MonitorHandle};
use std::collections::HashMap;
use std::time::Duration;
use thiserror::Error;
use tokio::sync::Mutex;

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

/// A Channel Access client that keeps one channel per PV name.
pub struct PvClient {
    client: CaClient,
    channels: Mutex<HashMap<String, CaChannel>>,
    connect_timeout: Duration,
}

impl PvClient {
    /// Starts a client (network settings from the `EPICS_CA_*` environment).
    /// A channel not connected within `connect_timeout` fails its operation.
    pub async fn new(connect_timeout: Duration) -> Result<Self, ClientError> {
        let client = CaClient::new()
            .await
            .map_err(|e| ClientError::Start(e.to_string()))?;
        // Without this the CA user would be `$USER` or "unknown".
        client.set_user_name(format!("fws-daemon({})", whoami()));
        Ok(Self {
            client,
            channels: Mutex::new(HashMap::new()),
            connect_timeout,
        })
    }

    async fn channel(&self, name: &str) -> Result<CaChannel, ClientError> {
        let channel = {
            let mut channels = self.channels.lock().await;
            channels
                .entry(name.to_string())
                .or_insert_with(|| self.client.create_channel(name))
                .clone()
        };
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
            run(channel).await.map_err(failed)
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
        })
    }
}

/// A running subscription; dropping it cancels it.
pub struct Monitor {
    name: String,
    handle: MonitorHandle,
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
