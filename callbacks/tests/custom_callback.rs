//! Custom callbacks as real child processes: the shipped examples (a
//! protocol speaker and a reference-style Python file through the adapter)
//! and callbacks that crash, hang, answer garbage or report errors.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../tests/support/loopback.rs"]
mod loopback;

use callbacks::custom::{command_for, CommandSpec, CustomCallback, Session, EXTRA_GROUP};
use callbacks::RootAttributes;
use runner::Value;
use runner::{
    CallbackError, PvRecord, SequenceOutcome, SequenceReport, StepCallback, StepContext, StepData,
};
use std::path::{Path, PathBuf};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(10);

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn session(file_path: &Path) -> Session {
    Session {
        main_prefix: "T:DMN-".into(),
        file_path: file_path.to_string_lossy().into_owned(),
        root: RootAttributes {
            num_scans: 4,
            position_scan: Some((0.0, 3.0)),
            relative_scan: false,
            start_time: "2026-11-22T10:00:00+00:00".into(),
            username: "op".into(),
            daemon_version: "fws-daemon (Rust) test".into(),
            plan: vec![0.0, 1.0, 2.0, 3.0],
        },
    }
}

fn at(index: usize) -> StepContext {
    StepContext {
        index,
        total: 4,
        positions: vec![index as f64],
        elapsed: Duration::ZERO,
    }
}

fn data(index: usize) -> StepData {
    let mut data = StepData::default();
    let rec = |name: &str, value: Value, egu: Option<&str>| PvRecord {
        name: name.into(),
        value,
        egu: egu.map(str::to_string),
    };
    data.push(
        "scan",
        rec("T:PosToDelay", Value::Double(index as f64), Some("mm")),
    );
    data.push(
        "struck",
        rec(
            "T:H-PDB-TRC2-ArrayData",
            Value::Doubles(vec![0.0, 1.5 + index as f64, 0.5]),
            Some("V"),
        ),
    );
    if index >= 1 {
        data.push(
            "scan",
            rec("T:DMN-H-PDB-Sigma", Value::Double(1.7), Some("mm")),
        );
    }
    data
}

fn report(completed: usize) -> SequenceReport {
    SequenceReport {
        outcome: SequenceOutcome::Success,
        completed_steps: completed,
        sweep_retries: 0,
        timed_out: vec![],
        callback_failures: vec![],
        phases: Default::default(),
    }
}

/// One step through the callback: (pre result, post result, step data).
async fn step(
    cb: &mut CustomCallback,
    index: usize,
) -> (
    Result<(), CallbackError>,
    Result<(), CallbackError>,
    StepData,
) {
    let pre = cb.pre_step(&at(index)).await;
    let mut d = data(index);
    let post = cb.post_step(&at(index), &mut d).await;
    (pre, post, d)
}

fn extra(d: &StepData, name: &str) -> Option<Value> {
    d.find(EXTRA_GROUP, name).map(|r| r.value.clone())
}

