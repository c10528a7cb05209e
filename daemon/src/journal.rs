//! Files a daemon left open. When a sequence's file is created, its path is
//! noted in `<data root>/.fws-daemon/running-NN.json`; when the file is
//! closed, the note goes. A note found at start means the last daemon
//! stopped (killed, crashed, power lost) with the file open: the file's
//! `exit_status` still says Running. It is marked Interrupted with the steps
//! it holds and a reason; nothing else in it is touched. When the daemon
//! could not record the ending itself (a full disk), the note holds it and
//! it is recorded at the next start instead.
//!
//! The note is written whole at the start (synced, with its folder) and
//! padded to [`NOTE_BYTES`], so that recording an ending later rewrites
//! bytes already on disk in place: that works on a full disk.

use callbacks::{ExitAttributes, Leftover, ScanFile};
use runner::ExitStatus;
use serde::{Deserialize, Serialize};
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};

/// The note's size on disk, whatever it holds.
const NOTE_BYTES: usize = 4096;

/// What the note holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Note {
    /// The file being written.
    pub file: PathBuf,
    /// The ending to record, when the daemon could not (else: Interrupted).
    #[serde(default)]
    pub ending: Option<Ending>,
}

/// An exit status and its reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ending {
    /// `Failed`, `Aborted`, ...
    pub exit_status: String,
    /// Why.
    pub exit_reason: String,
}

/// One scanner's note.
#[derive(Debug, Clone)]
pub struct Journal {
    path: PathBuf,
    data_root: PathBuf,
}

/// What the start found and did.
#[derive(Debug, Clone, PartialEq)]
pub struct Recovered {
    /// The file.
    pub file: PathBuf,
    /// Whether it was still Running and is marked now (else it had been
    /// closed after all, and only the note was left).
    pub marked: bool,
    /// The status the file now records.
    pub exit_status: String,
    /// The reason recorded.
    pub reason: String,
}

/// `note` as JSON padded with spaces to [`NOTE_BYTES`] (a reason too long
/// for it is shortened).
fn padded(note: &Note) -> Result<Vec<u8>, String> {
    let mut note = note.clone();
    loop {
        let mut bytes = serde_json::to_vec(&note).map_err(|e| e.to_string())?;
        if bytes.len() <= NOTE_BYTES {
            bytes.resize(NOTE_BYTES, b' ');
            return Ok(bytes);
        }
        match note.ending.as_mut() {
            Some(e) if !e.exit_reason.is_empty() => {
                let keep = e
                    .exit_reason
                    .len()
                    .saturating_sub(bytes.len() - NOTE_BYTES + 3);
                let mut end = keep;
                while !e.exit_reason.is_char_boundary(end) {
                    end -= 1;
                }
                e.exit_reason.truncate(end);
                e.exit_reason.push('…');
            }
            _ => return Err("the file's path is too long for the journal".into()),
        }
    }
}

impl Journal {
    /// `<data_root>/.fws-daemon/running-NN.json`.
    pub fn new(data_root: &Path, index: u8) -> Self {
        Self {
            path: data_root
                .join(".fws-daemon")
                .join(format!("running-{index:02}.json")),
            data_root: data_root.to_path_buf(),
        }
    }

    fn fail(&self, e: std::io::Error) -> String {
        format!("journal {}: {e}", self.path.display())
    }

