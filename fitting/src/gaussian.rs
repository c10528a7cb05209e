//! Gaussian with offset, `a·exp(-(x-m)²/(2s²)) + o`, fitted exactly as the
//! reference daemon fits beam profiles (same start point, bounds and
//! evaluation budget as its `curve_fit` call).

use crate::lanes::{exp_lanes, LANES};
use crate::lsq::{self, Bounds, Model, SolveOptions};
use crate::quality::{standard_errors, FitQuality};
use crate::samples::{check_not_flat, check_xy};
use crate::FitError;
use serde::Serialize;

/// `FWHM = 2·sqrt(2·ln 2)·sigma`.
pub const FWHM_PER_SIGMA: f64 = 2.354_820_045_030_949_3;
/// Fewest points the reference fits.
pub const MIN_POINTS: usize = 5;
/// The reference's `maxfev`.
pub const MAX_EVALUATIONS: usize = 2000;
/// Smallest width allowed by the reference's bounds.
pub const MIN_SIGMA: f64 = 1e-6;
/// Points in the displayed fit curve.
pub const CURVE_POINTS: usize = 500;

/// An amplitude below this fraction of the data's span counts as pinned at
/// its bound 0: the data hold no peak.
const AMPLITUDE_AT_BOUND: f64 = 1e-9;

/// The model; the width enters as `max(|s|, 1e-9)` like the reference's.
struct GaussianModel;

impl GaussianModel {
    fn width(s: f64) -> f64 {
        s.abs().max(1e-9)
    }
}

impl GaussianModel {
    /// `1/w²` and `d(w)/ds / w³`, the per-pass constants of the gradient.
    fn width_terms(s: f64) -> (f64, f64) {
        let width = Self::width(s);
        let inv_var = 1.0 / (width * width);
        // d/ds of max(|s|, 1e-9): sign(s) above the floor, 0 on it.
        let dwidth = if s.abs() > 1e-9 { s.signum() } else { 0.0 };
        (inv_var, inv_var / width * dwidth)
    }
}

impl Model<4> for GaussianModel {
    fn value_and_gradient(&self, x: f64, p: &[f64; 4], grad: &mut [f64; 4]) -> f64 {
        let [a, m, s, o] = *p;
        let (inv_var, ds) = Self::width_terms(s);
        let d = x - m;
        let e = (-(d * d) * 0.5 * inv_var).exp();
        let ae = a * e;
        grad[0] = e;
        grad[1] = ae * d * inv_var;
        grad[2] = ae * d * d * ds;
        grad[3] = 1.0;
        ae + o
    }

    #[inline(always)]
    fn value_and_gradient_lanes(
        &self,
        x: &[f64; LANES],
        p: &[f64; 4],
        grad: &mut [[f64; LANES]; 4],
    ) -> [f64; LANES] {
        let [a, m, s, o] = *p;
        let (inv_var, ds) = Self::width_terms(s);
        let d: [f64; LANES] = std::array::from_fn(|l| x[l] - m);
        let e = exp_lanes(&std::array::from_fn(|l| -(d[l] * d[l]) * 0.5 * inv_var));
        std::array::from_fn(|l| {
            let ae = a * e[l];
            grad[0][l] = e[l];
            grad[1][l] = ae * d[l] * inv_var;
            grad[2][l] = ae * d[l] * d[l] * ds;
            grad[3][l] = 1.0;
            ae + o
        })
    }
}

/// `a·exp(-(x-m)²/(2·max(|s|,1e-9)²)) + o`, the reference's model.
pub fn gaussian(x: f64, a: f64, m: f64, s: f64, o: f64) -> f64 {
    let width = GaussianModel::width(s);
    a * (-((x - m) * (x - m)) / (2.0 * width * width)).exp() + o
}

/// Parameters of the Gaussian model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GaussianParams {
    /// Peak height above the offset.
    pub amplitude: f64,
    /// Centre.
    pub mean: f64,
    /// Standard deviation.
    pub sigma: f64,
    /// Baseline.
    pub offset: f64,
}

