//! Shutting down on the real binary. SIGTERM during a deliberately slow
//! step (a custom callback that takes 4 s in each post-step): the daemon
//! owns its shutdown (the CA library's own handler must not exit the
//! process first), the running sequence is aborted, the file is closed as
//! Aborted before the process exits, and nothing keeps it locked afterwards
//! (the callback is stopped; it never inherited the file).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/daemon.rs"]
mod daemon;
#[path = "../../tests/support/loopback.rs"]
mod loopback;

use ca::{PvClient, Value};
use daemon::{h5_files, operator_client, text_attr};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const P: &str = "Test:SCAN:DMN-";

/// A reference-style callback whose post-step takes 4 s; it notes its pid
/// and each step it starts in `marks`.
const SLOW_CALLBACK: &str = r#"
import os, time
MARKS = os.environ["FWS_TEST_MARKS"]
def get_post_callback():
    def post(**kw):
        with open(MARKS, "a") as f:
            f.write(f"{os.getpid()} {kw['group_name']}\n")
        time.sleep(4)
        with open(MARKS, "a") as f:
            f.write(f"done {kw['group_name']}\n")
    return post
"#;

/// A callback speaking the protocol itself that takes 1.5 s to answer
/// `sequence_end` (a user's summary at the end of a scan).
const SLOW_END: &str = r#"
import json, os, sys, time
MARKS = os.environ["FWS_TEST_MARKS"]
for line in sys.stdin:
    message = json.loads(line)
    with open(MARKS, "a") as f:
        f.write(f"{os.getpid()} {message['type']} {message.get('step', message.get('exit_status', ''))}\n")
    if message["type"] == "sequence_end":
        time.sleep(1.5)
        with open(MARKS, "a") as f:
            f.write("answered sequence_end\n")
    print(json.dumps({"status": "ok"}), flush=True)
"#;

fn start(dir: &Path, env: &[(String, String)], callback: &Path) -> Child {
    // Long traces: writing a step takes tens of milliseconds, which the
    // shutdown cannot cut short (data that was read is written); a library
    // exiting the process at the signal would leave the file "Running".
    std::fs::write(
        dir.join("sim.yaml"),
        "sweep_seconds: 0.01\ntrace_samples: 200000\n",
    )
    .unwrap();
    Command::new(env!("CARGO_BIN_EXE_fws-daemon"))
        .args(["1", "--test-mode", "--data-root"])
        .arg(dir.join("data"))
        .arg("--log-dir")
        .arg(dir.join("log"))
        .arg("--sim-config")
        .arg(dir.join("sim.yaml"))
        .arg("--custom-callback")
        .arg(callback)
        .envs(env.iter().cloned())
        .env("FWS_PYTHON", loopback::python())
        .env("FWS_TEST_MARKS", dir.join("marks"))
        // As a site that wants no drain would set it: the daemon must
        // still own its shutdown.
        .env("EPICS_CAS_DRAIN_GRACE_SECS", "0")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("daemon.err")).unwrap())
        .spawn()
        .unwrap()
}

