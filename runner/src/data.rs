//! What one step collects: values grouped like the reference's HDF5 step
//! groups (`idc`, `scan`, `struck`, ...), each with its unit, plus the
//! step's metadata attributes; and, beside the records, the structured
//! results callbacks derive from them ([`Analysis`]: a fit per channel, ...).

use std::collections::{BTreeMap, BTreeSet};

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

/// One quantity of an [`Analysis`]: its own name, the name of its record
/// in the file, its value and unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantity {
    /// The quantity's own name within its analysis (`"Sigma"`): what
    /// readers look it up by.
    pub name: String,
    /// The record's name in the file group (the dataset name; for the
    /// live fit, the full name of the PV it is published on).
    pub record: String,
    /// The value.
    pub value: Value,
    /// Its unit, when it has one.
    pub egu: Option<String>,
}

/// A structured result a callback derived from the step (one fit of one
/// channel, say): found by `source` and `subject`, its quantities by name,
/// never by parsing record names. Written to the file as records of `group`.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// What produced it (`"gauss-fit"`).
    pub source: String,
    /// What it is about (a channel, `"H-PDB"`; `"H-PDB-F"` for its
    /// filtered twin).
    pub subject: String,
    /// The file group its quantities are recorded in (`"scan"`).
    pub group: String,
    /// The quantities, in the order they are recorded.
    pub quantities: Vec<Quantity>,
}

impl Analysis {
    /// The quantity named `name`, if present.
    pub fn quantity(&self, name: &str) -> Option<&Quantity> {
        self.quantities.iter().find(|q| q.name == name)
    }
}

/// One entry of a file group as it is recorded: a [`PvRecord`] or an
/// analysis' [`Quantity`], borrowed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Entry<'a> {
    /// The record's name in the group (the dataset name).
    pub name: &'a str,
    /// The value.
    pub value: &'a Value,
    /// The unit, when known.
    pub egu: Option<&'a str>,
}

impl<'a> From<&'a PvRecord> for Entry<'a> {
    fn from(r: &'a PvRecord) -> Self {
        Self {
            name: &r.name,
            value: &r.value,
            egu: r.egu.as_deref(),
        }
    }
}

impl<'a> From<&'a Quantity> for Entry<'a> {
    fn from(q: &'a Quantity) -> Self {
        Self {
            name: &q.record,
            value: &q.value,
            egu: q.egu.as_deref(),
        }
    }
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
    /// Results derived from the step, in the order they were added.
    pub analysis: Vec<Analysis>,
}

impl StepData {
    /// Adds a record to `group`.
    pub fn push(&mut self, group: &str, record: PvRecord) {
        self.groups
            .entry(group.to_string())
            .or_default()
            .push(record);
    }

    /// The record named `name` in `group`, if present (records only: an
    /// analysis' quantities are found through [`StepData::analysis_of`]).
    pub fn find(&self, group: &str, name: &str) -> Option<&PvRecord> {
        self.groups.get(group)?.iter().find(|r| r.name == name)
    }

    /// Adds an analysis result.
    pub fn add_analysis(&mut self, analysis: Analysis) {
        self.analysis.push(analysis);
    }

    /// Every analysis by `source`, in the order added.
    pub fn analyses<'a>(&'a self, source: &'a str) -> impl Iterator<Item = &'a Analysis> + 'a {
        self.analysis.iter().filter(move |a| a.source == source)
    }

    /// The analysis by `source` about `subject`, if present.
    pub fn analysis_of(&self, source: &str, subject: &str) -> Option<&Analysis> {
        self.analysis
            .iter()
            .find(|a| a.source == source && a.subject == subject)
    }

    /// The names of the groups the step records, of records and analyses
    /// alike, sorted, each once.
    pub fn group_names(&self) -> Vec<&str> {
        let names: BTreeSet<&str> = self
            .groups
            .keys()
            .map(String::as_str)
            .chain(self.analysis.iter().map(|a| a.group.as_str()))
            .collect();
        names.into_iter().collect()
    }

    /// What `group` records: its records in order, then the quantities of
    /// each analysis recorded there, in the order the analyses were added.
    pub fn entries<'a>(&'a self, group: &'a str) -> impl Iterator<Item = Entry<'a>> + 'a {
        let records = self
            .groups
            .get(group)
            .into_iter()
            .flatten()
            .map(Entry::from);
        let derived = self
            .analysis
            .iter()
            .filter(move |a| a.group == group)
            .flat_map(|a| a.quantities.iter().map(Entry::from));
        records.chain(derived)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &str, value: f64) -> PvRecord {
        PvRecord {
            name: name.into(),
            value: Value::Double(value),
            egu: Some("mm".into()),
        }
    }

    fn fit(subject: &str, group: &str, sigma: f64) -> Analysis {
        Analysis {
            source: "fit".into(),
            subject: subject.into(),
            group: group.into(),
            quantities: vec![
                Quantity {
                    name: "Sigma".into(),
                    record: format!("P:{subject}-Sigma"),
                    value: Value::Double(sigma),
                    egu: Some("mm".into()),
                },
                Quantity {
                    name: "Ok".into(),
                    record: format!("P:{subject}-Ok"),
                    value: Value::Long(1),
                    egu: None,
                },
            ],
        }
    }

    #[test]
    fn analyses_are_found_by_source_subject_and_quantity_name() {
        let mut data = StepData::default();
        data.push("scan", record("P:Pos", 1.0));
        data.add_analysis(fit("A", "scan", 1.5));
        data.add_analysis(fit("B", "scan", 2.5));
        let b = data.analysis_of("fit", "B").unwrap();
        assert_eq!(b.quantity("Sigma").unwrap().value, Value::Double(2.5));
        assert!(b.quantity("P:B-Sigma").is_none(), "by its own name only");
        assert!(data.analysis_of("other", "B").is_none());
        assert!(data.analysis_of("fit", "C").is_none());
        assert_eq!(data.analyses("fit").count(), 2);
        // find stays about records.
        assert!(data.find("scan", "P:Pos").is_some());
        assert!(data.find("scan", "P:A-Sigma").is_none());
    }

    #[test]
    fn a_group_records_its_records_then_the_quantities_recorded_there() {
        let mut data = StepData::default();
        data.push("scan", record("P:Pos", 1.0));
        data.push("beam", record("P:Bcm", 2.0));
        data.add_analysis(fit("A", "scan", 1.5));
        data.add_analysis(fit("X", "derived", 3.0));
        data.add_analysis(fit("B", "scan", 2.5));
        assert_eq!(data.group_names(), ["beam", "derived", "scan"]);
        let scan: Vec<_> = data.entries("scan").map(|e| e.name).collect();
        assert_eq!(
            scan,
            ["P:Pos", "P:A-Sigma", "P:A-Ok", "P:B-Sigma", "P:B-Ok"]
        );
        let sigma = data.entries("derived").next().unwrap();
        assert_eq!((sigma.value, sigma.egu), (&Value::Double(3.0), Some("mm")));
        assert_eq!(data.entries("none").count(), 0);
    }
}
