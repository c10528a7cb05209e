//! Numerics shared by the fws-daemon live fit and fws-plot.
//!
//! Everything here is pure and deterministic, and reproduces the reference
//! daemon's (fws-daemon 3.3.1, numpy/scipy) numbers: the Gaussian fit
//! ([`fit_gaussian`]), the threshold-scan erfc fit ([`fit_erfc`]), and the
//! per-step signal processing ([`peak_roi`], [`savgol_smooth`],
//! [`trapezoid`], [`centroid`], [`separate_signal_noise`], [`normalize`]).
//! Bad input is a [`FitError`], never a panic.

mod erfc;
mod error;
mod gaussian;
mod kmeans;
mod lanes;
mod lsq;
mod numpy_sum;
mod profile;
mod quality;
mod roi;
mod samples;
mod savgol;

pub use erfc::{
    erfc_model, fit_erfc, operating_thresholds, ErfcFit, ErfcParams, DEFAULT_INITIAL,
    THRESHOLD_MULTIPLES,
};
pub use error::FitError;
pub use gaussian::{
    fit_gaussian, gaussian, initial_guess, GaussianErrors, GaussianFit, GaussianParams,
    CURVE_POINTS, FWHM_PER_SIGMA, MAX_EVALUATIONS, MIN_POINTS,
};
pub use kmeans::{separate_signal_noise, KMeansConfig};
pub use numpy_sum::{mean, pairwise_sum};
pub use profile::{centroid, normalize, step_metrics, trapezoid, StepMetrics};
pub use quality::FitQuality;
pub use roi::{peak_roi, RoiConfig, RoiMode, RoiRange};
pub use savgol::{savgol_filter, savgol_smooth, SAVGOL_ORDER, SAVGOL_WINDOW};

/// `numpy.linspace(start, stop, num)` to the last bit: `start + i·step`
/// with the final point set to `stop` exactly.
pub fn linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    match num {
        0 => Vec::new(),
        1 => vec![start],
        _ => {
            let div = (num - 1) as f64;
            let delta = stop - start;
            let step = delta / div;
            let mut out: Vec<f64> = if step == 0.0 {
                (0..num).map(|i| i as f64 / div * delta + start).collect()
            } else {
                (0..num).map(|i| i as f64 * step + start).collect()
            };
            out[num - 1] = stop;
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::linspace;

    #[test]
    fn linspace_endpoints_and_counts() {
        assert!(linspace(0.0, 1.0, 0).is_empty());
        assert_eq!(linspace(2.0, 5.0, 1), vec![2.0]);
        assert_eq!(linspace(0.0, 1.0, 5), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
        let v = linspace(-3.3, 7.1, 17);
        assert_eq!(v[16], 7.1);
        assert_eq!(v[0], -3.3);
    }
}
