//! Which PVs a step records: named groups of PV names (the HDF5 step
//! group's subgroups), read from the reference's YAML format.

use crate::Prefixes;
use thiserror::Error;

const REFERENCE_DATA: &str = include_str!("../pv_groups/scan_data.yaml");
const REFERENCE_METADATA: &str = include_str!("../pv_groups/scan_metadata.yaml");

/// A PV-group file could not be used; the text is for the operator.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct PvGroupError(pub String);

/// Ordered groups of PV names; a name appears at most once per group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PvGroups {
    groups: Vec<(String, Vec<String>)>,
}

impl PvGroups {
    /// Parses the reference's format: a mapping of group name to a list of
    /// PV names (or `{prefix}` templates), in file order.
    pub fn parse_yaml(text: &str) -> Result<Self, PvGroupError> {
        let value: serde_yaml::Value =
            serde_yaml::from_str(text).map_err(|e| PvGroupError(format!("not valid YAML: {e}")))?;
        let mapping = match value {
            serde_yaml::Value::Mapping(m) => m,
            serde_yaml::Value::Null => return Ok(Self::default()),
            _ => {
                return Err(PvGroupError(
                    "expected a mapping of group name to a list of PV names".into(),
                ))
            }
        };
        let mut groups = Self::default();
        for (key, names) in mapping {
            let group = match key.as_str() {
                Some(g) if valid_group_name(g) => g.to_string(),
                _ => {
                    return Err(PvGroupError(format!(
                        "group name {key:?} is not a plain name (letters, digits, '_', '-')"
                    )))
                }
            };
            let list = names.as_sequence().ok_or_else(|| {
                PvGroupError(format!("group '{group}': expected a list of PV names"))
            })?;
            let mut pvs = Vec::with_capacity(list.len());
            for name in list {
                match name.as_str() {
                    Some(n)
                        if !n.trim().is_empty()
                            && !n.contains('/')
                            && !n.chars().any(char::is_control) =>
                    {
                        pvs.push(n.trim().to_string())
                    }
                    _ => {
                        return Err(PvGroupError(format!(
                            "group '{group}': {name:?} is not a PV name"
                        )))
                    }
                }
            }
            groups.add(&group, pvs);
        }
        Ok(groups)
    }

    /// The reference's default scan-data groups (templates).
    pub fn reference_data() -> Result<Self, PvGroupError> {
        Self::parse_yaml(REFERENCE_DATA)
    }

    /// The reference's default scan-metadata groups (templates).
    pub fn reference_metadata() -> Result<Self, PvGroupError> {
        Self::parse_yaml(REFERENCE_METADATA)
    }

    /// Replaces `{scan}`, `{main}`, `{idc}`, `{struck}`, `{be}`, `{evr}` by
    /// the scanner's prefixes; any other `{...}` is an error.
    pub fn with_prefixes(&self, prefixes: &Prefixes) -> Result<Self, PvGroupError> {
        let table = [
            ("{scan}", &prefixes.scan),
            ("{main}", &prefixes.main),
            ("{idc}", &prefixes.idc),
            ("{struck}", &prefixes.struck),
            ("{be}", &prefixes.be),
            ("{evr}", &prefixes.evr),
        ];
        let mut out = Self::default();
        for (group, names) in &self.groups {
            let mut filled = Vec::with_capacity(names.len());
            for name in names {
                let mut n = name.clone();
                for (key, value) in table {
                    n = n.replace(key, value);
                }
                if n.contains('{') || n.contains('}') {
                    return Err(PvGroupError(format!(
                        "group '{group}': unknown placeholder in {name:?}"
                    )));
                }
                filled.push(n);
            }
            out.add(group, filled);
        }
        Ok(out)
    }

    /// Appends `names` to `group` (created at the end if new), keeping the
    /// first occurrence of each name.
    pub fn add(&mut self, group: &str, names: Vec<String>) {
        let index = match self.groups.iter().position(|(g, _)| g == group) {
            Some(i) => i,
            None => {
                self.groups.push((group.to_string(), Vec::new()));
                self.groups.len() - 1
            }
        };
        let list = &mut self.groups[index].1;
        // A set of what is there: linear in the names, whatever their
        // number (an operator's file may hold many).
        let mut seen: std::collections::HashSet<String> = list.iter().cloned().collect();
        for name in names {
            if seen.insert(name.clone()) {
                list.push(name);
            }
        }
    }

