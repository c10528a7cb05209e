//! Operator inputs survive a restart: each accepted input write is saved to
//! a state file under the data root and restored at start, as EPICS
//! autosave does.
//!
//! Saving never blocks its caller (the control cycle, on the async
//! runtime): [`Autosave::save`] records the value and wakes a writer thread
//! of its own, which writes the latest values at most once per
//! [`PERIOD`] (a client writing an input 1000 times a second costs one
//! write a second, not 1000 fsyncs). A write goes to a temporary file in
//! the same folder, synced, renamed over the state file, and the folder
//! synced: a crash leaves the old or the new file, never half of one.
//! [`Writer::finish`] writes what is still pending before the process
//! ends; a kill -9 loses at most the last period's writes.

use ca::Value;
use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// The shortest time between two writes of the state file.
pub const PERIOD: Duration = Duration::from_secs(1);

/// The values found in the state file at start.
#[derive(Debug, Default)]
pub struct Saved {
    values: BTreeMap<String, Value>,
}

impl Saved {
    /// Reads the saved values (none if the file does not exist). A file
    /// that cannot be read is reported and ignored: defaults are used.
    /// Blocking: before the runtime starts, or on its blocking pool.
    pub fn load(path: &Path) -> (Self, Option<String>) {
        let mut values = BTreeMap::new();
        let problem = match std::fs::read_to_string(path) {
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
        (Self { values }, problem)
    }

    /// The saved value of input `name` (unprefixed).
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }
}

/// The cycle's side: records inputs for the writer thread.
pub struct Autosave {
    shared: Arc<Shared>,
}

/// The writer thread; [`Writer::finish`] (or dropping it) writes what is
/// pending and ends it.
pub struct Writer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    path: PathBuf,
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Default)]
struct State {
    /// Every value the file holds (those found at start included).
    values: BTreeMap<String, Value>,
    /// Values recorded and not written yet.
    dirty: bool,
    /// The writer is told to write what is pending and end.
    closing: bool,
    /// Writes of the file so far (for the tests).
    written: u64,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Autosave {
    /// `<data_root>/.fws-daemon/autosave-NN.json`.
    pub fn path_for(data_root: &Path, index: u8) -> PathBuf {
        data_root
            .join(".fws-daemon")
            .join(format!("autosave-{index:02}.json"))
    }

    /// Starts the writer of `path`, which begins with the `saved` values
    /// and writes at most once per `period`.
    pub fn start(path: PathBuf, saved: Saved, period: Duration) -> Result<(Self, Writer), String> {
        let shared = Arc::new(Shared {
            path,
            state: Mutex::new(State {
                values: saved.values,
                ..State::default()
            }),
            wake: Condvar::new(),
        });
        let thread = std::thread::Builder::new()
            .name("autosave".into())
            .spawn({
                let shared = Arc::clone(&shared);
                move || write_loop(&shared, period)
            })
            .map_err(|e| format!("cannot start the autosave thread: {e}"))?;
        Ok((
            Self {
                shared: Arc::clone(&shared),
            },
            Writer {
                shared,
                thread: Some(thread),
            },
        ))
    }

    /// Records `value` for `name`; the writer thread writes it soon. Returns
    /// at once. Fails only once the writer has been told to end.
    pub fn save(&mut self, name: &str, value: Value) -> Result<(), String> {
        let mut state = self.shared.state();
        if state.closing {
            return Err(format!(
                "autosave {}: {name} not saved, the writer has ended",
                self.shared.path.display()
            ));
        }
        state.values.insert(name.to_string(), value);
        state.dirty = true;
        self.shared.wake.notify_one();
        Ok(())
    }
}

impl Writer {
    /// Writes what is pending, then ends the thread. Blocking: on the
    /// runtime's blocking pool, or outside the runtime.
    pub fn finish(mut self) {
        self.end();
    }

    fn end(&mut self) {
        self.shared.state().closing = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                warn!("the autosave thread panicked; the last inputs may not be saved");
            }
        }
    }

    /// Writes of the file so far.
    #[cfg(test)]
    fn written(&self) -> u64 {
        self.shared.state().written
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.end();
    }
}

