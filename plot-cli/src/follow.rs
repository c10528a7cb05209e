//! `--follow`'s patience with a file that a daemon is still writing: a
//! read that lands mid-step fails (the writer holds the file open and is
//! adding a group), the next one a moment later works. Such failures are
//! retried quietly; only one that lasts is reported, once, and one that
//! lasts much longer ends the follow.

use std::time::{Duration, Instant};

/// A read failing this long is reported (once).
pub const REPORT_AFTER: Duration = Duration::from_secs(5);
/// A read failing this long ends `--follow` (exit 1).
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(60);

/// What to do about the latest failed read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Retry without a word: likely mid-write.
    Retry,
    /// It lasts: say so once, and keep retrying.
    Report,
    /// It lasts too long: stop.
    GiveUp,
}

/// Tracks how long reads have been failing.
#[derive(Debug, Clone)]
pub struct Patience {
    report_after: Duration,
    give_up_after: Duration,
    failing_since: Option<Instant>,
    reported: bool,
}

impl Default for Patience {
    fn default() -> Self {
        Self::new(REPORT_AFTER, GIVE_UP_AFTER)
    }
}

impl Patience {
    /// Reports failures lasting `report_after`, gives up at `give_up_after`.
    pub fn new(report_after: Duration, give_up_after: Duration) -> Self {
        Self {
            report_after,
            give_up_after,
            failing_since: None,
            reported: false,
        }
    }

    /// A read worked: the next failure starts afresh.
    pub fn succeeded(&mut self) {
        self.failing_since = None;
        self.reported = false;
    }

    /// A read failed at `now`.
    pub fn failed(&mut self, now: Instant) -> Verdict {
        let since = *self.failing_since.get_or_insert(now);
        let lasted = now.saturating_duration_since(since);
        if lasted >= self.give_up_after {
            Verdict::GiveUp
        } else if lasted >= self.report_after && !self.reported {
            self.reported = true;
            Verdict::Report
        } else {
            Verdict::Retry
        }
    }

    /// How long reads have been failing.
    pub fn failing_for(&self, now: Instant) -> Duration {
        self.failing_since
            .map_or(Duration::ZERO, |s| now.saturating_duration_since(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_failures_are_retried_quietly_long_ones_reported_once_then_given_up() {
        let mut p = Patience::new(Duration::from_secs(5), Duration::from_secs(60));
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert_eq!(p.failed(at(0)), Verdict::Retry);
        assert_eq!(p.failed(at(4)), Verdict::Retry);
        // Mid-write failures end: nothing was said, the clock restarts.
        p.succeeded();
        assert_eq!(p.failed(at(6)), Verdict::Retry);
        assert_eq!(p.failed(at(10)), Verdict::Retry);
        assert_eq!(p.failed(at(11)), Verdict::Report);
        assert_eq!(p.failed(at(12)), Verdict::Retry, "reported once");
        assert_eq!(p.failing_for(at(20)), Duration::from_secs(14));
        assert_eq!(p.failed(at(66)), Verdict::GiveUp);
    }
}
