//! What a site configures for fws-daemon, in one place: the scanner's PV
//! prefixes and BPM names ([`Prefixes`]), the detector channels
//! ([`CHANNELS`]), the PV groups a step records ([`PvGroups`]) and the
//! station YAML ([`Station`]: data root, prefix overrides, PV-group files,
//! timing). No I/O but [`Station::load`]; the pure planner knows none of
//! it.

mod channels;
mod config;
mod prefixes;
mod pv_groups;

pub use channels::{trace_pv, CHANNELS, TRACES};
pub use config::{secs, Durability, PrefixOverrides, PvGroupFiles, Station, Timing};
pub use prefixes::{Naming, Prefixes, UnknownScanner};
pub use pv_groups::{PvGroupError, PvGroups};