impl GaussianParams {
    fn to_array(self) -> [f64; 4] {
        [self.amplitude, self.mean, self.sigma, self.offset]
    }

    fn from_array(p: [f64; 4]) -> Self {
        Self {
            amplitude: p[0],
            mean: p[1],
            sigma: p[2],
            offset: p[3],
        }
    }

    /// Model value at `x`.
    pub fn eval(&self, x: f64) -> f64 {
        gaussian(x, self.amplitude, self.mean, self.sigma, self.offset)
    }
}

/// Standard errors of the parameters; `None` where not defined (no spare
/// points, or a parameter pinned at a bound).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GaussianErrors {
    /// Error of the amplitude.
    pub amplitude: Option<f64>,
    /// Error of the mean.
    pub mean: Option<f64>,
    /// Error of sigma.
    pub sigma: Option<f64>,
    /// Error of the offset.
    pub offset: Option<f64>,
}

/// A finished Gaussian fit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GaussianFit {
    /// The reference's start point.
    pub initial: GaussianParams,
    /// Best-fit parameters.
    pub params: GaussianParams,
    /// `2·sqrt(2 ln 2)·sigma`.
    pub fwhm: f64,
    /// Standard errors scaled like scipy's `curve_fit` default
    /// (`absolute_sigma=False`).
    pub errors: GaussianErrors,
    /// Residual sum, reduced chi-square and R².
    pub quality: FitQuality,
    /// The solver met its tolerances (not merely ran out of evaluations).
    pub converged: bool,
    /// The amplitude ended pinned at its bound 0 (no peak in the data).
    pub amplitude_at_bound: bool,
    /// Model evaluations used.
    pub evaluations: usize,
}

impl GaussianFit {
    /// The reference's display curve: `CURVE_POINTS` points from min(x) to
    /// max(x), as `(x, y)` arrays.
    pub fn curve(&self, x: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let lo = x.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = x.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let xs = crate::linspace(lo, hi, CURVE_POINTS);
        let ys = xs.iter().map(|&v| self.params.eval(v)).collect();
        (xs, ys)
    }
}

/// The reference's start point: `[max-min, x at argmax, range/6 or 1, min]`
/// (argmax: the first of equal maxima, as numpy's), in one pass.
pub fn initial_guess(x: &[f64], y: &[f64]) -> Result<GaussianParams, FitError> {
    check_xy(x, y, 1)?;
    Ok(guess_from_checked(x, y))
}

/// [`initial_guess`] for data already checked (non-empty, equal lengths).
fn guess_from_checked(x: &[f64], y: &[f64]) -> GaussianParams {
    let (mut argmax, mut ymax, mut ymin) = (0, y[0], y[0]);
    let (mut xmin, mut xmax) = (x[0], x[0]);
    for (i, (&xi, &yi)) in x.iter().zip(y).enumerate() {
        if yi > ymax {
            ymax = yi;
            argmax = i;
        }
        ymin = if yi < ymin { yi } else { ymin };
        xmin = if xi < xmin { xi } else { xmin };
        xmax = if xi > xmax { xi } else { xmax };
    }
    let width = (xmax - xmin) / 6.0;
    GaussianParams {
        amplitude: ymax - ymin,
        mean: x[argmax],
        sigma: if width != 0.0 { width } else { 1.0 },
        offset: ymin,
    }
}

