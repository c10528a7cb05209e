//! The step loop against in-memory devices: ordering, retries, timeouts
//! (with tokio's paused clock, so a 120 s timeout takes no real time), and
//! the callback chain's failure rules.

#![allow(clippy::unwrap_used)] // test doubles: a poisoned lock is a test failure

use async_trait::async_trait;
use planner::Plan;
use runner::{
    control_channel, run_sequence, CallbackError, Control, ControlSender, Detector, DeviceError,
    Devices, Directive, Positioner, PvRecord, PvValue, RetryPolicy, SequenceOutcome, StepCallback,
    StepContext, StepData, SweepOutcome, Trigger,
};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Log = Arc<Mutex<Vec<String>>>;

struct Motor {
    log: Log,
    at: f64,
}

#[async_trait]
impl Positioner for Motor {
    async fn current(&mut self) -> Result<Vec<f64>, DeviceError> {
        Ok(vec![self.at])
    }
    async fn prepare_relative(&mut self) -> Result<(), DeviceError> {
        self.log.lock().unwrap().push("prepare_relative".into());
        Ok(())
    }
    async fn move_to(&mut self, positions: &[f64]) -> Result<(), DeviceError> {
        self.at = positions[0];
        self.log
            .lock()
            .unwrap()
            .push(format!("move {}", positions[0]));
        Ok(())
    }
}

/// How each successive `fire` behaves; `Ok` once the script runs out.
enum Sweep {
    Ok,
    Bad,
    Error,
    Hang,
}

struct ScriptedTrigger {
    log: Log,
    script: VecDeque<Sweep>,
}

#[async_trait]
impl Trigger for ScriptedTrigger {
    async fn fire(&mut self) -> Result<SweepOutcome, DeviceError> {
        self.log.lock().unwrap().push("fire".into());
        match self.script.pop_front().unwrap_or(Sweep::Ok) {
            Sweep::Ok => Ok(SweepOutcome::Ok),
            Sweep::Bad => Ok(SweepOutcome::Failed(
                "ScanStatus: IOPS Failure Detected".into(),
            )),
            Sweep::Error => Err(DeviceError::new("Test:SCAN:RunHardScan", "disconnected")),
            Sweep::Hang => std::future::pending().await,
        }
    }
}

struct Reader {
    at: Arc<Mutex<f64>>,
}

#[async_trait]
impl Detector for Reader {
    async fn read(&mut self) -> Result<StepData, DeviceError> {
        let mut data = StepData::default();
        let position = *self.at.lock().unwrap();
        data.push(
            "scan",
            PvRecord {
                name: "Test:SCAN:PosToDelay".into(),
                value: PvValue::Double(position),
                egu: Some("mm".into()),
            },
        );
        Ok(data)
    }
}

/// Records calls; fails at `fail_at` (0-based step) in post_step.
struct Recorder {
    name: String,
    required: bool,
    fail_at: Option<usize>,
    log: Log,
}

#[async_trait]
impl StepCallback for Recorder {
    fn name(&self) -> &str {
        &self.name
    }
    fn required(&self) -> bool {
        self.required
    }
    async fn pre_step(&mut self, ctx: &StepContext) -> Result<(), CallbackError> {
        self.log
            .lock()
            .unwrap()
            .push(format!("{} pre {}", self.name, ctx.index));
        Ok(())
    }
    async fn post_step(
        &mut self,
        ctx: &StepContext,
        data: &mut StepData,
    ) -> Result<(), CallbackError> {
        if self.fail_at == Some(ctx.index) {
            return Err(CallbackError("disk full".into()));
        }
        let recorded = data
            .find("scan", "Test:SCAN:PosToDelay")
            .map(|r| r.value.clone());
        assert_eq!(
            recorded,
            Some(PvValue::Double(ctx.positions[0])),
            "data of the wrong step"
        );
        self.log
            .lock()
            .unwrap()
            .push(format!("{} post {}", self.name, ctx.index));
        Ok(())
    }
}

struct Rig {
    log: Log,
    motor: Motor,
    trigger: ScriptedTrigger,
    control: Control,
}

impl Rig {
    fn new(script: Vec<Sweep>) -> Self {
        let log: Log = Arc::default();
        Self {
            motor: Motor {
                log: log.clone(),
                at: 0.0,
            },
            trigger: ScriptedTrigger {
                log: log.clone(),
                script: script.into(),
            },
            log,
            control: Control::none(),
        }
    }

