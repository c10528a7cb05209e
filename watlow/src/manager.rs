//! Controllers on serial ports: one task per port owns it (an actor), so
//! exchanges on a port never interleave and a tick's batch for a port is
//! one job (a write waits for it to end); ports run concurrently. The
//! manager is the recorder's `PollSource` and the daemon's way to write a
//! setpoint.

use crate::modbus::{ModbusClient, ModbusError, WordOrder, WordOrderSetting};
use crate::port::{open, PortSettings, Protocol};
use crate::recorder::{PollSource, Sample, SourceError};
use crate::registry::{Family, ParamSpec, Refusal};
use crate::stdbus::{StdBusClient, StdBusError};
use crate::value::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};
use tokio_serial::SerialStream;

/// One controller on a port.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceConfig {
    /// Its name in samples and commands.
    pub name: String,
    /// Its bus address.
    pub address: u8,
    /// Its family (Standard Bus devices are PMs).
    pub family: Family,
    /// Modbus float word order.
    pub word_order: WordOrderSetting,
}

/// One serial port and the controllers on it.
#[derive(Debug, Clone, PartialEq)]
pub struct PortConfig {
    /// The device path (or a link to it).
    pub path: PathBuf,
    /// Protocol, baud, parity.
    pub settings: PortSettings,
    /// Deadline of one exchange.
    pub timeout: Duration,
    /// Its controllers.
    pub devices: Vec<DeviceConfig>,
}

/// Why a command failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ManagerError {
    /// Refused before any I/O.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// No device of that name.
    #[error("no device {0:?}")]
    UnknownDevice(String),
    /// The device does not have the parameter (cached).
    #[error("{device} does not have {parameter}")]
    Unsupported {
        /// Device.
        device: String,
        /// Parameter.
        parameter: &'static str,
    },
    /// The exchange failed.
    #[error("{device}: {message}")]
    Device {
        /// Device.
        device: String,
        /// What happened.
        message: String,
    },
    /// The port is gone (reconnect).
    #[error("{0}")]
    Connection(String),
}

enum Job {
    Poll {
        parameters: Vec<&'static ParamSpec>,
        instances: Vec<u8>,
        reply: oneshot::Sender<Result<Vec<Sample>, SourceError>>,
    },
    Write {
        device: String,
        parameter: &'static ParamSpec,
        instance: u8,
        value: f64,
        reply: oneshot::Sender<Result<Value, ManagerError>>,
    },
    Reconnect {
        reply: oneshot::Sender<Result<(), SourceError>>,
    },
}

enum Client {
    StdBus(StdBusClient<SerialStream>),
    Modbus(ModbusClient),
}

/// A failed exchange, sorted.
enum Failure {
    Connection(String),
    Unsupported,
    Other(String),
}

impl From<StdBusError> for Failure {
    fn from(e: StdBusError) -> Self {
        match &e {
            StdBusError::Transport(m) => Self::Connection(m.clone()),
            StdBusError::Reply(r) if r.unsupported() => Self::Unsupported,
            _ => Self::Other(e.to_string()),
        }
    }
}

impl From<ModbusError> for Failure {
    fn from(e: ModbusError) -> Self {
        if e.is_connection() {
            Self::Connection(e.to_string())
        } else if e.unsupported() {
            Self::Unsupported
        } else {
            Self::Other(e.to_string())
        }
    }
}

/// The task that owns one port.
struct PortActor {
    config: PortConfig,
    client: Option<Client>,
    /// Detected word order per Modbus address.
    orders: HashMap<u8, WordOrder>,
    /// (device, parameter id, instance) the device said it lacks: asked no
    /// more this session.
    unsupported: HashSet<(String, u32, u8)>,
    /// Last value read of (device, parameter id, instance): a write of the
    /// same value is skipped (EEPROM wear).
    last: HashMap<(String, u32, u8), f64>,
    /// Why the port is closed, for the jobs that find it so.
    closed_because: String,
    /// When each (device, instance)'s Input Error was last read, and
    /// whether the sensor was failed then.
    sensor: HashMap<(String, u8), (tokio::time::Instant, bool)>,
}

