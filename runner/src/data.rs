//! What one step collects: values grouped like the reference's HDF5 step
//! groups (`idc`, `scan`, `struck`, ...), each with its unit, plus the
//! step's metadata attributes.

use std::collections::BTreeMap;

/// A recorded value: what a back end read (a PV, a controller's register,
/// a detector's counts) or a callback computed. The runner's own type: back
/// ends convert theirs at their border (the EPICS one in `epics::from_ca`).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A floating-point scalar.
    Double(f64),
    /// An integer, boolean (0/1) or enum index.
    Long(i64),
    /// A string.
    Text(String),
    /// A floating-point waveform.
    Doubles(Vec<f64>),
    /// An integer waveform.
    Longs(Vec<i64>),
}

/// The name the records and callbacks have used for [`Value`].
pub type PvValue = Value;

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
