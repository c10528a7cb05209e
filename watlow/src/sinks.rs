//! Where recorded samples go: CSV, JSON lines, SQLite and HDF5, fed in
//! batches by [`pipe`] (a batch when it holds `batch_size` rows or
//! `flush_interval` has passed, the remainder at the end). A sink's failure
//! ends the pipe with its error: never silent.
//!
//! The tabular row is watlowlib's: `device, address, protocol, parameter,
//! parameter_id, instance, value, unit, t_mono_ns, t_utc, requested_at,
//! received_at, latency_s`, times ISO-8601 UTC; the raw bytes are left out.
//! HDF5 keeps, per device and parameter (and instance after the first), a
//! group of extendable chunked datasets `t_mono_ns`, `t_utc_ns`, `value`,
//! `latency_s`, so a scan file can hold a time series beside its steps.

use crate::port::Protocol;
use crate::recorder::{queue, Sample};
use crate::value::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The tabular columns, in order.
pub const COLUMNS: [&str; 13] = [
    "device",
    "address",
    "protocol",
    "parameter",
    "parameter_id",
    "instance",
    "value",
    "unit",
    "t_mono_ns",
    "t_utc",
    "requested_at",
    "received_at",
    "latency_s",
];

/// Why a sink failed.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Writing the file.
    #[error("{path}: {message}")]
    Write {
        /// The sink's file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A `kind:FILE` that names no sink.
    #[error("unknown sink {0:?}: csv:FILE, jsonl:FILE, sqlite:FILE or hdf5:FILE")]
    Unknown(String),
}

fn fail(path: &Path, e: impl std::fmt::Display) -> SinkError {
    SinkError::Write {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// A destination for batches of samples (called on a blocking thread).
pub trait SampleSink: Send {
    /// Writes one batch, durably as far as the format allows.
    fn write_batch(&mut self, rows: &[Sample]) -> Result<(), SinkError>;
    /// Ends the output (flush, close).
    fn close(&mut self) -> Result<(), SinkError>;
}

fn protocol_name(p: Protocol) -> &'static str {
    match p {
        Protocol::StdBus => "stdbus",
        Protocol::ModbusRtu => "modbus",
    }
}

fn iso(ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ns).to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// A row's cells as text (CSV) and JSON.
fn cells(s: &Sample) -> [serde_json::Value; 13] {
    use serde_json::Value as J;
    let value = match &s.value {
        Value::F64(v) => serde_json::Number::from_f64(*v).map_or(J::Null, J::Number),
        Value::I64(v) => J::from(*v),
        Value::Str(t) => J::from(t.clone()),
        Value::Unavailable => J::Null,
    };
    [
        J::from(s.device.clone()),
        J::from(s.address),
        J::from(protocol_name(s.protocol)),
        J::from(s.parameter),
        J::from(s.parameter_id),
        J::from(s.instance),
        value,
        s.unit.clone().map_or(J::Null, J::from),
        J::from(s.t_mono_ns),
        J::from(iso(s.t_utc_ns)),
        J::from(iso(s.requested_at_ns)),
        J::from(iso(s.received_at_ns)),
        serde_json::Number::from_f64(s.latency_s).map_or(J::Null, J::Number),
    ]
}

/// A text file written line by line: what CSV and JSON lines share.
struct LineFile {
    path: PathBuf,
    out: std::io::BufWriter<std::fs::File>,
}

impl LineFile {
    fn create(path: &Path) -> Result<Self, SinkError> {
        let file = std::fs::File::create(path).map_err(|e| fail(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            out: std::io::BufWriter::new(file),
        })
    }

    /// Writes `lines` and flushes them to the file.
    fn write(&mut self, lines: impl Iterator<Item = String>) -> Result<(), SinkError> {
        for line in lines {
            writeln!(self.out, "{line}").map_err(|e| fail(&self.path, e))?;
        }
        self.out.flush().map_err(|e| fail(&self.path, e))
    }

    fn close(&mut self) -> Result<(), SinkError> {
        self.out.flush().map_err(|e| fail(&self.path, e))?;
        self.out
            .get_ref()
            .sync_all()
            .map_err(|e| fail(&self.path, e))
    }
}

/// Comma-separated values with a header row.
pub struct CsvSink(LineFile);

impl CsvSink {
    /// Creates (truncates) `path` and writes the header.
    pub fn create(path: &Path) -> Result<Self, SinkError> {
        let mut file = LineFile::create(path)?;
        file.write(std::iter::once(COLUMNS.join(",")))?;
        Ok(Self(file))
    }
}

fn csv_cell(v: &serde_json::Value) -> String {
    let text = match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

impl SampleSink for CsvSink {
    fn write_batch(&mut self, rows: &[Sample]) -> Result<(), SinkError> {
        self.0.write(rows.iter().map(|row| {
            let line: Vec<String> = cells(row).iter().map(csv_cell).collect();
            line.join(",")
        }))
    }

    fn close(&mut self) -> Result<(), SinkError> {
        self.0.close()
    }
}

/// One JSON object per line.
pub struct JsonlSink(LineFile);

impl JsonlSink {
    /// Creates (truncates) `path`.
    pub fn create(path: &Path) -> Result<Self, SinkError> {
        LineFile::create(path).map(Self)
    }
}

impl SampleSink for JsonlSink {
    fn write_batch(&mut self, rows: &[Sample]) -> Result<(), SinkError> {
        self.0.write(rows.iter().map(|row| {
            let object: serde_json::Map<String, serde_json::Value> = COLUMNS
                .iter()
                .map(|c| (*c).to_string())
                .zip(cells(row))
                .collect();
            serde_json::Value::Object(object).to_string()
        }))
    }

    fn close(&mut self) -> Result<(), SinkError> {
        self.0.close()
    }
}

/// A SQLite table `samples` (WAL, one transaction per batch).
pub struct SqliteSink {
    path: PathBuf,
    db: rusqlite::Connection,
}

impl SqliteSink {
    /// Opens or creates `path` with the table.
    pub fn open(path: &Path) -> Result<Self, SinkError> {
        let db = rusqlite::Connection::open(path).map_err(|e| fail(path, e))?;
        db.busy_timeout(Duration::from_secs(5))
            .map_err(|e| fail(path, e))?;
        db.execute_batch(
            "PRAGMA journal_mode=WAL;
             PRAGMA synchronous=NORMAL;
             CREATE TABLE IF NOT EXISTS samples (
               device TEXT NOT NULL, address INTEGER NOT NULL, protocol TEXT NOT NULL,
               parameter TEXT NOT NULL, parameter_id INTEGER NOT NULL, instance INTEGER NOT NULL,
               value, unit TEXT, t_mono_ns INTEGER NOT NULL, t_utc TEXT NOT NULL,
               requested_at TEXT NOT NULL, received_at TEXT NOT NULL, latency_s REAL NOT NULL);",
        )
        .map_err(|e| fail(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            db,
        })
    }
}

impl SampleSink for SqliteSink {
    fn write_batch(&mut self, rows: &[Sample]) -> Result<(), SinkError> {
        let path = self.path.clone();
        let tx = self
            .db
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| fail(&path, e))?;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO samples VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)",
                )
                .map_err(|e| fail(&path, e))?;
            for s in rows {
                let value: rusqlite::types::Value = match &s.value {
                    Value::F64(v) => (*v).into(),
                    Value::I64(v) => (*v).into(),
                    Value::Str(t) => t.clone().into(),
                    Value::Unavailable => rusqlite::types::Value::Null,
                };
                insert
                    .execute(rusqlite::params![
                        s.device,
                        s.address,
                        protocol_name(s.protocol),
                        s.parameter,
                        s.parameter_id,
                        s.instance,
                        value,
                        s.unit,
                        s.t_mono_ns as i64,
                        iso(s.t_utc_ns),
                        iso(s.requested_at_ns),
                        iso(s.received_at_ns),
                        s.latency_s,
                    ])
                    .map_err(|e| fail(&path, e))?;
            }
        }
        tx.commit().map_err(|e| fail(&path, e))
    }

    fn close(&mut self) -> Result<(), SinkError> {
        let path = self.path.clone();
        self.db
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(|e| fail(&path, e))
    }
}

