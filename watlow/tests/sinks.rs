//! Each sink fed by `pipe` from a queue of batches, read back: the rows,
//! their columns and values, the remainder flushed at the end; a sink that
//! fails ends the pipe with its error.
#![allow(clippy::unwrap_used)]

use std::time::Duration;
use watlow::port::Protocol;
use watlow::recorder::{queue, OverflowPolicy, Sample};
use watlow::sinks::{open_sink, pipe, SampleSink, SinkError, COLUMNS};
use watlow::Value;

fn sample(i: usize) -> Sample {
    Sample {
        device: if i.is_multiple_of(2) {
            "oven, left".into()
        } else {
            "oven-b".into()
        },
        address: 1 + (i % 2) as u8,
        protocol: Protocol::StdBus,
        parameter: "process_value",
        parameter_id: 4001,
        instance: 1,
        value: if i == 3 {
            Value::Unavailable
        } else {
            Value::F64(20.0 + i as f64)
        },
        unit: None,
        t_mono_ns: 1_000_000 * i as u64,
        t_utc_ns: 1_796_000_000_000_000_000 + 1_000_000 * i as i64,
        requested_at_ns: 1_796_000_000_000_000_000,
        received_at_ns: 1_796_000_000_000_000_000,
        latency_s: 0.004,
        raw: vec![1, 2],
    }
}

/// Ten rows in batches of three, piped into `spec`'s sink.
async fn fill(spec: &str) -> u64 {
    let (tx, rx) = queue::bounded(64, OverflowPolicy::Block);
    for chunk in (0..10).collect::<Vec<_>>().chunks(3) {
        tx.send(chunk.iter().map(|&i| sample(i)).collect()).await;
    }
    drop(tx);
    pipe(&rx, open_sink(spec).unwrap(), 4, Duration::from_secs(1))
        .await
        .unwrap()
}

#[tokio::test]
async fn csv_and_jsonl_hold_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("s.csv");
    assert_eq!(fill(&format!("csv:{}", csv.display())).await, 10);
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], COLUMNS.join(","));
    assert_eq!(lines.len(), 11);
    assert!(lines[1].starts_with("\"oven, left\",1,stdbus,process_value,4001,1,20.0,,0,"));
    assert!(lines[2].starts_with("oven-b,2,stdbus,"));
    // The failed sensor's row: an empty value.
    assert!(lines[4].contains(",4001,1,,,"), "{}", lines[4]);
    assert!(lines[1].contains("2026-"), "{}", lines[1]);

    let jsonl = dir.path().join("s.jsonl");
    assert_eq!(fill(&format!("jsonl:{}", jsonl.display())).await, 10);
    let rows: Vec<serde_json::Value> = std::fs::read_to_string(&jsonl)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 10);
    assert_eq!(rows[9]["value"], 29.0);
    assert_eq!(rows[3]["value"], serde_json::Value::Null);
    assert_eq!(rows[0]["device"], "oven, left");
    assert!(rows[0].get("raw").is_none());
}

#[tokio::test]
async fn sqlite_holds_every_row_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    assert_eq!(fill(&format!("sqlite:{}", db.display())).await, 10);
    // Again into the same file: the table is kept, rows are added.
    assert_eq!(fill(&format!("sqlite:{}", db.display())).await, 10);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let n: i64 = conn
        .query_row("SELECT COUNT(*) FROM samples", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 20);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let v: f64 = conn
        .query_row(
            "SELECT value FROM samples WHERE t_mono_ns = 9000000 LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(v, 29.0);
}

#[tokio::test]
async fn hdf5_keeps_a_series_per_device_and_parameter() {
    let dir = tempfile::tempdir().unwrap();
    let h5 = dir.path().join("s.h5");
    assert_eq!(fill(&format!("hdf5:{}", h5.display())).await, 10);
    let file = hdf5::File::open(&h5).unwrap();
    let left = file.group("oven, left/process_value").unwrap();
    let values: Vec<f64> = left.dataset("value").unwrap().read_raw().unwrap();
    assert_eq!(values, vec![20.0, 22.0, 24.0, 26.0, 28.0]);
    let right = file.group("oven-b/process_value").unwrap();
    let values: Vec<f64> = right.dataset("value").unwrap().read_raw().unwrap();
    assert_eq!(values.len(), 5);
    assert!(values[1].is_nan(), "the failed reading: {values:?}");
    let t: Vec<u64> = right.dataset("t_mono_ns").unwrap().read_raw().unwrap();
    assert_eq!(
        t,
        vec![1_000_000, 3_000_000, 5_000_000, 7_000_000, 9_000_000]
    );
    assert!(right.dataset("value").unwrap().is_chunked());
}

struct Failing;

impl SampleSink for Failing {
    fn write_batch(&mut self, _: &[Sample]) -> Result<(), SinkError> {
        Err(SinkError::Write {
            path: "disk".into(),
            message: "No space left on device (os error 28)".into(),
        })
    }
    fn close(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

#[tokio::test]
async fn a_failing_sink_ends_the_pipe_with_its_error() {
    let (tx, rx) = queue::bounded(8, OverflowPolicy::Block);
    tx.send(vec![sample(0)]).await;
    drop(tx);
    let e = pipe(&rx, Box::new(Failing), 1, Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("No space left"), "{e}");
    assert!(matches!(open_sink("parquet:x"), Err(SinkError::Unknown(_))));
    assert!(open_sink("csv:/nonexistent-dir/x.csv").is_err());
}
