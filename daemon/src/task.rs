//! One task = one scan sequence (spec section 5): the inputs checked into a
//! ScanConfig and the output folder opened (what every kind needs), then
//! the kind's procedure built and run, ending in a [`TaskEnd`].

use crate::bridge::TaskStatus;
use crate::context::Context;
use crate::cycle::machine::RefusedInputs;
use crate::journal::{Ending, Journal};
use crate::procedure::{Inputs, Kind, Procedure};
use ca::Value;
use callbacks::Hdf5Writer;
use planner::{RawInput, RawScanInputs, ScanConfig, ScanLimits, WithinDataRoot};
use runner::{CallbackError, Control, ExitStatus, SequenceOutcome, SequenceReport, StepCallback};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use tracing::{error, info, warn};

/// How the task ended: TaskStatus as the reference reports it, and the
/// truth for ScanExitStatus and ScanExitReason.
#[derive(Debug)]
pub struct TaskEnd {
    /// The reference's state.
    pub status: TaskStatus,
    /// How it really ended.
    pub exit: ExitStatus,
    /// Why it ended early; empty when it completed (a note when there was
    /// nothing to do).
    pub reason: String,
}

impl TaskEnd {
    /// Nothing ran: the inputs or the output folder were unusable.
    pub(crate) fn not_started(reason: String) -> Self {
        error!("not started: {reason}");
        Self {
            status: TaskStatus::TaskFail,
            exit: ExitStatus::Failed,
            reason: format!("not started: {reason}"),
        }
    }

    /// The hardware failed before the first step.
    pub(crate) fn io_fail(reason: String) -> Self {
        error!("IO failure: {reason}");
        Self {
            status: TaskStatus::IoFail,
            exit: ExitStatus::Failed,
            reason,
        }
    }

    /// What the step loop reported. STOP and ABORT keep the reference's
    /// TaskStatus (Success); ScanExitStatus tells them apart.
    fn from_outcome(outcome: &SequenceOutcome) -> Self {
        let status = match outcome {
            SequenceOutcome::IoFail(_) => TaskStatus::IoFail,
            _ => TaskStatus::Success,
        };
        Self {
            status,
            exit: outcome.exit_status(),
            reason: outcome.reason().to_string(),
        }
    }
}

fn raw(ctx: &Context, name: &str) -> RawInput {
    match ctx.input(name) {
        Some(Value::Double(v)) => RawInput::Number(v),
        Some(Value::Long(v)) => RawInput::Integer(v),
        Some(Value::Text(t)) => RawInput::Text(t),
        _ => RawInput::Text(String::new()),
    }
}

pub(crate) fn text(ctx: &Context, name: &str) -> String {
    match ctx.input(name) {
        Some(Value::Text(t)) => t.trim().to_string(),
        _ => String::new(),
    }
}

/// Sequences started since the daemon started: the procedures' ids.
static SEQUENCES: AtomicU64 = AtomicU64::new(0);

