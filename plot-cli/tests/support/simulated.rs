//! A scan file of this daemon's layout from its own HDF5 writer and the
//! simulator's beam model: for the tests and for
//! `cargo run -p plot-cli --example simulated_scan`.
#![allow(dead_code, clippy::unwrap_used)]

use callbacks::{ExitAttributes, RootAttributes, ScanFile};
use runner::Value;
use runner::{PvRecord, StepData};
use std::path::{Path, PathBuf};

const CHANNELS: [&str; 8] = [
    "V-PDR", "V-PDL", "H-PDT", "H-PDB", "V-APDT", "V-APDB", "H-APDR", "H-APDL",
];
pub const BCM: &str = "HEBT-010LWU:PBI-BCM-001:FlatTopCurrentR";

/// One step of this daemon's layout, from the simulator's model.
pub fn daemon_step(i: usize, steps: usize) -> StepData {
    let config = sim::SimConfig::default();
    let at = fitting::linspace(-6.0, 6.0, steps)[i];
    let gains: Vec<f64> = (0..16).map(|k| 1.0 - 0.04 * (k % 8) as f64).collect();
    let sweep = sim::sweep(&config, i as u64 + 1, at, &gains);
    let mut data = StepData::default();
    let rec = |name: String, value: Value, egu: &str| PvRecord {
        name,
        value,
        egu: Some(egu.into()),
    };
    data.push(
        "scan",
        rec("Test:SCAN:PosToDelay".into(), Value::Double(at), "mm"),
    );
    let ch2: Vec<f64> = sweep.positions.iter().map(|x| x + 0.001).collect();
    data.push(
        "scan",
        rec(
            "Test:SCAN:InterpolatedPosCh1".into(),
            Value::Doubles(sweep.positions),
            "mm",
        ),
    );
    data.push(
        "scan",
        rec(
            "Test:SCAN:InterpolatedPosCh2".into(),
            Value::Doubles(ch2),
            "mm",
        ),
    );
    for (k, trace) in sweep.traces.into_iter().enumerate() {
        let kind = if k < 8 { "TRC1" } else { "TRC2" };
        data.push(
            "struck",
            rec(
                format!("Test:STRUCK:{}-{kind}-ArrayData", CHANNELS[k % 8]),
                Value::Doubles(trace),
                "V",
            ),
        );
    }
    data.push(
        "beam",
        rec(BCM.into(), Value::Double(2.0 + 0.01 * i as f64), "mA"),
    );
    data
}

pub fn root(steps: usize) -> RootAttributes {
    RootAttributes {
        num_scans: steps as u32,
        position_scan: Some((-6.0, 6.0)),
        relative_scan: false,
        start_time: "2026-11-22T12:00:00+00:00".into(),
        username: "op".into(),
        daemon_version: "fws-daemon (Rust) test".into(),
        plan: fitting::linspace(-6.0, 6.0, steps),
    }
}

/// A finished file from this daemon's writer.
pub fn daemon_file(dir: &Path, steps: usize) -> PathBuf {
    let path = dir.join(format!("FWS01_-6_6_n{steps}_20261122-1200.h5"));
    let file = ScanFile::create(&path, &root(steps)).unwrap();
    for i in 0..steps {
        file.write_step(i, &daemon_step(i, steps)).unwrap();
    }
    file.finish(&ExitAttributes {
        exit_status: "Completed".into(),
        exit_reason: String::new(),
        completed_steps: steps as u64,
    })
    .unwrap();
    path
}
