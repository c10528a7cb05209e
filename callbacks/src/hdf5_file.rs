//! The reference's HDF5 layout, written synchronously (the callback runs
//! it on a blocking thread): root attributes, one `scan_NNN` group per step
//! with metadata attributes and one subgroup per PV group, one dataset per
//! PV named by its full name, `egu` on each dataset that has a unit; the
//! step's analysis results (the live fit) as datasets of their group, named
//! by their record names, with their units, after the group's PVs.

use crate::hdf5_fast::{scalar_dataset, Scalar};
use hdf5::types::VarLenUnicode;
use hdf5::{File, Location};
use runner::Value;
use runner::{Entry, StepData};
use std::path::{Path, PathBuf};

/// What [`ScanFile::publish_leftover`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leftover {
    /// Nothing to do.
    Absent,
    /// The part file is the file now.
    Published,
    /// The part file does not read as a scan file (no step was whole): left
    /// where it is, at this path.
    Kept(PathBuf),
}

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
    /// Until its first step is whole (or the sequence ends), the file is
    /// built under a hidden part name; see [`ScanFile::create_in`].
    unpublished: std::sync::Mutex<Option<Unpublished>>,
}

/// A file still under its part name.
struct Unpublished {
    folder: dataroot::Folder,
    part: String,
    name: String,
    /// Held so the part stays this file while it is named.
    _created: dataroot::Created,
}

