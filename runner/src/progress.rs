//! What a long phase is doing ("settling: 3.2 K from setpoint"), told to
//! the operator while it lasts: an info line under the target
//! `runner::progress`, which the daemon's log layer shows in `InfoLog`.

use crate::devices::Phase;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// The shortest time between two progress lines of one phase: a device
/// polled at 10 Hz must not flood the log.
pub const PROGRESS_PERIOD: Duration = Duration::from_secs(1);

/// The progress of one phase of one step, handed to the rig.
#[derive(Debug)]
pub struct Progress {
    step: usize,
    total: usize,
    phase: Phase,
    last: Mutex<Option<Instant>>,
}

impl Progress {
    /// The progress of `phase` of step `step` (0-based) of `total`.
    pub fn new(step: usize, total: usize, phase: Phase) -> Self {
        Self {
            step,
            total,
            phase,
            last: Mutex::new(None),
        }
    }

    /// Tells `text`, unless a line of this phase was told less than
    /// [`PROGRESS_PERIOD`] ago (the first always is). Says whether it was
    /// told.
    pub fn say(&self, text: &str) -> bool {
        let now = Instant::now();
        let mut last = match self.last.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if last.is_some_and(|t| now.duration_since(t) < PROGRESS_PERIOD) {
            return false;
        }
        *last = Some(now);
        tracing::info!(
            target: "runner::progress",
            step = self.step + 1,
            "step {} of {}, {}: {text}",
            self.step + 1,
            self.total,
            self.phase.describe()
        );
        true
    }

    /// The phase this progress belongs to.
    pub fn phase(&self) -> Phase {
        self.phase
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn lines_are_at_most_one_per_period() {
        let progress = Progress::new(2, 5, Phase::Settle);
        assert!(progress.say("3.2 K from setpoint"));
        assert!(!progress.say("3.1 K from setpoint"));
        tokio::time::advance(PROGRESS_PERIOD).await;
        assert!(progress.say("2.0 K from setpoint"));
        assert_eq!(progress.phase(), Phase::Settle);
    }
}
