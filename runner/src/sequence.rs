//! One scan sequence: the step loop, its sweep retries and timeouts, and
//! the callback chain's failure rules.

use crate::control::{Control, Directive};
use crate::data::StepData;
use crate::devices::{Detector, Positioner, StepCallback, StepContext, SweepOutcome, Trigger};
use planner::{Plan, Step};
use std::time::Duration;
use tokio::time::{sleep, timeout, Instant};
use tracing::{info, warn};

/// Sweep retries, timeouts and optional delays. The defaults are the
/// reference's timeouts and tries, with none of its fixed sleeps.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Wait for the end of the first sweep of a sequence (it may home).
    pub first_sweep_timeout: Duration,
    /// Wait for the end of every later sweep.
    pub sweep_timeout: Duration,
    /// Tries per step before the sequence ends as an I/O failure.
    pub attempts: u32,
    /// Pause between tries.
    pub retry_delay: Duration,
    /// Pause after each move, before the sweep.
    pub settle: Duration,
    /// Pause between steps.
    pub between_steps: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            first_sweep_timeout: Duration::from_secs(120),
            sweep_timeout: Duration::from_secs(15),
            attempts: 3,
            retry_delay: Duration::ZERO,
            settle: Duration::ZERO,
            between_steps: Duration::ZERO,
        }
    }
}

/// The hardware of one sequence.
pub struct Devices<'a> {
    /// Moves to each step's positions.
    pub positioner: &'a mut dyn Positioner,
    /// Fires each step's sweep.
    pub trigger: &'a mut dyn Trigger,
    /// Reads each step's data.
    pub detector: &'a mut dyn Detector,
}

/// How a sequence ended (the reference's `TaskStatus`, minus the states
/// the daemon decides).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SequenceOutcome {
    /// Every step completed.
    Success,
    /// The operator's STOP ended it at a step boundary; the reason says
    /// where.
    Stopped(String),
    /// The operator's ABORT ended it at once; the reason says where.
    Aborted(String),
    /// Hardware or a required callback failed; the reason is for the
    /// operator's `ErrorLog`.
    IoFail(String),
}

impl SequenceOutcome {
    /// The truth for the operator and the file.
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            Self::Success => ExitStatus::Completed,
            Self::Stopped(_) => ExitStatus::Stopped,
            Self::Aborted(_) => ExitStatus::Aborted,
            Self::IoFail(_) => ExitStatus::Failed,
        }
    }

    /// Why it ended early; empty when it completed.
    pub fn reason(&self) -> &str {
        match self {
            Self::Success => "",
            Self::Stopped(r) | Self::Aborted(r) | Self::IoFail(r) => r,
        }
    }
}

/// How a sequence really ended: `ScanExitStatus` and the file's
/// `exit_status` (the reference reports an abort as success).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Every step done (or nothing to do).
    Completed = 0,
    /// The operator's STOP ended it after a step.
    Stopped = 1,
    /// The operator's ABORT (or a shutdown) ended it at once.
    Aborted = 2,
    /// Refused inputs, hardware or file failure, or a bug.
    Failed = 3,
    /// Still running (ScanExitStatus while a sequence runs; a file's
    /// `exit_status` until it is closed).
    Running = 4,
    /// The daemon stopped (killed, crashed, power lost) while writing: found
    /// and marked at the next start.
    Interrupted = 5,
}

impl ExitStatus {
    /// The labels, in value order (the first four are the values clients
    /// knew before Running and Interrupted were added).
    pub const LABELS: [&'static str; 6] = [
        "Completed",
        "Stopped",
        "Aborted",
        "Failed",
        "Running",
        "Interrupted",
    ];

    /// Its label.
    pub fn label(self) -> &'static str {
        Self::LABELS[self as usize]
    }
}

/// Why the steps ended early.
enum Ended {
    Failed(String),
    Stopped(String),
    Aborted(String),
}

impl From<String> for Ended {
    fn from(reason: String) -> Self {
        Self::Failed(reason)
    }
}

/// What a sequence did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceReport {
    /// How it ended.
    pub outcome: SequenceOutcome,
    /// Steps that completed (data read and every required callback done).
    pub completed_steps: usize,
    /// Sweeps that had to be repeated.
    pub sweep_retries: u32,
    /// Failures of optional callbacks ("name at step N: message").
    pub callback_failures: Vec<String>,
    /// Where the sequence's time went.
    pub phases: PhaseTimes,
}

/// Time spent in each phase of the steps, summed over the sequence: where
/// the dead time goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PhaseTimes {
    /// Pre-step callbacks.
    pub pre_step: Duration,
    /// Moves (put with completion).
    pub moving: Duration,
    /// Settle and between-step delays.
    pub delays: Duration,
    /// Sweeps, retries included.
    pub sweeping: Duration,
    /// Reading the step's data.
    pub reading: Duration,
    /// Post-step callbacks (the HDF5 writer among them).
    pub post_step: Duration,
}

