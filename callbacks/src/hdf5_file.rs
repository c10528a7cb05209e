//! The reference's HDF5 layout, written synchronously (the callback runs
//! it on a blocking thread): root attributes, one `scan_NNN` group per step
//! with metadata attributes and one subgroup per PV group, one dataset per
//! PV named by its full name, `egu` on each dataset that has a unit.

use crate::hdf5_fast::{scalar_dataset, Scalar};
use ca::Value;
use hdf5::types::VarLenUnicode;
use hdf5::{File, Location};
use runner::{PvRecord, StepData};
use std::path::{Path, PathBuf};

/// What the file's root records about the sequence.
#[derive(Debug, Clone, PartialEq)]
pub struct RootAttributes {
    /// Steps asked for.
    pub num_scans: u32,
    /// `[start, end]`, or `None` (written as the string "None").
    pub position_scan: Option<(f64, f64)>,
    /// Relative scan flag.
    pub relative_scan: bool,
    /// ISO-8601 UTC start time.
    pub start_time: String,
    /// Who started it (the daemon's user).
    pub username: String,
    /// Ours: the daemon's name and version.
    pub daemon_version: String,
    /// Ours: the planned positions.
    pub plan: Vec<f64>,
}

/// How the sequence ended, written at the end (ours, not the reference's).
#[derive(Debug, Clone, PartialEq)]
pub struct ExitAttributes {
    /// "Completed" or "Failed".
    pub exit_status: String,
    /// Why, for a failure; empty otherwise.
    pub exit_reason: String,
    /// Steps in the file.
    pub completed_steps: u64,
}

/// An HDF5 error, with the file it concerns.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct FileError {
    /// The file.
    pub path: PathBuf,
    /// What the HDF5 library said, and where.
    pub message: String,
}

/// An open output file.
pub struct ScanFile {
    file: File,
    path: PathBuf,
}

impl ScanFile {
    /// Creates `path`, or when a file of that name exists (two scans of the
    /// same range in the same minute) `<stem>_2.h5`, `<stem>_3.h5`, ...:
    /// never overwrites. Writes the root attributes, with `file_path` the
    /// path really created, flushed.
    pub fn create(path: &Path, root: &RootAttributes) -> Result<Self, FileError> {
        let (file, path) = create_new(path)?;
        let err = |what: &str, e: hdf5::Error| FileError {
            path: path.clone(),
            message: format!("{what}: {e}"),
        };
        let out = Self {
            file,
            path: path.clone(),
        };
        let loc: &Location = &out.file;
        let write = || -> hdf5::Result<()> {
            attr_value(loc, "num_scans", &Value::Long(i64::from(root.num_scans)))?;
            match root.position_scan {
                Some((start, end)) => {
                    attr_value(loc, "position_scan", &Value::Doubles(vec![start, end]))?
                }
                None => attr_value(loc, "position_scan", &Value::Text("None".into()))?,
            }
            loc.new_attr::<bool>()
                .shape(())
                .create("relative_scan")?
                .write_scalar(&root.relative_scan)?;
            attr_value(
                loc,
                "file_path",
                &Value::Text(path.to_string_lossy().into_owned()),
            )?;
            attr_value(loc, "start_time", &Value::Text(root.start_time.clone()))?;
            attr_value(loc, "username", &Value::Text(root.username.clone()))?;
            // The reference's value, kept so readers that check it still work.
            attr_value(loc, "source", &Value::Text("EpicsBridge".into()))?;
            attr_value(
                loc,
                "daemon_version",
                &Value::Text(root.daemon_version.clone()),
            )?;
            attr_value(loc, "plan", &Value::Doubles(root.plan.clone()))?;
            attr_value(loc, "exit_status", &Value::Text("Running".into()))?;
            Ok(())
        };
        write().map_err(|e| err("writing the root attributes", e))?;
        out.flush()?;
        Ok(out)
    }

    /// The file's path (the name asked for, or its free variant).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes step `index` (0-based) as group `scan_NNN` and flushes it to
    /// disk before returning.
    pub fn write_step(&self, index: usize, data: &StepData) -> Result<(), FileError> {
        let name = step_group_name(index);
        let err = |what: String, e: hdf5::Error| FileError {
            path: self.path.clone(),
            message: format!("{name}: {what}: {e}"),
        };
        let group = self
            .file
            .create_group(&name)
            .map_err(|e| err("creating the group".into(), e))?;
        for (pv, value) in &data.metadata {
            attr_value(&group, pv, value).map_err(|e| err(format!("attribute {pv}"), e))?;
        }
        for (group_name, records) in &data.groups {
            let sub = group
                .create_group(group_name)
                .map_err(|e| err(format!("group {group_name}"), e))?;
            for record in records {
                write_record(&sub, record)
                    .map_err(|e| err(format!("dataset {group_name}/{}", record.name), e))?;
            }
        }
        self.flush()
    }

