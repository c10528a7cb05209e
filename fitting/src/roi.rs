//! The reference daemon's peak region of interest: a window around the
//! peak of `|y|`, sized from the peak's half-maximum width (dynamic) or as
//! a fixed percentage of the trace.

use crate::samples::check_finite;
use crate::FitError;
use serde::Serialize;

/// Tuning of the ROI search; the defaults are the reference's `SignalConfig`.
#[derive(Debug, Clone, PartialEq)]
pub struct RoiConfig {
    /// Traces longer than this are smoothed before the peak search.
    pub min_points_for_smoothing: usize,
    /// Moving-average length of that smoothing.
    pub smoothing_window: usize,
    /// Fraction of the peak that bounds the half-width.
    pub height_ratio: f64,
    /// Radius = this times the mean half-width.
    pub width_multiplier: f64,
    /// Radii below this fall back to `default_radius_fraction`.
    pub min_radius: usize,
    /// Fallback radius as a fraction of the trace length.
    pub default_radius_fraction: f64,
    /// Smallest ROI, in percent of the trace length.
    pub min_roi_percent: f64,
}

impl Default for RoiConfig {
    fn default() -> Self {
        Self {
            min_points_for_smoothing: 20,
            smoothing_window: 15,
            height_ratio: 0.5,
            width_multiplier: 3.0,
            min_radius: 5,
            default_radius_fraction: 0.02,
            min_roi_percent: 0.25,
        }
    }
}

/// How the ROI radius is chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RoiMode {
    /// From the peak's width.
    Dynamic,
    /// A fixed percentage of the trace length on each side of the peak.
    FixedPercent(f64),
}

impl RoiMode {
    /// The reference's rule: a positive percentage is fixed, anything else
    /// (0, negative, NaN) means dynamic.
    pub fn from_percent(percent: f64) -> Self {
        if percent > 0.0 {
            RoiMode::FixedPercent(percent)
        } else {
            RoiMode::Dynamic
        }
    }
}

/// An inclusive index range `start..=end` around `peak`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RoiRange {
    /// First index inside the ROI.
    pub start: usize,
    /// Last index inside the ROI (inclusive).
    pub end: usize,
    /// Index of the detected peak.
    pub peak: usize,
}

impl RoiRange {
    /// The ROI as a half-open range for slicing.
    pub fn indices(&self) -> std::ops::Range<usize> {
        self.start..self.end + 1
    }
}

/// First index of the largest value (numpy's `argmax`); `values` non-empty.
fn argmax(values: &[f64]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best
}

/// `np.convolve(values, ones(w)/w, "same")`: a centred moving average with
/// zeros beyond the ends.
///
/// numpy computes each output with BLAS `ddot`, whose loop for short
/// vectors accumulates in order with fused multiply-adds (OpenBLAS' x86-64
/// kernels are built with FMA contraction). Doing the same here keeps the
/// rounding, and so `argmax` on exact ties, identical to the reference.
fn moving_average_same(values: &[f64], window: usize) -> Vec<f64> {
    // `mul_add` without the FMA target feature is a libm call per sample
    // (about 15 ms per 100k-sample trace); with it, one instruction. The
    // result is the same bit for bit: a fused multiply-add is exact either way.
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has FMA, checked just above.
        return unsafe { moving_average_same_fma(values, window) };
    }
    moving_average_same_body(values, window)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "fma")]
unsafe fn moving_average_same_fma(values: &[f64], window: usize) -> Vec<f64> {
    moving_average_same_body(values, window)
}

#[inline(always)]
fn moving_average_same_body(values: &[f64], window: usize) -> Vec<f64> {
    // Plain loops: closures would be compiled apart, without the caller's
    // target feature.
    let weight = 1.0 / window as f64;
    let n = values.len() as isize;
    let left = (window / 2) as isize;
    let mut out = Vec::with_capacity(values.len());
    for i in 0..n {
        let lo = (i - left).max(0) as usize;
        let hi = (i - left + window as isize - 1).min(n - 1) as usize;
        let mut acc = 0.0;
        for &v in &values[lo..=hi] {
            acc = v.mul_add(weight, acc);
        }
        out.push(acc);
    }
    out
}

fn peak_index(abs: &[f64], config: &RoiConfig) -> usize {
    if abs.len() > config.min_points_for_smoothing && config.smoothing_window > 0 {
        argmax(&moving_average_same(abs, config.smoothing_window))
    } else {
        argmax(abs)
    }
}