fn misbehaving(mode: &str, steps: &str, timeout: Duration) -> CustomCallback {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/custom/misbehaving.py");
    CustomCallback::new(
        CommandSpec {
            program: loopback::python(),
            args: vec![
                script.to_string_lossy().into_owned(),
                mode.into(),
                steps.into(),
            ],
        },
        timeout,
        session(Path::new("/tmp/x.h5")),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_protocol_example_returns_extras_for_the_step_group() {
    let path = repo().join("deploy/examples/step_summary");
    let mut cb = CustomCallback::new(
        command_for(&path, "python3".into()),
        TIMEOUT,
        session(Path::new("/data/x.h5")),
    );
    for i in 0..4 {
        let (pre, post, d) = step(&mut cb, i).await;
        pre.unwrap();
        post.unwrap();
        assert_eq!(extra(&d, "step"), Some(Value::Long(i as i64 + 1)));
        assert_eq!(extra(&d, "position_mm"), Some(Value::Double(i as f64)));
        // Scalars only (the trace is not sent): the position, and the
        // fit's sigma from step 2 on.
        let recorded = if i >= 1 { 2 } else { 1 };
        assert_eq!(extra(&d, "pvs_recorded"), Some(Value::Long(recorded)));
        let sigma = extra(&d, "h_pdb_sigma_mm");
        assert_eq!(sigma, (i >= 1).then_some(Value::Double(1.7)));
    }
    cb.sequence_end(&report(4)).await.unwrap();
    assert!(!cb.disabled());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reference_style_file_runs_unchanged_through_the_adapter() {
    let dir = tempfile::tempdir().unwrap();
    let h5 = dir.path().join("FWS01_0_3_n4_20261122-1000.h5");
    let path = repo().join("deploy/examples/reference_style_callback.py");
    let mut cb = CustomCallback::new(
        command_for(&path, loopback::python().into_os_string()),
        TIMEOUT,
        session(&h5),
    );
    for i in 0..4 {
        let (pre, post, _) = step(&mut cb, i).await;
        pre.unwrap();
        post.unwrap();
    }
    cb.sequence_end(&report(4)).await.unwrap();
    let peaks = std::fs::read_to_string(format!("{}.peaks.txt", h5.display())).unwrap();
    let expected: String = (0..4)
        .map(|i| {
            format!(
                "scan_{:03} T:H-PDB-TRC2-ArrayData {:?}\n",
                i + 1,
                1.5 + i as f64
            )
        })
        .collect();
    assert_eq!(peaks, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_is_reported_with_stderr_restarted_once_then_disabled() {
    let mut cb = misbehaving("crash", "2,4", TIMEOUT);
    let (pre, post, first) = step(&mut cb, 0).await;
    pre.unwrap();
    post.unwrap();
    let first_pid = extra(&first, "pid").unwrap();

    let (pre, post, d) = step(&mut cb, 1).await;
    let err = pre.unwrap_err().0;
    assert!(err.contains("pre_step of step 2"), "{err}");
    assert!(err.contains("the process ended"), "{err}");
    assert!(
        err.contains("misbehaving: crash at step 2"),
        "stderr: {err}"
    );
    assert!(err.ends_with("restarted"), "{err}");
    // The restarted process serves the rest of the step.
    post.unwrap();
    let second_pid = extra(&d, "pid").unwrap();
    assert_ne!(first_pid, second_pid, "a new process");

    let (pre, post, _) = step(&mut cb, 2).await;
    pre.unwrap();
    post.unwrap();
    let (pre, post, d) = step(&mut cb, 3).await;
    let err = pre.unwrap_err().0;
    assert!(
        err.contains("disabled for the rest of this sequence"),
        "{err}"
    );
    assert!(cb.disabled());
    // Disabled: the scan goes on without it, no extras.
    post.unwrap();
    assert!(!d.groups.contains_key(EXTRA_GROUP));
    cb.sequence_end(&report(4)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hang_times_out_and_the_restart_serves_the_next_call() {
    let mut cb = misbehaving("hang", "2", Duration::from_millis(500));
    step(&mut cb, 0).await.0.unwrap();
    let (pre, post, _) = step(&mut cb, 1).await;
    let err = pre.unwrap_err().0;
    assert!(err.contains("no reply within 0.5 s"), "{err}");
    assert!(err.contains("misbehaving: hang at step 2"), "{err}");
    post.unwrap();
    assert!(!cb.disabled());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_is_a_failure_and_an_error_reply_is_not() {
    let mut cb = misbehaving("garbage", "2", TIMEOUT);
    step(&mut cb, 0).await.0.unwrap();
    let err = step(&mut cb, 1).await.0.unwrap_err().0;
    assert!(err.contains("not a JSON object"), "{err}");
    assert!(
        err.contains("Traceback (most recent call last): oops"),
        "{err}"
    );
    assert!(err.ends_with("restarted"), "{err}");

    // The callback's own error: reported, the same process goes on.
    let mut cb = misbehaving("error", "2", TIMEOUT);
    let (_, _, d) = step(&mut cb, 0).await;
    let pid = extra(&d, "pid").unwrap();
    let (pre, post, d) = step(&mut cb, 1).await;
    assert_eq!(
        pre.unwrap_err().0,
        "pre_step of step 2: the callback reports: no beam seen"
    );
    post.unwrap();
    assert_eq!(extra(&d, "pid").unwrap(), pid, "not restarted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_program_is_disabled_at_once_and_a_dropped_call_is_recovered() {
    let mut cb = CustomCallback::new(
        command_for(Path::new("/nonexistent/callback"), "python3".into()),
        TIMEOUT,
        session(Path::new("/tmp/x.h5")),
    );
    let err = cb.pre_step(&at(0)).await.unwrap_err().0;
    assert!(err.contains("cannot start /nonexistent/callback"), "{err}");
    assert!(err.contains("disabled"), "{err}");
    assert!(cb.disabled());

    // An abort drops a call while the callback still works on it: the next
    // call must not read that call's late reply.
    let mut cb = misbehaving("hang", "2", TIMEOUT);
    step(&mut cb, 0).await.0.unwrap();
    let dropped = tokio::time::timeout(Duration::from_millis(300), cb.pre_step(&at(1))).await;
    assert!(dropped.is_err(), "the hanging call was cut short");
    let (pre, post, d) = step(&mut cb, 2).await;
    pre.unwrap();
    post.unwrap();
    assert!(extra(&d, "pid").is_some());
    assert!(!cb.disabled());
}

/// Issue 11, A0/A2: a callback started while the daemon has its HDF5 file
/// open must not inherit it (the lock would outlive the daemon's close);
/// it gets its three pipes and nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_inherits_only_its_three_pipes() {
    use std::os::fd::AsRawFd;
    let dir = tempfile::tempdir().unwrap();
    let held = std::fs::File::create(dir.path().join("open.h5")).unwrap();
    // An inheritable copy, as HDF5 leaves its descriptors.
    // SAFETY: duplicating a descriptor this test owns; closed below.
    let fd = unsafe { libc::fcntl(held.as_raw_fd(), libc::F_DUPFD, 100) };
    assert!(fd >= 100);
    let process = callbacks::custom::CallbackProcess::spawn(&CommandSpec {
        program: "sh".into(),
        args: vec!["-c".into(), "ls -l /proc/self/fd >&2; sleep 30".into()],
    })
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let listing = process.kill().await;
    assert!(listing.contains("pipe:"), "{listing}");
    assert!(!listing.contains("open.h5"), "inherited: {listing}");
    // 0, 1, 2 and the descriptor ls opens for the listing itself.
    let numbered = listing.lines().filter(|l| l.contains(" -> ")).count();
    assert!(numbered <= 4, "{listing}");
    // SAFETY: the copy made above, closed once.
    unsafe { libc::close(fd) };
}
