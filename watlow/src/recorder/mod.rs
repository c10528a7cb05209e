//! The recorder (watlowlib's `record()`): polls a source at an absolute
//! cadence and publishes each tick's batch of samples to a bounded queue.
//!
//! Targets are `start + n * period` in integer nanoseconds on tokio's clock,
//! so drift never accumulates; a tick that comes too late is skipped, not
//! caught up, and counted late. A connection error (the port gone) stops
//! the batch: with `auto_reconnect` the recorder counts a disconnect, backs
//! off 0.5, 1, 2, 5, 10, 30 s and asks the source to reconnect; without, the
//! error ends the recording. (watlowlib swallows connection errors inside
//! its sources, so its reconnect never fires.) Protocol errors and timeouts
//! only drop that reading: the source leaves it out of the batch.

pub mod queue;
mod sample;
mod summary;

pub use queue::OverflowPolicy;
pub use sample::Sample;
pub use summary::{percentile, AcquisitionSummary};

use crate::registry::ParamSpec;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// The back-off before each reconnect attempt, the last repeated.
pub const BACKOFF: [Duration; 6] = [
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(5),
    Duration::from_secs(10),
    Duration::from_secs(30),
];

/// Why a poll of the whole batch failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SourceError {
    /// The port is gone (EIO, ENXIO, ENODEV, EBADF, EPIPE, closed).
    #[error("connection lost: {0}")]
    Connection(String),
}

/// What the recorder polls: a controller, or a manager of several.
#[async_trait::async_trait]
pub trait PollSource: Send {
    /// One reading per (device, parameter, instance) that succeeded; a
    /// failed read is logged by the source and left out.
    async fn poll_many(
        &mut self,
        parameters: &[&'static ParamSpec],
        instances: &[u8],
    ) -> Result<Vec<Sample>, SourceError>;

    /// Reopens what the source reads through (the port's path again).
    async fn reconnect(&mut self) -> Result<(), SourceError>;
}

/// How to record.
#[derive(Debug, Clone)]
pub struct RecordOptions {
    /// Ticks per second (> 0).
    pub rate_hz: f64,
    /// How long; `None` until stopped.
    pub duration: Option<Duration>,
    /// Instances read of each parameter.
    pub instances: Vec<u8>,
    /// What a full queue does.
    pub overflow: OverflowPolicy,
    /// Batches the queue holds (>= 1).
    pub buffer_size: usize,
    /// Reconnect after a connection error instead of ending.
    pub auto_reconnect: bool,
}

impl Default for RecordOptions {
    fn default() -> Self {
        Self {
            rate_hz: 1.0,
            duration: None,
            instances: vec![1],
            overflow: OverflowPolicy::Block,
            buffer_size: 64,
            auto_reconnect: false,
        }
    }
}

/// Why a recording could not start.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RecordError {
    /// A bad option.
    #[error("{0}")]
    Invalid(String),
}

/// A running recording.
pub struct Recording {
    /// The batches, one per tick, in order.
    pub stream: queue::Receiver<Vec<Sample>>,
    /// Live counters (the recorder is their only writer).
    pub summary: Arc<Mutex<AcquisitionSummary>>,
    /// The cadence asked for.
    pub rate_hz: f64,
    stop: Stopper,
    task: tokio::task::JoinHandle<Result<(), SourceError>>,
}

/// Ends a recording from elsewhere (a signal handler).
#[derive(Clone)]
pub struct Stopper(Arc<tokio::sync::watch::Sender<bool>>);

impl Stopper {
    /// Asks the recorder to end after the tick under way.
    pub fn stop(&self) {
        let _ = self.0.send(true);
    }
}

impl Recording {
    /// Asks the recorder to end after the tick under way.
    pub fn stop(&self) {
        self.stop.stop();
    }

    /// A handle that can stop the recording while its stream is drained.
    pub fn stopper(&self) -> Stopper {
        self.stop.clone()
    }

    /// Waits for the end: the summary final, or the connection error that
    /// ended it (without `auto_reconnect`).
    pub async fn finish(self) -> Result<AcquisitionSummary, SourceError> {
        let ended = self
            .task
            .await
            .unwrap_or_else(|e| Err(SourceError::Connection(format!("the recorder failed: {e}"))));
        let summary = self
            .summary
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        ended.map(|()| summary)
    }
}

