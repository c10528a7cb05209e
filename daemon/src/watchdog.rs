//! The heartbeat's watchdog: an OS thread of its own (so a stalled async
//! runtime cannot hide the stall) that sees when the control loop stops
//! beating and ends the process, so systemd restarts the daemon. The loop
//! beats on its own, whatever a sequence does, so the limit does not grow
//! with the scan: 30 s, or the station's `timing.watchdog_s`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the control loop beats (the reference's poll period).
pub const BEAT_PERIOD: Duration = Duration::from_secs(1);
/// The longest silence allowed unless the station sets one.
pub const DEFAULT_LIMIT: Duration = Duration::from_secs(30);
/// How often the watchdog looks.
const LOOK_PERIOD: Duration = Duration::from_millis(200);

/// What the control loop and the watchdog share.
#[derive(Debug)]
pub struct Liveness {
    start: Instant,
    last_beat_ms: AtomicU64,
    tripped: AtomicBool,
    stopped: AtomicBool,
}

impl Default for Liveness {
    fn default() -> Self {
        Self {
            start: Instant::now(),
            last_beat_ms: AtomicU64::new(0),
            tripped: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
        }
    }
}

impl Liveness {
    /// The control loop is alive now.
    pub fn beat(&self) {
        let now = self.start.elapsed().as_millis() as u64;
        self.last_beat_ms.store(now, Ordering::Relaxed);
    }

    /// The loop ends on purpose (shutdown): the watchdog stands down, so
    /// closing a sequence's file may take longer than the limit.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Relaxed);
    }

    /// The watchdog has given up on the loop: the heartbeat must stop.
    pub fn tripped(&self) -> bool {
        self.tripped.load(Ordering::Relaxed)
    }

    fn since_beat(&self) -> Duration {
        let last = Duration::from_millis(self.last_beat_ms.load(Ordering::Relaxed));
        self.start.elapsed().saturating_sub(last)
    }
}

/// The longest silence allowed: the station's setting, else
/// [`DEFAULT_LIMIT`].
pub fn limit(station: Option<Duration>) -> Duration {
    station.unwrap_or(DEFAULT_LIMIT)
}

/// Starts the watchdog thread. When the loop has been silent longer than
/// `allowed` it marks `liveness` tripped and calls `on_stall` with a
/// message for the operator, then ends.
pub fn spawn(
    liveness: Arc<Liveness>,
    allowed: Duration,
    on_stall: impl FnOnce(String) + Send + 'static,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    liveness.beat();
    std::thread::Builder::new()
        .name("fws-watchdog".into())
        .spawn(move || loop {
            std::thread::sleep(LOOK_PERIOD);
            if liveness.stopped.load(Ordering::Relaxed) {
                return;
            }
            let silent = liveness.since_beat();
            if silent > allowed {
                liveness.tripped.store(true, Ordering::Relaxed);
                on_stall(format!(
                    "watchdog: the control loop has not beaten for {:.1} s (limit {:.1} s); \
                     exiting so that the service manager restarts the daemon",
                    silent.as_secs_f64(),
                    allowed.as_secs_f64()
                ));
                return;
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn the_limit_is_30_s_unless_the_station_sets_one() {
        assert_eq!(limit(None), Duration::from_secs(30));
        assert_eq!(
            limit(Some(Duration::from_secs(60))),
            Duration::from_secs(60)
        );
        // Several beats fit in the default: a late beat is no stall.
        assert!(DEFAULT_LIMIT >= 4 * BEAT_PERIOD);
    }

    #[test]
    fn a_beating_loop_is_left_alone_and_a_silent_one_trips() {
        let liveness = Arc::new(Liveness::default());
        let (tx, rx) = mpsc::channel();
        let allowed = Duration::from_millis(1000);
        let dog = spawn(Arc::clone(&liveness), allowed, move |m| {
            let _ = tx.send(m);
        })
        .unwrap();
        // Beating every 100 ms for 2 s: twice the limit.
        for _ in 0..20 {
            liveness.beat();
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(rx.try_recv().is_err(), "tripped while beating");
        assert!(!liveness.tripped());
        let silent = Instant::now();
        let message = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert!(silent.elapsed() >= Duration::from_millis(900));
        assert!(liveness.tripped());
        assert!(message.contains("limit 1.0 s"), "{message}");
        dog.join().unwrap();

        // Stopped on purpose: silence is no stall.
        let liveness = Arc::new(Liveness::default());
        let (tx, rx) = mpsc::channel();
        let dog = spawn(Arc::clone(&liveness), allowed, move |m| {
            let _ = tx.send(m);
        })
        .unwrap();
        liveness.stop();
        dog.join().unwrap();
        assert!(rx.try_recv().is_err(), "tripped after stop");
        assert!(!liveness.tripped());
    }
}
