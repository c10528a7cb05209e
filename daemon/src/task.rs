//! One task = one scan sequence (spec section 5): inputs -> ScanConfig ->
//! plan -> step loop with the status and HDF5 callbacks.

use crate::bridge::TaskStatus;
use crate::context::Context;
use crate::journal::{Ending, Journal};
use ca::Value;
use callbacks::custom::Session;
use callbacks::{
    CustomCallback, FitInputs, GaussFitCallback, Hdf5Writer, RootAttributes, StatusCallback,
};
use epics::{EpicsHardScan, HardScanPvs, PvCollector};
use planner::{OutputPathCheck, RawInput, RawScanInputs, ScanConfig, ScanLimits, WithinDataRoot};
use runner::{
    run_sequence, CallbackError, Control, Devices, ExitStatus, Positioner, SequenceOutcome,
    SequenceReport, StepCallback,
};
use station::PvGroups;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tracing::{error, info, warn};

/// How the task ended: TaskStatus as the reference reports it, and the
/// truth for ScanExitStatus and ScanExitReason.
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
    fn not_started(reason: String) -> Self {
        error!("not started: {reason}");
        Self {
            status: TaskStatus::TaskFail,
            exit: ExitStatus::Failed,
            reason: format!("not started: {reason}"),
        }
    }

    /// The hardware failed before the first step.
    fn io_fail(reason: String) -> Self {
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

fn text(ctx: &Context, name: &str) -> String {
    match ctx.input(name) {
        Some(Value::Text(t)) => t.trim().to_string(),
        _ => String::new(),
    }
}

/// Most bytes of an extra PV-group file (DataFilePath, MetadataFilePath).
pub const MAX_EXTRA_FILE_BYTES: u64 = 1 << 20;
/// Most PV names an extra PV-group file may add (each is read at every
/// step).
pub const MAX_EXTRA_PVS: usize = 10_000;

/// What a sequence needs before its first step.
struct Prepared {
    config: ScanConfig,
    plan: planner::Plan,
    folder: Arc<dataroot::Folder>,
    groups: (PvGroups, PvGroups),
}

/// Runs one sequence under `control`; every failure is logged for the
/// operator. An ABORT while it prepares (slow extra PV files, the relative
/// position) ends it at once, before anything is written.
pub async fn run(ctx: Arc<Context>, control: Control) -> TaskEnd {
    let mut watch = control.clone();
    let prepared = tokio::select! {
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
        prepared = prepare(&ctx) => prepared,
    };
    let Prepared {
        config,
        plan,
        folder,
        groups: (data, metadata),
    } = match prepared {
        Ok(p) => p,
        Err(end) => return end,
    };
    let name = config
        .file_path(ctx.index, chrono::Local::now().naive_local())
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let root = RootAttributes {
        num_scans: config.num_scans,
        position_scan: Some(config.position_scan()),
        relative_scan: config.relative,
        start_time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, false),
        username: ca::whoami(),
        daemon_version: format!("fws-daemon (Rust) {}", env!("CARGO_PKG_VERSION")),
        plan: plan.steps().map(|s| s.positions[0]).collect(),
    };
    info!(
        "scan of {} steps from {} to {} mm into {:?}",
        plan.len(),
        config.start,
        config.end,
        folder.path().join(&name)
    );
    let custom_root = ctx.custom.is_some().then(|| root.clone());
    let writer = match Hdf5Writer::open(folder, name, root, ctx.publisher.clone()).await {
        Ok(w) => w,
        Err(e) => return TaskEnd::io_fail(e.to_string()),
    };
    let file = writer.path().to_path_buf();
    let journal = JournalCallback::start(&ctx.journal, &writer).await;
    let client = Arc::clone(&ctx.client);
    let mut positioner = hard_scan(&ctx);
    let mut trigger = hard_scan(&ctx);
    let mut collector =
        PvCollector::new(client, data, metadata, station::secs(ctx.timing.pv_read_s));
    let mut chain: Vec<Box<dyn StepCallback>> = vec![
        Box::new(StatusCallback::new(ctx.publisher.clone())),
        // Before the writer: the fit results go into each step's scan group.
        Box::new(GaussFitCallback::new(
            &ctx.prefixes.main,
            FitInputs {
                position: format!("{}InterpolatedPosCh1", ctx.prefixes.scan),
                traces_group: "struck".into(),
            },
            ctx.publisher.clone(),
        )),
    ];
    if let (Some(custom), Some(root)) = (&ctx.custom, custom_root) {
        // After the fit (its results go in the message), before the writer
        // (the callback's extras go in the file).
        chain.push(Box::new(CustomCallback::new(
            custom.command.clone(),
            custom.timeout,
            Session {
                main_prefix: ctx.prefixes.main.clone(),
                file_path: file.to_string_lossy().into_owned(),
                root,
            },
        )));
    }
    chain.push(Box::new(writer));
    chain.push(Box::new(journal));
    let report = run_sequence(
        &plan,
        config.relative,
        Devices {
            positioner: &mut positioner,
            trigger: &mut trigger,
            detector: &mut collector,
        },
        &mut chain,
        &ctx.timing.policy(),
        control,
    )
    .await;
    info!("time per phase: {}", report.phases);
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

fn hard_scan(ctx: &Context) -> EpicsHardScan {
    EpicsHardScan::new(
        Arc::clone(&ctx.client),
        HardScanPvs::new(&ctx.prefixes),
        station::secs(ctx.timing.put_s),
        station::secs(ctx.timing.pv_read_s),
    )
}

/// Everything before the first step: the inputs checked, the output folder
/// opened (created inside the data root without following a link), the
/// extra PV files read, the plan made.
async fn prepare(ctx: &Arc<Context>) -> Result<Prepared, TaskEnd> {
    ctx.refresh_inputs().await;
    let refused = ctx.refused_inputs();
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
    let groups = groups(ctx).await;
    let current = if config.relative {
        match hard_scan(ctx).current().await {
            Ok(p) => p.first().copied(),
            Err(e) => {
                return Err(TaskEnd::io_fail(format!(
                    "reading the current position: {e}"
                )))
            }
        }
    } else {
        None
    };
    let plan = config
        .plan(current, &limits)
        .map_err(|e| TaskEnd::not_started(e.to_string()))?;
    Ok(Prepared {
        config,
        plan,
        folder: Arc::new(folder),
        groups,
    })
}

/// The default groups plus the operator's extra files (full PV names),
/// read and parsed now on the blocking pool; a file that cannot be used is
/// a warning, not a failure.
async fn groups(ctx: &Context) -> (PvGroups, PvGroups) {
    let mut data = ctx.data_groups.clone();
    let mut metadata = ctx.metadata_groups.clone();
    for (pv, target) in [
        ("DataFilePath", &mut data),
        ("MetadataFilePath", &mut metadata),
    ] {
        let wanted = text(ctx, pv);
        if wanted.is_empty() {
            continue;
        }
        let root = Arc::clone(&ctx.data_root);
        let asked = wanted.clone();
        match blocking(move || extra_groups(&root, &asked)).await {
            Ok(extra) => {
                info!("{pv}: {} extra PVs from {wanted:?}", extra.len());
                target.merge(&extra);
            }
            Err(e) => warn!("{pv} {wanted:?} not used, going on with the defaults: {e}"),
        }
    }
    (data, metadata)
}

fn extra_groups(root: &dataroot::DataRoot, wanted: &str) -> Result<PvGroups, String> {
    let rule = WithinDataRoot {
        root: root.path().to_path_buf(),
    };
    let path = rule.resolve(wanted)?;
    let relative = root.relative(&path).unwrap_or(Path::new(""));
    let bytes = root
        .read(relative, MAX_EXTRA_FILE_BYTES)
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_string())?;
    let groups = PvGroups::parse_yaml(&text).map_err(|e| e.to_string())?;
    if groups.names().any(|n| n.contains('{')) {
        return Err("runtime files take full PV names, not {prefix} templates".into());
    }
    if groups.len() > MAX_EXTRA_PVS {
        return Err(format!(
            "{} PV names, more than the {MAX_EXTRA_PVS} an extra file may add",
            groups.len()
        ));
    }
    Ok(groups)
}

/// `work` on the blocking pool (file I/O, parsing): the async workers move
/// on meanwhile.
async fn blocking<T: Send + 'static>(
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
struct JournalCallback {
    journal: Journal,
    file: PathBuf,
    ending_recorded: Arc<AtomicBool>,
}

impl JournalCallback {
    /// Notes `writer`'s file as open.
    async fn start(journal: &Journal, writer: &Hdf5Writer) -> Self {
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
