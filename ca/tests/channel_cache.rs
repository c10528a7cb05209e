//! The client's channel cache against our own server on loopback: idle
//! channels beyond the capacity are closed, a monitored one stays open and
//! keeps delivering, an evicted name connects again when it is used again.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../tests/support/loopback.rs"]
mod loopback;

use ca::{Monitor, PvClient, PvServer, PvSpec, PvType, Value};
use std::time::Duration;

const CAPACITY: usize = 4;
const PVS: i64 = 40;

fn name(i: i64) -> String {
    format!("Test:CC:P{i:02}")
}

async fn next(monitor: &mut Monitor) -> Value {
    tokio::time::timeout(Duration::from_secs(5), monitor.next())
        .await
        .expect("a monitor update")
        .expect("the subscription goes on")
        .expect("a value")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_channels_are_evicted_and_a_monitored_one_stays_open() {
    let port = loopback::free_port();
    for (k, v) in loopback::loopback_env(port) {
        // Read once by epics-ca-rs; this binary has this one test.
        std::env::set_var(k, v);
    }
    let specs = (0..PVS)
        .map(|i| PvSpec {
            name: name(i),
            kind: PvType::Long { min: 0, max: 1000 },
            initial: Value::Long(i),
            writable: true,
            units: None,
            precision: 0,
        })
        .collect();
    let (server, _writes) = PvServer::start(specs, port, 16).unwrap();
    let client = PvClient::with_capacity(Duration::from_secs(10), CAPACITY)
        .await
        .unwrap();
    let timeout = Duration::from_secs(5);

    let mut monitor = client.monitor(&name(0)).await.unwrap();
    assert_eq!(next(&mut monitor).await, Value::Long(0));
    // Many more names than the capacity, each read once.
    for i in 1..PVS {
        let reading = client.get(&name(i), timeout).await.unwrap();
        assert_eq!(reading.value, Value::Long(i));
        assert!(
            client.cached_channels() <= CAPACITY,
            "{} channels open after reading {}",
            client.cached_channels(),
            name(i)
        );
    }
    // The monitored channel was never closed: it still delivers.
    server.set(&name(0), Value::Long(500)).unwrap();
    assert_eq!(next(&mut monitor).await, Value::Long(500));
    // An evicted name is connected again when it is used again.
    server.set(&name(1), Value::Long(501)).unwrap();
    assert_eq!(
        client.get(&name(1), timeout).await.unwrap().value,
        Value::Long(501)
    );
    client
        .put_wait(&name(2), &Value::Long(502), timeout)
        .await
        .unwrap();
    assert_eq!(server.get(&name(2)), Some(Value::Long(502)));
    assert!(client.cached_channels() <= CAPACITY);
    // Released, the monitor's channel may go like any other.
    drop(monitor);
    for i in 10..10 + CAPACITY as i64 {
        client.get(&name(i), timeout).await.unwrap();
    }
    assert_eq!(client.cached_channels(), CAPACITY);
}
