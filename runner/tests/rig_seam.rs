//! The seam every back end plugs into, proven with rigs unlike the wire
//! scanner: a request/reply serial device over `tokio::io::duplex` whose
//! reply to a timed-out command arrives late, a 60 s counting window, hung
//! phases, refusals, an abort mid-exchange, a sink that fails late. All on
//! tokio's paused clock.

#![allow(clippy::unwrap_used)] // test doubles: a poisoned lock is a test failure

use async_trait::async_trait;
use planner::Plan;
use runner::{
    control_channel, run_sequence, CallbackError, Control, DeviceError, Directive, Limit, Phase,
    Progress, PvRecord, RetryPolicy, Rig, SequenceOutcome, StepCallback, StepContext, StepData,
    SweepOutcome, Value,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream, ReadHalf, WriteHalf};
use tokio::time::{sleep, Instant};

const SWEEP_RULE: Duration = Duration::from_secs(15);

fn policy() -> RetryPolicy {
    RetryPolicy {
        acquiring: Limit::always(SWEEP_RULE),
        ..RetryPolicy::default()
    }
}

fn plan(steps: u32) -> Plan {
    Plan::linspace(0.0, f64::from(steps) - 1.0, steps, 100).unwrap()
}

/// `steps` steps on `rig` under the 15 s sweep rule, no operator.
async fn run(
    rig: &mut dyn Rig,
    steps: u32,
    chain: &mut [Box<dyn StepCallback>],
) -> runner::SequenceReport {
    run_sequence(&plan(steps), false, rig, chain, &policy(), Control::none()).await
}

