//! The reference's signal/noise separation of integral histories: 1-D
//! two-cluster k-means on `log10(max(y, 1e-9))`.

use crate::numpy_sum::mean;
use crate::samples::check_finite;
use crate::FitError;

/// Tuning of the separation; the defaults are the reference's.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansConfig {
    /// Most k-means iterations.
    pub iterations: usize,
    /// Stop early once the two centroids are closer than this (log10 units).
    pub converged_distance: f64,
    /// Reject all when signal < this times noise (linear units).
    pub min_signal_to_noise: f64,
    /// Reject all when the signal centroid is below this (linear units).
    pub min_signal: f64,
}

impl Default for KMeansConfig {
    fn default() -> Self {
        Self {
            iterations: 10,
            converged_distance: 0.05,
            min_signal_to_noise: 2.0,
            min_signal: 3.0,
        }
    }
}

/// Which points of `y` are signal (`true`). Fewer than 3 points are all
/// signal; an indistinct or weak signal makes every point noise.
pub fn separate_signal_noise(y: &[f64], config: &KMeansConfig) -> Result<Vec<bool>, FitError> {
    check_finite("y", y)?;
    let n = y.len();
    if n < 3 {
        return Ok(vec![true; n]);
    }
    let logs: Vec<f64> = y.iter().map(|&v| v.max(1e-9).log10()).collect();
    let mut noise = logs.iter().cloned().fold(f64::INFINITY, f64::min);
    let mut signal = logs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let mut picked: Vec<f64> = Vec::with_capacity(n);
    for _ in 0..config.iterations {
        let is_signal: Vec<bool> = logs
            .iter()
            .map(|&v| (v - signal).abs() < (v - noise).abs())
            .collect();
        let mut cluster_mean = |want: bool| {
            picked.clear();
            picked.extend(
                logs.iter()
                    .zip(&is_signal)
                    .filter(|(_, &s)| s == want)
                    .map(|(&v, _)| v),
            );
            mean(&picked)
        };
        if let Some(m) = cluster_mean(true) {
            signal = m;
        }
        if let Some(m) = cluster_mean(false) {
            noise = m;
        }
        if (signal - noise).abs() < config.converged_distance {
            break;
        }
    }
    let threshold = 10f64.powf((noise + signal) / 2.0);
    let signal_linear = 10f64.powf(signal);
    let noise_linear = 10f64.powf(noise);
    if signal_linear < config.min_signal_to_noise * noise_linear
        || signal_linear < config.min_signal
    {
        return Ok(vec![false; n]);
    }
    Ok(y.iter().map(|&v| v > threshold).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_two_decades() {
        let y = [0.01, 0.02, 100.0, 120.0, 0.015, 90.0];
        let mask = separate_signal_noise(&y, &KMeansConfig::default()).unwrap();
        assert_eq!(mask, vec![false, false, true, true, false, true]);
    }

    #[test]
    fn weak_or_tiny_inputs() {
        let c = KMeansConfig::default();
        assert_eq!(
            separate_signal_noise(&[1.0, 2.0], &c).unwrap(),
            vec![true, true]
        );
        // Signal centroid below 3.0 in linear units: all noise.
        assert_eq!(
            separate_signal_noise(&[0.1, 0.2, 2.0, 2.5], &c).unwrap(),
            vec![false; 4]
        );
        assert!(separate_signal_noise(&[1.0, f64::NAN, 2.0], &c).is_err());
    }
}
