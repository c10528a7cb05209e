//! End to end: the fws-daemon binary in test mode with its built-in
//! simulator, driven by pyepics (C libca) as an operator would, its files
//! read with h5py (`operator_peer.py` holds the checks), on loopback with ports
//! of this test's own.

#[path = "../../tests/support/loopback.rs"]
mod loopback;

use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn an_operator_drives_scans_with_pyepics_and_reads_the_files_with_h5py() {
    operator_suite("embedded");
}

/// The same suite with the daemon's PVs in a stock EPICS IOC
/// (pythonSoftIOC loading deploy/db/fws_daemon.db): `--pv-host ioc`.
#[test]
fn the_same_suite_with_the_pvs_hosted_by_a_python_soft_ioc() {
    operator_suite("ioc");
}

fn operator_suite(mode: &str) {
    let work = tempfile::tempdir().expect("a work folder");
    let port = loopback::free_port();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/operator_peer.py");
    let mut child = Command::new(loopback::python())
        .arg(&script)
        .arg(env!("CARGO_BIN_EXE_fws-daemon"))
        .arg(sim_binary())
        .arg(work.path())
        .arg(mode)
        .envs(loopback::loopback_env(port))
        .env(
            "FWS_TEST_PORTS",
            format!("{} {}", loopback::free_port(), loopback::free_port()),
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the operator script");
    let started = Instant::now();
    while child.try_wait().expect("poll").is_none() {
        if started.elapsed() > Duration::from_secs(240) {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().expect("the script's output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let logs: String = ["daemon-1.log", "daemon-2.log", "daemon-3.log", "ioc.log"]
        .iter()
        .filter_map(|n| std::fs::read_to_string(work.path().join(n)).ok())
        .collect();
    assert!(
        out.status.success(),
        "operator checks failed ({mode}):\n{stdout}\n{}\n--- daemon log (tail) ---\n{}",
        String::from_utf8_lossy(&out.stderr),
        loopback::tail(&logs, 40)
    );
    let last = stdout.lines().last().unwrap_or_default();
    assert!(last.contains("\"checks\""), "{stdout}");
    // The checks passed; their count and the measured fit, for the log.
    println!("{last}");
}

/// `fws-sim`, built by cargo with this package's tests (same features, never
/// stale).
fn sim_binary() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_BIN_EXE_fws-sim"))
}