/// Chunk length of the extendable HDF5 datasets.
const CHUNK: usize = 1024;

/// HDF5: per device and parameter a group of extendable datasets, in a
/// new file or under a group of an open one (a scan file's).
pub struct Hdf5Sink {
    path: PathBuf,
    root: hdf5::Group,
    /// The file, when this sink made it (else someone else holds it).
    file: Option<hdf5::File>,
}

impl Hdf5Sink {
    /// Creates (truncates) `path`; the series go at its root.
    pub fn create(path: &Path) -> Result<Self, SinkError> {
        let file = hdf5::File::create(path).map_err(|e| fail(path, e))?;
        let root = file.as_group().map_err(|e| fail(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            root,
            file: Some(file),
        })
    }

    /// The series go under `group` (of a file someone else holds).
    pub fn into_group(group: hdf5::Group, path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
            root: group,
            file: None,
        }
    }

    fn series(&self, s: &Sample) -> hdf5::Result<hdf5::Group> {
        let device = match self.root.group(&s.device) {
            Ok(g) => g,
            Err(_) => self.root.create_group(&s.device)?,
        };
        let name = if s.instance == 1 {
            s.parameter.to_string()
        } else {
            format!("{}_{}", s.parameter, s.instance)
        };
        if let Ok(g) = device.group(&name) {
            return Ok(g);
        }
        let g = device.create_group(&name)?;
        g.new_dataset::<u64>()
            .chunk(CHUNK)
            .shape(0..)
            .create("t_mono_ns")?;
        g.new_dataset::<i64>()
            .chunk(CHUNK)
            .shape(0..)
            .create("t_utc_ns")?;
        g.new_dataset::<f64>()
            .chunk(CHUNK)
            .shape(0..)
            .create("value")?;
        g.new_dataset::<f64>()
            .chunk(CHUNK)
            .shape(0..)
            .create("latency_s")?;
        Ok(g)
    }

    /// Appends one series' rows with one resize per dataset.
    fn append(&self, rows: &[&Sample]) -> hdf5::Result<()> {
        let Some(first) = rows.first() else {
            return Ok(());
        };
        let g = self.series(first)?;
        let n = g.dataset("value")?.shape()[0];
        let m = n + rows.len();
        let mono: Vec<u64> = rows.iter().map(|s| s.t_mono_ns).collect();
        let utc: Vec<i64> = rows.iter().map(|s| s.t_utc_ns).collect();
        let value: Vec<f64> = rows
            .iter()
            .map(|s| s.value.as_f64().unwrap_or(f64::NAN))
            .collect();
        let latency: Vec<f64> = rows.iter().map(|s| s.latency_s).collect();
        let d = g.dataset("t_mono_ns")?;
        d.resize(m)?;
        d.write_slice(&mono, n..m)?;
        let d = g.dataset("t_utc_ns")?;
        d.resize(m)?;
        d.write_slice(&utc, n..m)?;
        let d = g.dataset("value")?;
        d.resize(m)?;
        d.write_slice(&value, n..m)?;
        let d = g.dataset("latency_s")?;
        d.resize(m)?;
        d.write_slice(&latency, n..m)
    }
}