    /// Every group of `other` merged into this one.
    pub fn merge(&mut self, other: &PvGroups) {
        for (group, names) in &other.groups {
            self.add(group, names.clone());
        }
    }

    /// The groups in order.
    pub fn groups(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.groups.iter().map(|(g, n)| (g.as_str(), n.as_slice()))
    }

    /// Every PV name, group by group.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.groups
            .iter()
            .flat_map(|(_, n)| n.iter().map(String::as_str))
    }

    /// How many names in all.
    pub fn len(&self) -> usize {
        self.groups.iter().map(|(_, n)| n.len()).sum()
    }

    /// Whether there are no names.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// HDF5 group names become path components: keep them plain.
fn valid_group_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Naming;
    use planner::ScannerIndex;

    #[test]
    fn reference_groups_match_the_spec_counts() {
        let data = PvGroups::reference_data().unwrap();
        let counts: Vec<(&str, usize)> = data.groups().map(|(g, n)| (g, n.len())).collect();
        assert_eq!(
            counts,
            vec![
                ("idc", 33),
                ("scan", 3),
                ("evr", 12), // the spec says 14; the reference file has 12
                ("struck", 18),
                ("be", 2),
                ("misc", 16),
                ("beam", 33)
            ]
        );
        let meta = PvGroups::reference_metadata().unwrap();
        assert_eq!(meta.len(), 8);
    }

    #[test]
    fn prefixes_fill_templates() {
        let prefixes = Prefixes::new(ScannerIndex::try_from(1).unwrap(), Naming::Test).unwrap();
        let data = PvGroups::reference_data()
            .unwrap()
            .with_prefixes(&prefixes)
            .unwrap();
        let names: Vec<&str> = data.names().collect();
        assert!(names.contains(&"Test:SCAN:InterpolatedPosCh1"));
        assert!(names.contains(&"Test:STRUCK:H-PDB-TRC2-ArrayData"));
        assert!(names.contains(&"HEBT-010LWU:PBI-BCM-001:FlatTopCurrentR"));
        assert!(names.iter().all(|n| !n.contains('{')));
    }

    #[test]
    fn bad_files_are_refused_with_a_reason() {
        for (text, says) in [
            ("[1, 2]", "mapping"),
            ("a: b", "list"),
            ("a: [1]", "not a PV name"),
            ("a: [\"X\\nERROR forged\"]", "not a PV name"),
            ("'x/y': [A]", "plain name"),
            ("a: [", "YAML"),
        ] {
            let err = PvGroups::parse_yaml(text).unwrap_err();
            assert!(err.0.contains(says), "{text}: {err}");
        }
        let bad = PvGroups::parse_yaml("a: ['{nope}X']").unwrap();
        let prefixes = Prefixes::new(ScannerIndex::try_from(1).unwrap(), Naming::Test).unwrap();
        assert!(bad.with_prefixes(&prefixes).is_err());
    }

    #[test]
    fn merge_keeps_order_and_drops_duplicates() {
        let mut a = PvGroups::parse_yaml("g: [A, B]").unwrap();
        let b = PvGroups::parse_yaml("g: [B, C]\nh: [D]").unwrap();
        a.merge(&b);
        let all: Vec<&str> = a.names().collect();
        assert_eq!(all, vec!["A", "B", "C", "D"]);
    }

    /// Issue 11, A7: 200 000 names, each twice (the old list search took
    /// 37 s for this; the set takes milliseconds), duplicates dropped.
    #[test]
    fn many_names_merge_in_order_without_duplicates() {
        let names: Vec<String> = (0..200_000).map(|i| format!("X:PV{i}")).collect();
        let mut many = PvGroups::default();
        many.add("g", names.clone());
        many.add("g", names.iter().rev().cloned().collect());
        assert_eq!(many.len(), 200_000);
        assert!(many.names().eq(names.iter().map(String::as_str)));
    }
}
