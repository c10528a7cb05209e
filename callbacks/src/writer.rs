//! The HDF5 writer as a required step callback: the file is created when
//! the sequence starts (FileName published then, and its real path known to
//! every callback), each step is written and flushed before the next
//! begins, the exit status is recorded at the end. All HDF5 work runs on
//! tokio's blocking pool, never on the async workers.

use crate::hdf5_file::{ExitAttributes, RootAttributes, ScanFile};
use crate::Publish;
use async_trait::async_trait;
use ca::Value;
use runner::{CallbackError, SequenceReport, StepCallback, StepContext, StepData};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Writes one sequence's file.
pub struct Hdf5Writer {
    file: Option<Arc<Mutex<ScanFile>>>,
    path: PathBuf,
}

impl Hdf5Writer {
    /// Creates the file (never over an existing one: `<name>_2.h5` then)
    /// with `root` attributes and publishes its name as FileName.
    pub async fn open(
        path: PathBuf,
        root: RootAttributes,
        publish: Arc<dyn Publish>,
    ) -> Result<Self, CallbackError> {
        let wanted = path.clone();
        let created = tokio::task::spawn_blocking(move || ScanFile::create(&wanted, &root))
            .await
            .map_err(|e| CallbackError(format!("the HDF5 task failed: {e}")))?
            .map_err(|e| CallbackError(e.to_string()))?;
        let real = created.path().to_path_buf();
        let base = real
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if real != path {
            tracing::info!("{} exists already: writing {base} instead", path.display());
        }
        publish.publish("FileName", Value::Text(base));
        Ok(Self {
            file: Some(Arc::new(Mutex::new(created))),
            path: real,
        })
    }

    /// The file's real path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `work` on the open file on the blocking pool.
    async fn on_file<F>(&self, file: Arc<Mutex<ScanFile>>, work: F) -> Result<(), CallbackError>
    where
        F: FnOnce(&ScanFile) -> Result<(), crate::FileError> + Send + 'static,
    {
        tokio::task::spawn_blocking(move || {
            let guard = file
                .lock()
                .map_err(|_| CallbackError("the HDF5 file's lock was poisoned".into()))?;
            work(&guard).map_err(|e| CallbackError(e.to_string()))
        })
        .await
        .map_err(|e| CallbackError(format!("the HDF5 task failed: {e}")))?
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
        self.on_file(file, move |f| f.write_step(index, &step))
            .await
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
        self.on_file(file, move |f| f.finish(&exit)).await
    }
}
