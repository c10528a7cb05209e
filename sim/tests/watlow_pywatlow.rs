//! pywatlow 0.1.4 (Python, pyserial), the only independent Standard Bus
//! client, against our simulated line of two PMs on a pseudo-terminal: it
//! reads PV and SP, writes a float setpoint and an enum and reads them
//! back, reads address 2, and gets "no response" from address 3.
#![allow(clippy::unwrap_used)]

#[path = "../../tests/support/loopback.rs"]
mod loopback;
#[path = "support/peer.rs"]
mod peer;

use sim::watlow::{serve, Controller, Plant, PtyLine, StdBusLine};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use watlow::stdbus::Typed;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pywatlow_reads_and_writes_our_simulated_controllers() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("watlow-sim0");
    let mut line = StdBusLine::new();
    // No dynamics: the process value stays where it starts.
    line.add(
        1,
        Controller::pm(1, 71.25, Plant::new(Duration::ZERO, 0.0, 1)),
    );
    line.add(
        2,
        Controller::pm(2, 68.5, Plant::new(Duration::from_secs(3600), 0.0, 2)),
    );
    let line = Arc::new(Mutex::new(line));
    let pty = PtyLine::open(Some(&link)).unwrap();
    assert_eq!(std::fs::read_link(&link).unwrap(), pty.slave_path());
    let server = tokio::spawn(serve(Arc::clone(&line), pty));

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/watlow_pywatlow.py");
    let got = peer::run_json(&loopback::python(), script, &[link.as_os_str()]).await;
    // PV 1 relaxed at once to the setpoint (tau 0): 75 until the write.
    assert_eq!(got["pv"], 75.0, "{got}");
    assert_eq!(got["sp"], 75.0);
    assert_eq!(got["sp_echo"], 80.5);
    assert_eq!(got["sp_after"], 80.5);
    assert_eq!(got["alg"], 71);
    assert_eq!(got["alg_echo"], 62);
    assert_eq!(got["alg_after"], 62);
    // PV 2 creeps toward its setpoint (tau an hour) as the test runs.
    let pv2 = got["pv2"].as_f64().unwrap();
    assert!(pv2 > 68.5 && pv2 < 68.51, "{pv2}");
    let absent = got["absent_error"].as_str().unwrap();
    assert!(absent.contains("No response from address 3"), "{absent}");

    // And the simulator's store holds what pywatlow wrote.
    let mut line = line.lock().unwrap();
    let one = line.controller(1).unwrap();
    assert_eq!(one.stored(7001, 1), Some(&Typed::F32(80.5)));
    assert_eq!(one.stored(8003, 1), Some(&Typed::enumeration(62)));
    drop(line);
    server.abort();
}
