//! A simulated FWS IOC for `--test-mode` and the tests: every `Test:*` PV
//! the daemon reads or writes, the RunHardScan handshake with a
//! configurable sweep time, and a Gaussian beam sampled at each sweep's
//! interaction position (so the beam profile can be recovered from the
//! daemon's file), plus fault knobs.
//!
//! The daemon in test mode serves the simulator's PVs from its own server
//! and hands it the writes to them; `fws-sim` serves them alone.
//!
//! [`watlow`] simulates Watlow controllers on pseudo-terminals.

mod config;
mod ioc;
mod model;
pub mod watlow;

pub use config::{BeamModel, Faults, SimConfig, SimConfigError};
pub use ioc::SimIoc;
pub use model::{profile, sweep, SweepTraces};

use ca::{PvServer, WriteEvent};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Feeds the writes of a server that serves only `ioc`'s PVs to it, until
/// the server goes away.
pub async fn drive(
    ioc: Arc<SimIoc>,
    server: Arc<PvServer>,
    mut writes: mpsc::Receiver<WriteEvent>,
) {
    while let Some(event) = writes.recv().await {
        if let WriteEvent::Accepted(write) = event {
            ioc.on_write(&write, &server);
        }
    }
}
