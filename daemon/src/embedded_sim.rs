//! The simulated IOC built into `--test-mode` (cargo feature `simulator`,
//! on by default so `cargo run -- 1 --test-mode` and the tests have it).
//! A site's build leaves it out (`--no-default-features`, as
//! `scripts/install.sh` builds `fws-daemon`): the production binary links
//! no simulator, and `--test-mode` then runs against `fws-sim` with
//! `--no-sim`. Everything the daemon does with the simulator goes through
//! the two types here, so no other module names the feature.

use ca::{PvServer, PvSpec, Write};
use station::{Prefixes, PvGroups};
use std::path::Path;

#[cfg(feature = "simulator")]
mod built_in {
    use super::*;
    use std::sync::Arc;

    /// The simulator's settings (`--sim-config`, or the defaults).
    pub struct Settings(sim::SimConfig);

    impl Settings {
        /// The settings in `path`, or the defaults.
        pub fn load(path: Option<&Path>) -> Result<Self, String> {
            match path {
                Some(path) => sim::SimConfig::load(path)
                    .map(Self)
                    .map_err(|e| e.to_string()),
                None => Ok(Self(sim::SimConfig::default())),
            }
        }
    }

    /// The simulator serving its PVs in the daemon's own server.
    pub struct Embedded(Arc<sim::SimIoc>);

    impl Embedded {
        /// The simulator of `prefixes`, with a unit for every PV of the
        /// groups.
        pub fn new(settings: Settings, prefixes: &Prefixes, groups: &(PvGroups, PvGroups)) -> Self {
            Self(Arc::new(sim::SimIoc::new(
                prefixes, &groups.0, &groups.1, settings.0,
            )))
        }

        /// Its PVs, for the server.
        pub fn specs(&self) -> Vec<PvSpec> {
            self.0.pv_specs()
        }

        /// Reacts to `write` if it is to one of its PVs; says whether it
        /// was.
        pub fn on_write(&self, write: &Write, server: &Arc<PvServer>) -> bool {
            if !self.0.owns(&write.name) {
                return false;
            }
            self.0.on_write(write, server);
            true
        }
    }
}

#[cfg(not(feature = "simulator"))]
mod built_in {
    use super::*;

    /// Never made: this build has no simulator.
    pub enum Settings {}

    impl Settings {
        /// Refused: this build has no simulator.
        pub fn load(_: Option<&Path>) -> Result<Self, String> {
            Err(
                "this fws-daemon was built without the simulator (cargo feature \
                 `simulator`): run fws-sim beside it and add --no-sim"
                    .into(),
            )
        }
    }

    /// Never made: this build has no simulator.
    pub enum Embedded {}

    impl Embedded {
        /// Unreachable: no `Settings` exist.
        pub fn new(settings: Settings, _: &Prefixes, _: &(PvGroups, PvGroups)) -> Self {
            match settings {}
        }

        /// Unreachable.
        pub fn specs(&self) -> Vec<PvSpec> {
            match *self {}
        }

        /// Unreachable.
        pub fn on_write(&self, _: &Write, _: &std::sync::Arc<PvServer>) -> bool {
            match *self {}
        }
    }
}

pub use built_in::{Embedded, Settings};

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "simulator")]
    #[test]
    fn the_built_in_simulator_serves_the_scanners_pvs() {
        let prefixes = Prefixes::new(
            planner::ScannerIndex::try_from(1).unwrap(),
            station::Naming::Test,
        )
        .unwrap();
        let groups = (
            PvGroups::reference_data()
                .unwrap()
                .with_prefixes(&prefixes)
                .unwrap(),
            PvGroups::reference_metadata()
                .unwrap()
                .with_prefixes(&prefixes)
                .unwrap(),
        );
        let sim = Embedded::new(Settings::load(None).unwrap(), &prefixes, &groups);
        let specs = sim.specs();
        assert!(specs.iter().any(|s| s.name == "Test:SCAN:RunHardScan"));
        assert!(Settings::load(Some(Path::new("/nonexistent/sim.yaml"))).is_err());
    }

    #[cfg(not(feature = "simulator"))]
    #[test]
    fn a_build_without_the_simulator_says_what_to_run_instead() {
        // `Settings` has no value here: the load can only refuse.
        let Err(said) = Settings::load(None);
        assert!(
            said.contains("fws-sim") && said.contains("--no-sim"),
            "{said}"
        );
    }
}
