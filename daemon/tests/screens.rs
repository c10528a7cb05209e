//! The operator screens (deploy/screens) against the fws-daemon binary in
//! test mode: PyDM under Xvfb drives a scan through `fws_daemon.ui` with
//! QTest, and every PV of both screens (the Phoebus one too) must be served
//! (`screens_peer.py` holds the checks), on loopback with ports of this
//! test's own. `FWS_OPERATOR_SCREENSHOT=docs/operator-screen.png` keeps the
//! screenshot (the README's).

#[path = "../../tests/support/loopback.rs"]
mod loopback;

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the whole process group it started (xvfb-run, Xvfb, the Python
/// peer and the daemon it runs) when the test ends, passed or not.
struct Group(Child);

impl Drop for Group {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.0.wait();
    }
}

#[test]
fn an_operator_runs_a_scan_from_the_pydm_screen_and_both_screens_name_served_pvs() {
    let work = tempfile::tempdir().expect("a work folder");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let shot = work.path().join("operator-screen.png");
    let port = loopback::free_port();
    let child = Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1600x1000x24"])
        .arg(loopback::python())
        .arg(repo.join("daemon/tests/screens_peer.py"))
        .arg(env!("CARGO_BIN_EXE_fws-daemon"))
        .arg(work.path())
        .arg(repo.join("deploy"))
        .arg(&shot)
        .envs(loopback::loopback_env(port))
        // Qt's own files go to the work folder, not the home folder.
        .env("XDG_RUNTIME_DIR", work.path())
        .env("HOME", work.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("start xvfb-run (scripts/install-deps.sh installs it)");
    let mut group = Group(child);
    let started = Instant::now();
    while group.0.try_wait().expect("poll").is_none() {
        if started.elapsed() > Duration::from_secs(120) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let timed_out = group.0.try_wait().expect("poll").is_none();
    if timed_out {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", group.0.id())])
            .status();
    }
    let mut stdout = String::new();
    let mut stderr = String::new();
    use std::io::Read;
    if let Some(mut out) = group.0.stdout.take() {
        let _ = out.read_to_string(&mut stdout);
    }
    if let Some(mut err) = group.0.stderr.take() {
        let _ = err.read_to_string(&mut stderr);
    }
    let status = group.0.wait().expect("the peer's status");
    let daemon_log = std::fs::read_to_string(work.path().join("daemon.log")).unwrap_or_default();
    assert!(
        status.success() && !timed_out,
        "screen checks failed{}:\n{stdout}\n{stderr}\n--- daemon log (tail) ---\n{}",
        if timed_out { " (timed out)" } else { "" },
        loopback::tail(&daemon_log, 30)
    );
    let last = stdout.lines().last().unwrap_or_default();
    assert!(last.contains("\"checks\""), "{stdout}");
    assert!(shot.exists(), "no screenshot");
    if let Some(keep) = std::env::var_os("FWS_OPERATOR_SCREENSHOT") {
        std::fs::copy(&shot, &keep).expect("keep the screenshot");
    }
    println!("{last}");
}