/// Starts recording `parameters` from `source` (on the current runtime).
pub fn record(
    mut source: Box<dyn PollSource>,
    parameters: Vec<&'static ParamSpec>,
    options: RecordOptions,
) -> Result<Recording, RecordError> {
    if !(options.rate_hz.is_finite() && options.rate_hz > 0.0) {
        return Err(RecordError::Invalid(format!(
            "rate {} Hz: must be > 0",
            options.rate_hz
        )));
    }
    if options.duration.is_some_and(|d| d.is_zero()) {
        return Err(RecordError::Invalid("duration must be > 0".into()));
    }
    if options.buffer_size == 0 || parameters.is_empty() || options.instances.is_empty() {
        return Err(RecordError::Invalid(
            "buffer size, parameters and instances must not be empty".into(),
        ));
    }
    let period_ns = (1e9 / options.rate_hz).round().max(1.0) as u64;
    let total = options
        .duration
        .map(|d| ((d.as_secs_f64() * options.rate_hz).round() as u64).max(1));
    let (tx, rx) = queue::bounded(options.buffer_size, options.overflow);
    let summary = Arc::new(Mutex::new(AcquisitionSummary {
        started_at: Some(SystemTime::now()),
        ..Default::default()
    }));
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let live = Arc::clone(&summary);
    let task = tokio::spawn(async move {
        let update = |f: &mut dyn FnMut(&mut AcquisitionSummary)| {
            f(&mut live.lock().unwrap_or_else(|e| e.into_inner()));
        };
        let period = Duration::from_nanos(period_ns);
        let start = Instant::now();
        let target_of = |n: u64| start + Duration::from_nanos(n.saturating_mul(period_ns));
        let mut durations: Vec<f64> = Vec::new();
        let mut drifts: Vec<f64> = Vec::new();
        let (mut n, mut backoff) = (0u64, 0usize);
        let mut result = Ok(());
        while total.is_none_or(|t| n < t) && !*stopped.borrow() {
            let mut target = target_of(n);
            let now = Instant::now();
            if now > target + period {
                let missed = ((now - target).as_nanos() / u128::from(period_ns)) as u64;
                n += missed;
                update(&mut |s| s.samples_late += missed);
                if total.is_some_and(|t| n >= t) {
                    break;
                }
                target = target_of(n);
            }
            tokio::select! {
                () = tokio::time::sleep_until(target) => {}
                _ = stopped.changed() => break,
            }
            let began = Instant::now();
            match source.poll_many(&parameters, &options.instances).await {
                Ok(batch) => {
                    let ended = Instant::now();
                    durations.push((ended - began).as_secs_f64() * 1e3);
                    let drift = (ended - target).as_secs_f64() * 1e3;
                    drifts.push(drift);
                    backoff = 0;
                    let Some(dropped) = tx.send(batch).await else {
                        break; // The consumer is gone.
                    };
                    let emitted =
                        u64::from(dropped == 0 || options.overflow == OverflowPolicy::DropOldest);
                    update(&mut |s| {
                        s.max_drift_ms = s.max_drift_ms.max(drift);
                        s.samples_emitted += emitted;
                        s.samples_late += dropped;
                    });
                }
                Err(e) if options.auto_reconnect => {
                    tracing::warn!("recorder: {e}; reconnecting");
                    update(&mut |s| {
                        s.samples_late += 1;
                        s.disconnects += 1;
                    });
                    tokio::select! {
                        () = tokio::time::sleep(BACKOFF[backoff.min(BACKOFF.len() - 1)]) => {}
                        _ = stopped.changed() => break,
                    }
                    match source.reconnect().await {
                        Ok(()) => {
                            tracing::info!("recorder: reconnected");
                            backoff = 0;
                        }
                        Err(e) => {
                            tracing::warn!("recorder: reconnecting failed: {e}");
                            backoff += 1;
                        }
                    }
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
            n += 1;
        }
        let (p50, p99) = (percentile(&durations, 0.5), percentile(&durations, 0.99));
        let drift_p99 = percentile(&drifts, 0.99);
        update(&mut |s| {
            s.tick_duration_ms_p50 = p50;
            s.tick_duration_ms_p99 = p99;
            s.drift_ms_p99 = drift_p99;
            s.finished_at = Some(SystemTime::now());
        });
        result
    });
    Ok(Recording {
        stream: rx,
        summary,
        rate_hz: options.rate_hz,
        stop: Stopper(Arc::new(stop)),
        task,
    })
}
