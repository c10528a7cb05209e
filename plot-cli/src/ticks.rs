//! Axis ticks for both views: steps of 1, 2 or 5 times a power of ten,
//! labelled with as many decimals as the step needs.
//!
//! egui_plot's default grid divides by 10 only and hides an x label
//! closer than 60 points to the next: a 13 mm scan across 650 points has
//! 50 points per 1 mm line and a single 10 mm line in view, so its x axis
//! showed nothing but "0". Steps of 1, 2 and 5 always leave a step whose
//! labels fit.

/// The smallest step of 1, 2 or 5 times a power of ten that is at least
/// `at_least` (positive and finite; anything else gives 1).
pub fn nice_step(at_least: f64) -> f64 {
    if !(at_least.is_finite() && at_least > 0.0) {
        return 1.0;
    }
    let power = 10f64.powf(at_least.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        // A hair of tolerance: 0.2 asked for stays 0.2, not 0.5.
        .find(|&s| s >= at_least * (1.0 - 1e-9))
        .unwrap_or(10.0 * power)
}

/// The finer step between two labelled ticks: a fifth of a 1 or 5 step, a
/// quarter of a 2 step (so that minor lines fall on round values).
pub fn minor_step(step: f64) -> f64 {
    let mantissa = step / 10f64.powf(step.log10().floor());
    if (mantissa - 2.0).abs() < 1e-6 {
        step / 4.0
    } else {
        step / 5.0
    }
}

/// The decimals a tick label needs at `step` (0.5 -> 1, 0.05 -> 2, 2 -> 0).
pub fn decimals(step: f64) -> usize {
    if !(step.is_finite() && step > 0.0) {
        return 0;
    }
    (-step.log10() - 1e-6).ceil().max(0.0) as usize
}

/// A tick's label: `value` at `step`'s decimals, never "-0".
pub fn label(value: f64, step: f64) -> String {
    // A tick at 0 can come out as -1e-17 after the multiplication.
    let value = if value.abs() < step * 1e-6 {
        0.0
    } else {
        value
    };
    crate::format::fixed(value, decimals(step))
}

/// Ticks over `lo..=hi` drawn across `pixels`, labelled ones at least
/// `label_pixels` apart.
#[derive(Debug, Clone, PartialEq)]
pub struct Ticks {
    /// Distance between labelled ticks.
    pub step: f64,
    /// The labelled ticks inside the range.
    pub major: Vec<f64>,
    /// The unlabelled grid lines between them.
    pub minor: Vec<f64>,
}

/// The ticks of one axis.
pub fn ticks(lo: f64, hi: f64, pixels: f64, label_pixels: f64) -> Ticks {
    let span = hi - lo;
    if !(span.is_finite() && span > 0.0 && pixels > 0.0) {
        return Ticks {
            step: 1.0,
            major: Vec::new(),
            minor: Vec::new(),
        };
    }
    let step = nice_step(span / pixels * label_pixels);
    let within = |s: f64| {
        let first = (lo / s).ceil() as i64;
        let last = (hi / s).floor() as i64;
        (first..=last).map(move |i| i as f64 * s)
    };
    let major: Vec<f64> = within(step).collect();
    let minor = within(minor_step(step))
        .filter(|v| major.iter().all(|m| (m - v).abs() > step * 1e-6))
        .collect();
    Ticks { step, major, minor }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_one_two_five() {
        assert_eq!(nice_step(0.13), 0.2);
        assert_eq!(nice_step(0.2), 0.2);
        assert_eq!(nice_step(0.21), 0.5);
        assert_eq!(nice_step(0.7), 1.0);
        assert_eq!(nice_step(1.0), 1.0);
        assert_eq!(nice_step(3.0), 5.0);
        assert_eq!(nice_step(6.0), 10.0);
        assert_eq!(nice_step(0.0), 1.0);
        assert!((minor_step(2.0) - 0.5).abs() < 1e-12);
        assert!((minor_step(5.0) - 1.0).abs() < 1e-12);
        assert!((minor_step(0.1) - 0.02).abs() < 1e-12);
    }

    #[test]
    fn labels_have_the_steps_decimals_and_no_negative_zero() {
        assert_eq!(label(-2.0, 2.0), "-2");
        assert_eq!(label(0.5, 0.5), "0.5");
        assert_eq!(label(1.0, 0.5), "1.0");
        assert_eq!(label(0.15, 0.05), "0.15");
        assert_eq!(label(-1e-17, 0.2), "0.0");
        assert_eq!(label(40.0, 10.0), "40");
    }

    #[test]
    fn a_scan_across_a_plot_gets_several_labelled_ticks() {
        // The README's view: -6.6..6.6 mm across 650 points, labels 80 apart.
        let t = ticks(-6.6, 6.6, 650.0, 80.0);
        assert_eq!(t.step, 2.0);
        assert_eq!(t.major, [-6.0, -4.0, -2.0, 0.0, 2.0, 4.0, 6.0]);
        assert_eq!(t.minor.len(), 3 * 6 + 2, "0.5 lines between");
        // A narrow range.
        let t = ticks(0.31, 0.37, 500.0, 80.0);
        assert!(t.major.len() >= 4, "{t:?}");
        assert_eq!(label(t.major[0], t.step), "0.31");
    }
}