/// The device: one request at a time, `<id> <command>` in, `<id> ok
/// <command>` out; the `late`-th acquisition is answered after 20 s.
async fn serial_device(port: DuplexStream, late: usize) {
    let (read, mut write) = tokio::io::split(port);
    let mut lines = BufReader::new(read).lines();
    let mut acquisitions = 0;
    while let Ok(Some(line)) = lines.next_line().await {
        let (id, command) = line.split_once(' ').unwrap_or((&line, ""));
        if command == "ACQ" {
            acquisitions += 1;
            if acquisitions == late {
                sleep(Duration::from_secs(20)).await;
            }
        }
        let reply = format!("{id} ok {command}\n");
        if write.write_all(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// The host side: a request/reply rig that checks each reply is its own.
struct SerialRig {
    reader: BufReader<ReadHalf<DuplexStream>>,
    writer: WriteHalf<DuplexStream>,
    next_id: u64,
    /// Whether `recover` resynchronises (the fix under test).
    resync: bool,
    recoveries: Arc<AtomicUsize>,
}

impl SerialRig {
    fn new(port: DuplexStream, resync: bool) -> Self {
        let (read, writer) = tokio::io::split(port);
        Self {
            reader: BufReader::new(read),
            writer,
            next_id: 1,
            resync,
            recoveries: Arc::default(),
        }
    }

    async fn send(&mut self, command: &str) -> Result<u64, DeviceError> {
        let id = self.next_id;
        self.next_id += 1;
        self.writer
            .write_all(format!("{id} {command}\n").as_bytes())
            .await
            .map_err(|e| DeviceError::disconnected("serial", e.to_string()))?;
        Ok(id)
    }

    async fn reply_line(&mut self) -> Result<String, DeviceError> {
        let mut line = String::new();
        match self.reader.read_line(&mut line).await {
            Ok(0) => Err(DeviceError::disconnected("serial", "port closed")),
            Ok(_) => Ok(line.trim_end().to_string()),
            Err(e) => Err(DeviceError::disconnected("serial", e.to_string())),
        }
    }

    /// One exchange; a reply to another command is a device error.
    async fn exchange(&mut self, command: &str) -> Result<u64, DeviceError> {
        let id = self.send(command).await?;
        let line = self.reply_line().await?;
        let got = line.split(' ').next().unwrap_or_default();
        if got != id.to_string() {
            return Err(DeviceError::new(
                "serial",
                format!("reply {line:?} to command {id}"),
            ));
        }
        Ok(id)
    }
}

#[async_trait]
impl Rig for SerialRig {
    fn name(&self) -> &str {
        "serial"
    }
    async fn current(&mut self) -> Result<Vec<f64>, DeviceError> {
        Ok(vec![0.0])
    }
    async fn move_to(&mut self, positions: &[f64], _: &Progress) -> Result<(), DeviceError> {
        self.exchange(&format!("MOVE {}", positions[0]))
            .await
            .map(drop)
    }
    async fn acquire(&mut self, _: &Progress) -> Result<SweepOutcome, DeviceError> {
        self.exchange("ACQ").await.map(|_| SweepOutcome::Ok)
    }
    async fn read(&mut self) -> Result<StepData, DeviceError> {
        let id = self.exchange("READ").await?;
        let mut data = StepData::default();
        data.push(
            "serial",
            PvRecord {
                name: "read_id".into(),
                value: Value::Long(id as i64),
                egu: None,
            },
        );
        Ok(data)
    }
    /// Resynchronises: a marker command, then every line up to its own
    /// reply is a late reply of a dropped exchange, discarded.
    async fn recover(&mut self) -> Result<(), DeviceError> {
        self.recoveries.fetch_add(1, Ordering::SeqCst);
        if !self.resync {
            return Ok(());
        }
        let id = self.send("SYNC").await?;
        loop {
            let line = self.reply_line().await?;
            if line.split(' ').next() == Some(id.to_string().as_str()) {
                return Ok(());
            }
        }
    }
}

/// Keeps each step's `read_id`, as a file would.
struct Keep(Arc<std::sync::Mutex<Vec<i64>>>);

#[async_trait]
impl StepCallback for Keep {
    fn name(&self) -> &str {
        "keep"
    }
    async fn record(&mut self, _: &StepContext, data: Arc<StepData>) -> Result<(), CallbackError> {
        if let Some(Value::Long(id)) = data.find("serial", "read_id").map(|r| &r.value) {
            self.0.lock().unwrap().push(*id);
        }
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_late_reply_to_a_timed_out_command_is_drained_by_recover() {
    let (host, device) = tokio::io::duplex(1024);
    // The second step's acquisition (the second ACQ) is answered late.
    tokio::spawn(serial_device(device, 2));
    let mut rig = SerialRig::new(host, true);
    let recoveries = Arc::clone(&rig.recoveries);
    let kept = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut chain: Vec<Box<dyn StepCallback>> = vec![Box::new(Keep(Arc::clone(&kept)))];
    let report = run(&mut rig, 3, &mut chain).await;
    assert_eq!(report.outcome, SequenceOutcome::Success, "{report:?}");
    assert_eq!(report.timed_out, vec![(1, Phase::Acquire)]);
    assert_eq!(report.sweep_retries, 1);
    assert_eq!(recoveries.load(Ordering::SeqCst), 1);
    // Every read got its own reply: ids of MOVE, ACQ, READ per step, the
    // second step with its dropped ACQ and the SYNC in between.
    assert_eq!(*kept.lock().unwrap(), vec![3, 8, 11]);
}

#[tokio::test(start_paused = true)]
async fn without_recovery_the_late_reply_is_taken_for_the_next_commands() {
    let (host, device) = tokio::io::duplex(1024);
    tokio::spawn(serial_device(device, 2));
    let mut rig = SerialRig::new(host, false);
    let report = run(&mut rig, 3, &mut []).await;
    // Each retry reads the reply to the command before it: the step fails.
    match &report.outcome {
        SequenceOutcome::IoFail(reason) => {
            assert!(reason.starts_with("step 2:"), "{reason}");
            assert!(reason.contains("to command"), "{reason}");
        }
        other => panic!("expected an I/O failure, got {other:?}"),
    }
}

/// Counts for `window`; says how long it takes when told to.
struct Counter {
    window: Duration,
    declares_window: bool,
}

#[async_trait]
impl Rig for Counter {
    fn name(&self) -> &str {
        "counter"
    }
    async fn current(&mut self) -> Result<Vec<f64>, DeviceError> {
        Ok(vec![0.0])
    }
    async fn move_to(&mut self, _: &[f64], _: &Progress) -> Result<(), DeviceError> {
        Ok(())
    }
    async fn acquire(&mut self, progress: &Progress) -> Result<SweepOutcome, DeviceError> {
        let end = Instant::now() + self.window;
        while Instant::now() < end {
            sleep(Duration::from_secs(1)).await;
            let left = end.saturating_duration_since(Instant::now()).as_secs();
            progress.say(&format!("counting: {left} s left"));
        }
        Ok(SweepOutcome::Ok)
    }
    async fn read(&mut self) -> Result<StepData, DeviceError> {
        Ok(StepData::default())
    }
    fn expected(&self, phase: Phase) -> Duration {
        if self.declares_window && phase == Phase::Acquire {
            self.window
        } else {
            Duration::ZERO
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_60_s_acquisition_is_not_cut_by_the_15_s_sweep_rule() {
    let started = Instant::now();
    let mut rig = Counter {
        window: Duration::from_secs(60),
        declares_window: true,
    };
    let report = run(&mut rig, 2, &mut []).await;
    assert_eq!(report.outcome, SequenceOutcome::Success, "{report:?}");
    assert!(report.timed_out.is_empty());
    assert!(started.elapsed() >= Duration::from_secs(120));
    assert!(report.phases.sweeping >= Duration::from_secs(120));
}

#[tokio::test(start_paused = true)]
async fn an_undeclared_long_acquisition_is_cut_and_the_phase_named() {
    let mut rig = Counter {
        window: Duration::from_secs(60),
        declares_window: false,
    };
    let report = run(&mut rig, 2, &mut []).await;
    assert_eq!(report.timed_out, vec![(0, Phase::Acquire); 3]);
    match &report.outcome {
        SequenceOutcome::IoFail(reason) => {
            assert!(reason.contains("did not end within 15.0 s"), "{reason}")
        }
        other => panic!("expected an I/O failure, got {other:?}"),
    }
}

/// A rig that hangs in one phase and counts its recoveries; `refuse`
/// makes its acquisition refuse instead.
struct Stuck {
    hang: Option<Phase>,
    refuse: bool,
    acquisitions: usize,
    recoveries: Arc<AtomicUsize>,
}

impl Stuck {
    fn new(hang: Option<Phase>) -> Self {
        Self {
            hang,
            refuse: false,
            acquisitions: 0,
            recoveries: Arc::default(),
        }
    }
    async fn maybe_hang(&self, phase: Phase) {
        if self.hang == Some(phase) {
            std::future::pending::<()>().await;
        }
    }
}

#[async_trait]
impl Rig for Stuck {
    fn name(&self) -> &str {
        "stuck"
    }
    async fn current(&mut self) -> Result<Vec<f64>, DeviceError> {
        Ok(vec![0.0])
    }
    async fn move_to(&mut self, _: &[f64], _: &Progress) -> Result<(), DeviceError> {
        self.maybe_hang(Phase::Move).await;
        Ok(())
    }
    async fn settle(&mut self, progress: &Progress) -> Result<(), DeviceError> {
        progress.say("3.2 K from setpoint");
        self.maybe_hang(Phase::Settle).await;
        Ok(())
    }
    async fn acquire(&mut self, _: &Progress) -> Result<SweepOutcome, DeviceError> {
        self.acquisitions += 1;
        if self.refuse {
            return Err(DeviceError::refused(
                "stuck",
                "threshold 2000 out of 1..1023",
            ));
        }
        self.maybe_hang(Phase::Acquire).await;
        Ok(SweepOutcome::Ok)
    }
    async fn read(&mut self) -> Result<StepData, DeviceError> {
        self.maybe_hang(Phase::Read).await;
        Ok(StepData::default())
    }
    async fn recover(&mut self) -> Result<(), DeviceError> {
        self.recoveries.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn every_phase_has_the_loops_limit_and_the_rig_recovers_after_it() {
    let limits = RetryPolicy {
        moving: Limit {
            first: Duration::from_secs(120),
            later: Duration::from_secs(30),
        },
        settling: Limit::always(Duration::from_secs(300)),
        reading: Limit::always(Duration::from_secs(7)),
        ..policy()
    };
    for (phase, said) in [
        (
            Phase::Move,
            "moving to [0.0]: the move did not end within 120.0 s",
        ),
        (
            Phase::Settle,
            "settling: the settle did not end within 300.0 s",
        ),
        (
            Phase::Read,
            "reading data: the data read did not end within 7.0 s",
        ),
    ] {
        let mut rig = Stuck::new(Some(phase));
        let recoveries = Arc::clone(&rig.recoveries);
        let report =
            run_sequence(&plan(2), false, &mut rig, &mut [], &limits, Control::none()).await;
        assert_eq!(report.timed_out, vec![(0, phase)]);
        assert_eq!(recoveries.load(Ordering::SeqCst), 1, "{phase:?}");
        match &report.outcome {
            SequenceOutcome::IoFail(reason) => {
                assert_eq!(reason, &format!("step 1: {said}"), "{phase:?}")
            }
            other => panic!("{phase:?}: expected an I/O failure, got {other:?}"),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_refused_acquisition_is_not_retried() {
    let mut rig = Stuck::new(None);
    rig.refuse = true;
    let report = run(&mut rig, 2, &mut []).await;
    assert_eq!(rig.acquisitions, 1);
    assert_eq!(report.sweep_retries, 0);
    match &report.outcome {
        SequenceOutcome::IoFail(reason) => assert!(reason.contains("refused"), "{reason}"),
        other => panic!("expected an I/O failure, got {other:?}"),
    }
}

fn operator() -> (runner::ControlSender, Control) {
    control_channel()
}

#[tokio::test(start_paused = true)]
async fn an_abort_mid_call_makes_the_rig_recover_before_the_end() {
    let (sender, control) = operator();
    let mut rig = Stuck::new(Some(Phase::Settle));
    let recoveries = Arc::clone(&rig.recoveries);
    let aborter = tokio::spawn(async move {
        sleep(Duration::from_secs(5)).await;
        sender.set(Directive::Abort);
    });
    let report = run_sequence(&plan(2), false, &mut rig, &mut [], &policy(), control).await;
    aborter.await.unwrap();
    match &report.outcome {
        SequenceOutcome::Aborted(reason) => {
            assert!(reason.contains("during the settle of step 1"), "{reason}")
        }
        other => panic!("expected an abort, got {other:?}"),
    }
    assert_eq!(recoveries.load(Ordering::SeqCst), 1);
    assert!(report.timed_out.is_empty());
}

/// A required sink that keeps its write going after `record` and fails it
/// when drained, as a pipelined writer whose last write fails.
struct LateFailure;

#[async_trait]
impl StepCallback for LateFailure {
    fn name(&self) -> &str {
        "late-writer"
    }
    fn required(&self) -> bool {
        true
    }
    async fn drain(&mut self) -> Result<(), CallbackError> {
        Err(CallbackError("writing step 2: disk full".into()))
    }
}

#[tokio::test(start_paused = true)]
async fn a_required_sinks_late_failure_still_fails_the_sequence() {
    let mut rig = Stuck::new(None);
    let mut chain: Vec<Box<dyn StepCallback>> = vec![Box::new(LateFailure)];
    let report = run(&mut rig, 2, &mut chain).await;
    match &report.outcome {
        SequenceOutcome::IoFail(reason) => assert!(reason.contains("disk full"), "{reason}"),
        other => panic!("expected an I/O failure, got {other:?}"),
    }
}
