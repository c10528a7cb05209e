//! Dead time of the daemon (printed, not asserted): 100-step sequences
//! against `fws-sim` with zero-length sweeps, with tiny struck traces and
//! with the 16 x 100k-sample payload, plus the latency from the Trigger
//! write to the first PosToDelay change.
//!
//! The daemon runs as it does in production (`fws-daemon 1 --test-mode
//! --no-sim`, release build); the simulator is its own process; this
//! program is the operator (CA client). Everything is on loopback with
//! ports of its own. `scripts/bench-daemon.sh` runs it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../tests/support/loopback.rs"]
mod loopback;

use ca::{PvClient, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const STEPS: u32 = 100;
const SEQUENCES: usize = 3;
const MAIN: &str = "Test:SCAN:DMN-";
const POS_TO_DELAY: &str = "Test:SCAN:PosToDelay";

/// The reference's fixed sleeps and polls per step, from its source
/// (spec section 5): 0.2 s after RunHardScan, at least one 0.1 s poll,
/// 0.1 s before ScanStatus, 1 s between steps. A figure from its code, not
/// a measurement: the reference speaks PV Access, not CA.
const REFERENCE_DEAD_S_PER_STEP: f64 = 1.4;
/// Its trigger poll: 1 Hz, so 0.5 s on average.
const REFERENCE_TRIGGER_LATENCY_S: f64 = 0.5;

struct Sequence {
    wall: Duration,
    latency: Duration,
    task_duration: f64,
}

struct Processes(Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn sim_binary() -> PathBuf {
    // Built with this bench (same package, same profile).
    PathBuf::from(env!("CARGO_BIN_EXE_fws-sim"))
}

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with("--"));
    let only: Option<String> = args.next();
    let sim = sim_binary();
    assert!(
        sim.exists(),
        "{} is missing: build it with `cargo build --release -p sim` (scripts/bench-daemon.sh does)",
        sim.display()
    );
    println!(
        "dead time per step = (sequence wall time - sweep time 0) / {STEPS} steps; \
         {SEQUENCES} sequences each, the first with fresh connections"
    );
    for (label, samples) in [("tiny traces", 2usize), ("16 x 100k payload", 100_000)] {
        if only.as_deref().is_some_and(|o| !label.contains(o)) {
            continue;
        }
        scenario(&sim, label, samples);
    }
}

fn scenario(sim: &Path, label: &str, samples: usize) {
    let work = tempfile::tempdir().expect("a work folder");

    let sim_config = work.path().join("sim.yaml");
    std::fs::write(
        &sim_config,
        format!("sweep_seconds: 0\ntrace_samples: {samples}\n"),
    )
    .expect("write the simulator's settings");
    let daemon_port = loopback::free_port();
    let sim_port = loopback::free_port();
    let mut env = loopback::loopback_env(daemon_port);
    for (key, value) in &mut env {
        if key == "EPICS_CA_ADDR_LIST" {
            *value = format!("127.0.0.1:{daemon_port} 127.0.0.1:{sim_port}");
        }
    }
    for (key, value) in &env {
        // Read once by this process's CA client, created below.
        std::env::set_var(key, value);
    }
    let quiet = |name: &str| {
        Stdio::from(std::fs::File::create(work.path().join(name)).expect("a log file"))
    };
    let mut processes = Processes(Vec::new());
    processes.0.push(
        Command::new(sim)
            .args(["--port", &sim_port.to_string(), "--sim-config"])
            .arg(&sim_config)
            .envs(env.iter().cloned())
            .env("RUST_LOG", "warn")
            .stderr(quiet("sim.log"))
            .spawn()
            .expect("start fws-sim"),
    );
    processes.0.push(
        Command::new(env!("CARGO_BIN_EXE_fws-daemon"))
            .args(["1", "--test-mode", "--no-sim", "--data-root"])
            .arg(work.path().join("data"))
            .arg("--log-dir")
            .arg(work.path().join("log"))
            .envs(env.iter().cloned())
            .stderr(quiet("daemon.log"))
            .stdout(Stdio::null())
            .spawn()
            .expect("start fws-daemon"),
    );
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let results = runtime.block_on(async {
        let client = PvClient::new(Duration::from_secs(20))
            .await
            .expect("a CA client");
        let missing = client
            .connect_all(&[format!("{MAIN}Busy"), POS_TO_DELAY.to_string()])
            .await;
        assert!(
            missing.is_empty(),
            "daemon or simulator not up: {missing:?}"
        );
        let put = |name: &'static str, value: Value| {
            let client = &client;
            async move {
                client
                    .put_wait(&format!("{MAIN}{name}"), &value, Duration::from_secs(5))
                    .await
                    .expect("an input accepted")
            }
        };
        put("NumScans", Value::Long(i64::from(STEPS))).await;
        put("ScanStart", Value::Double(-5.0)).await;
        put("ScanEnd", Value::Double(5.0)).await;
        put("RelativeScan", Value::Long(0)).await;
        put("OutputPath", Value::Text("bench".into())).await;
        let mut out = Vec::new();
        for _ in 0..SEQUENCES {
            out.push(one_sequence(&client).await);
            // 1.3 GB per payload file: keep the disk free between runs.
            let _ = std::fs::remove_dir_all(work.path().join("data/bench"));
        }
        out
    });
    drop(processes);
    report(label, samples, &results);
    let log = std::fs::read_to_string(work.path().join("daemon.log")).unwrap_or_default();
    phases(&log);
    if std::env::var_os("FWS_BENCH_KEEP").is_some() {
        println!("  kept: {}", work.keep().display());
    }
}

