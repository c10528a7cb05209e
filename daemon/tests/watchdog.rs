//! The heartbeat and its watchdog, on the real binary: a healthy daemon
//! beats through a scan longer than a short watchdog limit; then the
//! test-only stall injection blocks the control loop's thread, the
//! heartbeat stops, and the process exits with code 3 for systemd to
//! restart it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../tests/support/loopback.rs"]
mod loopback;

use ca::{PvClient, Value};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const P: &str = "Test:SCAN:DMN-";
/// The watchdog limit the station file sets.
const LIMIT_S: f64 = 4.0;
/// When the injected stall begins, after the daemon's start.
const STALL_AFTER_S: u64 = 15;

#[test]
fn a_stalled_control_loop_stops_the_heartbeat_and_exits_3() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let port = loopback::free_port();
    let env = loopback::loopback_env(port);
    for (k, v) in &env {
        // One test in this binary, before any Channel Access use.
        std::env::set_var(k, v);
    }
    std::fs::write(
        dir.join("station.yaml"),
        format!("timing: {{watchdog_s: {LIMIT_S}}}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("sim.yaml"),
        "sweep_seconds: 0.35\ntrace_samples: 100\n",
    )
    .unwrap();
    let stderr = std::fs::File::create(dir.join("daemon.err")).unwrap();
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_fws-daemon"))
        .args(["1", "--test-mode", "--data-root"])
        .arg(dir.join("data"))
        .arg("--log-dir")
        .arg(dir.join("log"))
        .arg("--config")
        .arg(dir.join("station.yaml"))
        .arg("--sim-config")
        .arg(dir.join("sim.yaml"))
        .envs(env)
        .env("FWS_TEST_STALL_AFTER_S", STALL_AFTER_S.to_string())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let started = Instant::now();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (beats, scan_status, _client) = runtime.block_on(async {
        let client = Arc::new(PvClient::new(Duration::from_secs(20)).await.unwrap());
        let mut monitor = client.monitor(&format!("{P}Heartbeat")).await.unwrap();
        let beats: Arc<Mutex<Vec<(Instant, Value)>>> = Arc::default();
        let seen = Arc::clone(&beats);
        tokio::spawn(async move {
            while let Some(update) = monitor.next().await {
                if let Ok(v) = update {
                    seen.lock().unwrap().push((Instant::now(), v));
                }
            }
        });
        // A scan of 14 steps x 0.35 s sweeps: longer than the 4 s limit.
        let put = |name: &'static str, value: Value| {
            let client = Arc::clone(&client);
            async move {
                client
                    .put_wait(&format!("{P}{name}"), &value, Duration::from_secs(5))
                    .await
                    .unwrap()
            }
        };
        put("NumScans", Value::Long(14)).await;
        put("ScanStart", Value::Double(-1.0)).await;
        put("ScanEnd", Value::Double(1.0)).await;
        put("Trigger", Value::Long(1)).await;
        let get = |name: &'static str| {
            let client = Arc::clone(&client);
            async move {
                client
                    .get(&format!("{P}{name}"), Duration::from_secs(5))
                    .await
                    .unwrap()
                    .value
            }
        };
        while get("Trigger").await == Value::Long(1) {
            assert!(
                started.elapsed() < Duration::from_secs(STALL_AFTER_S),
                "the scan did not end before the injected stall"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // The client lives on: its subscription records the heartbeat.
        (beats, get("TaskStatus").await, client)
    });
    assert_eq!(scan_status, Value::Long(0), "the scan succeeded");
    assert!(
        daemon.try_wait().unwrap().is_none(),
        "a healthy daemon was stopped by its watchdog"
    );

    let code = loop {
        if let Some(status) = daemon.try_wait().unwrap() {
            break status.code();
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = daemon.kill();
            panic!("the stalled daemon did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let exited = Instant::now();
    let log = std::fs::read_to_string(dir.join("daemon.err")).unwrap();
    assert_eq!(code, Some(3), "exit code; stderr:\n{log}");
    assert!(
        log.contains("watchdog: the control loop has not beaten"),
        "{log}"
    );
    assert!(log.contains("test-only stall injection"), "{log}");

    let beats = beats.lock().unwrap().clone();
    let toggles = beats.windows(2).filter(|w| w[0].1 != w[1].1).count();
    assert!(
        toggles >= 5,
        "the heartbeat toggled while healthy: {toggles}"
    );
    let last = beats.last().unwrap().0;
    // Silent for the limit before the exit: no beat during the stall.
    assert!(
        exited.duration_since(last) >= Duration::from_secs_f64(LIMIT_S),
        "last heartbeat {:.2} s before the exit",
        exited.duration_since(last).as_secs_f64()
    );
    assert!(
        last.duration_since(started) < Duration::from_secs(STALL_AFTER_S + 1),
        "a heartbeat after the stall began"
    );
}
