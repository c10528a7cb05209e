//! Validation of (x, y) sample pairs shared by every fit.

use crate::FitError;

/// Checks one series for NaN or infinity.
pub fn check_finite(which: &'static str, values: &[f64]) -> Result<(), FitError> {
    // NaN and ±inf are the values whose exponent bits are all ones. Testing
    // the bits with integer operations vectorises; `is_finite` in a loop
    // does not. The culprit is looked for only on failure.
    const EXPONENT: u64 = 0x7FF0_0000_0000_0000;
    let flagged = values.iter().fold(0u64, |acc, v| {
        acc | u64::from(v.to_bits() & EXPONENT == EXPONENT)
    });
    if flagged == 0 {
        return Ok(());
    }
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(FitError::NotFinite {
            which,
            index,
            value: values[index],
        }),
        None => Ok(()),
    }
}

/// Checks that `x` and `y` are non-empty, equally long, finite and hold at
/// least `min_points` samples.
pub fn check_xy(x: &[f64], y: &[f64], min_points: usize) -> Result<(), FitError> {
    if x.len() != y.len() {
        return Err(FitError::LengthMismatch {
            x_len: x.len(),
            y_len: y.len(),
        });
    }
    if x.is_empty() {
        return Err(FitError::Empty);
    }
    if x.len() < min_points {
        return Err(FitError::TooFewPoints {
            got: x.len(),
            needed: min_points,
        });
    }
    check_finite("x", x)?;
    check_finite("y", y)
}

/// Rejects data whose `y` values are all identical.
pub fn check_not_flat(y: &[f64]) -> Result<(), FitError> {
    match y.first() {
        Some(&first) if y.iter().all(|&v| v == first) => Err(FitError::FlatData { value: first }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_each_kind_of_bad_input() {
        assert_eq!(check_xy(&[], &[], 1), Err(FitError::Empty));
        assert!(matches!(
            check_xy(&[1.0], &[1.0, 2.0], 1),
            Err(FitError::LengthMismatch { x_len: 1, y_len: 2 })
        ));
        assert!(matches!(
            check_xy(&[1.0, 2.0], &[1.0, 2.0], 5),
            Err(FitError::TooFewPoints { got: 2, needed: 5 })
        ));
        let err = check_xy(&[1.0, 2.0], &[1.0, f64::NAN], 1).unwrap_err();
        assert!(matches!(
            err,
            FitError::NotFinite {
                which: "y",
                index: 1,
                ..
            }
        ));
        assert!(check_not_flat(&[0.0, 0.0, 0.0]).is_err());
        assert!(check_not_flat(&[0.0, 1.0]).is_ok());
    }
}
