//! The recorder on tokio's paused clock against a scripted source: the
//! absolute cadence, skip-don't-catch-up with late counting, drift and tick
//! percentiles, reconnection with back-off (and without it, the error),
//! the overflow policies, stop.
#![allow(clippy::unwrap_used)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;
use watlow::port::Protocol;
use watlow::recorder::{record, OverflowPolicy, PollSource, RecordOptions, Sample, SourceError};
use watlow::registry::{find, ParamSpec};
use watlow::Value;

/// What one poll does: take this long, then succeed or lose the port.
#[derive(Clone, Copy)]
enum Step {
    Ok(Duration),
    Lost,
}

struct Scripted {
    script: VecDeque<Step>,
    start: Instant,
    /// When each poll began, from the start.
    polled_at: Arc<Mutex<Vec<Duration>>>,
    reconnects: Arc<Mutex<Vec<Duration>>>,
    reconnect_ok: bool,
}

#[async_trait::async_trait]
impl PollSource for Scripted {
    async fn poll_many(
        &mut self,
        parameters: &[&'static ParamSpec],
        instances: &[u8],
    ) -> Result<Vec<Sample>, SourceError> {
        self.polled_at.lock().unwrap().push(self.start.elapsed());
        match self.script.pop_front().unwrap_or(Step::Ok(Duration::ZERO)) {
            Step::Lost => Err(SourceError::Connection("EIO".into())),
            Step::Ok(took) => {
                tokio::time::sleep(took).await;
                Ok(parameters
                    .iter()
                    .flat_map(|p| {
                        instances.iter().map(move |&i| Sample {
                            device: "oven".into(),
                            address: 1,
                            protocol: Protocol::StdBus,
                            parameter: p.name,
                            parameter_id: p.id,
                            instance: i,
                            value: Value::F64(20.0),
                            unit: None,
                            t_mono_ns: 0,
                            t_utc_ns: 0,
                            requested_at_ns: 0,
                            received_at_ns: 0,
                            latency_s: took.as_secs_f64(),
                            raw: vec![],
                        })
                    })
                    .collect())
            }
        }
    }

    async fn reconnect(&mut self) -> Result<(), SourceError> {
        self.reconnects.lock().unwrap().push(self.start.elapsed());
        if self.reconnect_ok {
            Ok(())
        } else {
            Err(SourceError::Connection("ENOENT".into()))
        }
    }
}

struct Probe {
    polled_at: Arc<Mutex<Vec<Duration>>>,
    reconnects: Arc<Mutex<Vec<Duration>>>,
}

fn source(script: Vec<Step>, reconnect_ok: bool) -> (Box<dyn PollSource>, Probe) {
    let probe = Probe {
        polled_at: Arc::default(),
        reconnects: Arc::default(),
    };
    let s = Scripted {
        script: script.into(),
        start: Instant::now(),
        polled_at: Arc::clone(&probe.polled_at),
        reconnects: Arc::clone(&probe.reconnects),
        reconnect_ok,
    };
    (Box::new(s), probe)
}

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

fn params() -> Vec<&'static ParamSpec> {
    vec![find("pv").unwrap(), find("sp").unwrap()]
}

fn options(rate_hz: f64, seconds: u64) -> RecordOptions {
    RecordOptions {
        rate_hz,
        duration: Some(Duration::from_secs(seconds)),
        ..Default::default()
    }
}

#[tokio::test(start_paused = true)]
async fn ticks_sit_on_absolute_targets_and_late_ones_are_skipped() {
    // Tick 2's poll takes 350 ms: ticks 3 and 4 are skipped, 5 goes on.
    let mut script = vec![Step::Ok(ms(5)); 10];
    script[2] = Step::Ok(ms(350));
    let (src, probe) = source(script, true);
    let rec = record(src, params(), options(10.0, 1)).unwrap();
    let mut batches = 0;
    while let Some(batch) = rec.stream.recv().await {
        assert_eq!(batch.len(), 2);
        batches += 1;
    }
    let summary = rec.finish().await.unwrap();
    let polled = probe.polled_at.lock().unwrap().clone();
    assert_eq!(
        polled,
        vec![
            ms(0),
            ms(100),
            ms(200),
            ms(550),
            ms(600),
            ms(700),
            ms(800),
            ms(900)
        ]
    );
    assert_eq!((batches, summary.samples_emitted), (8, 8));
    assert_eq!(summary.samples_late, 2);
    // Drift includes the poll: tick 2 ended 350 ms after its target;
    // tick 5 began 50 ms after its own and took 5 ms.
    assert!((summary.max_drift_ms - 350.0).abs() < 1e-6, "{summary:?}");
    assert!((summary.tick_duration_ms_p50 - 5.0).abs() < 1e-6);
    assert!(summary.tick_duration_ms_p99 > 300.0);
    assert!(summary.finished_at.is_some());
}

