//! The reference's HDF5 layout, written synchronously (the callback runs
//! it on a blocking thread): root attributes, one `scan_NNN` group per step
//! with metadata attributes and one subgroup per PV group, one dataset per
//! PV named by its full name, `egu` on each dataset that has a unit.

use crate::hdf5_fast::{scalar_dataset, Scalar};
use hdf5::types::VarLenUnicode;
use hdf5::{File, Location};
use runner::Value;
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

/// A failure of the file, for the operator: what was being done and what
/// the operating system said (or, without an errno, HDF5's top-level
/// message, never its internals); HDF5's whole error text is kept in
/// `detail` for the debug log.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{path}: {message}", path = path.display())]
pub struct FileError {
    /// The file.
    pub path: PathBuf,
    /// What failed and why, for the operator.
    pub message: String,
    /// HDF5's own error text (pointers, internal states): for developers.
    pub detail: String,
}

impl FileError {
    /// A failure told as `message`, with nothing more for the debug log.
    pub fn new(path: &Path, message: impl Into<String>) -> Self {
        Self {
            path: path.to_path_buf(),
            message: message.into(),
            detail: String::new(),
        }
    }

    /// `what` failed with HDF5 error `e`.
    fn hdf5(path: &Path, what: &str, e: &hdf5::Error) -> Self {
        let detail = e.to_string();
        let message = match os_error(&detail) {
            Some(os) => format!("{what}: {os}"),
            None => format!("{what}: {}", plain(&detail)),
        };
        Self {
            path: path.to_path_buf(),
            message,
            detail,
        }
    }

    /// `what` failed with the operating system's error `e`.
    fn os(path: &Path, what: &str, e: &std::io::Error) -> Self {
        Self::new(path, format!("{what}: {e}"))
    }
}