/// Waits until `marks` has a line containing `says`.
fn wait_mark(marks: &Path, says: &str, daemon: &mut Child) {
    let started = Instant::now();
    while !std::fs::read_to_string(marks).is_ok_and(|m| m.contains(says)) {
        assert!(started.elapsed() < Duration::from_secs(60), "no {says:?}");
        assert!(daemon.try_wait().unwrap().is_none(), "the daemon exited");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The pid the callback noted first.
fn callback_pid(marks: &Path) -> u32 {
    std::fs::read_to_string(marks)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// SIGTERM, then the exit code.
fn terminate(daemon: &mut Child) -> Option<i32> {
    let signalled = Instant::now();
    assert!(Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status()
        .unwrap()
        .success());
    loop {
        if let Some(status) = daemon.try_wait().unwrap() {
            return status.code();
        }
        assert!(signalled.elapsed() < Duration::from_secs(30), "no exit");
        std::thread::sleep(Duration::from_millis(10));
    }
}

async fn put_all(client: &PvClient, values: &[(&str, Value)]) {
    for (name, value) in values {
        client
            .put_wait(&format!("{P}{name}"), value, Duration::from_secs(10))
            .await
            .unwrap();
    }
}

fn aborted_file(data: &Path) -> (hdf5::File, i64) {
    let files = h5_files(data);
    assert_eq!(files.len(), 1, "{files:?}");
    // With HDF5's locking on: closed, and nobody holds it.
    let file = cloexec::h5::open_read(&files[0]).unwrap();
    let completed: i64 = file.attr("completed_steps").unwrap().read_scalar().unwrap();
    assert_eq!(text_attr(&file, "exit_status"), "Aborted");
    assert_eq!(completed, file.member_names().unwrap().len() as i64);
    assert!(
        text_attr(&file, "exit_reason").contains("ABORT"),
        "{}",
        text_attr(&file, "exit_reason")
    );
    (file, completed)
}

#[test]
fn sigterm_ends_the_sequence_closes_its_file_and_stops_the_callback_before_the_exit() {
    let work = tempfile::tempdir().unwrap();
    // Every daemon below serves on these ports in turn.
    let (env, runtime, client) = operator_client();

    // 1. SIGTERM while a reference-style callback sleeps 4 s in a
    //    post-step: the callback is cut short, the step whose data was read
    //    is written, the file says Aborted when the process has exited.
    let dir = work.path().join("slow-step");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("slow.py"), SLOW_CALLBACK).unwrap();
    let mut daemon = start(&dir, &env, &dir.join("slow.py"));
    runtime.block_on(put_all(
        &client,
        &[
            ("NumScans", Value::Long(5)),
            ("ScanStart", Value::Double(-1.0)),
            ("ScanEnd", Value::Double(1.0)),
            ("OutputPath", Value::Text("term".into())),
            ("Trigger", Value::Long(1)),
        ],
    ));
    let marks = dir.join("marks");
    wait_mark(&marks, "scan_002", &mut daemon);
    let pid = callback_pid(&marks);
    let code = terminate(&mut daemon);
    let stderr = std::fs::read_to_string(dir.join("daemon.err")).unwrap();
    assert_eq!(code, Some(0), "{stderr}");
    let (_, completed) = aborted_file(&dir.join("data"));
    assert!(completed >= 1, "{completed}");
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "the callback outlived the daemon"
    );
    // Cut short, not waited for: the callback never finished that step.
    let said = std::fs::read_to_string(&marks).unwrap();
    assert!(
        !said.contains("done scan_002"),
        "the 4 s callback was waited for: {said}"
    );
    assert!(
        stderr.contains("shutdown: aborting the running sequence"),
        "{stderr}"
    );
    // Issue 11, A13: stderr is a file here, not a terminal: no colour codes.
    assert!(
        !stderr.contains('\u{1b}'),
        "ANSI escapes in a non-terminal stderr"
    );

    // 2. SIGTERM while paused between steps, with a callback that takes
    //    1.5 s to answer sequence_end: the daemon, not the CA library's
    //    own SIGTERM handler (told no drain grace, as a site could), ends
    //    the process, after the file is closed and the callback is done.
    let dir = work.path().join("slow-end");
    std::fs::create_dir_all(&dir).unwrap();
    let program = dir.join("slow_end");
    std::fs::write(
        &program,
        format!("#!{}\n{SLOW_END}", loopback::python().display()),
    )
    .unwrap();
    std::fs::set_permissions(
        &program,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let mut daemon = start(&dir, &env, &program);
    runtime.block_on(put_all(
        &client,
        &[("NumScans", Value::Long(20)), ("Trigger", Value::Long(1))],
    ));
    let marks = dir.join("marks");
    wait_mark(&marks, "post_step 1", &mut daemon);
    runtime.block_on(async {
        put_all(&client, &[("ScanControl", Value::Long(1))]).await;
        let started = Instant::now();
        loop {
            let info = client
                .get(&format!("{P}InfoLog"), Duration::from_secs(5))
                .await
                .unwrap()
                .value;
            if matches!(&info, Value::Text(t) if t.contains("paused before step")) {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "not paused: {info:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    let pid = callback_pid(&marks);
    let code = terminate(&mut daemon);
    let stderr = std::fs::read_to_string(dir.join("daemon.err")).unwrap();
    assert_eq!(code, Some(0), "{stderr}");
    aborted_file(&dir.join("data"));
    let said = std::fs::read_to_string(&marks).unwrap();
    assert!(said.contains("sequence_end Aborted"), "{said}");
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "the callback outlived the daemon"
    );
    // The daemon waited for the callback's answer before it exited.
    assert!(
        said.contains("answered sequence_end"),
        "exited before the callback's answer: {said}"
    );
    assert!(stderr.contains("sequence ended"), "{stderr}");
}