    /// Notes that `file` is open: written whole, synced, then renamed into
    /// place and the folder synced (a crash leaves the old note or the new).
    pub fn open(&self, file: &Path) -> Result<(), String> {
        let bytes = padded(&Note {
            file: file.to_path_buf(),
            ending: None,
        })?;
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| self.fail(e))?;
        let tmp = self.path.with_extension("json.tmp");
        let mut out = std::fs::File::create(&tmp).map_err(|e| self.fail(e))?;
        out.write_all(&bytes)
            .and_then(|()| out.sync_all())
            .map_err(|e| self.fail(e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| self.fail(e))?;
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| self.fail(e))
    }

    /// The file was closed with its exit status: the note goes.
    pub fn closed(&self) -> Result<(), String> {
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(self.fail(e)),
            _ => Ok(()),
        }
    }

    /// The file's ending could not be recorded in it: the note (written at
    /// the start) is rewritten in place to hold it, for the next start.
    pub fn not_recorded(&self, file: &Path, ending: Ending) -> Result<(), String> {
        let bytes = padded(&Note {
            file: file.to_path_buf(),
            ending: Some(ending),
        })?;
        let mut note = std::fs::OpenOptions::new()
            .write(true)
            .open(&self.path)
            .map_err(|e| self.fail(e))?;
        note.rewind()
            .and_then(|()| note.write_all(&bytes))
            .and_then(|()| note.sync_all())
            .map_err(|e| self.fail(e))
    }

    /// At start: marks the file the last daemon left open, if any, and
    /// removes the note. `Ok(None)`: nothing was left open.
    pub fn recover(&self) -> Result<Option<Recovered>, String> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.fail(e)),
        };
        // The note goes whatever happens next: a file that cannot be marked
        // is reported once, not at every start.
        let removed = self.closed();
        let note: Note = serde_json::from_str(text.trim_end())
            .map_err(|e| format!("journal {}: {e}", self.path.display()))?;
        removed?;
        if !note.file.starts_with(&self.data_root) {
            return Err(format!(
                "journal {}: {} is outside the data root; not touched",
                self.path.display(),
                note.file.display()
            ));
        }
        mark(&note).map(Some)
    }
}

