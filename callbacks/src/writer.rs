//! The HDF5 writer as a required step callback: the file is created when
//! the sequence starts (FileName published then, and its real path known to
//! every callback), each step is written and flushed, the exit status is
//! recorded at the end. All HDF5 work runs on tokio's blocking pool, never
//! on the async workers.
//!
//! Durability ([`Durability`]): pipelined by default, a step's write runs
//! while the loop moves to the next step, and a write must end before the
//! next one starts, so every step before the one in flight is on disk and a
//! kill -9 loses at most the step being written and the step being
//! acquired. `Durability::Step` waits for each write before the loop goes
//! on (the strict order).

use crate::hdf5_file::{ExitAttributes, FileError, RootAttributes, ScanFile};
use crate::Publish;
use async_trait::async_trait;
use dataroot::Folder;
use runner::Value;
use runner::{CallbackError, SequenceReport, StepCallback, StepContext, StepData};
pub use station::Durability;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::task::JoinHandle;

/// Writes one sequence's file.
pub struct Hdf5Writer {
    file: Option<Arc<Mutex<ScanFile>>>,
    path: PathBuf,
    durability: Durability,
    /// Steps written and flushed so far.
    written: usize,
    /// The write under way: its step (0-based) and task.
    in_flight: Option<(usize, JoinHandle<Result<(), FileError>>)>,
    /// Set once the file records its ending.
    ending_recorded: Arc<AtomicBool>,
}

impl Hdf5Writer {
    /// Creates `name` in `folder` (never over an existing file: `<name>_2.h5`
    /// then) with `root` attributes and publishes its name as FileName.
    pub async fn open(
        folder: Arc<Folder>,
        name: String,
        root: RootAttributes,
        publish: Arc<dyn Publish>,
    ) -> Result<Self, CallbackError> {
        let wanted = name.clone();
        let created =
            tokio::task::spawn_blocking(move || ScanFile::create_in(&folder, &name, &root))
                .await
                .map_err(|e| CallbackError(format!("the HDF5 task failed: {e}")))?
                .map_err(|e| CallbackError(reported(&e)))?;
        let real = created.path().to_path_buf();
        let base = real
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if base != wanted {
            tracing::info!("{wanted} exists already: writing {base} instead");
        }
        publish.publish("FileName", Value::Text(base));
        Ok(Self {
            file: Some(Arc::new(Mutex::new(created))),
            path: real,
            durability: Durability::default(),
            written: 0,
            in_flight: None,
            ending_recorded: Arc::default(),
        })
    }

    /// The writer with `durability` (pipelined unless told).
    pub fn with_durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Waits for the write under way; its failure names the step and what
    /// is safe.
    async fn settle(&mut self) -> Result<(), CallbackError> {
        let Some((index, task)) = self.in_flight.take() else {
            return Ok(());
        };
        let result = task
            .await
            .map_err(|e| FileError::new(&self.path, format!("the HDF5 task failed: {e}")))
            .and_then(|written| written);
        match result {
            Ok(()) => {
                self.written += 1;
                Ok(())
            }
            Err(e) => Err(CallbackError(format!(
                "writing step {}: {}; {}",
                index + 1,
                reported(&e),
                safe_steps(self.written)
            ))),
        }
    }

    /// The file's real path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True once the file holds its ending (set at the sequence's end): for
    /// whoever must know whether it is still marked Running.
    pub fn ending_recorded(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.ending_recorded)
    }

    /// Starts `work` on the open file on the blocking pool.
    fn spawn_on_file<F>(
        &self,
        file: Arc<Mutex<ScanFile>>,
        work: F,
    ) -> JoinHandle<Result<(), FileError>>
    where
        F: FnOnce(&ScanFile) -> Result<(), FileError> + Send + 'static,
    {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let guard = file
                .lock()
                .map_err(|_| FileError::new(&path, "the HDF5 file's lock was poisoned"))?;
            work(&guard)
        })
    }

    /// Runs `work` on the open file on the blocking pool and waits for it.
    async fn on_file<F>(&self, file: Arc<Mutex<ScanFile>>, work: F) -> Result<(), FileError>
    where
        F: FnOnce(&ScanFile) -> Result<(), FileError> + Send + 'static,
    {
        self.spawn_on_file(file, work)
            .await
            .map_err(|e| FileError::new(&self.path, format!("the HDF5 task failed: {e}")))?
    }
}

/// `e` for the operator; HDF5's own text goes to the debug log.
fn reported(e: &FileError) -> String {
    if !e.detail.is_empty() {
        tracing::debug!("HDF5 said: {}", e.detail);
    }
    e.to_string()
}

/// Which steps a reader can rely on after a failure.
fn safe_steps(written: usize) -> String {
    match written {
        0 => "no step is in the file".into(),
        1 => "step 1 is safe in the file (flushed when it completed)".into(),
        n => format!("steps 1-{n} are safe in the file (each flushed when it completed)"),
    }
}

#[async_trait]
impl StepCallback for Hdf5Writer {
    fn name(&self) -> &str {
        "hdf5-writer"
    }

    fn required(&self) -> bool {
        true
    }

    /// The step before must be on disk before this one's write starts (at
    /// most one in flight); the data is shared with the task, not copied.
    async fn record(
        &mut self,
        ctx: &StepContext,
        data: Arc<StepData>,
    ) -> Result<(), CallbackError> {
        self.settle().await?;
        let Some(file) = self.file.as_ref().map(Arc::clone) else {
            return Err(CallbackError("the file was closed already".into()));
        };
        let index = ctx.index;
        let task = self.spawn_on_file(file, move |f| f.write_step(index, &data));
        self.in_flight = Some((index, task));
        match self.durability {
            Durability::Step => self.settle().await,
            Durability::Pipelined => Ok(()),
        }
    }

    async fn drain(&mut self) -> Result<(), CallbackError> {
        self.settle().await
    }

    async fn sequence_end(&mut self, report: &SequenceReport) -> Result<(), CallbackError> {
        // A write still under way ends first; its failure is told with the
        // ending (the file's completed_steps says what is in it).
        let unwritten = self.settle().await.err();
        let Some(file) = self.file.take() else {
            return unwritten.map_or(Ok(()), Err);
        };
        let exit = ExitAttributes {
            exit_status: report.outcome.exit_status().label().into(),
            exit_reason: report.outcome.reason().into(),
            completed_steps: self.written.min(report.completed_steps) as u64,
        };
        match self.on_file(file, move |f| f.finish(&exit)).await {
            Ok(()) => {
                self.ending_recorded.store(true, Ordering::Release);
                unwritten.map_or(Ok(()), Err)
            }
            Err(e) => Err(CallbackError(format!(
                "{}: the file's exit_status could not be recorded (it still says Running); {}",
                reported(&e),
                safe_steps(self.written)
            ))),
        }
    }
}