impl std::fmt::Display for PhaseTimes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        write!(
            f,
            "pre-step {:.1} ms, moves {:.1} ms, delays {:.1} ms, sweeps {:.1} ms, \
             reads {:.1} ms, post-step {:.1} ms",
            ms(self.pre_step),
            ms(self.moving),
            ms(self.delays),
            ms(self.sweeping),
            ms(self.reading),
            ms(self.post_step)
        )
    }
}

/// Waits `delay`; a zero delay returns at once (tokio's timer would round
/// it up to its next millisecond tick, twice per step).
async fn pause(delay: Duration) {
    if !delay.is_zero() {
        sleep(delay).await;
    }
}

struct Run<'a, 'b> {
    devices: Devices<'a>,
    callbacks: &'b mut [Box<dyn StepCallback>],
    policy: &'b RetryPolicy,
    report: SequenceReport,
    /// What the current step is doing, for an abort's reason.
    phase: &'static str,
}

impl Run<'_, '_> {
    /// A callback failure: fatal for required callbacks, recorded otherwise.
    fn callback_failed(
        &mut self,
        name: &str,
        required: bool,
        step: usize,
        message: &str,
    ) -> Option<String> {
        let text = format!("{name} at step {}: {message}", step + 1);
        if required {
            Some(format!("required callback {text}"))
        } else {
            warn!(
                callback = name,
                step = step + 1,
                "callback failed, skipped: {message}"
            );
            self.report.callback_failures.push(text);
            None
        }
    }

    async fn pre_step(&mut self, ctx: &StepContext) -> Result<(), String> {
        for i in 0..self.callbacks.len() {
            let (name, required) = (
                self.callbacks[i].name().to_string(),
                self.callbacks[i].required(),
            );
            if let Err(e) = self.callbacks[i].pre_step(ctx).await {
                if let Some(fatal) = self.callback_failed(&name, required, ctx.index, &e.0) {
                    return Err(fatal);
                }
            }
        }
        Ok(())
    }

    /// The post-step callbacks in order. A required one (the file) always
    /// runs to its end: data that was read is written. An interruptible one
    /// (a user's callback) is cut short by an ABORT: it must not hold the
    /// file open past a shutdown's grace. Failure rules apply as usual.
    async fn post_step(
        &mut self,
        ctx: &StepContext,
        data: &mut StepData,
        control: &mut Control,
    ) -> Result<(), String> {
        for i in 0..self.callbacks.len() {
            let (name, required) = (
                self.callbacks[i].name().to_string(),
                self.callbacks[i].required(),
            );
            let result = if required || !self.callbacks[i].interruptible() {
                self.callbacks[i].post_step(ctx, data).await
            } else {
                tokio::select! {
                    biased;
                    _ = control.aborted() => {
                        warn!(
                            callback = name.as_str(),
                            step = ctx.index + 1,
                            "cut short by ABORT"
                        );
                        continue;
                    }
                    result = self.callbacks[i].post_step(ctx, data) => result,
                }
            };
            if let Err(e) = result {
                if let Some(fatal) = self.callback_failed(&name, required, ctx.index, &e.0) {
                    return Err(fatal);
                }
            }
        }
        Ok(())
    }

    /// Fires until a sweep ends well, at most `attempts` times.
    async fn sweep(&mut self, step: usize) -> Result<(), String> {
        let limit = if step == 0 {
            self.policy.first_sweep_timeout
        } else {
            self.policy.sweep_timeout
        };
        let attempts = self.policy.attempts.max(1);
        let mut last = String::new();
        for attempt in 1..=attempts {
            last = match timeout(limit, self.devices.trigger.fire()).await {
                Ok(Ok(SweepOutcome::Ok)) => return Ok(()),
                Ok(Ok(SweepOutcome::Failed(reason))) => reason,
                Ok(Err(e)) => e.to_string(),
                Err(_) => format!("the sweep did not end within {:.1} s", limit.as_secs_f64()),
            };
            warn!(step = step + 1, attempt, "sweep failed: {last}");
            if attempt < attempts {
                self.report.sweep_retries += 1;
                pause(self.policy.retry_delay).await;
            }
        }
        Err(format!(
            "step {}: the sweep failed {attempts} times; last: {last}",
            step + 1
        ))
    }

    /// Holds while paused; says whether the next step may start.
    async fn boundary(
        &mut self,
        step: usize,
        total: usize,
        control: &mut Control,
    ) -> Result<(), Ended> {
        let mut directive = control.now();
        if directive == Directive::Pause {
            info!(
                "paused before step {} of {total}: RESUME goes on, STOP or ABORT ends",
                step + 1
            );
            directive = control.after_pause().await;
            if directive == Directive::Resume {
                info!("resumed at step {} of {total}", step + 1);
            }
        }
        let done = self.report.completed_steps;
        match directive {
            Directive::Resume | Directive::Pause => Ok(()),
            Directive::Stop => Err(Ended::Stopped(format!(
                "STOP before step {} of {total}: {done} steps completed",
                step + 1
            ))),
            Directive::Abort => Err(Ended::Aborted(format!(
                "ABORT before step {} of {total}: {done} steps completed",
                step + 1
            ))),
        }
    }