fn dynamic_radius(abs: &[f64], peak: usize, config: &RoiConfig) -> usize {
    let threshold = abs[peak] * config.height_ratio;
    let left = (0..peak).rev().find(|&i| abs[i] < threshold).unwrap_or(0);
    let right = (peak + 1..abs.len())
        .find(|&i| abs[i] < threshold)
        .unwrap_or(abs.len() - 1);
    let mean_half_width = ((peak - left) + (right - peak)) as f64 / 2.0;
    let radius = (mean_half_width * config.width_multiplier) as usize;
    if radius < config.min_radius {
        let fallback = (abs.len() as f64 * config.default_radius_fraction) as usize;
        fallback.max(config.min_radius)
    } else {
        radius
    }
}

/// The reference daemon's `extract_peak_roi_mask`, as an index range.
pub fn peak_roi(y: &[f64], mode: RoiMode, config: &RoiConfig) -> Result<RoiRange, FitError> {
    if y.is_empty() {
        return Err(FitError::Empty);
    }
    check_finite("y", y)?;
    if let RoiMode::FixedPercent(p) = mode {
        if !p.is_finite() {
            return Err(FitError::InvalidArgument(format!(
                "ROI percent {p} is not finite"
            )));
        }
    }
    let abs: Vec<f64> = y.iter().map(|v| v.abs()).collect();
    let total = abs.len();
    let peak = peak_index(&abs, config);

    let (mut radius, percent) = match mode {
        RoiMode::FixedPercent(p) => ((total as f64 * (p / 100.0)) as usize, p),
        RoiMode::Dynamic => {
            let r = dynamic_radius(&abs, peak, config);
            (r, r as f64 / total as f64 * 100.0)
        }
    };
    if percent < config.min_roi_percent {
        radius = (total as f64 * (config.min_roi_percent / 100.0)) as usize;
    }
    radius = radius.max(2);
    let shift_buffer = if total > config.min_points_for_smoothing {
        config.smoothing_window / 2
    } else {
        0
    };
    radius = radius.max(shift_buffer + 2);
    Ok(RoiRange {
        start: peak.saturating_sub(radius),
        end: peak.saturating_add(radius).min(total - 1),
        peak,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamic_roi_is_three_half_widths() {
        // A box 9 wide at indices 45..=53 on 100 points.
        let mut y = vec![0.0; 100];
        for v in &mut y[45..=53] {
            *v = 10.0;
        }
        let roi = peak_roi(&y, RoiMode::Dynamic, &RoiConfig::default()).unwrap();
        // The moving average ties over 46..=52; numpy's argmax takes the first.
        assert_eq!(roi.peak, 46);
        // Bounds 44 and 54 -> half-widths 2 and 8 -> radius 3 * 5 = 15.
        assert_eq!((roi.start, roi.end), (31, 61));
    }

    #[test]
    fn fixed_percent_and_minimums() {
        let y: Vec<f64> = (0..1000)
            .map(|i| if i == 500 { -5.0 } else { 0.1 })
            .collect();
        let roi = peak_roi(&y, RoiMode::FixedPercent(10.0), &RoiConfig::default()).unwrap();
        assert_eq!((roi.start, roi.end), (roi.peak - 100, roi.peak + 100));
        let tiny = peak_roi(&y, RoiMode::FixedPercent(0.01), &RoiConfig::default()).unwrap();
        // 0.25 % of 1000 = 2, raised to the smoothing buffer 7 + 2.
        assert_eq!(tiny.end - tiny.start, 18);
    }

    #[test]
    fn short_traces_and_bad_input() {
        let roi = peak_roi(&[1.0, 3.0, 2.0], RoiMode::Dynamic, &RoiConfig::default()).unwrap();
        assert_eq!((roi.start, roi.end, roi.peak), (0, 2, 1));
        assert_eq!(
            peak_roi(&[], RoiMode::Dynamic, &RoiConfig::default()),
            Err(FitError::Empty)
        );
        assert!(peak_roi(
            &[1.0],
            RoiMode::FixedPercent(f64::INFINITY),
            &RoiConfig::default()
        )
        .is_err());
        assert_eq!(RoiMode::from_percent(f64::NAN), RoiMode::Dynamic);
        assert_eq!(RoiMode::from_percent(0.0), RoiMode::Dynamic);
    }
}
