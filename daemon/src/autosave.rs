//! Operator inputs survive a restart: each accepted input write is saved to
//! a state file under the data root (written to a temporary file and
//! renamed, so a crash leaves the old or the new file, never half of one),
//! and restored at start, as EPICS autosave does.

use ca::Value;
use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The state file of one scanner.
pub struct Autosave {
    path: PathBuf,
    values: BTreeMap<String, Value>,
}

impl Autosave {
    /// `<data_root>/.fws-daemon/autosave-NN.json`.
    pub fn path_for(data_root: &Path, index: u8) -> PathBuf {
        data_root
            .join(".fws-daemon")
            .join(format!("autosave-{index:02}.json"))
    }

    /// Loads the saved values (none if the file does not exist). A file that
    /// cannot be read is reported and ignored: defaults are used.
    pub fn load(path: PathBuf) -> (Self, Option<String>) {
        let mut values = BTreeMap::new();
        let problem = match std::fs::read_to_string(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => Some(format!("{}: {e}", path.display())),
            Ok(text) => match serde_json::from_str::<Map<String, Json>>(&text) {
                Err(e) => Some(format!("{}: {e}", path.display())),
                Ok(map) => {
                    for (name, v) in map {
                        let value = match v {
                            Json::Number(n) if n.is_i64() => n.as_i64().map(Value::Long),
                            Json::Number(n) => n.as_f64().map(Value::Double),
                            Json::String(s) => Some(Value::Text(s)),
                            _ => None,
                        };
                        if let Some(value) = value {
                            values.insert(name, value);
                        }
                    }
                    None
                }
            },
        };
        (Self { path, values }, problem)
    }

    /// The saved value of input `name` (unprefixed).
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }

    /// Records `value` for `name` and rewrites the file.
    pub fn save(&mut self, name: &str, value: Value) -> Result<(), String> {
        self.values.insert(name.to_string(), value);
        let map: Map<String, Json> = self
            .values
            .iter()
            .filter_map(|(k, v)| {
                let j = match v {
                    Value::Long(n) => Json::from(*n),
                    Value::Double(x) => serde_json::Number::from_f64(*x).map(Json::Number)?,
                    Value::Text(t) => Json::from(t.clone()),
                    _ => return None,
                };
                Some((k.clone(), j))
            })
            .collect();
        let text = serde_json::to_string_pretty(&map).map_err(|e| e.to_string())?;
        let fail = |e: std::io::Error| format!("autosave {}: {e}", self.path.display());
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        let tmp = self.path.with_extension("json.tmp");
        std::fs::write(&tmp, text).map_err(fail)?;
        std::fs::rename(&tmp, &self.path).map_err(fail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_a_broken_file_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = Autosave::path_for(dir.path(), 3);
        let (mut a, problem) = Autosave::load(path.clone());
        assert!(problem.is_none());
        a.save("NumScans", Value::Long(7)).unwrap();
        a.save("ScanStart", Value::Double(-2.5)).unwrap();
        a.save("OutputPath", Value::Text("run1".into())).unwrap();
        let (b, _) = Autosave::load(path.clone());
        assert_eq!(b.get("NumScans"), Some(&Value::Long(7)));
        assert_eq!(b.get("ScanStart"), Some(&Value::Double(-2.5)));
        assert_eq!(b.get("OutputPath"), Some(&Value::Text("run1".into())));
        std::fs::write(&path, "{broken").unwrap();
        let (c, problem) = Autosave::load(path);
        assert!(problem.is_some());
        assert!(c.get("NumScans").is_none());
    }
}