async fn one_sequence(client: &PvClient) -> Sequence {
    let mut busy = client.monitor(&format!("{MAIN}Busy")).await.expect("Busy");
    let mut position = client.monitor(POS_TO_DELAY).await.expect("PosToDelay");
    // The first update of each subscription is the current value.
    assert!(matches!(busy.next().await, Some(Ok(Value::Long(0)))));
    let before = position.next().await.expect("PosToDelay").expect("value");
    let started = Instant::now();
    client
        .put_wait(
            &format!("{MAIN}Trigger"),
            &Value::Long(1),
            Duration::from_secs(5),
        )
        .await
        .expect("Trigger accepted");
    let latency = loop {
        let now = position.next().await.expect("PosToDelay").expect("value");
        if now != before {
            break started.elapsed();
        }
    };
    let mut was_busy = false;
    let wall = loop {
        match busy.next().await.expect("Busy").expect("value") {
            Value::Long(1) => was_busy = true,
            Value::Long(0) if was_busy => break started.elapsed(),
            _ => {}
        }
    };
    let status = client
        .get(&format!("{MAIN}TaskStatus"), Duration::from_secs(5))
        .await
        .expect("TaskStatus");
    assert_eq!(
        status.value,
        Value::Long(0),
        "the sequence did not succeed (TaskStatus {:?})",
        status.value
    );
    let task_duration = match client
        .get(&format!("{MAIN}TaskDuration"), Duration::from_secs(5))
        .await
        .expect("TaskDuration")
        .value
    {
        Value::Double(v) => v,
        other => panic!("TaskDuration {other:?}"),
    };
    Sequence {
        wall,
        latency,
        task_duration,
    }
}

fn report(label: &str, samples: usize, runs: &[Sequence]) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let per_step: Vec<f64> = runs.iter().map(|r| ms(r.wall) / f64::from(STEPS)).collect();
    let warm = &per_step[1..];
    let best = warm.iter().copied().fold(f64::INFINITY, f64::min);
    let latencies: Vec<String> = runs
        .iter()
        .map(|r| format!("{:.2}", ms(r.latency)))
        .collect();
    let durations: Vec<String> = runs
        .iter()
        .map(|r| format!("{:.3}", r.task_duration))
        .collect();
    println!("\n{label} ({samples} samples per trace, {STEPS} steps)");
    println!(
        "  dead time per step [ms]: {} (first: {:.2}); best warm {best:.2} \
         = {:.0}x less than the reference's {:.1} s",
        per_step
            .iter()
            .map(|v| format!("{v:.2}"))
            .collect::<Vec<_>>()
            .join(", "),
        per_step[0],
        REFERENCE_DEAD_S_PER_STEP * 1e3 / best,
        REFERENCE_DEAD_S_PER_STEP
    );
    println!(
        "  Trigger -> first PosToDelay [ms]: {} (reference: {:.0} ms on average, 1 Hz poll)",
        latencies.join(", "),
        REFERENCE_TRIGGER_LATENCY_S * 1e3
    );
    println!("  TaskDuration PV [s]: {}", durations.join(", "));
}

/// The daemon's own account of each sequence ("time per phase: pre-step 1.2
/// ms, moves ...", logged at its end), per step: what the dead time is made
/// of.
fn phases(log: &str) {
    for (run, line) in log
        .lines()
        .filter_map(|l| l.split_once("time per phase: ").map(|(_, p)| p))
        .enumerate()
    {
        let per_step: Vec<String> = line
            .split(", ")
            .filter_map(|part| {
                let (name, value) = part.trim().rsplit_once(' ')?.0.rsplit_once(' ')?;
                let ms: f64 = value.parse().ok()?;
                Some(format!("{name} {:.2}", ms / f64::from(STEPS)))
            })
            .collect();
        println!(
            "  sequence {} per step [ms]: {}",
            run + 1,
            per_step.join(", ")
        );
    }
}
