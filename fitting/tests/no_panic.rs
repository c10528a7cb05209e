//! Arbitrary input never panics: every public routine returns a value or a
//! typed error, and values it returns keep their invariants.

use fitting::{
    centroid, fit_erfc, fit_gaussian, normalize, peak_roi, savgol_filter, savgol_smooth,
    separate_signal_noise, step_metrics, trapezoid, KMeansConfig, RoiConfig, RoiMode,
};
use proptest::prelude::*;

/// Any f64 at all, weighted towards the awkward ones.
fn any_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => -1e3..1e3f64,
        1 => prop::num::f64::ANY,
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(0.0),
        1 => prop_oneof![Just(1e308), Just(-1e308), Just(1e-308), Just(5e-324)],
    ]
}

fn series(max: usize) -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(any_value(), 0..max)
}

/// Equal-length finite data with a peak somewhere, to exercise the solver
/// rather than only the input checks.
fn peaked() -> impl Strategy<Value = (Vec<f64>, Vec<f64>)> {
    (
        5usize..60,
        -1e3..1e3f64,
        1e-3..1e3f64,
        -1e4..1e4f64,
        1e-4..1e2f64,
        -1e2..1e2f64,
        any::<u64>(),
    )
        .prop_map(|(n, center, width, amp, sigma, offset, seed)| {
            let x = fitting::linspace(center - width, center + width, n);
            let mut state = seed | 1;
            let y = x
                .iter()
                .map(|&v| {
                    // xorshift noise: deterministic per case.
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    let noise = (state % 2001) as f64 / 1000.0 - 1.0;
                    fitting::gaussian(v, amp, center, sigma, offset) + noise * amp.abs() * 0.1
                })
                .collect();
            (x, y)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn gaussian_fit_on_arbitrary_input(x in series(40), y in series(40)) {
        if let Ok(fit) = fit_gaussian(&x, &y) {
            prop_assert!(fit.params.amplitude >= 0.0);
            prop_assert!(fit.params.sigma >= 1e-6);
        }
    }

    #[test]
    fn gaussian_fit_on_peaked_data((x, y) in peaked()) {
        let fit = fit_gaussian(&x, &y);
        prop_assert!(fit.is_ok(), "{:?}", fit);
        let fit = fit.unwrap();
        prop_assert!(fit.params.amplitude >= 0.0 && fit.params.sigma >= 1e-6);
        prop_assert!(fit.evaluations <= fitting::MAX_EVALUATIONS + 1);
        let start: f64 = x.iter().zip(&y).map(|(&a, &b)| (fit.initial.eval(a) - b).powi(2)).sum();
        prop_assert!(fit.quality.ssr <= start * (1.0 + 1e-12));
    }

    #[test]
    fn erfc_fit_on_arbitrary_input(x in series(30), y in series(30), p in prop::array::uniform4(any_value())) {
        let _ = fit_erfc(&x, &y, Some(p));
        let _ = fit_erfc(&x, &y, None);
    }

    #[test]
    fn signal_processing_on_arbitrary_input(x in series(80), y in series(80), pct in any_value()) {
        let mode = RoiMode::from_percent(pct);
        if let Ok(roi) = peak_roi(&y, mode, &RoiConfig::default()) {
            prop_assert!(roi.start <= roi.peak && roi.peak <= roi.end && roi.end < y.len());
        }
        let _ = step_metrics(&x, &y, mode);
        let _ = trapezoid(&x, &y);
        let _ = centroid(&x, &y);
        let _ = normalize(&y, pct);
        let _ = savgol_smooth(&y);
        let _ = savgol_filter(&y, 11, 2);
        if let Ok(mask) = separate_signal_noise(&y, &KMeansConfig::default()) {
            prop_assert_eq!(mask.len(), y.len());
        }
    }

    #[test]
    fn savgol_windows_are_validated(y in series(30), window in 0usize..40, order in 0usize..12) {
        if let Ok(out) = savgol_filter(&y, window, order) {
            prop_assert_eq!(out.len(), y.len());
        }
    }
}
