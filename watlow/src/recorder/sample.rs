//! One reading with its full provenance (watlowlib's `Sample`).

use crate::port::Protocol;
use crate::value::Value;

/// One (device, parameter, instance) reading.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The device's name (the manager's).
    pub device: String,
    /// Its bus address (Standard Bus 1..16, Modbus 1..247).
    pub address: u8,
    /// The protocol that carried it.
    pub protocol: Protocol,
    /// Canonical parameter name.
    pub parameter: &'static str,
    /// Watlow's parameter id.
    pub parameter_id: u32,
    /// Loop or channel.
    pub instance: u8,
    /// The value (`Unavailable` when the sensor failed).
    pub value: Value,
    /// Its unit, when the site asserted one (temperatures are °F on the
    /// wire unless told).
    pub unit: Option<String>,
    /// Monotonic midpoint of request and reply, in ns: the join key.
    pub t_mono_ns: u64,
    /// Wall-clock midpoint, ns since the Unix epoch.
    pub t_utc_ns: i64,
    /// Wall clock when the request went out, ns since the epoch.
    pub requested_at_ns: i64,
    /// Wall clock when the reply was decoded, ns since the epoch.
    pub received_at_ns: i64,
    /// Reply time in seconds.
    pub latency_s: f64,
    /// The reply's bytes on the wire (tabular sinks leave them out).
    pub raw: Vec<u8>,
}
