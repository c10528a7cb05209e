//! Recording Watlow controllers, ours against watlowlib 0.8.1's `record()`,
//! side by side in one run on the same simulated PMs (Standard Bus, served
//! by child processes on ptys): PV and SP of 1, 4 and 8 devices on 2 ports
//! at 10, 50 and 100 Hz. Printed per case: tick p50/p99, drift (ours: p99
//! and max; watlowlib keeps only the max), late ticks, CPU seconds, and
//! watlowlib's figure over ours (tick p99, max drift, CPU). Nothing is
//! asserted: the goals are read off the table (issue 13, section 5).
//!
//! `FWS_WATLOW_BENCH_SECONDS` (default 30) sets each recording's length.
//! With `--serve LINK N` this binary is the simulator child.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/peer.rs"]
mod peer;

use sim::watlow::{Controller, Plant, Served, StdBusLine};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use watlow::manager::{DeviceConfig, Manager, PortConfig};
use watlow::modbus::WordOrderSetting;
use watlow::port::PortSettings;
use watlow::recorder::{record, RecordOptions};
use watlow::registry::{find, Family};

fn serve_forever(link: &Path, devices: u8) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut line = StdBusLine::new();
        for a in 1..=devices {
            line.add(
                a,
                Controller::pm(
                    a,
                    70.0,
                    Plant::new(Duration::from_secs(30), 0.05, u64::from(a)),
                ),
            );
        }
        let _served = Served::start(Arc::new(Mutex::new(line)), link).unwrap();
        println!("ready");
        std::future::pending::<()>().await;
    });
}

/// A simulator child, killed on drop.
struct Sim(Child);

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_sim(link: &Path, devices: u8) -> Sim {
    use std::io::BufRead;
    let mut child = Command::new(std::env::current_exe().unwrap())
        .arg("--serve")
        .arg(link)
        .arg(devices.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    Sim(child)
}

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(usage.ru_utime) + t(usage.ru_stime)
}

#[derive(Debug, Default, Clone, Copy)]
struct Figures {
    p50: f64,
    p99: f64,
    drift: f64,
    drift_p99: f64,
    late: f64,
    cpu: f64,
}

fn ours(links: &[PathBuf], n: usize, rate: f64, seconds: f64) -> Figures {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let ports = links
            .iter()
            .enumerate()
            .map(|(p, link)| PortConfig {
                path: link.clone(),
                settings: PortSettings::stdbus(),
                timeout: Duration::from_millis(500),
                devices: (0..n)
                    .filter(|i| i % links.len() == p)
                    .map(|i| DeviceConfig {
                        name: format!("d{i}"),
                        address: (i / links.len() + 1) as u8,
                        family: Family::Pm,
                        word_order: WordOrderSetting::Auto,
                    })
                    .collect(),
            })
            .filter(|p| !p.devices.is_empty())
            .collect();
        let manager = Manager::start(ports).unwrap();
        let before = cpu_seconds();
        let rec = record(
            Box::new(manager),
            vec![find("pv").unwrap(), find("sp").unwrap()],
            RecordOptions {
                rate_hz: rate,
                duration: Some(Duration::from_secs_f64(seconds)),
                ..Default::default()
            },
        )
        .unwrap();
        let mut rows = 0;
        while let Some(batch) = rec.stream.recv().await {
            rows += batch.len();
        }
        let s = rec.finish().await.unwrap();
        assert!(rows > 0);
        Figures {
            p50: s.tick_duration_ms_p50,
            p99: s.tick_duration_ms_p99,
            drift: s.max_drift_ms,
            drift_p99: s.drift_ms_p99,
            late: s.samples_late as f64,
            cpu: cpu_seconds() - before,
        }
    })
}

fn watlowlib(links: &[PathBuf], n: usize, rate: f64, seconds: f64) -> Option<Figures> {
    let python = peer::watlowlib_python();
    if !python.exists() {
        eprintln!(
            "{} is missing (scripts/setup-python.sh): watlowlib not measured",
            python.display()
        );
        return None;
    }
    let out = Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/benches/watlow_record.py"
        ))
        .arg(rate.to_string())
        .arg(seconds.to_string())
        .arg(n.to_string())
        .args(links)
        .output()
        .unwrap();
    if !out.status.success() {
        eprintln!("watlowlib failed: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    Some(Figures {
        p50: f("p50_ms"),
        p99: f("p99_ms"),
        drift: f("max_drift_ms"),
        // watlowlib keeps only the largest drift.
        drift_p99: f64::NAN,
        late: f("late"),
        cpu: f("cpu_s"),
    })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--serve") {
        serve_forever(Path::new(&args[2]), args[3].parse().unwrap());
        return;
    }
    if args.iter().any(|a| a == "--list") {
        return;
    }
    let seconds: f64 = std::env::var("FWS_WATLOW_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30.0);
    let dir = tempfile::tempdir().unwrap();
    println!("recording PV+SP, Standard Bus PMs on 2 ptys, {seconds} s per case; ours | watlowlib 0.8.1 | watlowlib/ours");
    println!(
        "{:>3} {:>4} | {:>20} {:>16} {:>5} {:>6} | {:>20} {:>9} {:>5} {:>6} | {:>5} {:>5} {:>5}",
        "dev",
        "Hz",
        "tick p50/p99 [ms]",
        "drift p99/max",
        "late",
        "cpu s",
        "tick p50/p99 [ms]",
        "drift max",
        "late",
        "cpu s",
        "p99",
        "drift",
        "cpu"
    );
    for n in [1usize, 4, 8] {
        for rate in [10.0, 50.0, 100.0] {
            let links = [dir.path().join("a"), dir.path().join("b")];
            let per_port = [n.div_ceil(2), n / 2];
            let _sims: Vec<Sim> = links
                .iter()
                .zip(per_port)
                .map(|(l, k)| spawn_sim(l, k.max(1) as u8))
                .collect();
            let used: Vec<PathBuf> = if n == 1 {
                links[..1].to_vec()
            } else {
                links.to_vec()
            };
            let a = ours(&used, n, rate, seconds);
            let b = watlowlib(&used, n, rate, seconds);
            let theirs = b.map_or("not measured".to_string(), |b| {
                format!(
                    "{:>10.2}/{:<11.2} {:>9.2} {:>5} {:>6.2} | {:>6.1} {:>6.1} {:>6.1}",
                    b.p50,
                    b.p99,
                    b.drift,
                    b.late,
                    b.cpu,
                    b.p99 / a.p99,
                    b.drift / a.drift,
                    b.cpu / a.cpu
                )
            });
            println!(
                "{n:>3} {rate:>4} | {:>9.2}/{:<10.2} {:>7.2}/{:<8.2} {:>5} {:>6.2} | {theirs}",
                a.p50, a.p99, a.drift_p99, a.drift, a.late, a.cpu
            );
        }
    }
}
