//! watlowlib 0.8.1 itself (the library labs run today; Python >= 3.13, in
//! its own venv) against our simulated PMs on ptys, both protocols: reads,
//! a confirmed setpoint write read back, and its `record()` for 10 s. Its
//! Modbus floats are high word first (its default, not Watlow's): the
//! simulated Modbus PM is set so.
#![allow(clippy::unwrap_used)]

#[path = "support/peer.rs"]
mod peer;

use sim::watlow::{serve, Controller, ModbusDevice, ModbusLine, Plant, PtyLine, StdBusLine};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use watlow::modbus::WordOrder;

fn python() -> PathBuf {
    let python = peer::watlowlib_python();
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup-python.sh (watlowlib needs Python >= 3.13, \
         taken from pyenv)",
        python.display()
    );
    python
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watlowlib_reads_writes_and_records_our_simulated_pms() {
    let dir = tempfile::tempdir().unwrap();
    let (std_link, mb_link) = (dir.path().join("w0"), dir.path().join("m0"));
    let plant = || Plant::new(Duration::from_secs(3600), 0.0, 1);
    let mut std_line = StdBusLine::new();
    std_line.add(1, Controller::pm(1, 68.0, plant()));
    let mut mb_line = ModbusLine::new();
    mb_line.add(
        1,
        ModbusDevice::new(Controller::pm(1, 66.0, plant()), WordOrder::HighLow),
    );
    let a = tokio::spawn(serve(
        Arc::new(Mutex::new(std_line)),
        PtyLine::open(Some(&std_link)).unwrap(),
    ));
    let b = tokio::spawn(serve(
        Arc::new(Mutex::new(mb_line)),
        PtyLine::open(Some(&mb_link)).unwrap(),
    ));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/watlow_watlowlib.py");
    let got = peer::run_json(
        &python(),
        script,
        &[std_link.as_os_str(), mb_link.as_os_str()],
    )
    .await;
    eprintln!("watlowlib: {got}");
    for (protocol, pv) in [("stdbus", 68.0), ("modbus", 66.0)] {
        let r = &got[protocol];
        let read = r["pv"].as_f64().unwrap();
        assert!((read - pv).abs() < 0.1, "{protocol}: {r}");
        assert_eq!(r["sp"], 75.0, "{protocol}: {r}");
        assert_eq!(r["set"], 82.5, "{protocol}: {r}");
        assert_eq!(r["sp_after"], 82.5, "{protocol}: {r}");
        let rec = &r["record"];
        assert_eq!(rec["emitted"], 50, "{protocol}: {rec}");
        assert_eq!(rec["rows"], 100, "{protocol}: {rec}");
    }
    a.abort();
    b.abort();
}
