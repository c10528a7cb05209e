//! The two views' numbers (pure): each step reduced to a profile point by
//! the daemon's own pipeline (`fitting::step_metrics`), the smoothed ROI
//! traces, the k-means filter and the Gaussian fit of the selected points,
//! all under the reference's controls.

use crate::scan_file::ScanData;
use fitting::{
    fit_gaussian, normalize, savgol_smooth, separate_signal_noise, step_metrics, GaussianFit,
    KMeansConfig, RoiMode,
};
use std::collections::BTreeSet;

/// The reference's controls.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// ROI half-width as % of the trace; 0 = automatic (from the peak).
    pub roi_percent: f64,
    /// First step shown (1-based position in the file's step list).
    pub first: usize,
    /// Last step shown (inclusive; clamped to the steps there are).
    pub last: usize,
    /// Divide each trace by its step's BCM current.
    pub normalize: bool,
    /// Subtract each step's first-BPM reading from its positions.
    pub offset: bool,
    /// Keep only the k-means signal cluster of the profile points.
    pub filter: bool,
}

impl Settings {
    /// Everything shown, automatic ROI, no corrections.
    pub fn all(steps: usize) -> Self {
        Self {
            roi_percent: 0.0,
            first: 1,
            last: steps,
            normalize: false,
            offset: false,
            filter: false,
        }
    }
}

/// One step as a point of the profile.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfilePoint {
    /// The step number (`scan_007` -> 7), the point's label.
    pub step: usize,
    /// Centroid of the smoothed ROI (mm).
    pub centroid: f64,
    /// Integral of the smoothed ROI (V*mm).
    pub integral: f64,
    /// In the fit (not toggled off by the user).
    pub selected: bool,
}

/// One step's smoothed ROI trace.
#[derive(Debug, Clone, PartialEq)]
pub struct RoiTrace {
    /// The step number.
    pub step: usize,
    /// Positions in the ROI.
    pub x: Vec<f64>,
    /// The smoothed trace there.
    pub y: Vec<f64>,
    /// Where |y| peaks (the label's place).
    pub peak: (f64, f64),
}

/// Everything both views show.
#[derive(Debug, Clone)]
pub struct Profile {
    /// The profile points in step order (after the filter).
    pub points: Vec<ProfilePoint>,
    /// The ROI traces of the steps shown.
    pub traces: Vec<RoiTrace>,
    /// The fit of the selected points, or why there is none.
    pub fit: Result<GaussianFit, String>,
    /// The fit curve (500 points over the selected centroids).
    pub curve: Vec<(f64, f64)>,
    /// Steps shown but without a point, with why.
    pub skipped: Vec<(usize, String)>,
}

