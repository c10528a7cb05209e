//! Simulated Watlow controllers (issue 13): the EZ-ZONE PM's parameter
//! store and a first-order plant ([`controller`]), a Standard Bus line of
//! several controllers answering frames ([`stdbus`], sans I/O), and the
//! pseudo-terminal it is served on ([`pty`]).

pub mod controller;
pub mod pty;
pub mod stdbus;

pub use controller::{Controller, Plant};
pub use pty::{serve_stdbus, PtyLine};
pub use stdbus::{LineFaults, StdBusLine};
