//! The one place that speaks to `epics-ca-rs`: everything else in the
//! workspace uses these types, so the pinned crate can be swapped or
//! upgraded here alone.
//!
//! A [`PvServer`] serves a fixed set of typed PVs ([`PvSpec`]). Every
//! writable PV gets a write hook that converts whatever the client sent
//! (C `caput` sends strings) into the PV's native type, checks its range,
//! stores it and forwards it as a [`Write`]; anything else is refused with
//! ECA_PUTFAIL and the value stays as it was.

//!
//! A [`PvClient`] reads, writes (with completion) and monitors PVs served
//! elsewhere.

mod client;
mod convert;
pub mod fence;
mod server;
mod shutdown;

pub use client::{whoami, ClientError, Monitor, PvClient, Reading};
pub use convert::{PvType, Value, CA_STRING_LEN};
pub use server::{PvServer, PvSpec, ServeError, Write, WriteEvent};
pub use shutdown::{own_shutdown, shutdown_signal, LIBRARY_GRACE_S};
