//! Simulated Watlow controllers (issue 13): the EZ-ZONE PM's parameter
//! store and a first-order plant ([`controller`]), a Standard Bus line of
//! several controllers answering frames ([`stdbus`], sans I/O), a Modbus
//! RTU line of them ([`modbus`], sans I/O), and the pseudo-terminal a line
//! is served on ([`pty`]).

pub mod controller;
pub mod modbus;
pub mod pty;
pub mod stdbus;

pub use controller::{Controller, Plant};
pub use modbus::{ModbusDevice, ModbusFaults, ModbusLine};
pub use pty::{serve, Line, PtyLine, Served};
pub use stdbus::{LineFaults, StdBusLine};
