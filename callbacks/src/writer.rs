//! The HDF5 writer as a required step callback: the file is created at the
//! first step (FileName published then), each step is written and flushed
//! before the next begins, the exit status is recorded at the end. All HDF5
//! work runs on tokio's blocking pool, never on the async workers.

use crate::hdf5_file::{ExitAttributes, RootAttributes, ScanFile};
use crate::Publish;
use async_trait::async_trait;
use ca::Value;
use runner::{CallbackError, SequenceReport, StepCallback, StepContext, StepData};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Writes one sequence's file.
pub struct Hdf5Writer {
    path: PathBuf,
    root: RootAttributes,
    file: Option<Arc<Mutex<ScanFile>>>,
    publish: Arc<dyn Publish>,
}

impl Hdf5Writer {
    /// A writer of `path` with `root` attributes.
    pub fn new(path: PathBuf, root: RootAttributes, publish: Arc<dyn Publish>) -> Self {
        Self {
            path,
            root,
            file: None,
            publish,
        }
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
        let file = match &self.file {
            Some(file) => Arc::clone(file),
            None => {
                let (path, root) = (self.path.clone(), self.root.clone());
                let created = tokio::task::spawn_blocking(move || ScanFile::create(&path, &root))
                    .await
                    .map_err(|e| CallbackError(format!("the HDF5 task failed: {e}")))?
                    .map_err(|e| CallbackError(e.to_string()))?;
                let base = created
                    .path()
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if created.path() != self.path {
                    tracing::info!(
                        "{} exists already: writing {base} instead",
                        self.path.display()
                    );
                }
                let file = Arc::new(Mutex::new(created));
                self.file = Some(Arc::clone(&file));
                self.publish.publish("FileName", Value::Text(base));
                file
            }
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
