//! Per-step beam-profile numbers: trapezoid integral, rectified centroid,
//! normalisation, and the reference's whole step pipeline.

use crate::numpy_sum::pairwise_sum_by;
use crate::roi::{peak_roi, RoiConfig, RoiMode, RoiRange};
use crate::samples::{check_finite, check_xy};
use crate::savgol::savgol_smooth;
use crate::FitError;
use serde::Serialize;

/// `scipy.integrate.trapezoid(y, x)` (signed), summed in numpy's order.
pub fn trapezoid(x: &[f64], y: &[f64]) -> Result<f64, FitError> {
    check_xy(x, y, 1)?;
    Ok(pairwise_sum_by(y.len() - 1, &|i| {
        (x[i + 1] - x[i]) * (y[i + 1] + y[i]) / 2.0
    }))
}

/// Centre of mass of `max(y, 0)`; the `x` of the largest `y` when no value
/// is positive (the reference's `calculate_centroid`).
pub fn centroid(x: &[f64], y: &[f64]) -> Result<f64, FitError> {
    check_xy(x, y, 1)?;
    let mass = pairwise_sum_by(y.len(), &|i| y[i].max(0.0));
    if mass == 0.0 {
        let mut best = 0;
        for (i, &v) in y.iter().enumerate() {
            if v > y[best] {
                best = i;
            }
        }
        return Ok(x[best]);
    }
    Ok(pairwise_sum_by(y.len(), &|i| x[i] * y[i].max(0.0)) / mass)
}

/// `y / divisor`, refusing a zero or non-finite divisor (the reference
/// returns nothing for 0).
pub fn normalize(y: &[f64], divisor: f64) -> Result<Vec<f64>, FitError> {
    if divisor == 0.0 || !divisor.is_finite() {
        return Err(FitError::BadNormalisation { value: divisor });
    }
    check_finite("y", y)?;
    Ok(y.iter().map(|v| v / divisor).collect())
}

/// One sweep reduced to a point of the beam profile.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StepMetrics {
    /// `|trapezoid|` of the smoothed ROI.
    pub integral: f64,
    /// Rectified centroid of the smoothed ROI.
    pub centroid: f64,
    /// The ROI used.
    pub roi: RoiRange,
}

/// The reference's per-step pipeline: ROI around the peak, Savitzky-Golay
/// smoothing of the ROI, then integral and centroid. Needs 5 points.
pub fn step_metrics(x: &[f64], y: &[f64], mode: RoiMode) -> Result<StepMetrics, FitError> {
    check_xy(x, y, crate::MIN_POINTS)?;
    let roi = peak_roi(y, mode, &RoiConfig::default())?;
    let roi_x = &x[roi.indices()];
    let smooth = savgol_smooth(&y[roi.indices()])?;
    Ok(StepMetrics {
        integral: trapezoid(roi_x, &smooth)?.abs(),
        centroid: centroid(roi_x, &smooth)?,
        roi,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trapezoid_of_a_line() {
        let x = [0.0, 1.0, 3.0];
        let y = [0.0, 1.0, 3.0];
        assert_eq!(trapezoid(&x, &y).unwrap(), 4.5);
        assert_eq!(trapezoid(&[1.0], &[2.0]).unwrap(), 0.0);
        assert!(trapezoid(&[1.0, 2.0], &[1.0]).is_err());
    }

    #[test]
    fn centroid_ignores_negative_mass() {
        assert_eq!(centroid(&[0.0, 1.0, 2.0], &[-5.0, 1.0, 1.0]).unwrap(), 1.5);
        assert_eq!(
            centroid(&[0.0, 1.0, 2.0], &[-5.0, -1.0, -3.0]).unwrap(),
            1.0
        );
    }

    #[test]
    fn normalise_rejects_zero() {
        assert_eq!(normalize(&[2.0, 4.0], 2.0).unwrap(), vec![1.0, 2.0]);
        assert!(normalize(&[1.0], 0.0).is_err());
        assert!(normalize(&[1.0], f64::NAN).is_err());
    }

    #[test]
    fn step_metrics_of_a_symmetric_peak() {
        let x = crate::linspace(-5.0, 5.0, 201);
        let y: Vec<f64> = x
            .iter()
            .map(|&v| crate::gaussian(v, 2.0, 0.5, 0.4, 0.0))
            .collect();
        let m = step_metrics(&x, &y, RoiMode::Dynamic).unwrap();
        assert!((m.centroid - 0.5).abs() < 1e-3, "{m:?}");
        let exact = 2.0 * 0.4 * (2.0 * std::f64::consts::PI).sqrt();
        assert!((m.integral - exact).abs() < 1e-3 * exact, "{m:?}");
    }
}
