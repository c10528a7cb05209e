//! Numbers and units as both views, the CSV and the log print them: the
//! fit parameters with their units and standard errors, fixed decimals
//! that never read "-0.0000".

use fitting::GaussianFit;

/// Unit of a profile integral (and of the fit's amplitude and offset): the
/// ROI trace in V integrated over the position in mm. ASCII, as the
/// daemon's Integral/Amp/GaussFit PVs and file attributes spell it.
pub const INTEGRAL_UNIT: &str = "V*mm";
/// Unit of positions (centroid, Mean, Sigma, FWHM).
pub const POSITION_UNIT: &str = "mm";
/// Unit of a trace sample.
pub const TRACE_UNIT: &str = "V";

/// `value` with `decimals` fixed decimals; a value that rounds to zero
/// prints as `0.0000`, not `-0.0000` (a fitted mean of -1e-9 mm is zero to
/// the shown precision, and a minus sign on it reads as a real offset).
pub fn fixed(value: f64, decimals: usize) -> String {
    let text = format!("{value:.decimals$}");
    match text.strip_prefix('-') {
        Some(rest) if rest.chars().all(|c| c == '0' || c == '.') => rest.to_string(),
        _ => text,
    }
}

/// A standard error with two significant digits (`3.3e-4`).
pub fn error(value: f64) -> String {
    if value == 0.0 {
        return "0".into();
    }
    format!("{value:.1e}")
}

/// One fit parameter as the parameter box shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ParameterLine {
    /// `Amp`, `Mean`, `Sigma`, `FWHM`.
    pub name: &'static str,
    /// The value with 4 decimals.
    pub value: String,
    /// The standard error, when the fit has one.
    pub error: Option<String>,
    /// The unit.
    pub unit: &'static str,
}

/// The lines as text in aligned columns (the box's font is monospaced):
/// `Amp    44.1047 ± 3.3e-4 V*mm`.
pub fn aligned(lines: &[ParameterLine]) -> Vec<String> {
    let name_width = lines.iter().map(|l| l.name.len()).max().unwrap_or(0);
    let value_width = lines.iter().map(|l| l.value.len()).max().unwrap_or(0);
    let error_width = lines
        .iter()
        .map(|l| l.error.as_ref().map_or(0, String::len))
        .max()
        .unwrap_or(0);
    lines
        .iter()
        .map(|l| {
            let error = match &l.error {
                Some(e) => format!(" ± {e:<error_width$}"),
                None if error_width > 0 => " ".repeat(error_width + 3),
                None => String::new(),
            };
            format!(
                "{:<name_width$}  {:>value_width$}{error} {}",
                l.name, l.value, l.unit
            )
        })
        .collect()
}

/// The lines on one line, for a log: `Amp 44.1047 ± 3.3e-4 V*mm, Mean ...`.
pub fn one_line(lines: &[ParameterLine]) -> String {
    lines
        .iter()
        .map(|l| match &l.error {
            Some(e) => format!("{} {} ± {e} {}", l.name, l.value, l.unit),
            None => format!("{} {} {}", l.name, l.value, l.unit),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The parameter box: Amp, Mean, Sigma, FWHM with standard errors and
/// units.
pub fn parameter_lines(fit: &GaussianFit) -> Vec<ParameterLine> {
    let e = &fit.errors;
    let line = |name, value: f64, err: Option<f64>, unit| ParameterLine {
        name,
        value: fixed(value, 4),
        error: err.map(error),
        unit,
    };
    vec![
        line("Amp", fit.params.amplitude, e.amplitude, INTEGRAL_UNIT),
        line("Mean", fit.params.mean, e.mean, POSITION_UNIT),
        line("Sigma", fit.params.sigma, e.sigma, POSITION_UNIT),
        line(
            "FWHM",
            fit.fwhm,
            e.sigma.map(|s| s * fitting::FWHM_PER_SIGMA),
            POSITION_UNIT,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_zero_prints_as_zero() {
        assert_eq!(fixed(-0.0, 4), "0.0000");
        assert_eq!(fixed(-1e-9, 4), "0.0000");
        assert_eq!(fixed(-0.00004, 4), "0.0000");
        assert_eq!(fixed(-0.00005001, 4), "-0.0001");
        assert_eq!(fixed(-1.25, 2), "-1.25");
        assert_eq!(fixed(-3.0, 0), "-3");
        assert_eq!(fixed(-0.4, 0), "0");
        assert_eq!(fixed(2.5e-5, 4), "0.0000");
    }

    #[test]
    fn errors_have_two_significant_digits() {
        assert_eq!(error(3.26e-4), "3.3e-4");
        assert_eq!(error(0.0123), "1.2e-2");
        assert_eq!(error(0.0), "0");
    }

    #[test]
    fn the_box_has_units_and_aligned_columns() {
        let line = |name, value: &str, error: Option<&str>, unit| ParameterLine {
            name,
            value: value.into(),
            error: error.map(str::to_string),
            unit,
        };
        let rows = aligned(&[
            line("Amp", "44.1047", Some("3.3e-4"), INTEGRAL_UNIT),
            line("Mean", "-0.5000", Some("1.3e-5"), POSITION_UNIT),
            line("FWHM", "4.0032", None, POSITION_UNIT),
        ]);
        assert_eq!(
            rows,
            [
                "Amp   44.1047 ± 3.3e-4 V*mm",
                "Mean  -0.5000 ± 1.3e-5 mm",
                "FWHM   4.0032          mm",
            ]
        );
    }
}