/// Analog Input Value (4001).
const PROCESS_VALUE: u32 = 4001;
/// Input Error (4002) and its "none" code.
const INPUT_ERROR: u32 = 4002;
const INPUT_OK: i64 = 61;
/// What an open sensor reads (`45 1E 3C D4`, about 2531.8).
const OPEN_SENSOR_PV: u32 = 0x451E_3CD4;
/// How often a device's Input Error is read at most.
pub const SENSOR_CHECK: Duration = Duration::from_secs(1);

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

impl PortActor {
    async fn connect(&mut self) -> Result<(), SourceError> {
        self.client = None;
        let port = match open(&self.config.path, self.config.settings) {
            Ok(port) => port,
            Err(e) => {
                self.closed_because = format!("{}: {e}", self.config.path.display());
                return Err(SourceError::Connection(self.closed_because.clone()));
            }
        };
        self.client = Some(match self.config.settings.protocol {
            Protocol::StdBus => Client::StdBus(StdBusClient::new(port, self.config.timeout)),
            Protocol::ModbusRtu => {
                let first = self.config.devices.first().map_or(1, |d| d.address);
                let mut client = ModbusClient::attach(port, first, Family::Pm, self.config.timeout);
                for d in &self.config.devices {
                    client.select(d.address, d.family, WordOrder::LowHigh);
                    let order = client.detect_word_order(d.word_order).await;
                    self.orders.insert(d.address, order);
                }
                Client::Modbus(client)
            }
        });
        Ok(())
    }

    async fn exchange(
        &mut self,
        device: &DeviceConfig,
        spec: &'static ParamSpec,
        instance: u8,
        write: Option<f64>,
    ) -> Result<Value, Failure> {
        let order = self.orders.get(&device.address).copied();
        let client = self
            .client
            .as_mut()
            .ok_or_else(|| Failure::Connection("the port is closed".into()))?;
        match client {
            Client::StdBus(c) => match write {
                None => Ok(c.read(device.address, spec, instance).await?),
                Some(v) => Ok(c.write(device.address, spec, instance, v).await?),
            },
            Client::Modbus(c) => {
                c.select(
                    device.address,
                    device.family,
                    order.unwrap_or(WordOrder::LowHigh),
                );
                if let Some(v) = write {
                    c.write(spec, instance, v).await?;
                }
                // Modbus acknowledges no value: read it back.
                Ok(c.read(spec, instance).await?)
            }
        }
    }

    /// The process value as read, or `Unavailable` when the device's Input
    /// Error (4002) says the sensor failed (open, shorted, ...: anything
    /// but 61): a failed sensor reads about 2531.8, not a temperature.
    /// 4002 is read at most once every [`SENSOR_CHECK`] per device (a
    /// second exchange for every reading would halve the rate a line
    /// sustains), and at once when the reading is the open-sensor value.
    async fn sensor_checked(
        &mut self,
        device: &DeviceConfig,
        instance: u8,
        value: Value,
    ) -> Result<Value, Failure> {
        let key = (device.name.clone(), INPUT_ERROR, instance);
        let Some(spec) = crate::registry::PM.iter().find(|p| p.id == INPUT_ERROR) else {
            return Ok(value);
        };
        if self.unsupported.contains(&key) {
            return Ok(value);
        }
        let now = tokio::time::Instant::now();
        let sentinel = value.as_f64() == Some(f64::from(f32::from_bits(OPEN_SENSOR_PV)));
        let status = (device.name.clone(), instance);
        let failed = match self.sensor.get(&status) {
            Some((at, failed)) if now - *at < SENSOR_CHECK && !sentinel => *failed,
            _ => match self.exchange(device, spec, instance, None).await {
                Ok(Value::I64(code)) => {
                    let failed = code != INPUT_OK;
                    if failed {
                        tracing::warn!("{}: sensor failed (input error {code})", device.name);
                    }
                    self.sensor.insert(status, (now, failed));
                    failed
                }
                Ok(_) => false,
                Err(Failure::Unsupported) => {
                    self.unsupported.insert(key);
                    false
                }
                Err(other) => return Err(other),
            },
        };
        Ok(if failed { Value::Unavailable } else { value })
    }