impl SampleSink for Hdf5Sink {
    fn write_batch(&mut self, rows: &[Sample]) -> Result<(), SinkError> {
        let mut series: std::collections::BTreeMap<(&str, &str, u8), Vec<&Sample>> =
            std::collections::BTreeMap::new();
        for s in rows {
            series
                .entry((s.device.as_str(), s.parameter, s.instance))
                .or_default()
                .push(s);
        }
        for rows in series.values() {
            self.append(rows).map_err(|e| fail(&self.path, e))?;
        }
        if let Some(file) = &self.file {
            file.flush().map_err(|e| fail(&self.path, e))?;
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), SinkError> {
        match &self.file {
            Some(file) => file.flush().map_err(|e| fail(&self.path, e)),
            None => Ok(()),
        }
    }
}

/// The sink `spec` names: `csv:FILE`, `jsonl:FILE`, `sqlite:FILE`, `hdf5:FILE`.
pub fn open_sink(spec: &str) -> Result<Box<dyn SampleSink>, SinkError> {
    let (kind, file) = spec
        .split_once(':')
        .ok_or_else(|| SinkError::Unknown(spec.to_string()))?;
    let path = Path::new(file);
    Ok(match kind {
        "csv" => Box::new(CsvSink::create(path)?),
        "jsonl" => Box::new(JsonlSink::create(path)?),
        "sqlite" => Box::new(SqliteSink::open(path)?),
        "hdf5" => Box::new(Hdf5Sink::create(path)?),
        _ => return Err(SinkError::Unknown(spec.to_string())),
    })
}

/// Drains `stream` into `sink`: a batch at `batch_size` rows or every
/// `flush_interval`, the rest at the end, then the sink closed. Rows
/// written, or the sink's first error.
pub async fn pipe(
    stream: &queue::Receiver<Vec<Sample>>,
    sink: Box<dyn SampleSink>,
    batch_size: usize,
    flush_interval: Duration,
) -> Result<u64, SinkError> {
    let mut sink = Some(sink);
    let mut pending: Vec<Sample> = Vec::new();
    let mut written = 0u64;
    let mut deadline = tokio::time::Instant::now() + flush_interval;
    let flush = |sink: &mut Option<Box<dyn SampleSink>>, rows: Vec<Sample>, close: bool| {
        let taken = sink.take();
        async move {
            let Some(mut s) = taken else {
                return (None, Ok(()));
            };
            let done = tokio::task::spawn_blocking(move || {
                let mut result = if rows.is_empty() {
                    Ok(())
                } else {
                    s.write_batch(&rows)
                };
                if close && result.is_ok() {
                    result = s.close();
                }
                (s, result)
            })
            .await;
            match done {
                Ok((s, result)) => (Some(s), result),
                Err(e) => (
                    None,
                    Err(SinkError::Write {
                        path: PathBuf::new(),
                        message: format!("the sink's thread failed: {e}"),
                    }),
                ),
            }
        }
    };
    loop {
        let next = tokio::select! {
            batch = stream.recv() => batch.map(Some),
            () = tokio::time::sleep_until(deadline) => Some(None),
        };
        match next {
            Some(Some(batch)) => pending.extend(batch),
            Some(None) => {}
            None => break,
        }
        let due = tokio::time::Instant::now() >= deadline;
        if pending.len() >= batch_size.max(1) || (due && !pending.is_empty()) {
            let rows = std::mem::take(&mut pending);
            let n = rows.len() as u64;
            let (s, result) = flush(&mut sink, rows, false).await;
            sink = s;
            result?;
            written += n;
        }
        if due {
            deadline = tokio::time::Instant::now() + flush_interval;
        }
    }
    let n = pending.len() as u64;
    let (_, result) = flush(&mut sink, pending, true).await;
    result?;
    Ok(written + n)
}