/// Records the ending in a file still marked Running.
fn mark(note: &Note) -> Result<Recovered, String> {
    // Killed before the first step was whole: the file is still its part.
    match ScanFile::publish_leftover(&note.file).map_err(|e| e.to_string())? {
        Leftover::Absent | Leftover::Published => {}
        Leftover::Kept(part) => {
            return Ok(Recovered {
                file: note.file.clone(),
                marked: false,
                exit_status: String::new(),
                reason: format!(
                    "the daemon stopped before the file's first step was whole; what it \
                     wrote is left in {}",
                    part.display()
                ),
            })
        }
    }
    let file = ScanFile::open_existing(&note.file).map_err(|e| e.to_string())?;
    let status = file.exit_status().unwrap_or_default();
    if status != ExitStatus::Running.label() {
        return Ok(Recovered {
            file: note.file.clone(),
            marked: false,
            exit_status: status,
            reason: String::new(),
        });
    }
    let steps = file.completed_steps();
    let (exit_status, reason) = match &note.ending {
        Some(e) => (e.exit_status.clone(), e.exit_reason.clone()),
        None => (
            ExitStatus::Interrupted.label().to_string(),
            format!(
                "the daemon stopped while writing this file (killed, crashed or power lost); \
                 {steps} steps are complete"
            ),
        ),
    };
    file.finish(&ExitAttributes {
        exit_status: exit_status.clone(),
        exit_reason: reason.clone(),
        completed_steps: steps,
    })
    .map_err(|e| e.to_string())?;
    Ok(Recovered {
        file: note.file.clone(),
        marked: true,
        exit_status,
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use callbacks::{RootAttributes, ScanFile};

    fn running_file(dir: &Path, steps: usize) -> PathBuf {
        let path = dir.join("FWS01_-1_1_n5_20261201-1000.h5");
        let file = ScanFile::create(
            &path,
            &RootAttributes {
                num_scans: 5,
                position_scan: Some((-1.0, 1.0)),
                relative_scan: false,
                start_time: "2026-12-01T10:00:00+00:00".into(),
                username: "op".into(),
                daemon_version: "test".into(),
                plan: vec![-1.0, -0.5, 0.0, 0.5, 1.0],
            },
        )
        .unwrap();
        for i in 0..steps {
            file.write_step(i, &runner::StepData::default()).unwrap();
        }
        // Dropped without finish: what a killed daemon leaves once the
        // first step is whole (a dropped file takes its name).
        path
    }

    fn attrs(path: &Path) -> (String, String, i64) {
        let file = cloexec::h5::open_read(path).unwrap();
        let steps: i64 = file.attr("completed_steps").unwrap().read_scalar().unwrap();
        let text = |name: &str| -> String {
            file.attr(name)
                .and_then(|a| a.read_scalar::<hdf5::types::VarLenUnicode>())
                .map(|v| v.as_str().to_string())
                .unwrap_or_default()
        };
        (text("exit_status"), text("exit_reason"), steps)
    }

    /// Issue 11, A9: a file left Running is marked Interrupted once, with
    /// the steps it holds; the note goes.
    #[test]
    fn a_file_left_open_is_marked_interrupted_at_the_next_start() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let file = running_file(&root, 3);
        assert_eq!(attrs(&file).0, "Running");
        let journal = Journal::new(&root, 1);
        journal.open(&file).unwrap();
        let found = journal.recover().unwrap().unwrap();
        assert_eq!(found.exit_status, "Interrupted");
        assert!(found.marked);
        let (status, reason, steps) = attrs(&file);
        assert_eq!((status.as_str(), steps), ("Interrupted", 3));
        assert!(reason.contains("3 steps are complete"), "{reason}");
        assert_eq!(journal.recover().unwrap(), None, "the note is gone");
    }

    /// A daemon killed before the file's first step was whole leaves it
    /// under its hidden part name: the next start publishes and marks it;
    /// a part that does not read (killed while creating it) stays hidden,
    /// reported, and no file appears under the scan's name.
    #[test]
    fn a_part_left_by_a_kill_is_published_or_kept_hidden() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let file = running_file(&root, 0);
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let part = root.join(callbacks::part_name(&name));
        // What the disk holds after the kill (a dropped file publishes).
        std::fs::rename(&file, &part).unwrap();
        let journal = Journal::new(&root, 3);
        journal.open(&file).unwrap();
        let found = journal.recover().unwrap().unwrap();
        assert!(found.marked, "{found:?}");
        assert!(file.exists() && !part.exists());
        assert_eq!(attrs(&file).0, "Interrupted");

        std::fs::remove_file(&file).unwrap();
        std::fs::write(&part, b"\x89HDF\r\n").unwrap();
        journal.open(&file).unwrap();
        let found = journal.recover().unwrap().unwrap();
        assert!(!found.marked && found.exit_status.is_empty(), "{found:?}");
        assert!(found.reason.contains(".part"), "{}", found.reason);
        assert!(!file.exists() && part.exists());
    }

    /// A8: the ending the daemon could not write (disk full) is written at
    /// the next start; a file that was closed after all is left alone.
    #[test]
    fn an_ending_that_could_not_be_written_is_written_later() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let file = running_file(&root, 2);
        let journal = Journal::new(&root, 2);
        journal.open(&file).unwrap();
        journal
            .not_recorded(
                &file,
                Ending {
                    exit_status: "Failed".into(),
                    exit_reason: "step 3: No space left on device".into(),
                },
            )
            .unwrap();
        journal.recover().unwrap();
        assert_eq!(
            attrs(&file),
            ("Failed".into(), "step 3: No space left on device".into(), 2)
        );
        journal.open(&file).unwrap();
        let again = journal.recover().unwrap().unwrap();
        assert_eq!(again.exit_status, "Failed", "not marked twice");
        assert!(!again.marked);
        // A note naming a file outside the data root touches nothing.
        let elsewhere = tempfile::tempdir().unwrap();
        let outside = running_file(elsewhere.path(), 1);
        journal.open(&outside).unwrap();
        assert!(journal.recover().is_err());
        assert_eq!(attrs(&outside).0, "Running");
    }
}
