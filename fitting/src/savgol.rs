//! Savitzky-Golay smoothing with `scipy.signal.savgol_filter`'s defaults
//! (`mode="interp"`: interior points by convolution, the first and last
//! half-window by a polynomial fitted to the first and last full window).

use crate::samples::check_finite;
use crate::FitError;
use nalgebra::DMatrix;

/// The reference daemon's smoothing window.
pub const SAVGOL_WINDOW: usize = 11;
/// The reference daemon's polynomial order.
pub const SAVGOL_ORDER: usize = 2;

/// `scipy.signal.savgol_filter(y, window, order)` (`deriv=0`, `mode="interp"`).
///
/// `window` must be odd and greater than `order`, and `y` at least `window`
/// long, as scipy requires.
pub fn savgol_filter(y: &[f64], window: usize, order: usize) -> Result<Vec<f64>, FitError> {
    if window.is_multiple_of(2) || window <= order {
        return Err(FitError::InvalidArgument(format!(
            "Savitzky-Golay window {window} must be odd and greater than the order {order}"
        )));
    }
    if y.len() < window {
        return Err(FitError::TooFewPoints {
            got: y.len(),
            needed: window,
        });
    }
    check_finite("y", y)?;
    let half = window / 2;
    let weights = fit_weights(window, order)?;
    let n = y.len();
    let mut out = vec![0.0; n];
    // Interior: the centre row of the smoothing matrix is the filter kernel.
    let kernel: Vec<f64> = (0..window).map(|j| weights[(half, j)]).collect();
    for i in half..n - half {
        out[i] = kernel
            .iter()
            .enumerate()
            .map(|(j, &c)| c * y[i + j - half])
            .sum();
    }
    // Edges: evaluate the polynomial fitted to the first / last window.
    for i in 0..half {
        out[i] = (0..window).map(|j| weights[(i, j)] * y[j]).sum();
        let row = window - half + i;
        let base = n - window;
        out[base + row] = (0..window).map(|j| weights[(row, j)] * y[base + j]).sum();
    }
    Ok(out)
}

/// The reference daemon's `apply_smoothing`: window 11, order 2, and the
/// data returned unchanged when shorter than the window.
pub fn savgol_smooth(y: &[f64]) -> Result<Vec<f64>, FitError> {
    if y.len() < SAVGOL_WINDOW {
        check_finite("y", y)?;
        return Ok(y.to_vec());
    }
    savgol_filter(y, SAVGOL_WINDOW, SAVGOL_ORDER)
}

/// The hat matrix `A (AᵀA)⁻¹ Aᵀ` of a least-squares polynomial of degree
/// `order` over sample positions `0..window`: row `i` gives the fitted value
/// at position `i` as a weighted sum of the window's samples.
fn fit_weights(window: usize, order: usize) -> Result<DMatrix<f64>, FitError> {
    // Centred positions keep the Vandermonde matrix well conditioned.
    let half = (window / 2) as f64;
    let vander = DMatrix::from_fn(window, order + 1, |i, k| (i as f64 - half).powi(k as i32));
    let gram = vander.transpose() * &vander;
    let inverse = gram
        .try_inverse()
        .ok_or_else(|| FitError::InvalidArgument("singular Savitzky-Golay design".into()))?;
    Ok(&vander * inverse * vander.transpose())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_matches_the_closed_form() {
        // Window 11, order 2: c_k = (89 - 5k²) / 429.
        let w = fit_weights(11, 2).unwrap();
        for k in -5i32..=5 {
            let expected = (89.0 - 5.0 * f64::from(k * k)) / 429.0;
            assert!((w[(5, (k + 5) as usize)] - expected).abs() < 1e-15);
        }
    }

    #[test]
    fn quadratics_pass_through_unchanged() {
        let y: Vec<f64> = (0..40)
            .map(|i| 0.5 * f64::from(i * i) - 3.0 * f64::from(i) + 2.0)
            .collect();
        let s = savgol_filter(&y, 11, 2).unwrap();
        for (a, b) in y.iter().zip(&s) {
            assert!((a - b).abs() < 1e-9 * a.abs().max(1.0), "{a} {b}");
        }
    }

    #[test]
    fn short_or_bad_windows_are_errors() {
        assert!(savgol_filter(&[1.0; 10], 11, 2).is_err());
        assert!(savgol_filter(&[1.0; 20], 10, 2).is_err());
        assert!(savgol_filter(&[1.0; 20], 3, 3).is_err());
        assert_eq!(savgol_smooth(&[1.0, 2.0]).unwrap(), vec![1.0, 2.0]);
    }
}
