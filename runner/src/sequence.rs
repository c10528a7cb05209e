//! One scan sequence: the step loop, its per-phase limits and retries,
//! recovery after a dropped call, and the callback chain's failure rules.

use crate::control::{Control, Directive};
use crate::data::StepData;
use crate::devices::{DeviceError, Phase, Rig, StepCallback, StepContext, SweepOutcome};
use crate::progress::Progress;
use planner::{Plan, Step};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{sleep, timeout, Instant};
use tracing::{info, warn};

/// The loop's limit on one phase: the first step's (it may home, or the
/// first setpoint may be far) and every later step's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// For step 1.
    pub first: Duration,
    /// For every later step.
    pub later: Duration,
}

impl Limit {
    /// The same limit for every step.
    pub const fn always(limit: Duration) -> Self {
        Self {
            first: limit,
            later: limit,
        }
    }

    /// The limit at step `index` (0-based).
    pub fn at(&self, index: usize) -> Duration {
        if index == 0 {
            self.first
        } else {
            self.later
        }
    }
}

/// Per-phase limits, acquisition retries and optional delays. The loop
/// owns every limit: a rig's call that outlives its phase's limit (plus
/// what the rig says the phase takes, [`Rig::expected`]) is dropped, the
/// rig recovers, and the reason names the phase. The defaults are the
/// reference's sweep timeouts and tries, with none of its fixed sleeps.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Reaching a step's positions.
    pub moving: Limit,
    /// Becoming stable at a step.
    pub settling: Limit,
    /// One acquisition (a sweep: 120 s for the first, which may home, 15 s
    /// later).
    pub acquiring: Limit,
    /// Reading a step's data.
    pub reading: Limit,
    /// A rig's `recover`.
    pub recovering: Duration,
    /// Acquisitions per step before the sequence ends as an I/O failure.
    pub attempts: u32,
    /// Pause between tries.
    pub retry_delay: Duration,
    /// Fixed pause after each move, before the settle and the acquisition.
    pub settle: Duration,
    /// Pause between steps.
    pub between_steps: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            moving: Limit {
                first: Duration::from_secs(120),
                later: Duration::from_secs(30),
            },
            settling: Limit {
                first: Duration::from_secs(600),
                later: Duration::from_secs(300),
            },
            acquiring: Limit {
                first: Duration::from_secs(120),
                later: Duration::from_secs(15),
            },
            reading: Limit::always(Duration::from_secs(30)),
            recovering: Duration::from_secs(10),
            attempts: 3,
            retry_delay: Duration::ZERO,
            settle: Duration::ZERO,
            between_steps: Duration::ZERO,
        }
    }
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
    /// Steps that completed (data read and handed to every required
    /// callback).
    pub completed_steps: usize,
    /// Acquisitions that had to be repeated.
    pub sweep_retries: u32,
    /// Every phase the loop's limit cut short: (0-based step, phase).
    pub timed_out: Vec<(usize, Phase)>,
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
    /// Settling at the steps.
    pub settling: Duration,
    /// Fixed settle and between-step delays.
    pub delays: Duration,
    /// Acquisitions (sweeps), retries included.
    pub sweeping: Duration,
    /// Reading the step's data.
    pub reading: Duration,
    /// Post-step callbacks (the analysis: the fit, a user's callback).
    pub post_step: Duration,
    /// Handing the finished steps to the sinks (the writer: the wait for
    /// the step before, when its write is still going).
    pub recording: Duration,
    /// Rigs recovering after a dropped or timed-out call.
    pub recovering: Duration,
}

