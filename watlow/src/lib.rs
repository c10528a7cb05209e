//! Watlow EZ-ZONE temperature controllers, driven directly over RS-485.
//!
//! The wire protocols are pure codecs here (bytes in, values out, no I/O):
//! [`stdbus`] is Watlow Standard Bus (a BACnet MS/TP frame around Watlow's
//! attribute service). Every frame of the captured traffic in
//! `shared/specs/watlow_controllers.md` section 2.5 is a golden test
//! (`tests/stdbus_golden.rs`). [`registry`] is the parameter table, data
//! compiled in from `registry/*.csv`. [`modbus`] reads and writes those
//! parameters over Modbus RTU through tokio-modbus; [`port`] opens the
//! serial port either client runs on. [`recorder`] polls at an absolute
//! cadence into a bounded queue; [`manager`] runs one task per port and
//! is the recorder's source; [`sinks`] write what it records (CSV, JSON
//! lines, SQLite, HDF5).

pub mod manager;
pub mod modbus;
pub mod port;
pub mod recorder;
pub mod registry;
pub mod sinks;
pub mod stdbus;
mod value;

pub use value::Value;