/// Fits the Gaussian model to `(x, y)` like the reference: at least 5
/// points, `a >= 0`, `s >= 1e-6`, at most 2000 evaluations.
pub fn fit_gaussian(x: &[f64], y: &[f64]) -> Result<GaussianFit, FitError> {
    check_xy(x, y, MIN_POINTS)?;
    check_not_flat(y)?;
    let initial = guess_from_checked(x, y);
    let bounds = Bounds {
        lower: [0.0, f64::NEG_INFINITY, MIN_SIGMA, f64::NEG_INFINITY],
        upper: [f64::INFINITY; 4],
    };
    let solution = lsq::solve(
        &GaussianModel,
        x,
        y,
        initial.to_array(),
        &bounds,
        SolveOptions {
            max_evaluations: MAX_EVALUATIONS,
        },
    )
    .map_err(|reason| FitError::Diverged { reason })?;
    let params = GaussianParams::from_array(solution.params);
    let amplitude_at_bound = params.amplitude <= AMPLITUDE_AT_BOUND * initial.amplitude;
    let errors = if amplitude_at_bound {
        [None; 4]
    } else {
        standard_errors(&solution.covariance)
    };
    Ok(GaussianFit {
        initial,
        params,
        fwhm: FWHM_PER_SIGMA * params.sigma,
        errors: GaussianErrors {
            amplitude: errors[0],
            mean: errors[1],
            sigma: errors[2],
            offset: errors[3],
        },
        quality: FitQuality::new(y, solution.ssr, 4),
        converged: solution.converged,
        amplitude_at_bound,
        evaluations: solution.evaluations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(n: usize, p: [f64; 4]) -> (Vec<f64>, Vec<f64>) {
        let x = crate::linspace(-10.0, 10.0, n);
        let y = x
            .iter()
            .map(|&v| gaussian(v, p[0], p[1], p[2], p[3]))
            .collect();
        (x, y)
    }

    #[test]
    fn recovers_noise_free_parameters() {
        let truth = [3.0, 0.7, 1.9, 0.2];
        for n in [5, 21, 1000, 100_000] {
            let (x, y) = sample(n, truth);
            let fit = fit_gaussian(&x, &y).unwrap();
            let got = fit.params.to_array();
            for k in 0..4 {
                assert!((got[k] - truth[k]).abs() < 1e-8, "n={n} {got:?}");
            }
            assert!(fit.converged);
            assert!((fit.fwhm - FWHM_PER_SIGMA * 1.9).abs() < 1e-7);
        }
    }

    #[test]
    fn fwhm_constant_is_exact() {
        let exact = 2.0 * (2.0 * std::f64::consts::LN_2).sqrt();
        assert_eq!(FWHM_PER_SIGMA, exact);
    }

    #[test]
    fn a_dip_stays_within_bounds_and_improves_on_the_start() {
        let (x, y) = sample(50, [-2.0, 0.0, 1.0, 5.0]);
        let fit = fit_gaussian(&x, &y).unwrap();
        assert!(fit.params.amplitude >= 0.0);
        assert!(fit.params.sigma >= MIN_SIGMA);
        let cost = |p: GaussianParams| -> f64 {
            x.iter()
                .zip(&y)
                .map(|(&a, &b)| (p.eval(a) - b).powi(2))
                .sum()
        };
        assert!(fit.quality.ssr < cost(fit.initial));
        assert!((fit.quality.ssr - cost(fit.params)).abs() < 1e-9);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(matches!(fit_gaussian(&[], &[]), Err(FitError::Empty)));
        assert!(matches!(
            fit_gaussian(&[1.0; 4], &[1.0, 2.0, 3.0, 4.0]),
            Err(FitError::TooFewPoints { .. })
        ));
        assert!(matches!(
            fit_gaussian(&[1.0, 2.0, 3.0, 4.0, 5.0], &[0.0; 5]),
            Err(FitError::FlatData { .. })
        ));
        assert!(matches!(
            fit_gaussian(
                &[1.0, 2.0, 3.0, 4.0, f64::INFINITY],
                &[0.0, 1.0, 2.0, 1.0, 0.0]
            ),
            Err(FitError::NotFinite {
                which: "x",
                index: 4,
                ..
            })
        ));
    }

    #[test]
    fn initial_guess_follows_the_reference() {
        let x = [1.0, 2.0, 3.0, 4.0, 7.0];
        let y = [0.5, 2.0, 9.0, 2.0, 1.0];
        let p0 = initial_guess(&x, &y).unwrap();
        assert_eq!(p0.amplitude, 8.5);
        assert_eq!(p0.mean, 3.0);
        assert_eq!(p0.sigma, 1.0);
        assert_eq!(p0.offset, 0.5);
        let same_x = initial_guess(&[2.0; 3], &[0.0, 1.0, 0.0]).unwrap();
        assert_eq!(same_x.sigma, 1.0);
    }
}