/// The writer thread: waits for a change, holds back until `period` has
/// passed since the last write (not when closing), writes the latest
/// values; ends when closing with nothing pending.
fn write_loop(shared: &Shared, period: Duration) {
    let mut last_write: Option<Instant> = None;
    let mut failing = false;
    loop {
        let values = {
            let mut state = shared.state();
            while !state.dirty && !state.closing {
                state = shared
                    .wake
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if !state.dirty {
                return;
            }
            if let Some(last) = last_write {
                loop {
                    let left = period.saturating_sub(last.elapsed());
                    if left.is_zero() || state.closing {
                        break;
                    }
                    state = shared
                        .wake
                        .wait_timeout(state, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
            }
            state.dirty = false;
            state.values.clone()
        };
        let result = write_file(&shared.path, &values);
        last_write = Some(Instant::now());
        let mut state = shared.state();
        match result {
            Ok(()) => {
                state.written += 1;
                if std::mem::take(&mut failing) {
                    info!("autosave {} works again", shared.path.display());
                }
            }
            Err(e) => {
                if !std::mem::replace(&mut failing, true) {
                    warn!(
                        "{e}; tried again every {:.1} s, further failures are not logged",
                        period.as_secs_f64()
                    );
                }
                // Tried again after the period, but not forever at the end.
                if !state.closing {
                    state.dirty = true;
                }
            }
        }
    }
}

/// Writes `values` to `path` whole: a temporary file in the same folder,
/// synced, renamed over `path`, then the folder synced (so the rename
/// itself survives a power loss).
fn write_file(path: &Path, values: &BTreeMap<String, Value>) -> Result<(), String> {
    let map: Map<String, Json> = values
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
    let fail = |e: std::io::Error| format!("autosave {}: {e}", path.display());
    let dir = path
        .parent()
        .ok_or_else(|| format!("autosave {}: no folder", path.display()))?;
    std::fs::create_dir_all(dir).map_err(fail)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".autosave-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(fail)?;
    tmp.write_all(text.as_bytes()).map_err(fail)?;
    tmp.as_file().sync_all().map_err(fail)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Polls `done` for up to 10 s (a loaded machine syncs slowly).
    fn eventually(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < deadline, "never happened: {what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn started(dir: &Path, period: Duration) -> (PathBuf, Autosave, Writer) {
        let path = Autosave::path_for(dir, 3);
        let (saved, problem) = Saved::load(&path);
        assert!(problem.is_none());
        let (autosave, writer) = Autosave::start(path.clone(), saved, period).unwrap();
        (path, autosave, writer)
    }

    #[test]
    fn values_round_trip_and_a_broken_file_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut a, writer) = started(dir.path(), PERIOD);
        a.save("NumScans", Value::Long(7)).unwrap();
        a.save("ScanStart", Value::Double(-2.5)).unwrap();
        a.save("OutputPath", Value::Text("run1".into())).unwrap();
        writer.finish();
        let (b, problem) = Saved::load(&path);
        assert!(problem.is_none());
        assert_eq!(b.get("NumScans"), Some(&Value::Long(7)));
        assert_eq!(b.get("ScanStart"), Some(&Value::Double(-2.5)));
        assert_eq!(b.get("OutputPath"), Some(&Value::Text("run1".into())));
        // No temporary file is left beside it.
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [path.file_name().unwrap()]);
        std::fs::write(&path, "{broken").unwrap();
        let (c, problem) = Saved::load(&path);
        assert!(problem.is_some());
        assert!(c.get("NumScans").is_none());
    }

    #[test]
    fn values_found_at_start_are_kept_in_the_next_write() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut a, writer) = started(dir.path(), PERIOD);
        a.save("NumScans", Value::Long(7)).unwrap();
        writer.finish();
        let (path, mut a, writer) = {
            let (saved, _) = Saved::load(&path);
            let (a, w) = Autosave::start(path.clone(), saved, PERIOD).unwrap();
            (path, a, w)
        };
        a.save("ScanStart", Value::Double(1.0)).unwrap();
        drop(writer);
        let (b, _) = Saved::load(&path);
        assert_eq!(b.get("NumScans"), Some(&Value::Long(7)));
        assert_eq!(b.get("ScanStart"), Some(&Value::Double(1.0)));
    }

    #[test]
    fn a_burst_is_coalesced_and_its_last_value_reaches_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut a, writer) = started(dir.path(), Duration::from_millis(200));
        for n in 0..1000 {
            a.save("NumScans", Value::Long(n)).unwrap();
        }
        // The first change is written at once, the rest after the period.
        eventually("the last value on disk", || {
            Saved::load(&path).0.get("NumScans") == Some(&Value::Long(999))
        });
        // The write that put it there counted; nothing waits after it.
        std::thread::sleep(Duration::from_millis(300));
        let written = writer.written();
        assert!(
            (1..=3).contains(&written),
            "{written} writes for 1000 saves"
        );
        // Nothing new: nothing written.
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(writer.written(), written);
    }

    #[test]
    fn a_pending_save_is_written_at_the_end_without_waiting_for_the_period() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut a, writer) = started(dir.path(), Duration::from_secs(3600));
        a.save("NumScans", Value::Long(1)).unwrap();
        // The first write goes at once; this one would wait an hour.
        eventually("the first write", || writer.written() == 1);
        a.save("NumScans", Value::Long(2)).unwrap();
        let start = Instant::now();
        writer.finish();
        assert!(start.elapsed() < Duration::from_secs(5));
        let (on_disk, _) = Saved::load(&path);
        assert_eq!(on_disk.get("NumScans"), Some(&Value::Long(2)));
        // Told to end: later saves are refused, not lost silently.
        assert!(a.save("NumScans", Value::Long(3)).is_err());
    }

    #[test]
    fn a_failing_write_is_retried_and_the_end_does_not_hang_on_it() {
        let dir = tempfile::tempdir().unwrap();
        let (_, mut a, writer) = started(dir.path(), Duration::from_millis(20));
        // The state file's folder is a file: every write fails.
        std::fs::write(dir.path().join(".fws-daemon"), "in the way").unwrap();
        a.save("NumScans", Value::Long(1)).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(writer.written(), 0);
        // Out of the way: the retry writes it without a new save.
        std::fs::remove_file(dir.path().join(".fws-daemon")).unwrap();
        eventually("the retried write", || writer.written() == 1);
        std::fs::remove_dir_all(dir.path().join(".fws-daemon")).unwrap();
        std::fs::write(dir.path().join(".fws-daemon"), "in the way").unwrap();
        a.save("NumScans", Value::Long(2)).unwrap();
        let start = Instant::now();
        writer.finish();
        assert!(start.elapsed() < Duration::from_secs(5));
    }
}