    async fn poll(
        &mut self,
        parameters: &[&'static ParamSpec],
        instances: &[u8],
    ) -> Result<Vec<Sample>, SourceError> {
        let mut samples = Vec::new();
        for device in self.config.devices.clone() {
            for &spec in parameters {
                for &instance in instances {
                    let key = (device.name.clone(), spec.id, instance);
                    if self.unsupported.contains(&key) || instance > spec.instances {
                        continue;
                    }
                    let requested_at = now_ns();
                    let mono_before = mono_now_ns();
                    let began = tokio::time::Instant::now();
                    let result = self.exchange(&device, spec, instance, None).await;
                    let latency = began.elapsed();
                    let mono_after = mono_now_ns();
                    let received_at = now_ns();
                    let result = match result {
                        Ok(value) if spec.id == PROCESS_VALUE => {
                            self.sensor_checked(&device, instance, value).await
                        }
                        other => other,
                    };
                    match result {
                        Ok(value) => {
                            if let Some(v) = value.as_f64() {
                                self.last.insert(key, v);
                            }
                            samples.push(Sample {
                                device: device.name.clone(),
                                address: device.address,
                                protocol: self.config.settings.protocol,
                                parameter: spec.name,
                                parameter_id: spec.id,
                                instance,
                                value,
                                unit: None,
                                t_mono_ns: mono_before + (mono_after - mono_before) / 2,
                                t_utc_ns: requested_at + (received_at - requested_at) / 2,
                                requested_at_ns: requested_at,
                                received_at_ns: received_at,
                                latency_s: latency.as_secs_f64(),
                                raw: Vec::new(),
                            });
                        }
                        Err(Failure::Connection(m)) => {
                            self.client = None;
                            self.closed_because = m.clone();
                            return Err(SourceError::Connection(m));
                        }
                        Err(Failure::Unsupported) => {
                            tracing::warn!("{}: no {} (cached)", device.name, spec.name);
                            self.unsupported.insert(key);
                        }
                        Err(Failure::Other(m)) => {
                            tracing::warn!("{}: reading {}: {m}", device.name, spec.name);
                        }
                    }
                }
            }
        }
        Ok(samples)
    }

    async fn write(
        &mut self,
        name: &str,
        spec: &'static ParamSpec,
        instance: u8,
        value: f64,
    ) -> Result<Value, ManagerError> {
        let device = self
            .config
            .devices
            .iter()
            .find(|d| d.name == name)
            .cloned()
            .ok_or_else(|| ManagerError::UnknownDevice(name.to_string()))?;
        spec.check_write(instance, value)?;
        let key = (device.name.clone(), spec.id, instance);
        if self.unsupported.contains(&key) {
            return Err(ManagerError::Unsupported {
                device: device.name,
                parameter: spec.name,
            });
        }
        if self.last.get(&key) == Some(&value) {
            return Ok(Value::F64(value));
        }
        match self.exchange(&device, spec, instance, Some(value)).await {
            Ok(stored) => {
                if let Some(v) = stored.as_f64() {
                    self.last.insert(key, v);
                }
                Ok(stored)
            }
            Err(Failure::Connection(m)) => {
                self.client = None;
                Err(ManagerError::Connection(m))
            }
            Err(Failure::Unsupported) => {
                self.unsupported.insert(key);
                Err(ManagerError::Unsupported {
                    device: device.name,
                    parameter: spec.name,
                })
            }
            Err(Failure::Other(message)) => Err(ManagerError::Device {
                device: device.name,
                message,
            }),
        }
    }

    async fn run(mut self, mut jobs: mpsc::Receiver<Job>) {
        if let Err(e) = self.connect().await {
            tracing::debug!("{e}");
        }
        while let Some(job) = jobs.recv().await {
            match job {
                Job::Poll {
                    parameters,
                    instances,
                    reply,
                } => {
                    let result = if self.client.is_none() {
                        Err(SourceError::Connection(self.closed_because.clone()))
                    } else {
                        self.poll(&parameters, &instances).await
                    };
                    let _ = reply.send(result);
                }
                Job::Write {
                    device,
                    parameter,
                    instance,
                    value,
                    reply,
                } => {
                    let _ = reply.send(self.write(&device, parameter, instance, value).await);
                }
                Job::Reconnect { reply } => {
                    let result = match self.client {
                        Some(_) => Ok(()),
                        None => self.connect().await,
                    };
                    let _ = reply.send(result);
                }
            }
        }
    }
}

/// CLOCK_MONOTONIC now, in ns (the clock other processes can join on).
fn mono_now_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    (t.tv_sec as u64).saturating_mul(1_000_000_000) + t.tv_nsec as u64
}

