//! What a running daemon holds: its names, settings, its PVs and client.

use crate::bridge::INPUTS;
use crate::cycle::machine::RefusedInputs;
use crate::host::Bridge;
use ca::{PvClient, Value};
use callbacks::Publish;
use planner::ScannerIndex;
use station::{Durability, Prefixes, PvGroups, Timing};
use std::sync::Arc;
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
    /// Every output must lie in here (canonical path, opened).
    pub data_root: Arc<dataroot::DataRoot>,
    /// The note of the file being written (see `journal`).
    pub journal: crate::journal::Journal,
    /// Most steps in one scan.
    pub max_steps: u32,
    /// Timeouts and delays.
    pub timing: Timing,
    /// When a step is on disk (the station's `durability`).
    pub durability: Durability,
    /// Default data groups (prefixes filled in).
    pub data_groups: PvGroups,
    /// Default metadata groups (prefixes filled in).
    pub metadata_groups: PvGroups,
    /// The daemon's own PVs (served, or hosted by a site IOC).
    pub bridge: Bridge,
    /// The client for the hardware PVs.
    pub client: Arc<PvClient>,
    /// Publishes to the daemon's PVs.
    pub publisher: Arc<dyn Publish>,
    /// The custom callback, if any.
    pub custom: Option<CustomSettings>,
}

impl Context {
    /// A context; see the fields.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        index: ScannerIndex,
        prefixes: Prefixes,
        data_root: Arc<dataroot::DataRoot>,
        max_steps: u32,
        timing: Timing,
        groups: (PvGroups, PvGroups),
        bridge: Bridge,
        client: Arc<PvClient>,
    ) -> Self {
        let publisher: Arc<dyn Publish> = Arc::new(BridgePublisher {
            bridge: bridge.clone(),
            main: prefixes.main.clone(),
        });
        let journal = crate::journal::Journal::new(data_root.path(), index.get());
        Self {
            index,
            prefixes,
            data_root,
            journal,
            max_steps,
            timing,
            durability: Durability::default(),
            data_groups: groups.0,
            metadata_groups: groups.1,
            bridge,
            client,
            publisher,
            custom: None,
        }
    }

    /// The current value of bridge PV `name` (unprefixed).
    pub fn input(&self, name: &str) -> Option<Value> {
        self.bridge.get(&format!("{}{name}", self.prefixes.main))
    }

    /// With a site IOC: reads the operator inputs from it now (its monitors
    /// may arrive in any order; a sequence must start from the IOC's values)
    /// and marks each in `refused` as usable or not.
    pub async fn refresh_inputs(&self, refused: &mut RefusedInputs) {
        let Bridge::Ioc(ioc) = &self.bridge else {
            return;
        };
        let main = &self.prefixes.main;
        let names: Vec<String> = INPUTS.iter().map(|n| format!("{main}{n}")).collect();
        for (name, result) in ioc.read_now(&names).await {
            let short = name.strip_prefix(main.as_str()).unwrap_or(&name);
            match result {
                Ok(_) => refused.accepted(short),
                Err(reason) => refused.refused(short, format!("{short}: {reason}")),
            }
        }
    }

    /// Sets bridge PV `name` (unprefixed).
    pub fn set(&self, name: &str, value: Value) {
        if let Err(e) = self
            .bridge
            .set(&format!("{}{name}", self.prefixes.main), value)
        {
            warn!("publishing {name}: {e}");
        }
    }
}

/// Publishes to the daemon's own PVs by unprefixed name.
struct BridgePublisher {
    bridge: Bridge,
    main: String,
}

impl Publish for BridgePublisher {
    fn publish(&self, name: &str, value: runner::Value) {
        if let Err(e) = self
            .bridge
            .set(&format!("{}{name}", self.main), epics::to_ca(value))
        {
            warn!("publishing {name}: {e}");
        }
    }
}
