//! Goodness-of-fit numbers shared by every model.

use crate::lanes::LANES;
use serde::Serialize;

/// How well a fitted curve describes the data.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FitQuality {
    /// Sum of squared residuals.
    pub ssr: f64,
    /// `ssr / (n - parameters)`; `None` without spare points.
    pub reduced_chi_square: Option<f64>,
    /// Coefficient of determination `1 - ssr / Σ(y - ȳ)²`; `None` for flat `y`.
    pub r_squared: Option<f64>,
}

impl FitQuality {
    /// Quality of a fit with `parameters` free parameters and residual sum `ssr`.
    pub fn new(y: &[f64], ssr: f64, parameters: usize) -> Self {
        let n = y.len();
        let mean = lane_sum(y, |v| v) / n as f64;
        let total = lane_sum(y, |v| (v - mean) * (v - mean));
        Self {
            ssr,
            reduced_chi_square: (n > parameters).then(|| ssr / (n - parameters) as f64),
            r_squared: (total > 0.0).then(|| 1.0 - ssr / total),
        }
    }
}

/// `Σ f(v)` with one partial sum per lane, so that it vectorises (these
/// numbers are ours, not the reference's: numpy's order is not needed).
fn lane_sum(values: &[f64], f: impl Fn(f64) -> f64) -> f64 {
    let mut lanes = [0.0; LANES];
    let chunks = values.chunks_exact(LANES);
    let tail: f64 = chunks.remainder().iter().map(|&v| f(v)).sum();
    for chunk in chunks {
        for (acc, &v) in lanes.iter_mut().zip(chunk) {
            *acc += f(v);
        }
    }
    lanes.iter().sum::<f64>() + tail
}

/// Square roots of a covariance matrix's diagonal; `None` where the variance
/// is not a finite non-negative number.
pub(crate) fn standard_errors<const P: usize>(cov: &Option<[[f64; P]; P]>) -> [Option<f64>; P] {
    let mut out = [None; P];
    if let Some(cov) = cov {
        for (i, slot) in out.iter_mut().enumerate() {
            let v = cov[i][i];
            if v.is_finite() && v >= 0.0 {
                *slot = Some(v.sqrt());
            }
        }
    }
    out
}
