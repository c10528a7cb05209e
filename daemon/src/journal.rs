//! Files a daemon left open. When a sequence's file is created, its path is
//! noted in `<data root>/.fws-daemon/running-NN.json`; when the file is
//! closed, the note goes. A note found at start means the last daemon
//! stopped (killed, crashed, power lost) with the file open: the file's
//! `exit_status` still says Running. It is marked Interrupted with the steps
//! it holds and a reason; nothing else in it is touched. When the daemon
//! could not record the ending itself (a full disk), the note holds it and
//! it is recorded at the next start instead.

use hdf5::types::VarLenUnicode;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

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
}

/// What the start found and did.
#[derive(Debug, Clone, PartialEq)]
pub struct Recovered {
    /// The file.
    pub file: PathBuf,
    /// The status now recorded in it.
    pub exit_status: String,
    /// The reason recorded.
    pub reason: String,
}

impl Journal {
    /// `<data_root>/.fws-daemon/running-NN.json`.
    pub fn new(data_root: &Path, index: u8) -> Self {
        Self {
            path: data_root
                .join(".fws-daemon")
                .join(format!("running-{index:02}.json")),
        }
    }

    fn write(&self, note: &Note) -> Result<(), String> {
        let fail = |e: std::io::Error| format!("journal {}: {e}", self.path.display());
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        let text = serde_json::to_string(note).map_err(|e| e.to_string())?;
        let tmp = self.path.with_extension("json.tmp");
        std::fs::write(&tmp, text).map_err(fail)?;
        std::fs::rename(&tmp, &self.path).map_err(fail)
    }

    /// Notes that `file` is open.
    pub fn open(&self, file: &Path) -> Result<(), String> {
        self.write(&Note {
            file: file.to_path_buf(),
            ending: None,
        })
    }

    /// The file was closed with its exit status: the note goes.
    pub fn closed(&self) -> Result<(), String> {
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(format!("journal {}: {e}", self.path.display()))
            }
            _ => Ok(()),
        }
    }

    /// The file's ending could not be recorded in it: keep it for the next
    /// start.
    pub fn not_recorded(&self, file: &Path, ending: Ending) -> Result<(), String> {
        self.write(&Note {
            file: file.to_path_buf(),
            ending: Some(ending),
        })
    }

    /// At start: marks the file the last daemon left open, if any, and
    /// removes the note. `Ok(None)`: nothing was left open.
    pub fn recover(&self, data_root: &Path) -> Result<Option<Recovered>, String> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("journal {}: {e}", self.path.display())),
        };
        // The note goes whatever happens next: a file that cannot be marked
        // is reported once, not at every start.
        let removed = self.closed();
        let note: Note = serde_json::from_str(&text)
            .map_err(|e| format!("journal {}: {e}", self.path.display()))?;
        removed?;
        if !note.file.starts_with(data_root) {
            return Err(format!(
                "journal {}: {} is outside the data root; not touched",
                self.path.display(),
                note.file.display()
            ));
        }
        mark(&note).map(Some)
    }
}

fn text_attr(file: &hdf5::File, name: &str) -> Option<String> {
    let value: VarLenUnicode = file.attr(name).ok()?.read_scalar().ok()?;
    Some(value.as_str().to_string())
}

fn set_text(file: &hdf5::File, name: &str, text: &str) -> hdf5::Result<()> {
    if file.attr(name).is_ok() {
        file.delete_attr(name)?;
    }
    let value: VarLenUnicode = text
        .parse()
        .map_err(|e: hdf5::types::StringError| hdf5::Error::from(e.to_string()))?;
    file.new_attr::<VarLenUnicode>()
        .shape(())
        .create(name)?
        .write_scalar(&value)
}

/// Records the ending in a file still marked Running.
fn mark(note: &Note) -> Result<Recovered, String> {
    let shown = note.file.display();
    let file =
        cloexec::h5::open_rw(&note.file).map_err(|e| format!("{shown} cannot be opened: {e}"))?;
    let status = text_attr(&file, "exit_status").unwrap_or_default();
    let steps: i64 = match file.attr("completed_steps").and_then(|a| a.read_scalar()) {
        Ok(n) => n,
        Err(_) => file
            .member_names()
            .map(|m| m.iter().filter(|n| n.starts_with("scan_")).count() as i64)
            .unwrap_or(0),
    };
    if status != "Running" {
        return Ok(Recovered {
            file: note.file.clone(),
            exit_status: status,
            reason: text_attr(&file, "exit_reason").unwrap_or_default(),
        });
    }
    let (exit_status, reason) = match &note.ending {
        Some(e) => (e.exit_status.clone(), e.exit_reason.clone()),
        None => (
            "Interrupted".to_string(),
            format!(
                "the daemon stopped while writing this file (killed, crashed or power lost); \
                 {steps} steps are complete"
            ),
        ),
    };
    let write = || -> hdf5::Result<()> {
        set_text(&file, "exit_status", &exit_status)?;
        set_text(&file, "exit_reason", &reason)?;
        if file.attr("completed_steps").is_ok() {
            file.delete_attr("completed_steps")?;
        }
        file.new_attr::<i64>()
            .shape(())
            .create("completed_steps")?
            .write_scalar(&steps)?;
        file.flush()
    };
    write().map_err(|e| format!("{shown}: recording {exit_status}: {e}"))?;
    Ok(Recovered {
        file: note.file.clone(),
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
        // Dropped without finish: what a killed daemon leaves.
        path
    }

    fn attrs(path: &Path) -> (String, String, i64) {
        let file = cloexec::h5::open_read(path).unwrap();
        let steps: i64 = file.attr("completed_steps").unwrap().read_scalar().unwrap();
        (
            text_attr(&file, "exit_status").unwrap(),
            text_attr(&file, "exit_reason").unwrap_or_default(),
            steps,
        )
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
        let found = journal.recover(&root).unwrap().unwrap();
        assert_eq!(found.exit_status, "Interrupted");
        let (status, reason, steps) = attrs(&file);
        assert_eq!((status.as_str(), steps), ("Interrupted", 3));
        assert!(reason.contains("3 steps are complete"), "{reason}");
        assert_eq!(journal.recover(&root).unwrap(), None, "the note is gone");
    }

    /// A8: the ending the daemon could not write (disk full) is written at
    /// the next start; a file that was closed after all is left alone.
    #[test]
    fn an_ending_that_could_not_be_written_is_written_later() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let file = running_file(&root, 2);
        let journal = Journal::new(&root, 2);
        journal
            .not_recorded(
                &file,
                Ending {
                    exit_status: "Failed".into(),
                    exit_reason: "step 3: No space left on device".into(),
                },
            )
            .unwrap();
        journal.recover(&root).unwrap();
        assert_eq!(
            attrs(&file),
            ("Failed".into(), "step 3: No space left on device".into(), 2)
        );
        journal.open(&file).unwrap();
        let again = journal.recover(&root).unwrap().unwrap();
        assert_eq!(again.exit_status, "Failed", "not marked twice");
        // A note naming a file outside the data root touches nothing.
        let elsewhere = tempfile::tempdir().unwrap();
        let outside = running_file(elsewhere.path(), 1);
        journal.open(&outside).unwrap();
        assert!(journal.recover(&root).is_err());
        assert_eq!(attrs(&outside).0, "Running");
    }
}
