//! `fws-watlow` as a user runs it: `sim` serves two Standard Bus PMs and a
//! Modbus PM on ptys; `read`, `set`, `record` into a CSV file, `discover`
//! finds them; bad arguments exit 2, a device that does not answer or a
//! refused value exits 1 with the reason.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_fws-watlow");

/// A running `fws-watlow sim`, killed on drop.
struct Sim(Child, PathBuf);

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sim(args: &[&str], link: &Path) -> Sim {
    let mut child = Command::new(BIN)
        .arg("sim")
        .args(args)
        .arg("--link")
        .arg(link)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert_eq!(first.trim(), link.to_str().unwrap());
    Sim(child, link.to_path_buf())
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn read_set_record_and_discover_against_the_simulator() {
    let dir = tempfile::tempdir().unwrap();
    let stdbus = sim(&["--addresses", "1,2"], &dir.path().join("w0"));
    let modbus = sim(
        &[
            "--protocol",
            "modbus",
            "--addresses",
            "3",
            "--word-order",
            "high-low",
        ],
        &dir.path().join("m0"),
    );
    let w0 = stdbus.1.to_str().unwrap();
    let m0 = modbus.1.to_str().unwrap();

    let (code, out, err) = run(&["read", w0, "--address", "2", "pv", "sp", "part_number"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("setpoint (7001): 75\n"), "{out}");
    assert!(out.contains("part_number (1009): PM3R1CA-AAAAAAA"), "{out}");

    let (code, out, err) = run(&["set", w0, "--address", "2", "--setpoint", "80.5"]);
    assert_eq!(
        (code, out.as_str()),
        (0, "setpoint (7001) = 80.5\n"),
        "{err}"
    );
    let (_, out, _) = run(&["read", w0, "--address", "2", "sp"]);
    assert_eq!(out, "setpoint (7001): 80.5\n");

    let (code, out, err) = run(&[
        "read",
        m0,
        "--protocol",
        "modbus",
        "--address",
        "3",
        "sp",
        "word_order",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("setpoint (7001): 75\n") && out.contains("(17043): 1330"),
        "{out}"
    );

    let csv = dir.path().join("rec.csv");
    let sink = format!("csv:{}", csv.display());
    let (code, out, err) = run(&[
        "record",
        w0,
        "--address",
        "1",
        "--rate",
        "10",
        "--duration",
        "1",
        "--sink",
        &sink,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("20 rows; 10 ticks"), "{out}");
    let rows = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(rows.lines().count(), 21);

    let (code, out, err) = run(&["discover", w0, m0, "--max-address", "3"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("w0: stdbus 38400, address 1: PV"), "{out}");
    assert!(out.contains("w0: stdbus 38400, address 2: PV"), "{out}");
    assert!(out.contains("m0: modbus 9600, address 3: PV"), "{out}");
}

#[test]
fn errors_say_why_and_exit_1_or_2() {
    let dir = tempfile::tempdir().unwrap();
    let stdbus = sim(&[], &dir.path().join("w1"));
    let w1 = stdbus.1.to_str().unwrap();
    let (code, _, err) = run(&["set", w1, "--setpoint", "99999"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("outside setpoint's range -1999..9999"),
        "{err}"
    );
    let (code, _, err) = run(&["read", w1, "--address", "9", "pv", "--timeout", "0.2"]);
    assert_eq!(code, 1);
    assert!(err.contains("no response"), "{err}");
    let (code, _, err) = run(&["read", w1, "pressure"]);
    assert_eq!(code, 1);
    assert!(err.contains("no parameter \"pressure\""), "{err}");
    let (code, _, err) = run(&["read", "/nonexistent/port"]);
    assert_eq!(code, 1);
    assert!(err.contains("No such file or directory"), "{err}");
    let (code, _, _) = run(&["read"]);
    assert_eq!(code, 2);
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("Examples:"));
}
