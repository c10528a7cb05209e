//! What one step collects: values grouped like the reference's HDF5 step
//! groups (`idc`, `scan`, `struck`, ...), each with its unit, plus the
//! step's metadata attributes.

use std::collections::BTreeMap;

/// A PV's value as collected (the `ca` layer's value type).
pub use ca::Value as PvValue;

/// One recorded PV: its full name, value and engineering unit if known.
#[derive(Debug, Clone, PartialEq)]
pub struct PvRecord {
    /// Full PV name (colons included), the dataset name in the file.
    pub name: String,
    /// The value read.
    pub value: PvValue,
    /// `.EGU` of the PV, when it has one.
    pub egu: Option<String>,
}

/// Everything collected at one step.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepData {
    /// Group name -> records, in a stable order.
    pub groups: BTreeMap<String, Vec<PvRecord>>,
    /// Metadata PVs: full name -> value (attributes of the step group).
    pub metadata: BTreeMap<String, PvValue>,
    /// PVs that could not be read this step (left out of the file).
    pub missing: Vec<String>,
}

impl StepData {
    /// Adds a record to `group`.
    pub fn push(&mut self, group: &str, record: PvRecord) {
        self.groups
            .entry(group.to_string())
            .or_default()
            .push(record);
    }

    /// The record named `name` in `group`, if present.
    pub fn find(&self, group: &str, name: &str) -> Option<&PvRecord> {
        self.groups.get(group)?.iter().find(|r| r.name == name)
    }
}
