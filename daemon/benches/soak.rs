//! Soak (printed, not asserted): the release daemon in test mode with its
//! built-in simulator runs 1000 five-step sequences back to back; its
//! resident memory, open descriptors and threads are printed at 0, 100 and
//! 1000 sequences, and after a pause at rest. A daemon left running for
//! months must stay flat (issue 11, A14: idle RSS within 30 MB after 1000
//! sequences). `FWS_SOAK_SEQUENCES` changes the count.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../tests/support/loopback.rs"]
mod loopback;

use ca::{PvClient, Value};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MAIN: &str = "Test:SCAN:DMN-";

/// VmRSS and its anonymous part (kB), descriptors and threads of `pid`.
fn usage(pid: u32) -> (u64, u64, usize, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count();
    (field("VmRSS:"), field("RssAnon:"), fds, field("Threads:"))
}

fn main() {
    let total: usize = std::env::var("FWS_SOAK_SEQUENCES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let work = tempfile::tempdir().unwrap();
    let env = loopback::loopback_env(loopback::free_port());
    for (k, v) in &env {
        // Read once by this process's CA client.
        std::env::set_var(k, v);
    }
    std::fs::write(work.path().join("sim.yaml"), "sweep_seconds: 0\n").unwrap();
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_fws-daemon"))
        .args(["1", "--test-mode", "--data-root"])
        .arg(work.path().join("data"))
        .arg("--log-dir")
        .arg(work.path().join("log"))
        .arg("--sim-config")
        .arg(work.path().join("sim.yaml"))
        .envs(env.iter().cloned())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = daemon.id();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = PvClient::new(Duration::from_secs(20)).await.unwrap();
        let put = |name: &'static str, value: Value| {
            let client = &client;
            async move {
                client
                    .put_wait(&format!("{MAIN}{name}"), &value, Duration::from_secs(10))
                    .await
                    .unwrap()
            }
        };
        put("NumScans", Value::Long(5)).await;
        put("ScanStart", Value::Double(-2.0)).await;
        put("ScanEnd", Value::Double(2.0)).await;
        put("OutputPath", Value::Text("soak".into())).await;
        let print = |done: usize, note: &str| {
            let (rss, anon, fds, threads) = usage(pid);
            println!(
                "  after {done:>5} sequences{note}: RSS {:.1} MB ({:.1} MB heap and stacks, \
                 the rest code and mapped files), {fds} descriptors, {threads} threads",
                rss as f64 / 1024.0,
                anon as f64 / 1024.0
            );
        };
        println!("soak: {total} sequences of 5 steps (built-in simulator, sweeps of 0 s)");
        print(0, "");
        let started = Instant::now();
        let mut busy = client.monitor(&format!("{MAIN}Busy")).await.unwrap();
        assert_eq!(busy.next().await.unwrap().unwrap(), Value::Long(0));
        for done in 1..=total {
            put("Trigger", Value::Long(1)).await;
            let mut was_busy = false;
            loop {
                match busy.next().await.unwrap().unwrap() {
                    Value::Long(1) => was_busy = true,
                    Value::Long(0) if was_busy => break,
                    _ => {}
                }
            }
            if done % 50 == 0 {
                // The files are not what is measured.
                let _ = std::fs::remove_dir_all(work.path().join("data/soak"));
            }
            if done == 100 || done % 1000 == 0 || done == total {
                print(done, "");
            }
        }
        let took = started.elapsed().as_secs_f64();
        tokio::time::sleep(Duration::from_secs(5)).await;
        print(total, " and 5 s at rest");
        // The runtime's idle blocking threads end after 10 s.
        tokio::time::sleep(Duration::from_secs(10)).await;
        print(total, " and 15 s at rest");
        println!("  {:.1} ms per sequence", took * 1e3 / total as f64);
    });
    let _ = daemon.kill();
    let _ = daemon.wait();
}