    /// Records how the sequence ended and flushes.
    pub fn finish(&self, exit: &ExitAttributes) -> Result<(), FileError> {
        let loc: &Location = &self.file;
        let write = || -> hdf5::Result<()> {
            // Created as "Running" at the start: replace it.
            loc.delete_attr("exit_status")?;
            attr_value(loc, "exit_status", &Value::Text(exit.exit_status.clone()))?;
            attr_value(loc, "exit_reason", &Value::Text(exit.exit_reason.clone()))?;
            attr_value(
                loc,
                "completed_steps",
                &Value::Long(exit.completed_steps as i64),
            )?;
            Ok(())
        };
        write().map_err(|e| FileError {
            path: self.path.clone(),
            message: format!("writing the exit status: {e}"),
        })?;
        self.flush()
    }

    fn flush(&self) -> Result<(), FileError> {
        self.file.flush().map_err(|e| FileError {
            path: self.path.clone(),
            message: format!("flushing: {e}"),
        })
    }
}

/// Most `_N` variants tried before giving up.
const MAX_VARIANTS: u32 = 999;

/// Creates `path` exclusively, or its first free `_N` variant.
fn create_new(path: &Path) -> Result<(File, PathBuf), FileError> {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let extension = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    let mut candidate = path.to_path_buf();
    // The plain name, then _2 .. _{MAX_VARIANTS + 1}: MAX_VARIANTS variants.
    for n in 2..=MAX_VARIANTS + 2 {
        if !candidate.exists() {
            match cloexec::h5::create_excl(&candidate) {
                Ok(file) => return Ok((file, candidate)),
                // Created by someone else meanwhile: try the next name.
                Err(_) if candidate.exists() => {}
                Err(e) => {
                    return Err(FileError {
                        path: candidate,
                        message: format!("creating the file: {e}"),
                    })
                }
            }
        }
        candidate = path.with_file_name(format!("{stem}_{n}{extension}"));
    }
    Err(FileError {
        path: path.to_path_buf(),
        message: format!("it and {MAX_VARIANTS} numbered variants exist already"),
    })
}

/// `scan_001`, `scan_002`, ... (three digits at least, as the reference).
pub fn step_group_name(index: usize) -> String {
    format!("scan_{:03}", index + 1)
}

fn text(t: &str) -> hdf5::Result<VarLenUnicode> {
    // Strings with NULs cannot be stored as C strings; keep the text before.
    let clean = t.split('\0').next().unwrap_or("");
    clean
        .parse::<VarLenUnicode>()
        .map_err(|e| hdf5::Error::from(e.to_string()))
}

fn attr_value(loc: &Location, name: &str, value: &Value) -> hdf5::Result<()> {
    match value {
        Value::Double(v) => loc
            .new_attr::<f64>()
            .shape(())
            .create(name)?
            .write_scalar(v),
        Value::Long(v) => loc
            .new_attr::<i64>()
            .shape(())
            .create(name)?
            .write_scalar(v),
        Value::Text(t) => loc
            .new_attr::<VarLenUnicode>()
            .shape(())
            .create(name)?
            .write_scalar(&text(t)?),
        Value::Doubles(v) => loc
            .new_attr_builder()
            .with_data(v.as_slice())
            .create(name)
            .map(|_| ()),
        Value::Longs(v) => loc
            .new_attr_builder()
            .with_data(v.as_slice())
            .create(name)
            .map(|_| ()),
    }
}

/// One PV as a dataset named by its full name, with `egu` when known:
/// scalars through the fast path, text and arrays through hdf5-metno.
fn write_record(group: &hdf5::Group, record: &PvRecord) -> hdf5::Result<()> {
    let egu = record.egu.as_deref();
    let dataset = match &record.value {
        Value::Double(v) => return scalar_dataset(group, &record.name, Scalar::F64(*v), egu),
        Value::Long(v) => return scalar_dataset(group, &record.name, Scalar::I64(*v), egu),
        Value::Text(t) => {
            let d = group
                .new_dataset::<VarLenUnicode>()
                .shape(())
                .create(record.name.as_str())?;
            d.write_scalar(&text(t)?)?;
            d
        }
        Value::Doubles(v) => group
            .new_dataset_builder()
            .with_data(v.as_slice())
            .create(record.name.as_str())?,
        Value::Longs(v) => group
            .new_dataset_builder()
            .with_data(v.as_slice())
            .create(record.name.as_str())?,
    };
    if let Some(unit) = egu {
        attr_value(&dataset, "egu", &Value::Text(unit.to_string()))?;
    }
    Ok(())
}
