//! The EPICS back end of the step loop: the scanner IOC's hard scan
//! ([`EpicsHardScan`]: a [`runner::Positioner`] and [`runner::Trigger`])
//! and the PV-group collector ([`PvCollector`]: a [`runner::Detector`]),
//! over the `ca` layer, joined into one [`EpicsRig`]. The runner's values are converted here and
//! nowhere else ([`from_ca`], [`to_ca`]).

mod collector;
mod hard_scan;
mod rig;
mod value;

pub use collector::PvCollector;
pub use hard_scan::{EpicsHardScan, HardScanPvs, SCAN_STATUS_LABELS};
pub use rig::EpicsRig;
pub use value::{from_ca, to_ca};