/// The operating system's error inside HDF5's text (its sec2 driver writes
/// "errno = 28, error message = ..."), as Rust shows it: "No space left on
/// device (os error 28)".
fn os_error(detail: &str) -> Option<std::io::Error> {
    let at = detail.find("errno = ")? + "errno = ".len();
    let digits: String = detail[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let errno: i32 = digits.parse().ok()?;
    (errno > 0).then(|| std::io::Error::from_raw_os_error(errno))
}

/// HDF5's first line without addresses and internal bookkeeping, cut short.
fn plain(detail: &str) -> String {
    let first = detail.lines().next().unwrap_or(detail);
    let words: Vec<&str> = first
        .split_whitespace()
        .filter(|w| {
            !w.trim_matches(|c: char| !c.is_ascii_alphanumeric())
                .starts_with("0x")
        })
        .collect();
    let text = words.join(" ");
    if text.chars().count() > 160 {
        format!("{}…", text.chars().take(160).collect::<String>())
    } else {
        text
    }
}

/// An open output file.
pub struct ScanFile {
    file: File,
    path: PathBuf,
}

impl ScanFile {
    /// Creates `path` (in a folder this process may use as it is: tests,
    /// tools), or its first free `_N` variant; see [`ScanFile::create_in`].
    pub fn create(path: &Path, root: &RootAttributes) -> Result<Self, FileError> {
        let parent = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let folder = dataroot::DataRoot::open(parent)
            .map_err(|e| FileError::os(parent, "opening the folder", &e))?
            .folder(Path::new(""), false)
            .map_err(|e| FileError::new(parent, e.to_string()))?;
        Self::create_in(&folder, &name, root)
    }

    /// Creates `name` in `folder`, or when a file of that name exists (two
    /// scans of the same range in the same minute) `<stem>_2.h5`,
    /// `<stem>_3.h5`, ...: never overwrites, never follows a link. Any other
    /// failure (no space, read-only) is reported as the operating system
    /// said it, and leaves no empty file behind. Writes the root
    /// attributes, with `file_path` the path really created, flushed.
    pub fn create_in(
        folder: &dataroot::Folder,
        name: &str,
        root: &RootAttributes,
    ) -> Result<Self, FileError> {
        let (candidate, created) = reserve_name(folder, name)?;
        let path = folder.path().join(&candidate);
        // Ours, empty, held open: HDF5 writes it from the start.
        let begun = cloexec::h5::create_trunc(folder.through_descriptor(&candidate))
            .map_err(|e| FileError::hdf5(&path, "creating the file", &e))
            .and_then(|file| {
                let out = Self {
                    file,
                    path: path.clone(),
                };
                out.begin(root)
                    .map_err(|e| FileError::hdf5(&path, "writing the root attributes", &e))?;
                out.flush()?;
                Ok(out)
            });
        if begun.is_err() {
            // Not a usable file (HDF5 refused it, or the disk filled after
            // the first bytes): never left behind, never someone else's
            // removed. The HDF5 handle is closed by now.
            if let Err(removing) = folder.remove_if(&candidate, &created) {
                tracing::warn!("removing the unusable {}: {removing}", path.display());
            }
        }
        begun
    }

    /// The root attributes, `exit_status` Running.
    fn begin(&self, root: &RootAttributes) -> hdf5::Result<()> {
        let loc: &Location = &self.file;
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
            &Value::Text(self.path.to_string_lossy().into_owned()),
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
        attr_value(
            loc,
            "exit_status",
            &Value::Text(runner::ExitStatus::Running.label().into()),
        )
    }

    /// Opens an existing file to record its ending (a file a daemon left
    /// open).
    pub fn open_existing(path: &Path) -> Result<Self, FileError> {
        let file = cloexec::h5::open_rw(path)
            .map_err(|e| FileError::hdf5(path, "opening the file", &e))?;
        Ok(Self {
            file,
            path: path.to_path_buf(),
        })
    }

    /// The file's `exit_status` ("Running" until it is closed), if any.
    pub fn exit_status(&self) -> Option<String> {
        let value: VarLenUnicode = self.file.attr("exit_status").ok()?.read_scalar().ok()?;
        Some(value.as_str().to_string())
    }

    /// The steps the file holds whole: its `completed_steps`, written with
    /// each step, else (a file of the reference's) its step groups.
    pub fn completed_steps(&self) -> u64 {
        match self
            .file
            .attr("completed_steps")
            .and_then(|a| a.read_scalar::<i64>())
        {
            Ok(n) => u64::try_from(n).unwrap_or(0),
            Err(_) => self
                .file
                .member_names()
                .map(|m| m.iter().filter(|n| n.starts_with("scan_")).count() as u64)
                .unwrap_or(0),
        }
    }

    /// The file's path (the name asked for, or its free variant).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes step `index` (0-based) as group `scan_NNN` and flushes it to
    /// disk before returning.
    pub fn write_step(&self, index: usize, data: &StepData) -> Result<(), FileError> {
        let name = step_group_name(index);
        let err = |what: String, e: hdf5::Error| {
            FileError::hdf5(
                &self.path,
                &format!("writing step {} ({what})", index + 1),
                &e,
            )
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
        // In the same flush as the step: a file left open by a daemon that
        // died says itself how many steps it holds whole.
        replace_attr(
            &self.file,
            "completed_steps",
            &Value::Long(index as i64 + 1),
        )
        .map_err(|e| err("completed_steps".into(), e))?;
        self.flush()
    }

    /// Records how the sequence ended and flushes.
    pub fn finish(&self, exit: &ExitAttributes) -> Result<(), FileError> {
        let loc: &Location = &self.file;
        let write = || -> hdf5::Result<()> {
            // Created as "Running" at the start: replace it.
            replace_attr(loc, "exit_status", &Value::Text(exit.exit_status.clone()))?;
            replace_attr(loc, "exit_reason", &Value::Text(exit.exit_reason.clone()))?;
            replace_attr(
                loc,
                "completed_steps",
                &Value::Long(exit.completed_steps as i64),
            )?;
            Ok(())
        };
        write().map_err(|e| FileError::hdf5(&self.path, "recording the exit status", &e))?;
        self.flush()
    }

    fn flush(&self) -> Result<(), FileError> {
        self.file
            .flush()
            .map_err(|e| FileError::hdf5(&self.path, "flushing to disk", &e))
    }
}

/// Most `_N` variants tried before giving up.
const MAX_VARIANTS: u32 = 999;

/// Creates `name` exclusively in `folder` (empty), or its first free `_N`
/// variant: the name taken and the file, held.
fn reserve_name(
    folder: &dataroot::Folder,
    name: &str,
) -> Result<(String, dataroot::Created), FileError> {
    let wanted = Path::new(name);
    let stem = wanted
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let extension = wanted
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    let mut candidate = name.to_string();
    // The plain name, then _2 .. _{MAX_VARIANTS + 1}: MAX_VARIANTS variants.
    for n in 2..=MAX_VARIANTS + 2 {
        match folder.create_new(&candidate) {
            Ok(created) => return Ok((candidate, created)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(FileError::os(
                    &folder.path().join(&candidate),
                    "creating the file",
                    &e,
                ))
            }
        }
        candidate = format!("{stem}_{n}{extension}");
    }
    Err(FileError::new(
        &folder.path().join(name),
        format!("it and {MAX_VARIANTS} numbered variants exist already"),
    ))
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

/// Sets attribute `name`, replacing it when it exists.
fn replace_attr(loc: &Location, name: &str, value: &Value) -> hdf5::Result<()> {
    if loc.attr(name).is_ok() {
        loc.delete_attr(name)?;
    }
    attr_value(loc, name, value)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 11, A8: what sec2 writes on a full disk, and what the operator
    /// is told of it.
    #[test]
    fn the_operating_systems_error_is_told_and_hdf5s_internals_are_not() {
        let detail = "H5Fflush(): unable to flush file: file write failed: time = Tue Dec  1 \
            10:00:00 2026, filename = '/data/x.h5', file descriptor = 12, errno = 28, error \
            message = 'No space left on device', buf = 0x55d0c3a1b2c0, total write size = 4096";
        let e = hdf5::Error::from(detail);
        let reported = FileError::hdf5(Path::new("/data/x.h5"), "writing step 3", &e);
        assert_eq!(
            reported.message,
            "writing step 3: No space left on device (os error 28)"
        );
        assert_eq!(reported.detail, detail);
        let other = hdf5::Error::from(
            "H5Dcreate2(): unable to create dataset at 0x7f00aa, slist already enabled?",
        );
        let reported = FileError::hdf5(Path::new("/x.h5"), "writing step 1", &other);
        assert!(!reported.message.contains("0x"), "{}", reported.message);
        assert!(reported
            .message
            .starts_with("writing step 1: H5Dcreate2(): unable to create dataset"));
    }
}
