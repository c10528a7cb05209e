//! Modbus RTU: the word order of 32-bit values ([`words`], pure) and the
//! client over tokio-modbus ([`client`]), which frames, checks CRCs and
//! decodes exceptions; this crate adds Watlow's registers, the word-order
//! detection, timeouts, a read retry and no write retry.

pub mod client;
pub mod words;

pub use client::{ModbusClient, ModbusError};
pub use words::{WordOrder, WordOrderSetting};