/// The ports' actors, by path, and where each device is.
pub struct Manager {
    ports: BTreeMap<PathBuf, mpsc::Sender<Job>>,
    device_port: HashMap<String, PathBuf>,
    actors: Vec<tokio::task::JoinHandle<()>>,
}

impl Manager {
    /// Starts one actor per port (on the current runtime). Names must be
    /// unique and a port's devices speak its one protocol.
    pub fn start(ports: Vec<PortConfig>) -> Result<Self, ManagerError> {
        let mut manager = Self {
            ports: BTreeMap::new(),
            device_port: HashMap::new(),
            actors: Vec::new(),
        };
        for port in ports {
            for d in &port.devices {
                let max = match port.settings.protocol {
                    Protocol::StdBus => 16,
                    Protocol::ModbusRtu => 247,
                };
                if d.address == 0 || d.address > max {
                    return Err(Refusal::Address {
                        address: d.address,
                        max,
                    }
                    .into());
                }
                if manager
                    .device_port
                    .insert(d.name.clone(), port.path.clone())
                    .is_some()
                {
                    return Err(ManagerError::UnknownDevice(format!(
                        "{} named twice",
                        d.name
                    )));
                }
            }
            let (tx, rx) = mpsc::channel(16);
            let actor = PortActor {
                config: port.clone(),
                client: None,
                orders: HashMap::new(),
                unsupported: HashSet::new(),
                last: HashMap::new(),
                closed_because: "not opened yet".into(),
                sensor: HashMap::new(),
            };
            manager.actors.push(tokio::spawn(actor.run(rx)));
            manager.ports.insert(port.path, tx);
        }
        Ok(manager)
    }

    /// Ends every port's task and waits until each has closed its port.
    pub async fn close(mut self) {
        self.ports.clear();
        for actor in self.actors.drain(..) {
            let _ = actor.await;
        }
    }

    /// Writes `value` to `device`'s `parameter`: between poll batches,
    /// checked first, skipped when the device already holds it, never
    /// retried; the value the device says it holds.
    pub async fn write(
        &self,
        device: &str,
        parameter: &'static ParamSpec,
        instance: u8,
        value: f64,
    ) -> Result<Value, ManagerError> {
        let port = self
            .device_port
            .get(device)
            .and_then(|p| self.ports.get(p))
            .ok_or_else(|| ManagerError::UnknownDevice(device.to_string()))?;
        let (reply, answer) = oneshot::channel();
        port.send(Job::Write {
            device: device.to_string(),
            parameter,
            instance,
            value,
            reply,
        })
        .await
        .map_err(|_| ManagerError::Connection("the port's task ended".into()))?;
        answer
            .await
            .map_err(|_| ManagerError::Connection("the port's task ended".into()))?
    }
}

#[async_trait::async_trait]
impl PollSource for Manager {
    /// Every port's batch at once; a lost port aborts the tick.
    async fn poll_many(
        &mut self,
        parameters: &[&'static ParamSpec],
        instances: &[u8],
    ) -> Result<Vec<Sample>, SourceError> {
        let mut waiting = Vec::new();
        for port in self.ports.values() {
            let (reply, answer) = oneshot::channel();
            let job = Job::Poll {
                parameters: parameters.to_vec(),
                instances: instances.to_vec(),
                reply,
            };
            port.send(job)
                .await
                .map_err(|_| SourceError::Connection("the port's task ended".into()))?;
            waiting.push(answer);
        }
        let mut samples = Vec::new();
        for answer in waiting {
            let batch = answer
                .await
                .map_err(|_| SourceError::Connection("the port's task ended".into()))??;
            samples.extend(batch);
        }
        Ok(samples)
    }

    async fn reconnect(&mut self) -> Result<(), SourceError> {
        let mut result = Ok(());
        for port in self.ports.values() {
            let (reply, answer) = oneshot::channel();
            if port.send(Job::Reconnect { reply }).await.is_err() {
                return Err(SourceError::Connection("the port's task ended".into()));
            }
            if let Ok(Err(e)) = answer.await {
                result = Err(e);
            }
        }
        result
    }
}
