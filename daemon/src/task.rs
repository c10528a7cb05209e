//! One task = one scan sequence (spec section 5): inputs -> ScanConfig ->
//! plan -> step loop with the status and HDF5 callbacks.

use crate::bridge::TaskStatus;
use crate::context::Context;
use ca::Value;
use callbacks::custom::Session;
use callbacks::{
    CustomCallback, FitInputs, GaussFitCallback, Hdf5Writer, RootAttributes, StatusCallback,
};
use planner::{OutputPathCheck, RawInput, RawScanInputs, ScanConfig, ScanLimits, WithinDataRoot};
use runner::epics::{EpicsHardScan, HardScanPvs, PvCollector};
use runner::{
    run_sequence, Control, Devices, ExitStatus, Positioner, PvGroups, SequenceOutcome, StepCallback,
};
use std::path::{Path, PathBuf};
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

/// Runs one sequence under `control`; every failure is logged for the
/// operator.
pub async fn run(ctx: Arc<Context>, control: Control) -> TaskEnd {
    ctx.refresh_inputs().await;
    let refused = ctx.refused_inputs();
    if let Some(problem) = refused.first() {
        return TaskEnd::not_started(format!("{problem}; write a valid value and trigger again"));
    }
    let inputs = RawScanInputs {
        num_scans: raw(&ctx, "NumScans"),
        relative_scan: raw(&ctx, "RelativeScan"),
        center_position: raw(&ctx, "CenterPosition"),
        scan_start: raw(&ctx, "ScanStart"),
        scan_end: raw(&ctx, "ScanEnd"),
        output_path: text(&ctx, "OutputPath"),
    };
    let limits = ScanLimits {
        max_steps: ctx.max_steps,
    };
    let paths = InsideDataRoot(ctx.data_root.clone());
    let config = match ScanConfig::from_raw(&inputs, &limits, &paths) {
        Ok(c) => c,
        Err(e) => return TaskEnd::not_started(e.to_string()),
    };
    if config.num_scans == 0 {
        info!("NumScans is 0: nothing to do");
        return TaskEnd {
            status: TaskStatus::Skipped,
            exit: ExitStatus::Completed,
            reason: "NumScans is 0: nothing to do".into(),
        };
    }
    if let Err(e) = std::fs::create_dir_all(&config.output_dir) {
        return TaskEnd::not_started(format!(
            "cannot create the output folder {}: {e}",
            config.output_dir.display()
        ));
    }
    // Links on disk may lead out of the data root: check where it really is.
    if let Err(e) = paths.check_on_disk(&config.output_dir) {
        return TaskEnd::not_started(format!("OutputPath {e}"));
    }
    let (data, metadata) = groups(&ctx);
    let client = Arc::clone(&ctx.client);
    let mut hard_scan = EpicsHardScan::new(
        Arc::clone(&client),
        HardScanPvs::new(&ctx.prefixes),
        crate::station::secs(ctx.timing.put_s),
        crate::station::secs(ctx.timing.pv_read_s),
    );
    let mut trigger = EpicsHardScan::new(
        Arc::clone(&client),
        HardScanPvs::new(&ctx.prefixes),
        crate::station::secs(ctx.timing.put_s),
        crate::station::secs(ctx.timing.pv_read_s),
    );
    let current = if config.relative {
        match hard_scan.current().await {
            Ok(p) => p.first().copied(),
            Err(e) => return TaskEnd::io_fail(format!("reading the current position: {e}")),
        }
    } else {
        None
    };
    let plan = match config.plan(current, &limits) {
        Ok(p) => p,
        Err(e) => return TaskEnd::not_started(e.to_string()),
    };
    let path = config.file_path(ctx.index, chrono::Local::now().naive_local());
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
        "scan of {} steps from {} to {} mm into {}",
        plan.len(),
        config.start,
        config.end,
        path.display()
    );
    let custom_root = ctx.custom.is_some().then(|| root.clone());
    let writer = match Hdf5Writer::open(path, root, ctx.publisher.clone()).await {
        Ok(w) => w,
        Err(e) => return TaskEnd::io_fail(format!("creating the file: {e}")),
    };
    let mut collector = PvCollector::new(
        client,
        data,
        metadata,
        crate::station::secs(ctx.timing.pv_read_s),
    );
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
                file_path: writer.path().to_string_lossy().into_owned(),
                root,
            },
        )));
    }
    chain.push(Box::new(writer));
    let report = run_sequence(
        &plan,
        config.relative,
        Devices {
            positioner: &mut hard_scan,
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

/// The default groups plus the operator's extra files (full PV names),
/// read now; a file that cannot be used is a warning, not a failure.
fn groups(ctx: &Context) -> (PvGroups, PvGroups) {
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
        match extra_groups(&ctx.data_root, &wanted) {
            Ok(extra) => {
                info!("{pv}: {} extra PVs from {wanted}", extra.len());
                target.merge(&extra);
            }
            Err(e) => warn!("{pv} {wanted:?} not used, going on with the defaults: {e}"),
        }
    }
    (data, metadata)
}

fn extra_groups(root: &Path, wanted: &str) -> Result<PvGroups, String> {
    let rule = InsideDataRoot(root.to_path_buf());
    let path = rule.resolve(wanted)?;
    rule.check_on_disk(&path)?;
    let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
    let groups = PvGroups::parse_yaml(&text).map_err(|e| e.to_string())?;
    if groups.names().any(|n| n.contains('{')) {
        return Err("runtime files take full PV names, not {prefix} templates".into());
    }
    Ok(groups)
}

/// The lexical rule of the planner, plus a check on disk that links do not
/// lead out of the data root.
struct InsideDataRoot(PathBuf);

impl InsideDataRoot {
    fn check_on_disk(&self, path: &Path) -> Result<(), String> {
        let real = path
            .canonicalize()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if real.starts_with(&self.0) {
            Ok(())
        } else {
            Err(format!(
                "{} leads outside the data root {}",
                path.display(),
                self.0.display()
            ))
        }
    }
}

impl OutputPathCheck for InsideDataRoot {
    fn resolve(&self, raw: &str) -> Result<PathBuf, String> {
        WithinDataRoot {
            root: self.0.clone(),
        }
        .resolve(raw)
    }
}
