//! What a recording did, live while it runs (watlowlib's
//! `AcquisitionSummary`): the recorder is its only writer.

use std::time::SystemTime;

/// Counters of one recording.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AcquisitionSummary {
    /// When it started.
    pub started_at: Option<SystemTime>,
    /// When it ended (`None` while it runs).
    pub finished_at: Option<SystemTime>,
    /// Batches published (an empty batch counts).
    pub samples_emitted: u64,
    /// Ticks skipped or dropped: late, overflowed, lost to a disconnect.
    pub samples_late: u64,
    /// Largest distance from a tick's target to the end of its poll.
    pub max_drift_ms: f64,
    /// The 99th percentile of that distance (set at the end; ours, not
    /// watlowlib's).
    pub drift_ms_p99: f64,
    /// Median tick duration (set at the end).
    pub tick_duration_ms_p50: f64,
    /// 99th percentile tick duration (set at the end).
    pub tick_duration_ms_p99: f64,
    /// Connection losses.
    pub disconnects: u64,
}

/// The `p`-quantile (0..=1) of `values` with linear interpolation, as
/// numpy's default ("linear") computes it; 0 for no values.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut s = values.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    let k = (n - 1) as f64 * p.clamp(0.0, 1.0);
    let f = k.floor() as usize;
    let c = (f + 1).min(n - 1);
    if f == c {
        return s[f];
    }
    s[f] * (c as f64 - k) + s[c] * (k - f as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// numpy.percentile([...], 50 / 99) with the default method.
    #[test]
    fn percentiles_match_numpy_linear() {
        let v = [4.0, 1.0, 3.0, 2.0];
        assert_eq!(percentile(&v, 0.5), 2.5);
        assert!((percentile(&v, 0.99) - 3.97).abs() < 1e-12);
        assert_eq!(percentile(&[7.0], 0.99), 7.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
        let ramp: Vec<f64> = (1..=100).map(f64::from).collect();
        assert!((percentile(&ramp, 0.99) - 99.01).abs() < 1e-9);
    }
}