impl std::fmt::Display for PhaseTimes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        write!(
            f,
            "pre-step {:.1} ms, moves {:.1} ms, settling {:.1} ms, delays {:.1} ms, \
             sweeps {:.1} ms, reads {:.1} ms, post-step {:.1} ms, recording {:.1} ms, \
             recovery {:.1} ms",
            ms(self.pre_step),
            ms(self.moving),
            ms(self.settling),
            ms(self.delays),
            ms(self.sweeping),
            ms(self.reading),
            ms(self.post_step),
            ms(self.recording),
            ms(self.recovering)
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

/// How one bounded rig call failed.
enum CallFailed {
    /// The loop's limit expired and the call was dropped.
    TimedOut(Duration),
    /// The rig said so.
    Device(DeviceError),
}

/// `call` within `limit`: a zero-cost pass-through when it ends in time.
async fn within<T>(
    limit: Duration,
    call: impl Future<Output = Result<T, DeviceError>>,
) -> Result<T, CallFailed> {
    match timeout(limit, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(CallFailed::Device(e)),
        Err(_) => Err(CallFailed::TimedOut(limit)),
    }
}

struct Run<'a, 'b> {
    rig: &'a mut dyn Rig,
    callbacks: &'b mut [Box<dyn StepCallback>],
    policy: &'b RetryPolicy,
    report: SequenceReport,
    /// What the current step is doing, for an abort's reason.
    phase: &'static str,
    /// A rig call is under way: when it is dropped (an ABORT), the rig
    /// recovers before the sequence ends.
    in_call: bool,
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

    /// The post-step callbacks in order. A required one always runs to its
    /// end: data that was read is written. An interruptible one (a user's
    /// callback) is cut short by an ABORT: it must not hold the file open
    /// past a shutdown's grace. Failure rules apply as usual.
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

    /// The finished step to every callback's `record` (never cut short).
    async fn record(&mut self, ctx: &StepContext, data: Arc<StepData>) -> Result<(), String> {
        for i in 0..self.callbacks.len() {
            let (name, required) = (
                self.callbacks[i].name().to_string(),
                self.callbacks[i].required(),
            );
            if let Err(e) = self.callbacks[i].record(ctx, Arc::clone(&data)).await {
                if let Some(fatal) = self.callback_failed(&name, required, ctx.index, &e.0) {
                    return Err(fatal);
                }
            }
        }
        Ok(())
    }

    /// Every callback finishes what its `record` left under way.
    async fn drain(&mut self) -> Result<(), String> {
        let step = self.report.completed_steps.saturating_sub(1);
        for i in 0..self.callbacks.len() {
            let (name, required) = (
                self.callbacks[i].name().to_string(),
                self.callbacks[i].required(),
            );
            if let Err(e) = self.callbacks[i].drain().await {
                if let Some(fatal) = self.callback_failed(&name, required, step, &e.0) {
                    return Err(fatal);
                }
            }
        }
        Ok(())
    }

    /// The rig clears a dropped or failed exchange, within its limit; a
    /// failure is logged (the next call will tell if the rig is unusable).
    async fn recover(&mut self, step: usize) {
        let started = Instant::now();
        let limit = self.policy.recovering + self.rig.expected(Phase::Recover);
        match within(limit, self.rig.recover()).await {
            Ok(()) => {}
            Err(CallFailed::Device(e)) => warn!(step = step + 1, "recovery failed: {e}"),
            Err(CallFailed::TimedOut(after)) => {
                self.report.timed_out.push((step, Phase::Recover));
                warn!(
                    step = step + 1,
                    "recovery did not end within {:.1} s",
                    after.as_secs_f64()
                );
            }
        }
        self.in_call = false;
        self.report.phases.recovering += started.elapsed();
    }

    /// The limit of `phase` at step `index`: the station's plus what the
    /// rig says the phase takes.
    fn limit(&self, phase: Phase, index: usize) -> Duration {
        let limit = match phase {
            Phase::Move => self.policy.moving,
            Phase::Settle => self.policy.settling,
            Phase::Acquire => self.policy.acquiring,
            Phase::Read => self.policy.reading,
            Phase::Recover => Limit::always(self.policy.recovering),
        };
        limit.at(index).saturating_add(self.rig.expected(phase))
    }

    /// A failed single-try phase: recovered when needed, then the reason.
    async fn failed(&mut self, step: usize, phase: Phase, failure: CallFailed) -> String {
        let reason = match failure {
            CallFailed::TimedOut(after) => {
                self.report.timed_out.push((step, phase));
                self.recover(step).await;
                format!(
                    "{} did not end within {:.1} s",
                    phase.describe(),
                    after.as_secs_f64()
                )
            }
            CallFailed::Device(e) => {
                if e.needs_recovery() {
                    self.recover(step).await;
                }
                e.to_string()
            }
        };
        self.in_call = false;
        reason
    }

    /// Acquires until one ends well, at most `attempts` times; a refusal is
    /// not retried.
    async fn sweep(&mut self, step: usize, total: usize) -> Result<(), String> {
        let limit = self.limit(Phase::Acquire, step);
        let attempts = self.policy.attempts.max(1);
        let mut last = String::new();
        for attempt in 1..=attempts {
            let progress = Progress::new(step, total, Phase::Acquire);
            self.in_call = true;
            let result = within(limit, self.rig.acquire(&progress)).await;
            self.in_call = false;
            last = match result {
                Ok(SweepOutcome::Ok) => return Ok(()),
                Ok(SweepOutcome::Failed(reason)) => reason,
                Err(CallFailed::TimedOut(after)) => {
                    self.report.timed_out.push((step, Phase::Acquire));
                    self.recover(step).await;
                    format!("the sweep did not end within {:.1} s", after.as_secs_f64())
                }
                Err(CallFailed::Device(e)) => {
                    if e.needs_recovery() {
                        self.recover(step).await;
                    }
                    if !e.retryable() {
                        return Err(format!("step {}: the acquisition: {e}", step + 1));
                    }
                    e.to_string()
                }
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

    /// One step up to its data: pre-step callbacks, move, settle, acquire,
    /// read, each within its limit. Dropped part-way when the operator
    /// aborts (then `in_call` tells that the rig must recover).
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
        let (index, total) = (step.index, ctx.total);
        self.phase = "the pre-step callbacks";
        self.pre_step(ctx).await?;
        lap(&mut self.report.phases.pre_step);

        self.phase = "the move";
        let limit = self.limit(Phase::Move, index);
        let progress = Progress::new(index, total, Phase::Move);
        self.in_call = true;
        if let Err(failure) = within(limit, self.rig.move_to(step.positions, &progress)).await {
            let reason = self.failed(index, Phase::Move, failure).await;
            return Err(format!(
                "step {}: moving to {:?}: {reason}",
                index + 1,
                step.positions
            ));
        }
        self.in_call = false;
        lap(&mut self.report.phases.moving);

        self.phase = "the settle delay";
        pause(self.policy.settle).await;
        lap(&mut self.report.phases.delays);

        self.phase = "the settle";
        let limit = self.limit(Phase::Settle, index);
        let progress = Progress::new(index, total, Phase::Settle);
        self.in_call = true;
        if let Err(failure) = within(limit, self.rig.settle(&progress)).await {
            let reason = self.failed(index, Phase::Settle, failure).await;
            return Err(format!("step {}: settling: {reason}", index + 1));
        }
        self.in_call = false;
        lap(&mut self.report.phases.settling);

        self.phase = "the sweep";
        self.sweep(index, total).await?;
        lap(&mut self.report.phases.sweeping);

        self.phase = "the data read";
        let limit = self.limit(Phase::Read, index);
        self.in_call = true;
        let data = match within(limit, self.rig.read()).await {
            Ok(data) => data,
            Err(failure) => {
                let reason = self.failed(index, Phase::Read, failure).await;
                return Err(format!("step {}: reading data: {reason}", index + 1));
            }
        };
        self.in_call = false;
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
            let limit = self.limit(Phase::Move, 0);
            if let Err(failure) = within(limit, self.rig.prepare_relative()).await {
                let reason = self.failed(0, Phase::Move, failure).await;
                return Err(Ended::Failed(format!(
                    "preparing the relative scan: {reason}"
                )));
            }
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
            let acquired = tokio::select! {
                biased;
                _ = control.aborted() => None,
                data = self.acquire(&ctx, &step, &mut mark) => Some(data),
            };
            let mut data = match acquired {
                Some(data) => data?,
                None => {
                    let reason = format!(
                        "ABORT during {} of step {} of {total}: {} steps completed",
                        self.phase,
                        step.index + 1,
                        self.report.completed_steps
                    );
                    if self.in_call {
                        // The rig's call was dropped mid-exchange.
                        self.recover(step.index).await;
                    }
                    return Err(Ended::Aborted(reason));
                }
            };
            // Data that was read is written: the post-step callbacks (the
            // fit, the file) are not cut short by an abort; only an
            // interruptible one (a user's callback) is.
            self.post_step(&ctx, &mut data, control).await?;
            let analysed = Instant::now();
            self.report.phases.post_step += analysed - mark;
            self.record(&ctx, Arc::new(data)).await?;
            self.report.phases.recording += analysed.elapsed();
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

/// Runs `plan` on `rig`, with `callbacks` around every step, under the
/// operator's `control`.
///
/// Never panics on device or callback failure: the first fatal problem ends
/// the sequence as [`SequenceOutcome::IoFail`] with a reason naming the
/// step and the phase, and the steps completed before it stay completed.
/// PAUSE holds before the next step; STOP ends there; ABORT ends at once,
/// dropping the step in progress unless its data was already read (then it
/// is written first); the rig recovers from any call that was dropped.
pub async fn run_sequence(
    plan: &Plan,
    relative: bool,
    rig: &mut dyn Rig,
    callbacks: &mut [Box<dyn StepCallback>],
    policy: &RetryPolicy,
    mut control: Control,
) -> SequenceReport {
    let mut run = Run {
        rig,
        callbacks,
        policy,
        report: SequenceReport {
            outcome: SequenceOutcome::Success,
            completed_steps: 0,
            sweep_retries: 0,
            timed_out: Vec::new(),
            callback_failures: Vec::new(),
            phases: PhaseTimes::default(),
        },
        phase: "the start",
        in_call: false,
    };
    let mut ended = run.steps(plan, relative, &mut control).await;
    if matches!(ended, Ok(()) | Err(Ended::Stopped(_))) {
        if let Err(reason) = run.drain().await {
            ended = Err(Ended::Failed(reason));
        }
    }
    match ended {
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
