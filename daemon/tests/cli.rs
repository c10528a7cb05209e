//! Bad arguments and settings: exit code 2, a message naming the problem,
//! nothing started (every case fails before a Channel Access server would).

use std::path::Path;
use std::process::Command;

/// Runs the daemon with `args` inside `dir`; returns (exit code, stderr).
fn run(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fws-daemon"))
        .args(args)
        .current_dir(dir)
        // Were a case to start serving, it would stay on loopback.
        .env("EPICS_CAS_INTF_ADDR_LIST", "127.0.0.1")
        .env("EPICS_CA_ADDR_LIST", "127.0.0.1")
        .env("EPICS_CA_AUTO_ADDR_LIST", "NO")
        .output()
        .expect("run fws-daemon");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_arguments_exit_2_with_a_message_naming_the_problem() {
    let dir = tempfile::tempdir().expect("a work folder");
    let d = dir.path();
    std::fs::write(d.join("a-file"), "").unwrap();
    std::fs::write(d.join("typo.yaml"), "timing: {sweep_sec: 3}\n").unwrap();
    std::fs::write(d.join("short-watchdog.yaml"), "timing: {watchdog_s: 2}\n").unwrap();
    std::fs::write(d.join("bad-sim.yaml"), "trace_samples: 1\n").unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["100", "--test-mode"], "100"),
        (&["-1", "--test-mode"], "-1"),
        (&["abc"], "invalid digit"),
        (&["7", "--data-root", "data"], "no production PV names"),
        (&["1", "--test-mode", "--pv-host", "ioc"], "--pv-host ioc"),
        (
            &["1", "--test-mode", "--config", "short-watchdog.yaml"],
            "watchdog_s must be a number of seconds >= 4",
        ),
        (&["1", "--test-mode", "--pv-host", "cloud"], "cloud"),
        (
            &["1", "--test-mode", "--custom-callback", "cb.py"],
            "--custom-callback cb.py: No such file",
        ),
        (
            &["1", "--test-mode", "--custom-callback", "."],
            "--custom-callback .: not a file",
        ),
        (
            &[
                "1",
                "--test-mode",
                "--custom-callback",
                "a-file",
                "--custom-callback-timeout",
                "0",
            ],
            "must be a number of seconds > 0",
        ),
        (
            &[
                "1",
                "--test-mode",
                "--data-root",
                "data",
                "--log-dir",
                "a-file",
            ],
            "log folder a-file",
        ),
        (
            &[
                "1",
                "--test-mode",
                "--data-root",
                "a-file",
                "--log-dir",
                "logs",
            ],
            "data root a-file",
        ),
        (
            &["1", "--test-mode", "--config", "missing.yaml"],
            "missing.yaml",
        ),
        (&["1", "--test-mode", "--config", "typo.yaml"], "sweep_sec"),
        (
            &["1", "--test-mode", "--sim-config", "bad-sim.yaml"],
            "trace_samples",
        ),
        (
            &[
                "1",
                "--test-mode",
                "--no-sim",
                "--sim-config",
                "bad-sim.yaml",
            ],
            "--sim-config needs",
        ),
        // Issue 11, A4: the data root is asked for, never the working folder.
        (&["1", "--test-mode"], "no data root: give --data-root DIR"),
        (
            &["1", "--test-mode", "--data-root", "/", "--log-dir", "logs"],
            "the file system's root may not be the data root",
        ),
        (
            &[
                "1",
                "--test-mode",
                "--data-root",
                "logs/../../../../../../..",
                "--log-dir",
                "logs",
            ],
            "the file system's root",
        ),
        // A13: a timeout for a callback that is not there.
        (
            &[
                "1",
                "--test-mode",
                "--data-root",
                "data",
                "--custom-callback-timeout",
                "5",
            ],
            "--custom-callback-timeout needs --custom-callback",
        ),
    ];
    for (args, says) in cases {
        let (code, stderr) = run(d, args);
        assert_eq!(code, Some(2), "{args:?}: exit code; stderr:\n{stderr}");
        assert!(
            stderr.contains(says),
            "{args:?}: the message should mention {says:?}:\n{stderr}"
        );
    }
    // Nothing was created but the log folder of the one case that got as
    // far as logging, which holds its error.
    let mut made: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    made.sort();
    assert_eq!(
        made,
        [
            "a-file",
            "bad-sim.yaml",
            "logs",
            "short-watchdog.yaml",
            "typo.yaml"
        ]
    );
    let logged: String = std::fs::read_dir(d.join("logs"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert!(logged.contains("data root a-file"), "log file: {logged}");
    assert!(
        logged.contains("may not be the data root"),
        "log file: {logged}"
    );
}

#[test]
fn version_and_help_exit_0() {
    let dir = tempfile::tempdir().expect("a work folder");
    for flag in ["--version", "--help"] {
        let out = Command::new(env!("CARGO_BIN_EXE_fws-daemon"))
            .arg(flag)
            .current_dir(dir.path())
            .output()
            .expect("run fws-daemon");
        assert!(out.status.success(), "{flag}");
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(said.contains("fws-daemon"));
        assert!(!said.contains("later release"), "{said}");
    }
}
