//! A scan file killed -9 at every write the writer makes: strace stops the
//! writing process at the K-th `pwrite64` of the run (K = 1, 2, ... up to
//! the last), and h5py then reads every file left behind. Each must open,
//! list only whole steps, never claim more in `completed_steps` than it
//! holds, and hold every step the writer had reported flushed. A kill at a
//! random instant (the daemon's files test) lands on one of these
//! boundaries or inside one write; here every boundary is tried. A file
//! killed before its first step was whole is still its hidden part: it is
//! published as the next daemon start does, or stays hidden when it does
//! not read (then it held no whole step).
//!
//! Run without arguments: the test. With `--write FILE STEPS [PLANNED]`:
//! the writer the test kills (this binary, re-executed).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../tests/support/loopback.rs"]
mod loopback;

use callbacks::{Leftover, RootAttributes, ScanFile};
use runner::{PvRecord, StepData, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Steps per file: past the 8 names one default symbol-table node holds.
const STEPS: usize = 12;
/// Samples per trace: several pages of raw data per step.
const SAMPLES: usize = 600;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--write") {
        let steps = args[3].parse().unwrap();
        let planned = args.get(4).map_or(steps, |n| n.parse().unwrap());
        write(Path::new(&args[2]), steps, planned);
        return;
    }
    // `cargo test -- --list` and filters: one test, by this name.
    if args.iter().any(|a| a == "--list") {
        println!("killed_at_every_write_the_file_reads_whole: test");
        return;
    }
    // libtest's options that take a value, so it is not read as a filter.
    const VALUED: [&str; 6] = [
        "--test-threads",
        "--skip",
        "--color",
        "--format",
        "--logfile",
        "-Z",
    ];
    let mut words = args.iter().skip(1);
    let mut filter = None;
    while let Some(arg) = words.next() {
        if VALUED.contains(&arg.as_str()) {
            words.next();
        } else if !arg.starts_with('-') {
            filter = Some(arg);
        }
    }
    if filter.is_some_and(|f| !"killed_at_every_write_the_file_reads_whole".contains(f.as_str())) {
        println!("test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 1 filtered out");
        return;
    }
    println!("running 1 test");
    killed_at_every_write_the_file_reads_whole();
    println!("test killed_at_every_write_the_file_reads_whole ... ok");
    println!("test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out");
}

/// One step as the daemon records it: attributes, scalars with units, traces.
fn step(i: usize) -> StepData {
    let mut data = StepData::default();
    for n in 0..6 {
        data.push(
            "scan",
            PvRecord {
                name: format!("Test:SCAN:Quantity{n}"),
                value: Value::Double(i as f64 + n as f64 / 100.0),
                egu: Some("mm".into()),
            },
        );
        data.push(
            "idc",
            PvRecord {
                name: format!("Test:IDC:Reading{n}"),
                value: Value::Long((i * 100 + n) as i64),
                egu: None,
            },
        );
        data.metadata.insert(
            format!("Test:SCAN:Setting{n}"),
            Value::Text(format!("setting {n} of step {i}")),
        );
    }
    for ch in 0..4 {
        data.push(
            "struck",
            PvRecord {
                name: format!("Test:STRUCK:H-PDB-TRC{ch}-ArrayData"),
                value: Value::Doubles((0..SAMPLES).map(|s| (s * ch + i) as f64).collect()),
                egu: None,
            },
        );
    }
    data
}

/// The writer: creates the file for `planned` steps, writes `steps` of
/// them, saying after each that it is flushed.
fn write(path: &Path, steps: usize, planned: usize) {
    let root = RootAttributes {
        num_scans: planned as u32,
        position_scan: Some((-1.0, 1.0)),
        relative_scan: false,
        start_time: "2026-12-02T04:00:00+00:00".into(),
        username: "op".into(),
        daemon_version: "fws-daemon test".into(),
        plan: (0..planned).map(|s| s as f64).collect(),
    };
    let file = ScanFile::create(path, &root).unwrap();
    let mut out = std::io::stdout();
    for i in 0..steps {
        file.write_step(i, &step(i)).unwrap();
        writeln!(out, "flushed {}", i + 1).unwrap();
        out.flush().unwrap();
    }
}

/// The `pwrite64` calls a whole run makes.
fn writes_in_a_run(exe: &Path, dir: &Path) -> usize {
    let log = dir.join("count.strace");
    let status = Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=pwrite64", "-o"])
        .arg(&log)
        .arg(exe)
        .arg("--write")
        .arg(dir.join("count.h5"))
        .arg(STEPS.to_string())
        .output()
        .expect("strace (Debian's strace) runs");
    assert!(status.status.success(), "{status:?}");
    std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .filter(|l| l.contains("pwrite64("))
        .count()
}

fn killed_at_every_write_the_file_reads_whole() {
    let exe = std::env::current_exe().unwrap();
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let writes = writes_in_a_run(&exe, dir);
    assert!(writes > STEPS, "{writes} writes for {STEPS} steps");
    let mut checks: Vec<(PathBuf, usize)> = Vec::new();
    let mut finished = 0;
    let (mut published, mut kept) = (0, 0);
    for k in 1..=writes {
        let path = dir.join(format!("killed_at_{k:04}.h5"));
        let out = Command::new("strace")
            .args(["-f", "-qq", "-o", "/dev/null", "-e", "trace=pwrite64", "-e"])
            .arg(format!("inject=pwrite64:signal=KILL:when={k}"))
            .arg(&exe)
            .arg("--write")
            .arg(&path)
            .arg(STEPS.to_string())
            .output()
            .unwrap();
        let flushed = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with("flushed "))
            .count();
        if out.status.success() {
            // Past the run's last write (a run may make one fewer).
            finished += 1;
        }
        // Killed before the first step was whole: the file is still its
        // hidden part, which the next daemon start publishes (or removes,
        // when the kill came while it was being created).
        match ScanFile::publish_leftover(&path).unwrap() {
            Leftover::Absent => assert!(path.exists(), "write {k}: no file, no part"),
            Leftover::Published => published += 1,
            Leftover::Kept(part) => {
                assert_eq!(flushed, 0, "write {k}: a flushed step left in {part:?}");
                assert!(!path.exists() && part.exists(), "write {k}");
                kept += 1;
                continue;
            }
        }
        checks.push((path, flushed));
    }
    let mut python = Command::new(loopback::python());
    python.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/support/killed_files.py"
    ));
    for (path, promised) in &checks {
        python.arg(path).arg(promised.to_string());
    }
    // The count varies by a few writes from run to run.
    assert!(
        finished * 20 < writes,
        "{finished} of {writes} runs not killed"
    );
    let out = python.output().unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let broken: Vec<&str> = said.lines().filter(|l| !l.contains(": ok:")).collect();
    assert!(
        out.status.success(),
        "{} files checked ({writes} writes in a whole run):\n{}",
        checks.len(),
        broken
            .iter()
            .take(20)
            .copied()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        published > 0 && kept > 0,
        "{published} parts published, {kept} kept"
    );
    println!(
        "{} killed files read whole ({writes} writes in a run; {published} were published \
         from their part at the next start, {kept} parts held no whole step and stayed hidden)",
        checks.len()
    );
}
