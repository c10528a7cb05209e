//! What a running daemon holds: its names, settings, PV server and client.

use crate::station::Timing;
use ca::{PvClient, PvServer, Value};
use callbacks::Publish;
use planner::{Prefixes, ScannerIndex};
use runner::{control_channel, ControlSender, PvGroups};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tracing::warn;

/// `--custom-callback`: what to run and how long each call may take.
#[derive(Debug, Clone)]
pub struct CustomSettings {
    /// The program and its arguments.
    pub command: callbacks::custom::CommandSpec,
    /// Per-call timeout.
    pub timeout: std::time::Duration,
}

/// Shared by the control cycle and the running sequence.
pub struct Context {
    /// The scanner.
    pub index: ScannerIndex,
    /// Its PV prefixes.
    pub prefixes: Prefixes,
    /// Every output must lie in here (canonical path).
    pub data_root: PathBuf,
    /// Most steps in one scan.
    pub max_steps: u32,
    /// Timeouts and delays.
    pub timing: Timing,
    /// Default data groups (prefixes filled in).
    pub data_groups: PvGroups,
    /// Default metadata groups (prefixes filled in).
    pub metadata_groups: PvGroups,
    /// The daemon's PV server.
    pub server: Arc<PvServer>,
    /// The client for the hardware PVs.
    pub client: Arc<PvClient>,
    /// Publishes to the daemon's PVs.
    pub publisher: Arc<dyn Publish>,
    /// The custom callback, if any.
    pub custom: Option<CustomSettings>,
    /// The operator's ScanControl, as the running sequence sees it.
    pub control: ControlSender,
    /// Inputs whose last write was refused, with the reason.
    refused: Mutex<BTreeMap<String, String>>,
}

impl Context {
    /// A context; see the fields.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        index: ScannerIndex,
        prefixes: Prefixes,
        data_root: PathBuf,
        max_steps: u32,
        timing: Timing,
        groups: (PvGroups, PvGroups),
        server: Arc<PvServer>,
        client: Arc<PvClient>,
    ) -> Self {
        let publisher: Arc<dyn Publish> = Arc::new(BridgePublisher {
            server: Arc::clone(&server),
            main: prefixes.main.clone(),
        });
        Self {
            index,
            prefixes,
            data_root,
            max_steps,
            timing,
            data_groups: groups.0,
            metadata_groups: groups.1,
            server,
            client,
            publisher,
            custom: None,
            control: control_channel().0,
            refused: Mutex::new(BTreeMap::new()),
        }
    }

    /// The current value of bridge PV `name` (unprefixed).
    pub fn input(&self, name: &str) -> Option<Value> {
        self.server.get(&format!("{}{name}", self.prefixes.main))
    }

    /// Sets bridge PV `name` (unprefixed).
    pub fn set(&self, name: &str, value: Value) {
        self.publisher.publish(name, value);
    }

    /// Remembers that the last write to input `name` was refused.
    pub fn input_refused(&self, name: &str, message: String) {
        if let Ok(mut r) = self.refused.lock() {
            r.insert(name.to_string(), message);
        }
    }

    /// A valid value arrived for input `name`.
    pub fn input_accepted(&self, name: &str) {
        if let Ok(mut r) = self.refused.lock() {
            r.remove(name);
        }
    }

    /// The inputs whose last write was refused, as messages.
    pub fn refused_inputs(&self) -> Vec<String> {
        self.refused
            .lock()
            .map(|r| r.values().cloned().collect())
            .unwrap_or_default()
    }
}

/// Publishes to the daemon's own PVs by unprefixed name.
struct BridgePublisher {
    server: Arc<PvServer>,
    main: String,
}

impl Publish for BridgePublisher {
    fn publish(&self, name: &str, value: Value) {
        if let Err(e) = self.server.set(&format!("{}{name}", self.main), value) {
            warn!("publishing {name}: {e}");
        }
    }
}
