//! The manager on real ptys against the simulated lines: a recording of two
//! ports (two Standard Bus PMs, one Modbus PM) where every device is in
//! every batch; a setpoint write between batches, skipped when the device
//! holds the value already; and a line that hangs up (the pty closed, its
//! node gone) and comes back on the same link: the recorder counts the
//! disconnect, backs off, reconnects, and samples resume.
#![allow(clippy::unwrap_used)]

use sim::watlow::{serve, Controller, ModbusDevice, ModbusLine, Plant, PtyLine, StdBusLine};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use watlow::manager::{DeviceConfig, Manager, PortConfig};
use watlow::modbus::{WordOrder, WordOrderSetting};
use watlow::port::{ModbusParity, PortSettings};
use watlow::recorder::{record, RecordOptions};
use watlow::registry::{find, Family};
use watlow::Value;

fn pm(address: u8, pv: f64) -> Controller {
    Controller::pm(address, pv, Plant::new(Duration::from_secs(3600), 0.0, 1))
}

fn device(name: &str, address: u8) -> DeviceConfig {
    DeviceConfig {
        name: name.into(),
        address,
        family: Family::Pm,
        word_order: WordOrderSetting::Auto,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_ports_recorded_a_write_between_batches_and_a_hang_up_survived() {
    let dir = tempfile::tempdir().unwrap();
    let std_link = dir.path().join("stdbus0");
    let mb_link = dir.path().join("modbus0");
    let mut std_line = StdBusLine::new();
    std_line.add(1, pm(1, 20.0));
    std_line.add(2, pm(2, 30.0));
    let std_line = Arc::new(Mutex::new(std_line));
    let mut mb_line = ModbusLine::new();
    mb_line.add(3, ModbusDevice::new(pm(3, 40.0), WordOrder::HighLow));
    let mb_line = Arc::new(Mutex::new(mb_line));
    let std_server = tokio::spawn(serve(
        Arc::clone(&std_line),
        PtyLine::open(Some(&std_link)).unwrap(),
    ));
    let mb_server = tokio::spawn(serve(
        Arc::clone(&mb_line),
        PtyLine::open(Some(&mb_link)).unwrap(),
    ));

    let manager = Manager::start(vec![
        PortConfig {
            path: std_link.clone(),
            settings: PortSettings::stdbus(),
            timeout: Duration::from_millis(200),
            devices: vec![device("oven-a", 1), device("oven-b", 2)],
        },
        PortConfig {
            path: mb_link.clone(),
            settings: PortSettings::modbus(9600, ModbusParity::None),
            timeout: Duration::from_millis(200),
            devices: vec![device("oven-c", 3)],
        },
    ])
    .unwrap();
    let manager = Arc::new(tokio::sync::Mutex::new(manager));

    // A source that is the shared manager (the test writes through it too).
    struct Shared(Arc<tokio::sync::Mutex<Manager>>);
    #[async_trait::async_trait]
    impl watlow::recorder::PollSource for Shared {
        async fn poll_many(
            &mut self,
            parameters: &[&'static watlow::registry::ParamSpec],
            instances: &[u8],
        ) -> Result<Vec<watlow::recorder::Sample>, watlow::recorder::SourceError> {
            self.0.lock().await.poll_many(parameters, instances).await
        }
        async fn reconnect(&mut self) -> Result<(), watlow::recorder::SourceError> {
            self.0.lock().await.reconnect().await
        }
    }
    let rec = record(
        Box::new(Shared(Arc::clone(&manager))),
        vec![find("pv").unwrap(), find("sp").unwrap()],
        RecordOptions {
            rate_hz: 5.0,
            duration: Some(Duration::from_secs(6)),
            auto_reconnect: true,
            ..Default::default()
        },
    )
    .unwrap();

    // The first batch: three devices, PV and SP each.
    let first = rec.stream.recv().await.unwrap();
    let mut seen: Vec<(String, &str)> = first
        .iter()
        .map(|s| (s.device.clone(), s.parameter))
        .collect();
    seen.sort();
    assert_eq!(seen.len(), 6, "{seen:?}");
    let pv_c = first
        .iter()
        .find(|s| s.device == "oven-c" && s.parameter == "process_value")
        .unwrap();
    assert!((pv_c.value.as_f64().unwrap() - 40.0).abs() < 0.01);

    // A write between batches, then the same value again: skipped.
    let sp = find("sp").unwrap();
    let stored = manager
        .lock()
        .await
        .write("oven-b", sp, 1, 65.5)
        .await
        .unwrap();
    assert_eq!(stored, Value::F64(65.5));
    let writes = std_line.lock().unwrap().writes;
    assert_eq!(writes, 1);
    rec.stream.recv().await.unwrap();
    manager
        .lock()
        .await
        .write("oven-b", sp, 1, 65.5)
        .await
        .unwrap();
    assert_eq!(
        std_line.lock().unwrap().writes,
        1,
        "an equal write was sent"
    );
    let refused = manager.lock().await.write("oven-b", sp, 1, 1e5).await;
    assert!(refused.is_err());
    assert_eq!(std_line.lock().unwrap().writes, 1);

    // The Standard Bus line hangs up for 1.5 s.
    std_server.abort();
    let _ = std_server.await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let std_server = tokio::spawn(serve(
        Arc::clone(&std_line),
        PtyLine::open(Some(&std_link)).unwrap(),
    ));

    let mut after = 0;
    while let Some(batch) = rec.stream.recv().await {
        if batch.iter().any(|s| s.device == "oven-a") {
            after += 1;
        }
    }
    let summary = rec.finish().await.unwrap();
    eprintln!("{summary:?}; {after} batches with oven-a after the hang-up");
    assert!(summary.disconnects >= 1, "{summary:?}");
    assert!(summary.samples_late >= 1, "{summary:?}");
    assert!(
        after >= 5,
        "{after} batches with oven-a after the hang-up: {summary:?}"
    );
    std_server.abort();
    mb_server.abort();
}

/// An open sensor: the PM reads about 2531.8 and says so in 4002; the
/// sample carries no value, not that number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_sensor_reads_as_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("stdbus1");
    let mut line = StdBusLine::new();
    line.add(1, pm(1, 20.0));
    let line = Arc::new(Mutex::new(line));
    let server = tokio::spawn(serve(
        Arc::clone(&line),
        PtyLine::open(Some(&link)).unwrap(),
    ));
    let mut manager = Manager::start(vec![PortConfig {
        path: link,
        settings: PortSettings::stdbus(),
        timeout: Duration::from_millis(300),
        devices: vec![device("oven", 1)],
    }])
    .unwrap();
    use watlow::recorder::PollSource;
    let pv = find("pv").unwrap();
    let ok = manager.poll_many(&[pv], &[1]).await.unwrap();
    assert!((ok[0].value.as_f64().unwrap() - 20.0).abs() < 0.01);
    line.lock().unwrap().controller(1).unwrap().sensor_failed = true;
    let failed = manager.poll_many(&[pv], &[1]).await.unwrap();
    assert_eq!(failed[0].value, Value::Unavailable);
    server.abort();
}
