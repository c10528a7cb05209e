//! The simulator's fault knobs against our clients on real ptys: a reply
//! in pieces, a truncated reply, a bad CRC, a reply too late, Modbus
//! exceptions, silence and a bad CRC, and a line that hangs up (the port
//! fails as a connection error) and comes back at its link.
#![allow(clippy::unwrap_used)]

use sim::watlow::{Controller, ModbusDevice, ModbusLine, Plant, Served, StdBusLine};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use watlow::modbus::{ModbusClient, ModbusError, WordOrder, WordOrderSetting};
use watlow::port::{open, ModbusParity, PortSettings};
use watlow::registry::{find, Family};
use watlow::stdbus::{StdBusClient, StdBusError};
use watlow::Value;

fn pm() -> Controller {
    Controller::pm(1, 20.0, Plant::new(Duration::from_secs(3600), 0.0, 1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdbus_faults() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("w0");
    let mut line = StdBusLine::new();
    line.add(1, pm());
    let mut served = Served::start(Arc::new(Mutex::new(line)), &link).unwrap();
    let line = Arc::clone(served.line());
    let timeout = Duration::from_millis(300);
    let mut c = StdBusClient::new(open(&link, PortSettings::stdbus()).unwrap(), timeout);
    let sp = find("sp").unwrap();
    let set = |f: &dyn Fn(&mut StdBusLine)| f(&mut line.lock().unwrap());

    set(&|l| l.faults.fragment = Some((3, Duration::from_millis(5))));
    assert_eq!(c.read(1, sp, 1).await, Ok(Value::F64(75.0)));
    set(&|l| l.faults.fragment = None);

    set(&|l| l.faults.truncate = Some(12));
    assert_eq!(
        c.read(1, sp, 1).await,
        Err(StdBusError::NoResponse(timeout))
    );
    set(&|l| l.faults.truncate = None);
    // The stalled bytes are not taken for the next reply.
    assert_eq!(c.read(1, sp, 1).await, Ok(Value::F64(75.0)));

    set(&|l| l.faults.bad_data_crc = true);
    let e = c.read(1, sp, 1).await.unwrap_err();
    assert!(matches!(e, StdBusError::Frame(_)), "{e}");
    set(&|l| l.faults.bad_data_crc = false);

    // Later than the read and its retry together (a reply a little late
    // answers the retry, which asked the same: that is taken).
    set(&|l| l.faults.latency = Duration::from_millis(700));
    assert_eq!(
        c.read(1, sp, 1).await,
        Err(StdBusError::NoResponse(timeout))
    );
    set(&|l| l.faults.latency = Duration::ZERO);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(c.read(1, sp, 1).await, Ok(Value::F64(75.0)));

    // Hung up: the port fails as a connection error; back at the link, a
    // reopened port reads again.
    let hang = tokio::spawn(async move {
        served.hang_up(Duration::from_millis(300)).await.unwrap();
        served
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let e = c.read(1, sp, 1).await.unwrap_err();
    assert!(e.is_connection(), "{e}");
    let _served = hang.await.unwrap();
    let mut c = StdBusClient::new(open(&link, PortSettings::stdbus()).unwrap(), timeout);
    assert_eq!(c.read(1, sp, 1).await, Ok(Value::F64(75.0)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modbus_faults() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("m0");
    let mut line = ModbusLine::new();
    line.add(1, ModbusDevice::new(pm(), WordOrder::LowHigh));
    let served = Served::start(Arc::new(Mutex::new(line)), &link).unwrap();
    let line = Arc::clone(served.line());
    let timeout = Duration::from_millis(300);
    let port = open(&link, PortSettings::modbus(9600, ModbusParity::None)).unwrap();
    let mut c = ModbusClient::attach(port, 1, Family::Pm, timeout);
    c.detect_word_order(WordOrderSetting::Auto).await;
    let sp = find("sp").unwrap();
    line.lock().unwrap().faults.exception = Some(4);
    assert_eq!(c.read(sp, 1).await, Err(ModbusError::SlaveFailure));
    line.lock().unwrap().faults.exception = Some(2);
    assert!(c.read(sp, 1).await.unwrap_err().unsupported());
    line.lock().unwrap().faults.exception = None;
    line.lock().unwrap().faults.silent = true;
    assert_eq!(c.read(sp, 1).await, Err(ModbusError::Timeout(timeout)));
    line.lock().unwrap().faults.silent = false;
    line.lock().unwrap().faults.bad_crc = true;
    let e = c.read(sp, 1).await.unwrap_err();
    assert!(
        matches!(e, ModbusError::Protocol(_) | ModbusError::Timeout(_)),
        "{e}"
    );
    line.lock().unwrap().faults.bad_crc = false;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(c.read(sp, 1).await, Ok(Value::F64(75.0)));
}
