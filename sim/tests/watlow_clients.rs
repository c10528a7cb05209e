//! Our own clients, on a real serial port (a pty opened with tokio-serial,
//! through the stable link), against the simulated lines: Standard Bus
//! reads, an echoed write, a garbage prefix and a wrong source MAC; Modbus
//! with the word order detected, a setpoint write read back.
#![allow(clippy::unwrap_used)]

use sim::watlow::{serve, Controller, ModbusDevice, ModbusLine, Plant, PtyLine, StdBusLine};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use watlow::modbus::{ModbusClient, WordOrder, WordOrderSetting};
use watlow::port::{open, ModbusParity, PortSettings};
use watlow::registry::{find, Family};
use watlow::stdbus::{ReplyError, StdBusClient, StdBusError};
use watlow::Value;

fn still(pv: f64, seed: u64) -> Controller {
    Controller::pm(1, pv, Plant::new(Duration::from_secs(3600), 0.0, seed))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdbus_over_a_serial_port() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("stdbus0");
    let mut line = StdBusLine::new();
    line.add(1, still(21.5, 1));
    line.add(5, still(30.25, 2));
    let line = Arc::new(Mutex::new(line));
    let server = tokio::spawn(serve(
        Arc::clone(&line),
        PtyLine::open(Some(&link)).unwrap(),
    ));
    let port = open(&link, PortSettings::stdbus()).unwrap();
    let mut c = StdBusClient::new(port, Duration::from_millis(300));
    let pv = c
        .read(1, find("pv").unwrap(), 1)
        .await
        .unwrap()
        .as_f64()
        .unwrap();
    assert!((pv - 21.5).abs() < 0.01, "{pv}");
    let pv5 = c
        .read(5, find("pv").unwrap(), 1)
        .await
        .unwrap()
        .as_f64()
        .unwrap();
    assert!((pv5 - 30.25).abs() < 0.01, "{pv5}");
    assert_eq!(
        c.write(5, find("sp").unwrap(), 1, 40.0).await,
        Ok(Value::F64(40.0))
    );
    assert_eq!(
        c.read(5, find("sp").unwrap(), 1).await,
        Ok(Value::F64(40.0))
    );
    assert_eq!(
        c.read(1, find("part_number").unwrap(), 1).await,
        Ok(Value::Str("PM3R1CA-AAAAAAA".into()))
    );
    line.lock().unwrap().faults.garbage_prefix = vec![0x00, 0x55, 0x13, 0xAA];
    assert_eq!(
        c.read(1, find("sp").unwrap(), 1).await,
        Ok(Value::F64(75.0))
    );
    {
        let mut l = line.lock().unwrap();
        l.faults.garbage_prefix.clear();
        l.faults.wrong_source = true;
    }
    let e = c.read(1, find("sp").unwrap(), 1).await.unwrap_err();
    assert!(
        matches!(e, StdBusError::Reply(ReplyError::WrongSource { .. })),
        "{e}"
    );
    line.lock().unwrap().faults.wrong_source = false;
    assert_eq!(
        c.read(9, find("pv").unwrap(), 1).await,
        Err(StdBusError::NoResponse(Duration::from_millis(300)))
    );
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modbus_over_a_serial_port_with_the_word_order_detected() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("modbus0");
    let mut line = ModbusLine::new();
    line.add(7, ModbusDevice::new(still(55.5, 3), WordOrder::HighLow));
    let line = Arc::new(Mutex::new(line));
    let server = tokio::spawn(serve(
        Arc::clone(&line),
        PtyLine::open(Some(&link)).unwrap(),
    ));
    let port = open(&link, PortSettings::modbus(9600, ModbusParity::None)).unwrap();
    let mut c = ModbusClient::attach(port, 7, Family::Pm, Duration::from_millis(500));
    assert_eq!(
        c.detect_word_order(WordOrderSetting::Auto).await,
        WordOrder::HighLow
    );
    let pv = c
        .read(find("pv").unwrap(), 1)
        .await
        .unwrap()
        .as_f64()
        .unwrap();
    assert!((pv - 55.5).abs() < 0.01, "{pv}");
    c.write(find("sp").unwrap(), 1, 60.5).await.unwrap();
    assert_eq!(c.read(find("sp").unwrap(), 1).await, Ok(Value::F64(60.5)));
    c.write(find("heat_algorithm").unwrap(), 1, 62.0)
        .await
        .unwrap();
    assert_eq!(
        c.read(find("heat_algorithm").unwrap(), 1).await,
        Ok(Value::I64(62))
    );
    server.abort();
}
