//! pymodbus 3.16's RTU client against our simulated Modbus PM on a
//! pseudo-terminal: the word-order register, PV and SP low word first, an
//! FC16 setpoint write read back, an FC06 enum write, loop 2's PV, and
//! exception 02 for an unmapped register.
#![allow(clippy::unwrap_used)]

#[path = "../../tests/support/loopback.rs"]
mod loopback;
#[path = "support/peer.rs"]
mod peer;

use sim::watlow::{serve, Controller, ModbusDevice, ModbusLine, Plant, PtyLine};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use watlow::modbus::WordOrder;
use watlow::stdbus::Typed;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pymodbus_reads_and_writes_our_simulated_pm() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("watlow-modbus0");
    let mut line = ModbusLine::new();
    let pm = Controller::pm(1, 75.0, Plant::new(Duration::ZERO, 0.0, 1));
    line.add(1, ModbusDevice::new(pm, WordOrder::LowHigh));
    let line = Arc::new(Mutex::new(line));
    let server = tokio::spawn(serve(
        Arc::clone(&line),
        PtyLine::open(Some(&link)).unwrap(),
    ));

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/watlow_pymodbus.py");
    let got = peer::run_json(&loopback::python(), script, &[link.as_os_str()]).await;
    assert_eq!(got["word_order"], 1331, "{got}");
    assert_eq!(got["pv"], 75.0);
    assert_eq!(got["sp"], 75.0);
    assert_eq!(got["sp_write_error"], false);
    assert_eq!(got["sp_after"], 81.5);
    assert_eq!(got["alg_write_error"], false);
    assert_eq!(got["alg_after"], 62);
    assert_eq!(got["unmapped_exception"], 2);
    // Loop 2's setpoint is its own (75): its PV relaxed to it.
    assert_eq!(got["pv_loop2"], 75.0);

    let mut line = line.lock().unwrap();
    let pm = line.device(1).unwrap().controller();
    assert_eq!(pm.stored(7001, 1), Some(&Typed::F32(81.5)));
    assert_eq!(pm.stored(8003, 1), Some(&Typed::enumeration(62)));
    drop(line);
    server.abort();
}