/// Runs one sequence of `kind` under `control`; every failure is logged
/// for the operator. `refused`: the inputs whose last write was refused (the
/// control cycle's); any left means a Task Fail naming it. An ABORT while
/// it prepares (slow extra PV files, the relative position) ends it at
/// once, before anything is written.
pub async fn run(
    ctx: Arc<Context>,
    kind: &dyn Kind,
    control: Control,
    refused: RefusedInputs,
) -> TaskEnd {
    let mut watch = control.clone();
    let procedure = tokio::select! {
        biased;
        _ = watch.aborted() => {
            let reason = "ABORT during the preparation: nothing ran".to_string();
            warn!("sequence aborted: {reason}");
            return TaskEnd {
                status: TaskStatus::Success,
                exit: ExitStatus::Aborted,
                reason,
            };
        }
        procedure = build(&ctx, kind, refused) => procedure,
    };
    let procedure = match procedure {
        Ok(p) => p,
        Err(end) => return end,
    };
    info!(
        "sequence {} ({}): {}",
        procedure.id,
        procedure.kind,
        procedure
            .parameters
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let result = procedure.run(control).await;
    let report = &result.report;
    info!(
        "sequence {} ({}): time per phase: {}",
        result.id, result.kind, report.phases
    );
    for failure in &report.callback_failures {
        warn!("callback failed: {failure}");
    }
    match &report.outcome {
        SequenceOutcome::Success => info!(
            "scan complete: {} steps, {} sweep retries",
            report.completed_steps, report.sweep_retries
        ),
        SequenceOutcome::IoFail(reason) => error!(
            "IO failure after {} completed steps: {reason}",
            report.completed_steps
        ),
        // The step loop logged them.
        SequenceOutcome::Stopped(_) | SequenceOutcome::Aborted(_) => {}
    }
    TaskEnd::from_outcome(&report.outcome)
}

/// The inputs checked and the folder opened, then the kind's procedure.
async fn build(
    ctx: &Arc<Context>,
    kind: &dyn Kind,
    refused: RefusedInputs,
) -> Result<Procedure, TaskEnd> {
    let (config, folder) = prepare(ctx, refused).await?;
    let id = SEQUENCES.fetch_add(1, Ordering::Relaxed) + 1;
    kind.build(ctx, Inputs { config, folder, id }).await
}

/// What every kind needs first: the inputs checked and the output folder
/// opened (created inside the data root without following a link).
async fn prepare(
    ctx: &Arc<Context>,
    mut refused: RefusedInputs,
) -> Result<(ScanConfig, Arc<dataroot::Folder>), TaskEnd> {
    ctx.refresh_inputs(&mut refused).await;
    if let Some(problem) = refused.first() {
        return Err(TaskEnd::not_started(format!(
            "{problem}; write a valid value and trigger again"
        )));
    }
    let inputs = RawScanInputs {
        num_scans: raw(ctx, "NumScans"),
        relative_scan: raw(ctx, "RelativeScan"),
        center_position: raw(ctx, "CenterPosition"),
        scan_start: raw(ctx, "ScanStart"),
        scan_end: raw(ctx, "ScanEnd"),
        output_path: text(ctx, "OutputPath"),
    };
    let limits = ScanLimits {
        max_steps: ctx.max_steps,
    };
    let rule = WithinDataRoot {
        root: ctx.data_root.path().to_path_buf(),
    };
    let config = ScanConfig::from_raw(&inputs, &limits, &rule)
        .map_err(|e| TaskEnd::not_started(e.to_string()))?;
    if config.num_scans == 0 {
        info!("NumScans is 0: nothing to do");
        return Err(TaskEnd {
            status: TaskStatus::Skipped,
            exit: ExitStatus::Completed,
            reason: "NumScans is 0: nothing to do".into(),
        });
    }
    let relative = ctx
        .data_root
        .relative(&config.output_dir)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let root = Arc::clone(&ctx.data_root);
    let folder = blocking(move || root.folder(&relative, true).map_err(|e| e.to_string()))
        .await
        .map_err(|e| {
            TaskEnd::not_started(format!("OutputPath {:?}: {e}", text(ctx, "OutputPath")))
        })?;
    Ok((config, Arc::new(folder)))
}

/// `work` on the blocking pool (file I/O, parsing): the async workers move
/// on meanwhile.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| format!("the blocking task failed: {e}"))?
}

/// Keeps the journal's note of the open file until the file records its
/// ending (see `journal`): after the writer in the chain, it keeps the
/// note, with the ending, when the writer could not record it. It never
/// fails a step.
pub(crate) struct JournalCallback {
    journal: Journal,
    file: PathBuf,
    ending_recorded: Arc<AtomicBool>,
}

impl JournalCallback {
    /// Notes `writer`'s file as open.
    pub(crate) async fn start(journal: &Journal, writer: &Hdf5Writer) -> Self {
        let (note, file) = (journal.clone(), writer.path().to_path_buf());
        if let Err(e) = blocking(move || note.open(&file)).await {
            warn!("{e}: a crash would leave the file marked Running");
        }
        Self {
            journal: journal.clone(),
            file: writer.path().to_path_buf(),
            ending_recorded: writer.ending_recorded(),
        }
    }
}

#[async_trait::async_trait]
impl StepCallback for JournalCallback {
    fn name(&self) -> &str {
        "journal"
    }

    /// With the file: its note goes right after the file is closed, not
    /// after a slow user callback.
    fn required(&self) -> bool {
        true
    }

    async fn sequence_end(&mut self, report: &SequenceReport) -> Result<(), CallbackError> {
        let recorded = self.ending_recorded.load(Ordering::Acquire);
        let (journal, file) = (self.journal.clone(), self.file.clone());
        let ending = Ending {
            exit_status: report.outcome.exit_status().label().to_string(),
            exit_reason: report.outcome.reason().to_string(),
        };
        blocking(move || {
            if recorded {
                journal.closed()
            } else {
                journal.not_recorded(&file, ending)
            }
        })
        .await
        .map_err(CallbackError)
    }
}