    /// A rig whose sequence the returned sender controls.
    fn controlled(script: Vec<Sweep>) -> (Self, Arc<ControlSender>) {
        let (tx, control) = control_channel();
        let mut rig = Self::new(script);
        rig.control = control;
        (rig, Arc::new(tx))
    }

    async fn run(
        &mut self,
        plan: &Plan,
        relative: bool,
        callbacks: &mut [Box<dyn StepCallback>],
    ) -> runner::SequenceReport {
        // The detector reads the motor's position through a shared cell.
        let at = Arc::new(Mutex::new(0.0));
        let mut reader = Reader { at: at.clone() };
        struct Tracking<'a> {
            motor: &'a mut Motor,
            at: Arc<Mutex<f64>>,
        }
        #[async_trait]
        impl Positioner for Tracking<'_> {
            async fn current(&mut self) -> Result<Vec<f64>, DeviceError> {
                self.motor.current().await
            }
            async fn prepare_relative(&mut self) -> Result<(), DeviceError> {
                self.motor.prepare_relative().await
            }
            async fn move_to(&mut self, positions: &[f64]) -> Result<(), DeviceError> {
                *self.at.lock().unwrap() = positions[0];
                self.motor.move_to(positions).await
            }
        }
        let mut positioner = Tracking {
            motor: &mut self.motor,
            at,
        };
        let mut devices = Devices {
            positioner: &mut positioner,
            trigger: Some(&mut self.trigger),
            detector: &mut reader,
        };
        run_sequence(
            plan,
            relative,
            &mut devices,
            callbacks,
            &RetryPolicy::default(),
            self.control.clone(),
        )
        .await
    }

    /// A plan of `steps` steps at positions 0, 1, 2, ... mm.
    async fn run_steps(
        &mut self,
        steps: u32,
        callbacks: &mut [Box<dyn StepCallback>],
    ) -> runner::SequenceReport {
        let plan = Plan::linspace(0.0, steps as f64 - 1.0, steps, 100).unwrap();
        self.run(&plan, false, callbacks).await
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

fn recorder(
    log: &Log,
    name: &str,
    required: bool,
    fail_at: Option<usize>,
) -> Box<dyn StepCallback> {
    Box::new(Recorder {
        name: name.into(),
        required,
        fail_at,
        log: log.clone(),
    })
}

#[tokio::test(start_paused = true)]
async fn steps_run_in_order_with_callbacks_around_each() {
    let mut rig = Rig::new(vec![]);
    let mut callbacks = vec![
        recorder(&rig.log, "status", false, None),
        recorder(&rig.log, "hdf5", true, None),
    ];
    let plan = Plan::linspace(0.0, 2.0, 3, 100).unwrap();
    let report = rig.run(&plan, false, &mut callbacks).await;
    assert_eq!(report.outcome, SequenceOutcome::Success);
    assert_eq!(report.completed_steps, 3);
    let log = rig.log();
    assert_eq!(
        &log[..6],
        [
            "status pre 0",
            "hdf5 pre 0",
            "move 0",
            "fire",
            "status post 0",
            "hdf5 post 0"
        ]
    );
    assert_eq!(log.len(), 18);
}

#[tokio::test(start_paused = true)]
async fn a_relative_scan_prepares_first_and_an_empty_plan_does_nothing() {
    let mut rig = Rig::new(vec![]);
    let plan = Plan::relative(-1.0, 1.0, 3, Some(5.0), 100).unwrap();
    let report = rig.run(&plan, true, &mut []).await;
    assert_eq!(report.completed_steps, 3);
    assert_eq!(rig.log()[..2], ["prepare_relative", "move 4"]);

    let mut idle = Rig::new(vec![]);
    let report = idle
        .run(&Plan::linspace(0.0, 1.0, 0, 100).unwrap(), false, &mut [])
        .await;
    assert_eq!(
        (report.outcome, report.completed_steps),
        (SequenceOutcome::Success, 0)
    );
    assert!(idle.log().is_empty());
}

#[tokio::test(start_paused = true)]
async fn failed_sweeps_are_retried() {
    let mut rig = Rig::new(vec![Sweep::Ok, Sweep::Bad, Sweep::Error, Sweep::Ok]);
    let plan = Plan::linspace(0.0, 1.0, 2, 100).unwrap();
    let report = rig.run(&plan, false, &mut []).await;
    assert_eq!(report.outcome, SequenceOutcome::Success);
    assert_eq!(report.sweep_retries, 2);
    assert_eq!(rig.log().iter().filter(|l| *l == "fire").count(), 4);
}

#[tokio::test(start_paused = true)]
async fn three_failures_end_the_sequence_keeping_completed_steps() {
    let mut rig = Rig::new(vec![Sweep::Ok, Sweep::Bad, Sweep::Bad, Sweep::Bad]);
    let plan = Plan::linspace(0.0, 1.0, 5, 100).unwrap();
    let report = rig.run(&plan, false, &mut []).await;
    assert_eq!(report.completed_steps, 1);
    match report.outcome {
        SequenceOutcome::IoFail(reason) => {
            assert!(reason.contains("step 2"), "{reason}");
            assert!(reason.contains("3 times"), "{reason}");
            assert!(reason.contains("IOPS Failure"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_sweep_that_never_ends_times_out() {
    let started = tokio::time::Instant::now();
    let mut rig = Rig::new(vec![Sweep::Ok, Sweep::Hang, Sweep::Hang, Sweep::Hang]);
    let plan = Plan::linspace(0.0, 1.0, 2, 100).unwrap();
    let report = rig.run(&plan, false, &mut []).await;
    assert_eq!(report.completed_steps, 1);
    let SequenceOutcome::IoFail(reason) = report.outcome else {
        panic!("expected IoFail")
    };
    assert!(reason.contains("did not end within 15.0 s"), "{reason}");
    // Three 15 s attempts on the second step, on the paused clock.
    assert_eq!(started.elapsed(), Duration::from_secs(45));
}

#[tokio::test(start_paused = true)]
async fn the_first_sweep_gets_the_long_timeout() {
    let started = tokio::time::Instant::now();
    let mut rig = Rig::new(vec![Sweep::Hang, Sweep::Ok]);
    let report = rig
        .run(&Plan::linspace(0.0, 1.0, 1, 100).unwrap(), false, &mut [])
        .await;
    assert_eq!(report.outcome, SequenceOutcome::Success);
    assert_eq!(started.elapsed(), Duration::from_secs(120));
}

#[tokio::test(start_paused = true)]
async fn optional_callback_failures_are_recorded_and_skipped() {
    let mut rig = Rig::new(vec![]);
    let mut callbacks = vec![
        recorder(&rig.log, "fit", false, Some(1)),
        recorder(&rig.log, "hdf5", true, None),
    ];
    let report = rig.run_steps(3, &mut callbacks).await;
    assert_eq!(report.outcome, SequenceOutcome::Success);
    assert_eq!(report.completed_steps, 3);
    assert_eq!(
        report.callback_failures,
        vec!["fit at step 2: disk full".to_string()]
    );
    // The writer still ran at the step where the fit failed.
    assert!(rig.log().contains(&"hdf5 post 1".to_string()));
}

#[tokio::test(start_paused = true)]
async fn a_required_callback_failure_is_an_io_failure() {
    let mut rig = Rig::new(vec![]);
    let mut callbacks = vec![recorder(&rig.log, "hdf5", true, Some(2))];
    let report = rig.run_steps(4, &mut callbacks).await;
    assert_eq!(report.completed_steps, 2);
    assert_eq!(
        report.outcome,
        SequenceOutcome::IoFail("required callback hdf5 at step 3: disk full".into())
    );
    assert!(
        !rig.log().contains(&"move 3".to_string()),
        "no step after the failure"
    );
}

/// The operator: sets a directive when a given step reaches a given phase.
struct Operator {
    control: Arc<ControlSender>,
    /// (phase "pre" or "post", 0-based step, directive)
    at: Vec<(&'static str, usize, Directive)>,
}

impl Operator {
    fn act(&self, phase: &str, step: usize) {
        for (p, s, d) in &self.at {
            if *p == phase && *s == step {
                self.control.set(*d);
            }
        }
    }
}

#[async_trait]
impl StepCallback for Operator {
    fn name(&self) -> &str {
        "operator"
    }
    async fn pre_step(&mut self, ctx: &StepContext) -> Result<(), CallbackError> {
        self.act("pre", ctx.index);
        Ok(())
    }
    async fn post_step(
        &mut self,
        ctx: &StepContext,
        _: &mut StepData,
    ) -> Result<(), CallbackError> {
        self.act("post", ctx.index);
        Ok(())
    }
}

fn operator(
    control: &Arc<ControlSender>,
    at: Vec<(&'static str, usize, Directive)>,
) -> Box<dyn StepCallback> {
    Box::new(Operator {
        control: control.clone(),
        at,
    })
}

/// The operator sets `directive` `secs` seconds from now (paused clock).
fn after(
    control: &Arc<ControlSender>,
    secs: u64,
    directive: Directive,
) -> tokio::task::JoinHandle<()> {
    let control = control.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(secs)).await;
        control.set(directive);
    })
}

fn moves(log: &[String]) -> Vec<String> {
    log.iter()
        .filter(|l| l.starts_with("move"))
        .cloned()
        .collect()
}

#[tokio::test(start_paused = true)]
async fn pause_holds_at_the_next_step_boundary_until_resume() {
    let (mut rig, control) = Rig::controlled(vec![]);
    let mut callbacks = vec![
        operator(&control, vec![("post", 0, Directive::Pause)]),
        recorder(&rig.log, "hdf5", true, None),
    ];
    let log = rig.log.clone();
    let resumer = {
        let control = control.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(600)).await;
            // Ten minutes paused: still only the first step done.
            let seen = moves(&log.lock().unwrap());
            control.set(Directive::Resume);
            seen
        })
    };
    let started = tokio::time::Instant::now();
    let report = rig.run_steps(3, &mut callbacks).await;
    assert_eq!(resumer.await.unwrap(), ["move 0"]);
    assert_eq!(report.outcome, SequenceOutcome::Success);
    assert_eq!(report.completed_steps, 3);
    assert_eq!(moves(&rig.log()), ["move 0", "move 1", "move 2"]);
    assert_eq!(started.elapsed(), Duration::from_secs(600));
}

#[tokio::test(start_paused = true)]
async fn stop_finishes_the_current_step_then_ends() {
    let (mut rig, control) = Rig::controlled(vec![]);
    // STOP arrives while step 2 runs (before its move).
    let mut callbacks = vec![
        operator(&control, vec![("pre", 1, Directive::Stop)]),
        recorder(&rig.log, "hdf5", true, None),
    ];
    let report = rig.run_steps(5, &mut callbacks).await;
    assert_eq!(report.completed_steps, 2);
    let SequenceOutcome::Stopped(reason) = &report.outcome else {
        panic!("{:?}", report.outcome)
    };
    assert!(reason.contains("before step 3 of 5"), "{reason}");
    assert!(rig.log().contains(&"hdf5 post 1".to_string()));
    assert_eq!(moves(&rig.log()), ["move 0", "move 1"]);
}

#[tokio::test(start_paused = true)]
async fn abort_cancels_a_sweep_in_progress_and_keeps_completed_steps() {
    // The second sweep never ends; the operator aborts 5 s into it.
    let (mut rig, control) = Rig::controlled(vec![Sweep::Ok, Sweep::Hang]);
    let mut callbacks = vec![recorder(&rig.log, "hdf5", true, None)];
    let aborter = after(&control, 5, Directive::Abort);
    let started = tokio::time::Instant::now();
    let report = rig.run_steps(4, &mut callbacks).await;
    aborter.await.unwrap();
    // At once: not after the sweep's 15 s timeout.
    assert_eq!(started.elapsed(), Duration::from_secs(5));
    assert_eq!(report.completed_steps, 1);
    let SequenceOutcome::Aborted(reason) = &report.outcome else {
        panic!("{:?}", report.outcome)
    };
    assert!(
        reason.contains("during the sweep of step 2 of 4"),
        "{reason}"
    );
    assert!(reason.contains("1 steps completed"), "{reason}");
    let log = rig.log();
    assert!(log.contains(&"hdf5 post 0".to_string()));
    assert!(!log.contains(&"hdf5 post 1".to_string()));
}

#[tokio::test(start_paused = true)]
async fn abort_after_the_read_writes_that_step_and_abort_while_paused_ends() {
    let (mut rig, control) = Rig::controlled(vec![]);
    // ABORT arrives in the post-step chain of step 2, before the writer.
    let mut callbacks = vec![
        operator(&control, vec![("post", 1, Directive::Abort)]),
        recorder(&rig.log, "hdf5", true, None),
    ];
    let report = rig.run_steps(5, &mut callbacks).await;
    assert_eq!(report.completed_steps, 2);
    assert!(rig.log().contains(&"hdf5 post 1".to_string()));
    assert!(
        matches!(&report.outcome, SequenceOutcome::Aborted(r) if r.contains("before step 3")),
        "{:?}",
        report.outcome
    );

    let (mut rig, control) = Rig::controlled(vec![]);
    let mut callbacks = vec![operator(&control, vec![("post", 0, Directive::Pause)])];
    let aborter = after(&control, 60, Directive::Abort);
    let report = rig.run_steps(5, &mut callbacks).await;
    aborter.await.unwrap();
    assert_eq!(report.completed_steps, 1);
    assert!(
        matches!(&report.outcome, SequenceOutcome::Aborted(r) if r.contains("before step 2 of 5")),
        "{:?}",
        report.outcome
    );
}

/// A callback that takes `post_secs` in each post-step (a slow user
/// callback) and says when the sequence end reaches it.
struct Slow {
    name: &'static str,
    required: bool,
    interruptible: bool,
    post_secs: u64,
    log: Log,
}

#[async_trait]
impl StepCallback for Slow {
    fn name(&self) -> &str {
        self.name
    }
    fn required(&self) -> bool {
        self.required
    }
    fn interruptible(&self) -> bool {
        self.interruptible
    }
    async fn post_step(
        &mut self,
        ctx: &StepContext,
        _: &mut StepData,
    ) -> Result<(), CallbackError> {
        tokio::time::sleep(Duration::from_secs(self.post_secs)).await;
        self.log
            .lock()
            .unwrap()
            .push(format!("{} post {}", self.name, ctx.index));
        Ok(())
    }
    async fn sequence_end(&mut self, report: &runner::SequenceReport) -> Result<(), CallbackError> {
        self.log.lock().unwrap().push(format!(
            "{} end {:?}",
            self.name,
            report.outcome.exit_status()
        ));
        Ok(())
    }
}

/// Issue 11, A2: an ABORT (a shutdown) during a slow optional callback's
/// post-step cuts that callback short; the required writer still writes the
/// step, and at the end the writer closes the file before the optional
/// callback is told.
#[tokio::test(start_paused = true)]
async fn abort_cuts_a_slow_optional_callback_and_the_file_ends_first() {
    let (mut rig, control) = Rig::controlled(vec![]);
    let log = rig.log.clone();
    let started = tokio::time::Instant::now();
    let slow = |name, required, interruptible, post_secs| -> Box<dyn StepCallback> {
        Box::new(Slow {
            name,
            required,
            interruptible,
            post_secs,
            log: log.clone(),
        })
    };
    let mut callbacks: Vec<Box<dyn StepCallback>> = vec![
        // The live fit: optional, never cut (its point belongs to the step).
        slow("fit", false, false, 1),
        // A user's callback: cut short.
        slow("custom", false, true, 4),
        slow("hdf5", true, false, 0),
    ];
    // Step 1 ends at 5 s; the abort comes 1 s into step 2's custom call.
    let aborter = after(&control, 7, Directive::Abort);
    let report = rig.run_steps(5, &mut callbacks).await;
    aborter.await.unwrap();
    assert_eq!(report.outcome.exit_status(), runner::ExitStatus::Aborted);
    assert_eq!(report.completed_steps, 2, "{:?}", rig.log());
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(7),
        "the abort ended it at once, not after the 4 s callback"
    );
    let said: Vec<String> = rig
        .log()
        .into_iter()
        .filter(|l| ["fit", "custom", "hdf5"].iter().any(|c| l.starts_with(c)))
        .collect();
    assert_eq!(
        said,
        [
            "fit post 0",
            "custom post 0",
            "hdf5 post 0",
            "fit post 1",
            "hdf5 post 1",
            "hdf5 end Aborted",
            "fit end Aborted",
            "custom end Aborted",
        ]
    );
}