    /// One step up to its data: pre-step callbacks, move, settle, sweep,
    /// read. Dropped part-way when the operator aborts.
    async fn acquire(
        &mut self,
        ctx: &StepContext,
        step: &Step<'_>,
        mark: &mut Instant,
    ) -> Result<StepData, String> {
        let mut lap = |total: &mut Duration| {
            let now = Instant::now();
            *total += now - *mark;
            *mark = now;
        };
        self.phase = "the pre-step callbacks";
        self.pre_step(ctx).await?;
        lap(&mut self.report.phases.pre_step);
        self.phase = "the move";
        self.devices
            .positioner
            .move_to(step.positions)
            .await
            .map_err(|e| {
                format!(
                    "step {}: moving to {:?}: {e}",
                    step.index + 1,
                    step.positions
                )
            })?;
        lap(&mut self.report.phases.moving);
        self.phase = "the settle delay";
        pause(self.policy.settle).await;
        lap(&mut self.report.phases.delays);
        self.phase = "the sweep";
        self.sweep(step.index).await?;
        lap(&mut self.report.phases.sweeping);
        self.phase = "the data read";
        let data = self
            .devices
            .detector
            .read()
            .await
            .map_err(|e| format!("step {}: reading data: {e}", step.index + 1))?;
        lap(&mut self.report.phases.reading);
        Ok(data)
    }

    async fn steps(
        &mut self,
        plan: &Plan,
        relative: bool,
        control: &mut Control,
    ) -> Result<(), Ended> {
        let started = Instant::now();
        if relative {
            self.devices
                .positioner
                .prepare_relative()
                .await
                .map_err(|e| e.to_string())?;
        }
        let total = plan.len();
        for step in plan.steps() {
            self.boundary(step.index, total, control).await?;
            let ctx = StepContext {
                index: step.index,
                total,
                positions: step.positions.to_vec(),
                elapsed: started.elapsed(),
            };
            let mut mark = Instant::now();
            let mut data = tokio::select! {
                biased;
                _ = control.aborted() => {
                    return Err(Ended::Aborted(format!(
                        "ABORT during {} of step {} of {total}: {} steps completed",
                        self.phase,
                        step.index + 1,
                        self.report.completed_steps
                    )));
                }
                data = self.acquire(&ctx, &step, &mut mark) => data?,
            };
            // Data that was read is written: the post-step callbacks (the
            // fit, the file) are not cut short by an abort; only an
            // interruptible one (a user's callback) is.
            self.post_step(&ctx, &mut data, control).await?;
            self.report.phases.post_step += mark.elapsed();
            self.report.completed_steps += 1;
            info!(step = step.index + 1, total, "step done");
            if step.index + 1 < total {
                let waited = Instant::now();
                tokio::select! {
                    biased;
                    _ = control.aborted() => {}
                    _ = pause(self.policy.between_steps) => {}
                }
                self.report.phases.delays += waited.elapsed();
            }
        }
        Ok(())
    }
}

/// Runs `plan` on `devices`, with `callbacks` around every step, under the
/// operator's `control`.
///
/// Never panics on device or callback failure: the first fatal problem ends
/// the sequence as [`SequenceOutcome::IoFail`] with a reason naming the
/// step, and the steps completed before it stay completed. PAUSE holds
/// before the next step; STOP ends there; ABORT ends at once, dropping the
/// step in progress unless its data was already read (then it is written
/// first).
pub async fn run_sequence(
    plan: &Plan,
    relative: bool,
    devices: Devices<'_>,
    callbacks: &mut [Box<dyn StepCallback>],
    policy: &RetryPolicy,
    mut control: Control,
) -> SequenceReport {
    let mut run = Run {
        devices,
        callbacks,
        policy,
        report: SequenceReport {
            outcome: SequenceOutcome::Success,
            completed_steps: 0,
            sweep_retries: 0,
            callback_failures: Vec::new(),
            phases: PhaseTimes::default(),
        },
        phase: "the start",
    };
    match run.steps(plan, relative, &mut control).await {
        Ok(()) => {}
        Err(Ended::Failed(reason)) => {
            warn!("sequence failed: {reason}");
            run.report.outcome = SequenceOutcome::IoFail(reason);
        }
        Err(Ended::Stopped(reason)) => {
            info!("sequence stopped: {reason}");
            run.report.outcome = SequenceOutcome::Stopped(reason);
        }
        Err(Ended::Aborted(reason)) => {
            warn!("sequence aborted: {reason}");
            run.report.outcome = SequenceOutcome::Aborted(reason);
        }
    }
    // The required callbacks (the file) end first: a slow optional one (a
    // user's callback told the end) must not keep the record open.
    let (required, optional): (Vec<_>, Vec<_>) =
        run.callbacks.iter_mut().partition(|c| c.required());
    for callback in required.into_iter().chain(optional) {
        if let Err(e) = callback.sequence_end(&run.report).await {
            warn!(callback = callback.name(), "at sequence end: {e}");
            run.report
                .callback_failures
                .push(format!("{} at sequence end: {e}", callback.name()));
        }
    }
    run.report
}