/// The views' numbers for `data` under `settings`; the steps in
/// `deselected` stay visible but out of the fit.
pub fn analyse(data: &ScanData, settings: &Settings, deselected: &BTreeSet<usize>) -> Profile {
    let first = settings.first.max(1);
    let last = settings.last.min(data.steps.len());
    let mode = RoiMode::from_percent(settings.roi_percent);
    let mut points = Vec::new();
    let mut traces = Vec::new();
    let mut skipped = Vec::new();
    for step in data.steps.iter().take(last).skip(first - 1) {
        let n = step.x.len().min(step.y.len());
        let x: Vec<f64> = if settings.offset {
            step.x[..n].iter().map(|v| v - step.offset).collect()
        } else {
            step.x[..n].to_vec()
        };
        let y = if settings.normalize {
            match normalize(&step.y[..n], step.norm) {
                Ok(y) => y,
                Err(e) => {
                    skipped.push((step.number, format!("normalisation: {e}")));
                    continue;
                }
            }
        } else {
            step.y[..n].to_vec()
        };
        let metrics = match step_metrics(&x, &y, mode) {
            Ok(m) if m.integral.is_finite() && m.centroid.is_finite() => m,
            Ok(_) => {
                skipped.push((step.number, "non-finite integral or centroid".into()));
                continue;
            }
            Err(e) => {
                skipped.push((step.number, e.to_string()));
                continue;
            }
        };
        let roi = metrics.roi.indices();
        if let Ok(smooth) = savgol_smooth(&y[roi.clone()]) {
            let roi_x = x[roi].to_vec();
            let at = smooth.iter().enumerate().fold(0, |best, (i, v)| {
                if v.abs() > smooth[best].abs() {
                    i
                } else {
                    best
                }
            });
            traces.push(RoiTrace {
                step: step.number,
                peak: (roi_x[at], smooth[at]),
                x: roi_x,
                y: smooth,
            });
        }
        points.push(ProfilePoint {
            step: step.number,
            centroid: metrics.centroid,
            integral: metrics.integral,
            selected: !deselected.contains(&step.number),
        });
    }
    if settings.filter && points.len() > 2 {
        let integrals: Vec<f64> = points.iter().map(|p| p.integral).collect();
        if let Ok(signal) = separate_signal_noise(&integrals, &KMeansConfig::default()) {
            let mut keep = signal.into_iter();
            points.retain(|_| keep.next().unwrap_or(false));
        }
    }
    let (x, y): (Vec<f64>, Vec<f64>) = points
        .iter()
        .filter(|p| p.selected)
        .map(|p| (p.centroid, p.integral))
        .unzip();
    let (fit, curve) = if x.len() < fitting::MIN_POINTS {
        (
            Err(format!(
                "{} selected points: a fit needs {}",
                x.len(),
                fitting::MIN_POINTS
            )),
            Vec::new(),
        )
    } else {
        match fit_gaussian(&x, &y) {
            Ok(fit) => {
                // The daemon's own curve: 500 points over the fitted x.
                let (xs, ys) = fit.curve(&x);
                (Ok(fit), xs.into_iter().zip(ys).collect())
            }
            Err(e) => (Err(format!("fit failed: {e}")), Vec::new()),
        }
    };
    Profile {
        points,
        traces,
        fit,
        curve,
        skipped,
    }
}

/// The parameter box's text: Amp, Mean, Sigma, FWHM with standard errors
/// and units in aligned columns, or why there is no fit.
pub fn parameter_text(fit: &Result<GaussianFit, String>) -> Vec<String> {
    match fit {
        Err(why) => vec![why.clone()],
        Ok(f) => crate::format::aligned(&crate::format::parameter_lines(f)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parameter_box_has_units_and_no_negative_zero() {
        // A beam centred a hair left of 0: the fitted mean is about -1e-7 mm.
        let x = fitting::linspace(-6.0, 6.0, 21);
        let y: Vec<f64> = x
            .iter()
            .map(|&v| fitting::gaussian(v, 44.0, -1e-7, 1.7, 0.0))
            .collect();
        let fit = fitting::fit_gaussian(&x, &y).map_err(|e| e.to_string());
        assert!(fit.as_ref().is_ok_and(|f| f.params.mean < 0.0));
        let text = parameter_text(&fit);
        assert_eq!(text.len(), 4, "{text:?}");
        assert!(
            text[0].starts_with("Amp ") && text[0].ends_with(" V*mm"),
            "{text:?}"
        );
        assert!(text[0].contains(" ± "), "with its standard error: {text:?}");
        assert!(
            text[1].starts_with("Mean ") && text[1].ends_with(" mm"),
            "{text:?}"
        );
        assert!(text[1].contains(" 0.0000 "), "{text:?}");
        assert!(!text.iter().any(|t| t.contains("-0.0000")), "{text:?}");
        assert!(text[2].starts_with("Sigma ") && text[2].contains(" 1.7000 "));
        assert!(text[3].starts_with("FWHM ") && text[3].ends_with(" mm"));
        assert_eq!(
            parameter_text(&Err("4 selected points: a fit needs 5".into())),
            ["4 selected points: a fit needs 5"]
        );
    }
}
