//! The HDF5 writer as a required step callback: the file is created when
//! the sequence starts (FileName published then, and its real path known to
//! every callback), each step is written and flushed before the next
//! begins, the exit status is recorded at the end. All HDF5 work runs on
//! tokio's blocking pool, never on the async workers.

use crate::hdf5_file::{ExitAttributes, FileError, RootAttributes, ScanFile};
use crate::Publish;
use async_trait::async_trait;
use dataroot::Folder;
use runner::Value;
use runner::{CallbackError, SequenceReport, StepCallback, StepContext, StepData};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Writes one sequence's file.
pub struct Hdf5Writer {
    file: Option<Arc<Mutex<ScanFile>>>,
    path: PathBuf,
    /// Steps written and flushed so far.
    written: usize,
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
            written: 0,
            ending_recorded: Arc::default(),
        })
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

    /// Runs `work` on the open file on the blocking pool.
    async fn on_file<F>(&self, file: Arc<Mutex<ScanFile>>, work: F) -> Result<(), FileError>
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

    async fn post_step(
        &mut self,
        ctx: &StepContext,
        data: &mut StepData,
    ) -> Result<(), CallbackError> {
        let Some(file) = self.file.as_ref().map(Arc::clone) else {
            return Err(CallbackError("the file was closed already".into()));
        };
        // The data is needed by later callbacks: the blocking task gets a copy.
        let (index, step) = (ctx.index, data.clone());
        match self
            .on_file(file, move |f| f.write_step(index, &step))
            .await
        {
            Ok(()) => {
                self.written += 1;
                Ok(())
            }
            Err(e) => Err(CallbackError(format!(
                "{}; {}",
                reported(&e),
                safe_steps(self.written)
            ))),
        }
    }

    async fn sequence_end(&mut self, report: &SequenceReport) -> Result<(), CallbackError> {
        let Some(file) = self.file.take() else {
            return Ok(());
        };
        let exit = ExitAttributes {
            exit_status: report.outcome.exit_status().label().into(),
            exit_reason: report.outcome.reason().into(),
            completed_steps: report.completed_steps as u64,
        };
        match self.on_file(file, move |f| f.finish(&exit)).await {
            Ok(()) => {
                self.ending_recorded.store(true, Ordering::Release);
                Ok(())
            }
            Err(e) => Err(CallbackError(format!(
                "{}: the file's exit_status could not be recorded (it still says Running); {}",
                reported(&e),
                safe_steps(self.written)
            ))),
        }
    }
}