#[tokio::test(start_paused = true)]
async fn a_lost_port_is_reconnected_with_back_off() {
    // Two losses: the first reconnect fails (backoff grows), the second
    // works; the ticks after go on the cadence.
    let (src, probe) = source(
        vec![Step::Ok(ms(1)), Step::Lost, Step::Lost, Step::Ok(ms(1))],
        false,
    );
    let mut opts = options(1.0, 10);
    opts.auto_reconnect = true;
    let rec = record(src, params(), opts).unwrap();
    while rec.stream.recv().await.is_some() {}
    let summary = rec.finish().await.unwrap();
    assert_eq!(summary.disconnects, 2);
    // Backoff 0.5 s after the first loss, 1 s after the second (the first
    // reconnect failed).
    let reconnects = probe.reconnects.lock().unwrap().clone();
    assert_eq!(reconnects, vec![ms(1500), ms(3000)]);
    assert_eq!(summary.samples_emitted, 8);
    assert_eq!(summary.samples_late, 2);
}

#[tokio::test(start_paused = true)]
async fn without_reconnect_the_connection_error_ends_the_recording() {
    let (src, _probe) = source(vec![Step::Ok(ms(1)), Step::Lost], true);
    let rec = record(src, params(), options(2.0, 10)).unwrap();
    assert!(rec.stream.recv().await.is_some());
    assert_eq!(rec.stream.recv().await, None);
    assert_eq!(
        rec.finish().await.unwrap_err(),
        SourceError::Connection("EIO".into())
    );
}

/// A consumer four times slower than the cadence. Block keeps every
/// published batch and slows the polling (the skipped ticks are counted
/// late); the drop policies keep the cadence and lose batches, counted.
#[tokio::test(start_paused = true)]
async fn a_slow_consumer_meets_the_overflow_policy() {
    for policy in [
        OverflowPolicy::Block,
        OverflowPolicy::DropNewest,
        OverflowPolicy::DropOldest,
    ] {
        let (src, probe) = source(vec![], true);
        let mut opts = options(10.0, 2);
        opts.overflow = policy;
        opts.buffer_size = 2;
        let rec = record(src, params(), opts).unwrap();
        let mut got = 0;
        while rec.stream.recv().await.is_some() {
            got += 1;
            tokio::time::sleep(ms(400)).await;
        }
        let s = rec.finish().await.unwrap();
        let polls = probe.polled_at.lock().unwrap().len() as u64;
        assert!(s.samples_late > 0, "{policy:?}: {s:?}");
        match policy {
            OverflowPolicy::Block => {
                assert_eq!(got, s.samples_emitted, "{s:?}");
                assert!(polls < 20, "{polls} polls");
            }
            OverflowPolicy::DropNewest => {
                assert_eq!(polls, 20);
                assert_eq!(got, s.samples_emitted);
                assert_eq!(s.samples_emitted + s.samples_late, 20, "{s:?}");
            }
            OverflowPolicy::DropOldest => {
                assert_eq!(polls, 20);
                assert_eq!(s.samples_emitted, 20);
                assert_eq!(got + s.samples_late, 20, "{s:?}");
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn stop_ends_an_open_ended_recording_and_bad_options_are_refused() {
    let (src, _probe) = source(vec![], true);
    let rec = record(
        src,
        params(),
        RecordOptions {
            rate_hz: 5.0,
            ..Default::default()
        },
    )
    .unwrap();
    for _ in 0..3 {
        rec.stream.recv().await.unwrap();
    }
    rec.stop();
    let s = rec.finish().await.unwrap();
    assert!(s.samples_emitted >= 3);
    for bad in [
        RecordOptions {
            rate_hz: 0.0,
            ..Default::default()
        },
        RecordOptions {
            buffer_size: 0,
            ..Default::default()
        },
        RecordOptions {
            duration: Some(Duration::ZERO),
            ..Default::default()
        },
    ] {
        let (src, _) = source(vec![], true);
        assert!(record(src, params(), bad).is_err());
    }
}
