//! Threshold-scan model `a·erfc((x-b)/c) + d` (haniwers' `threshold fit`):
//! unbounded, two stages, and the operating thresholds `round(b + k·c)`.

use crate::lsq::{self, Bounds, Model, SolveOptions};
use crate::quality::{standard_errors, FitQuality};
use crate::samples::{check_finite, check_xy};
use crate::FitError;
use serde::Serialize;

/// haniwers' default start point `[a, b, c, d]`.
pub const DEFAULT_INITIAL: [f64; 4] = [10.0, 300.0, 1.0, 1.0];
/// `maxfev` of each of the two stages.
pub const MAX_EVALUATIONS_PER_STAGE: usize = 10_000;
/// The multiples of `c` reported as operating thresholds.
pub const THRESHOLD_MULTIPLES: [u32; 4] = [0, 1, 3, 5];
/// Fewest points: one more than the parameters, so errors are defined.
pub const MIN_POINTS: usize = 5;

const TWO_OVER_SQRT_PI: f64 = std::f64::consts::FRAC_2_SQRT_PI;

struct ErfcModel;

impl Model<4> for ErfcModel {
    fn value_and_gradient(&self, x: f64, p: &[f64; 4], grad: &mut [f64; 4]) -> f64 {
        let [a, b, c, d] = *p;
        let z = (x - b) / c;
        let e = libm::erfc(z);
        // d erfc(z)/dz = -2/sqrt(pi)·exp(-z²); dz/db = -1/c; dz/dc = -z/c.
        let slope = a * TWO_OVER_SQRT_PI * (-z * z).exp() / c;
        grad[0] = e;
        grad[1] = slope;
        grad[2] = slope * z;
        grad[3] = 1.0;
        a * e + d
    }

    /// `erfc(-z) = 2 - erfc(z)`, so `(a, b, c, d)` and `(-a, b, -c, d + 2a)`
    /// are the same curve; haniwers' thresholds `b + k·c` need `c > 0`.
    fn canonical(&self, p: &[f64; 4]) -> Option<[f64; 4]> {
        let [a, b, c, d] = *p;
        (c < 0.0).then(|| [-a, b, -c, d + 2.0 * a])
    }
}

/// `a·erfc((x-b)/c) + d`.
pub fn erfc_model(x: f64, a: f64, b: f64, c: f64, d: f64) -> f64 {
    a * libm::erfc((x - b) / c) + d
}

/// Parameters of the erfc model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ErfcParams {
    /// Height.
    pub a: f64,
    /// Edge position ("mean").
    pub b: f64,
    /// Edge width (`sqrt(2)` times a Gaussian sigma).
    pub c: f64,
    /// Offset.
    pub d: f64,
}

/// A finished erfc fit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErfcFit {
    /// Best-fit parameters after the second stage.
    pub params: ErfcParams,
    /// Standard errors of `[a, b, c, d]` (`absolute_sigma=False` scaling).
    pub errors: [Option<f64>; 4],
    /// `round(b + k·c)` for k = 0, 1, 3, 5, rounding half to even like
    /// Python's `round`; the 3σ value is the recommended operating threshold.
    pub thresholds: [i64; 4],
    /// Residual sum, reduced chi-square and R².
    pub quality: FitQuality,
    /// Both stages met their tolerances.
    pub converged: bool,
    /// Model evaluations over both stages.
    pub evaluations: usize,
}

/// Fits `a·erfc((x-b)/c) + d` from `initial` (haniwers' default when
/// `None`), then again from the result, as haniwers does.
pub fn fit_erfc(x: &[f64], y: &[f64], initial: Option<[f64; 4]>) -> Result<ErfcFit, FitError> {
    check_xy(x, y, MIN_POINTS)?;
    let start = initial.unwrap_or(DEFAULT_INITIAL);
    check_finite("initial", &start)?;
    if start[2] == 0.0 {
        return Err(FitError::InvalidArgument(
            "the initial width c must not be 0".to_string(),
        ));
    }
    let options = SolveOptions {
        max_evaluations: MAX_EVALUATIONS_PER_STAGE,
    };
    let diverged = |reason| FitError::Diverged { reason };
    let first = lsq::solve(&ErfcModel, x, y, start, &Bounds::none(), options).map_err(diverged)?;
    let second =
        lsq::solve(&ErfcModel, x, y, first.params, &Bounds::none(), options).map_err(diverged)?;
    let [a, b, c, d] = second.params;
    Ok(ErfcFit {
        params: ErfcParams { a, b, c, d },
        errors: standard_errors(&second.covariance),
        thresholds: operating_thresholds(b, c)?,
        quality: FitQuality::new(y, second.ssr, 4),
        converged: first.converged && second.converged,
        evaluations: first.evaluations + second.evaluations,
    })
}

/// `round(b + k·c)` for each k in [`THRESHOLD_MULTIPLES`], half to even.
pub fn operating_thresholds(b: f64, c: f64) -> Result<[i64; 4], FitError> {
    let mut out = [0; 4];
    for (slot, &k) in out.iter_mut().zip(&THRESHOLD_MULTIPLES) {
        let level = (b + f64::from(k) * c).round_ties_even();
        // i64 covers every threshold a detector can take; beyond it the fit is junk.
        if !level.is_finite() || level.abs() > 9.0e15 {
            return Err(FitError::Diverged {
                reason: format!("threshold b + {k}c = {level} is out of range"),
            });
        }
        *slot = level as i64;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_noise_free_edge_from_the_default_start() {
        let x: Vec<f64> = (250..=350).step_by(2).map(f64::from).collect();
        let y: Vec<f64> = x
            .iter()
            .map(|&v| erfc_model(v, 0.4, 296.0, 8.0, 0.01))
            .collect();
        let fit = fit_erfc(&x, &y, None).unwrap();
        let p = fit.params;
        assert!((p.a - 0.4).abs() < 1e-8, "{p:?}");
        assert!((p.b - 296.0).abs() < 1e-6, "{p:?}");
        assert!((p.c - 8.0).abs() < 1e-6, "{p:?}");
        assert_eq!(fit.thresholds, [296, 304, 320, 336]);
    }

    #[test]
    fn a_negative_width_is_reported_in_canonical_form() {
        let x: Vec<f64> = (250..=350).step_by(2).map(f64::from).collect();
        // The mirrored form of (0.4, 296, 8, 0.01), as the start point.
        let y: Vec<f64> = x
            .iter()
            .map(|&v| erfc_model(v, -0.4, 296.0, -8.0, 0.81))
            .collect();
        let fit = fit_erfc(&x, &y, Some([-0.3, 295.0, -7.0, 0.8])).unwrap();
        let p = fit.params;
        assert!(p.c > 0.0, "{p:?}");
        assert!(
            (p.a - 0.4).abs() < 1e-8 && (p.c - 8.0).abs() < 1e-6,
            "{p:?}"
        );
        assert!((p.d - 0.01).abs() < 1e-8, "{p:?}");
        assert_eq!(fit.thresholds, [296, 304, 320, 336]);
    }

    #[test]
    fn thresholds_round_half_to_even() {
        assert_eq!(
            operating_thresholds(290.5, 1.0).unwrap(),
            [290, 292, 294, 296]
        );
        assert_eq!(operating_thresholds(291.5, 0.0).unwrap(), [292; 4]);
        assert!(operating_thresholds(f64::NAN, 1.0).is_err());
    }

    #[test]
    fn rejects_a_zero_width_start() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert!(matches!(
            fit_erfc(&x, &x, Some([1.0, 2.0, 0.0, 0.0])),
            Err(FitError::InvalidArgument(_))
        ));
    }
}