/// The hidden name a file is built under before it is published as `name`.
pub fn part_name(name: &str) -> String {
    format!(".{name}.part")
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
    /// said it, and leaves no file behind. Writes the root attributes, with
    /// `file_path` the path the file will have, flushed.
    ///
    /// The file is built as `.<name>.part` and takes its name when its first
    /// step is whole ([`ScanFile::write_step`]) or the sequence ends
    /// ([`ScanFile::finish`]): a process killed before that leaves no
    /// half-made file under a scan's name. Creating the file and adding the
    /// first step are the two moments where HDF5 would write a pointer
    /// before what it points to; every later step is added safely.
    pub fn create_in(
        folder: &dataroot::Folder,
        name: &str,
        root: &RootAttributes,
    ) -> Result<Self, FileError> {
        let os = |candidate: &str, e: &std::io::Error| {
            FileError::os(&folder.path().join(candidate), "creating the file", e)
        };
        for candidate in name_variants(name) {
            if folder.exists(&candidate).map_err(|e| os(&candidate, &e))? {
                continue;
            }
            let part = part_name(&candidate);
            let created = match folder.create_new(&part) {
                Ok(created) => created,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    // Left by a process killed while creating this name.
                    folder.remove(&part).map_err(|e| os(&candidate, &e))?;
                    folder.create_new(&part).map_err(|e| os(&candidate, &e))?
                }
                Err(e) => return Err(os(&candidate, &e)),
            };
            let path = folder.path().join(&candidate);
            let begun = root_layout(root.num_scans)
                .and_then(|fcpl| {
                    cloexec::h5::create_trunc_with(folder.through_descriptor(&part), &fcpl)
                })
                .map_err(|e| FileError::hdf5(&path, "creating the file", &e))
                .and_then(|file| {
                    let out = Self {
                        file,
                        path: path.clone(),
                        unpublished: Default::default(),
                    };
                    out.begin(root)
                        .map_err(|e| FileError::hdf5(&path, "writing the root attributes", &e))?;
                    out.flush()?;
                    Ok(out)
                })
                .and_then(|out| {
                    let folder = folder.try_clone().map_err(|e| os(&candidate, &e))?;
                    Ok((out, folder))
                });
            match begun {
                Ok((out, folder)) => {
                    *out.pending() = Some(Unpublished {
                        folder,
                        part,
                        name: candidate,
                        _created: created,
                    });
                    return Ok(out);
                }
                Err(e) => {
                    // Not a usable file (HDF5 refused it, or the disk
                    // filled after the first bytes): never left behind,
                    // never someone else's removed. The HDF5 handle is
                    // closed by now.
                    if let Err(removing) = folder.remove_if(&part, &created) {
                        tracing::warn!("removing the unusable {}: {removing}", path.display());
                    }
                    return Err(e);
                }
            }
        }
        Err(FileError::new(
            &folder.path().join(name),
            format!("it and {MAX_VARIANTS} numbered variants exist already"),
        ))
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Option<Unpublished>> {
        self.unpublished.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Gives a file still under its part name its own name (nothing to do
    /// after the first time).
    fn publish(&self) -> Result<(), FileError> {
        let mut pending = self.pending();
        let Some(file) = pending.as_ref() else {
            return Ok(());
        };
        match file.folder.rename_new(&file.part, &file.name) {
            Ok(()) => {
                *pending = None;
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(FileError::new(
                &self.path,
                format!(
                    "the name was taken while the first step was written (another writer \
                     in this folder?); the file is kept as {}",
                    file.part
                ),
            )),
            Err(e) => Err(FileError::os(&self.path, "naming the file", &e)),
        }
    }

    /// At start, for a file a killed daemon left under its part name: the
    /// part renamed to `path` when it reads as a scan file (it holds the
    /// root attributes and perhaps the first step), else left as it is
    /// (killed while creating the file or adding its first step: it holds no
    /// whole step). Says which; `Absent` when `path` exists or no part does.
    pub fn publish_leftover(path: &Path) -> Result<Leftover, FileError> {
        let Some((parent, name)) = path
            .parent()
            .zip(path.file_name().map(|n| n.to_string_lossy().into_owned()))
        else {
            return Ok(Leftover::Absent);
        };
        let os = |e: &std::io::Error| FileError::os(path, "publishing the part file", e);
        let folder = dataroot::DataRoot::open(parent)
            .map_err(|e| os(&e))?
            .folder(Path::new(""), false)
            .map_err(|e| FileError::new(parent, e.to_string()))?;
        let part = part_name(&name);
        if folder.exists(&name).map_err(|e| os(&e))? || !folder.exists(&part).map_err(|e| os(&e))? {
            return Ok(Leftover::Absent);
        }
        let readable = cloexec::h5::open_read(folder.through_descriptor(&part))
            .and_then(|f| f.member_names().map(|_| ()))
            .is_ok();
        if !readable {
            return Ok(Leftover::Kept(folder.path().join(part)));
        }
        folder.rename_new(&part, &name).map_err(|e| os(&e))?;
        Ok(Leftover::Published)
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
        attr_value(loc, "plan", &plan_value(&root.plan))?;
        attr_value(
            loc,
            "exit_status",
            &Value::Text(runner::ExitStatus::Running.label().into()),
        )?;
        // Here from the start, so each step rewrites it in place (a new
        // attribute could move the root's header).
        attr_value(loc, "completed_steps", &Value::Long(0))
    }

    /// Opens an existing file to record its ending (a file a daemon left
    /// open).
    pub fn open_existing(path: &Path) -> Result<Self, FileError> {
        let file = cloexec::h5::open_rw(path)
            .map_err(|e| FileError::hdf5(path, "opening the file", &e))?;
        Ok(Self {
            file,
            path: path.to_path_buf(),
            unpublished: Default::default(),
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
    ///
    /// In three flushes, so that a process killed at any instant leaves a
    /// file that reads whole: the step is built in a group no link reaches
    /// yet and flushed (a kill now leaves unreachable bytes); then linked
    /// as `scan_NNN`, which rewrites only the root's symbol table, sized at
    /// creation for the whole sequence (see `root_layout`); then
    /// `completed_steps` is rewritten in place. One flush for all of it
    /// would let HDF5 write the root's new link before the objects it
    /// points to, and a kill between the two leaves a root that cannot be
    /// listed (`callbacks/tests/killed_writer.rs` kills at every write).
    pub fn write_step(&self, index: usize, data: &StepData) -> Result<(), FileError> {
        let name = step_group_name(index);
        let err = |what: String, e: hdf5::Error| {
            FileError::hdf5(
                &self.path,
                &format!("writing step {} ({what})", index + 1),
                &e,
            )
        };
        let group = unlinked_group(&self.file).map_err(|e| err("creating the group".into(), e))?;
        for (pv, value) in &data.metadata {
            attr_value(&group, pv, value).map_err(|e| err(format!("attribute {pv}"), e))?;
        }
        for group_name in data.group_names() {
            let sub = group
                .create_group(group_name)
                .map_err(|e| err(format!("group {group_name}"), e))?;
            for entry in data.entries(group_name) {
                write_record(&sub, entry)
                    .map_err(|e| err(format!("dataset {group_name}/{}", entry.name), e))?;
            }
        }
        self.flush()?;
        link(&group, &self.file, &name).map_err(|e| err("linking the group".into(), e))?;
        self.flush()?;
        set_long(&self.file, "completed_steps", index as i64 + 1)
            .map_err(|e| err("completed_steps".into(), e))?;
        self.flush()?;
        self.publish()
    }

    /// Records how the sequence ended and flushes.
    pub fn finish(&self, exit: &ExitAttributes) -> Result<(), FileError> {
        let loc: &Location = &self.file;
        let write = || -> hdf5::Result<()> {
            // Created as "Running" at the start: replace it.
            replace_attr(loc, "exit_status", &Value::Text(exit.exit_status.clone()))?;
            replace_attr(loc, "exit_reason", &Value::Text(exit.exit_reason.clone()))?;
            set_long(loc, "completed_steps", exit.completed_steps as i64)?;
            Ok(())
        };
        let recorded = write()
            .map_err(|e| FileError::hdf5(&self.path, "recording the exit status", &e))
            .and_then(|()| self.flush());
        // A file without steps takes its name now, its ending recorded or
        // not (the journal records it later then).
        self.publish().and(recorded)
    }

    fn flush(&self) -> Result<(), FileError> {
        self.file
            .flush()
            .map_err(|e| FileError::hdf5(&self.path, "flushing to disk", &e))
    }
}

impl Drop for ScanFile {
    /// A file dropped before its sequence ended (a failure on the way)
    /// still takes its name: what it holds is whole.
    fn drop(&mut self) {
        if let Err(e) = self.publish() {
            tracing::warn!("{e}");
        }
    }
}

/// Most `_N` variants tried before giving up.
const MAX_VARIANTS: u32 = 999;

/// `name`, then `<stem>_2<ext>` .. `<stem>_{MAX_VARIANTS + 1}<ext>`.
fn name_variants(name: &str) -> impl Iterator<Item = String> + '_ {
    let wanted = Path::new(name);
    let stem = wanted
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let extension = wanted
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    std::iter::once(name.to_string())
        .chain((2..=MAX_VARIANTS + 1).map(move |n| format!("{stem}_{n}{extension}")))
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

/// Most positions the `plan` attribute holds as numbers: an attribute lives
/// in one object-header message, of less than 64 KiB.
const MAX_PLAN_POSITIONS: usize = 8_000;

/// The `plan` attribute: the positions, or for a plan too long for one
/// attribute the exact `linspace(first, last, n)` it is (every plan is one,
/// to the last bit, relative plans shifted already).
fn plan_value(plan: &[f64]) -> Value {
    match plan {
        [first, .., last] if plan.len() > MAX_PLAN_POSITIONS => {
            Value::Text(format!("linspace({first:?}, {last:?}, {})", plan.len()))
        }
        _ => Value::Doubles(plan.to_vec()),
    }
}

/// Leaf-node K the file's superblock can hold (a 16-bit field).
const MAX_LEAF_K: u32 = 32_767;

/// Bytes a step group's name takes in the root's name heap: `scan_NNNNN`
/// and its NUL, rounded up to HDF5's 8-byte alignment.
const NAME_SLOT: usize = 16;

/// Creation properties under which adding a step group to the root moves
/// nothing: the root's symbol table gets one node big enough for every
/// step of the sequence and a name heap sized for their names. A growing
/// table splits nodes or moves its heap, and HDF5 writes the pointer to the
/// new place before the place itself: a process killed between the two
/// leaves a root that cannot be listed (`tests/killed_writer.rs` finds it).
/// Compact links in the root's own header would avoid the table, but HDF5
/// 1.10 misreads a version-1 header sized for more than about 1 500.
fn root_layout(num_scans: u32) -> hdf5::Result<hdf5::plist::FileCreate> {
    let steps = num_scans.max(1);
    let leaf_k = steps.div_ceil(2).clamp(4, MAX_LEAF_K);
    let fcpl = hdf5::plist::FileCreate::build().sym_k(0, leaf_k).finish()?;
    // The heap also holds the empty name at offset 0.
    let heap = (steps as usize + 2) * NAME_SLOT;
    hdf5::sync::sync(|| {
        // SAFETY: a live file-creation list (a subclass of group creation,
        // whose heap hint sizes the root group's heap).
        unsafe { hdf5::h5check(hdf5_sys::h5p::H5Pset_local_heap_size_hint(fcpl.id(), heap)) }
    })?;
    Ok(fcpl)
}

/// A new group in `file` that no link reaches yet.
fn unlinked_group(file: &File) -> hdf5::Result<hdf5::Group> {
    hdf5::sync::sync(|| {
        // SAFETY: `file.id()` is a live file; the new id is checked and
        // owned by the returned group, which closes it.
        unsafe {
            let id = hdf5::h5check(hdf5_sys::h5g::H5Gcreate_anon(
                file.id(),
                hdf5_sys::h5p::H5P_DEFAULT,
                hdf5_sys::h5p::H5P_DEFAULT,
            ))?;
            hdf5::from_id::<hdf5::Group>(id)
        }
    })
}

/// Links `group` into `file`'s root as `name`.
fn link(group: &hdf5::Group, file: &File, name: &str) -> hdf5::Result<()> {
    let name = std::ffi::CString::new(name).map_err(|e| hdf5::Error::from(e.to_string()))?;
    hdf5::sync::sync(|| {
        // SAFETY: live group and file ids, a NUL-terminated name that
        // outlives the call, default property lists.
        unsafe {
            hdf5::h5check(hdf5_sys::h5o::H5Olink(
                group.id(),
                file.id(),
                name.as_ptr(),
                hdf5_sys::h5p::H5P_DEFAULT,
                hdf5_sys::h5p::H5P_DEFAULT,
            ))
        }
    })
    .map(|_| ())
}

/// Sets integer attribute `name`, in place when it exists as one (the same
/// bytes of the object header rewritten), else created.
fn set_long(loc: &Location, name: &str, value: i64) -> hdf5::Result<()> {
    if let Ok(attr) = loc.attr(name) {
        if attr.is_scalar() && attr.dtype()?.is::<i64>() {
            return attr.write_scalar(&value);
        }
    }
    replace_attr(loc, name, &Value::Long(value))
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

/// One record (a PV, or an analysis' quantity) as a dataset named by its
/// record name, with `egu` when known: scalars through the fast path, text
/// and arrays through hdf5-metno.
fn write_record(group: &hdf5::Group, record: Entry<'_>) -> hdf5::Result<()> {
    let (name, egu) = (record.name, record.egu);
    let dataset = match record.value {
        Value::Double(v) => return scalar_dataset(group, name, Scalar::F64(*v), egu),
        Value::Long(v) => return scalar_dataset(group, name, Scalar::I64(*v), egu),
        Value::Text(t) => {
            let d = group
                .new_dataset::<VarLenUnicode>()
                .shape(())
                .create(name)?;
            d.write_scalar(&text(t)?)?;
            d
        }
        Value::Doubles(v) => group
            .new_dataset_builder()
            .with_data(v.as_slice())
            .create(name)?,
        Value::Longs(v) => group
            .new_dataset_builder()
            .with_data(v.as_slice())
            .create(name)?,
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
