//! The physics of one sweep: the wire crosses the beam while a pulse
//! arrives; the detectors see a short peak, scaled by the beam profile at
//! the interaction position, centred where the wire is at that moment.

use crate::config::SimConfig;
use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};

/// What a sweep recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepTraces {
    /// Wire position at each sample (InterpolatedPosCh1), mm.
    pub positions: Vec<f64>,
    /// One trace per detector channel, V.
    pub traces: Vec<Vec<f64>>,
}

/// The beam profile at `x`, without noise: `a exp(-(x-m)^2 / 2s^2) + b`.
pub fn profile(config: &SimConfig, x: f64) -> f64 {
    let b = &config.beam;
    b.amplitude * (-(x - b.mean).powi(2) / (2.0 * b.sigma * b.sigma)).exp()
}

/// The traces of sweep number `sweep` (from 1) at interaction position
/// `at`, for `channels` detectors with relative gains `gains`.
pub fn sweep(config: &SimConfig, sweep: u64, at: f64, gains: &[f64]) -> SweepTraces {
    let n = config.trace_samples;
    let step = config.trace_span_mm / (n - 1) as f64;
    let first = at - config.trace_span_mm / 2.0;
    let positions: Vec<f64> = (0..n).map(|i| first + step * i as f64).collect();
    let height = profile(config, at);
    let width = config.pulse_sigma_mm;
    let shape: Vec<f64> = positions
        .iter()
        .map(|x| (-(x - at).powi(2) / (2.0 * width * width)).exp())
        .collect();
    // One stream per sweep: reproducible whatever happened before.
    let mut rng = StdRng::seed_from_u64(config.beam.seed.wrapping_mul(1_000_003) ^ sweep);
    let noise = Normal::new(0.0, config.beam.noise).ok();
    let traces = gains
        .iter()
        .map(|gain| {
            shape
                .iter()
                .map(|s| {
                    let n = noise.as_ref().map_or(0.0, |d| d.sample(&mut rng));
                    gain * height * s + config.beam.background + n
                })
                .collect()
        })
        .collect();
    SweepTraces { positions, traces }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peak_sits_at_the_interaction_position_and_scales_with_the_profile() {
        let mut config = SimConfig::default();
        config.beam.noise = 0.0;
        let centre = sweep(&config, 1, config.beam.mean, &[1.0]);
        let side = sweep(&config, 2, config.beam.mean + config.beam.sigma, &[1.0]);
        let peak = |t: &SweepTraces| {
            let (i, v) = t.traces[0]
                .iter()
                .enumerate()
                .fold((0, f64::MIN), |a, (i, &v)| if v > a.1 { (i, v) } else { a });
            (t.positions[i], v)
        };
        let (x0, v0) = peak(&centre);
        let (x1, v1) = peak(&side);
        assert!((x0 - config.beam.mean).abs() < 0.02);
        assert!((x1 - config.beam.mean - config.beam.sigma).abs() < 0.02);
        // One sigma off centre: exp(-1/2) of the peak.
        assert!((v1 / v0 - (-0.5f64).exp()).abs() < 1e-3);
    }

    #[test]
    fn noise_is_seeded() {
        let config = SimConfig::default();
        let a = sweep(&config, 3, 0.5, &[1.0, 0.9]);
        let b = sweep(&config, 3, 0.5, &[1.0, 0.9]);
        let c = sweep(&config, 4, 0.5, &[1.0, 0.9]);
        assert_eq!(a, b);
        assert_ne!(a.traces, c.traces);
    }
}
