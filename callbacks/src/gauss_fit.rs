//! The live Gaussian fit (spec section 7), as the reference computes it:
//! each step reduces every channel's sweep to a (centroid, integral) point;
//! the points so far are fitted raw and k-means filtered; the results are
//! published on the fit PVs and added to the step as typed results (one
//! [`Analysis`] per channel and twin, filed in the step's `scan` group).
//!
//! Beyond the reference, each fit also publishes the standard errors of
//! amplitude, mean and sigma, the reduced chi-square and a fit-ok flag.

use crate::Publish;
use async_trait::async_trait;
use fitting::{fit_gaussian, separate_signal_noise, step_metrics, KMeansConfig, RoiMode};
use rayon::prelude::*;
use runner::Value;
use runner::{Analysis, CallbackError, Quantity, StepCallback, StepContext, StepData};
use std::sync::Arc;

/// The struck channels the fit reads (the station's one list).
pub use station::CHANNELS as FIT_CHANNELS;

/// The [`Analysis::source`] of the live fit's results.
pub const GAUSS_FIT_SOURCE: &str = "gauss-fit";

/// The file group the fit's results are recorded in (the reference's).
pub const FIT_GROUP: &str = "scan";

/// The [`Analysis::subject`] of a channel's fit: the channel (`H-PDB`), or
/// `H-PDB-F` for its filtered twin.
pub fn fit_subject(channel: &str, filtered: bool) -> String {
    let twin = if filtered { "-F" } else { "" };
    format!("{channel}{twin}")
}

/// Fewest history points for a fit (the reference's).
const MIN_POINTS: usize = fitting::MIN_POINTS;

/// One published quantity of a channel's fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FitQuantity {
    /// Integral history (array).
    Integral,
    /// Centroid history (array).
    IntPos,
    /// Fit curve, y (array of 500).
    GaussFit,
    /// Fit curve, x (array of 500).
    FitPos,
    /// Amplitude.
    Amp,
    /// Mean.
    Mean,
    /// Sigma.
    Sigma,
    /// Full width at half maximum.
    Fwhm,
    /// Ours: standard error of the amplitude.
    AmpErr,
    /// Ours: standard error of the mean.
    MeanErr,
    /// Ours: standard error of sigma.
    SigmaErr,
    /// Ours: reduced chi-square.
    RedChi2,
    /// Ours: 1 when the fit converged with a peak (amplitude above 0).
    FitOk,
}

/// The unit of a profile's integrals (a trace in V over positions in mm),
/// of the Gaussian's amplitude and of its curve; fws-plot uses the same.
pub const PROFILE_UNIT: &str = "V*mm";

impl FitQuantity {
    /// Every quantity, the reference's eight first.
    pub const ALL: [FitQuantity; 13] = [
        Self::Integral,
        Self::IntPos,
        Self::GaussFit,
        Self::FitPos,
        Self::Amp,
        Self::Mean,
        Self::Sigma,
        Self::Fwhm,
        Self::AmpErr,
        Self::MeanErr,
        Self::SigmaErr,
        Self::RedChi2,
        Self::FitOk,
    ];

    /// The PV name part (`<main><channel>-<suffix>`).
    pub fn suffix(self) -> &'static str {
        match self {
            Self::Integral => "Integral",
            Self::IntPos => "IntPos",
            Self::GaussFit => "GaussFit",
            Self::FitPos => "FitPos",
            Self::Amp => "Amp",
            Self::Mean => "Mean",
            Self::Sigma => "Sigma",
            Self::Fwhm => "FWHM",
            Self::AmpErr => "AmpErr",
            Self::MeanErr => "MeanErr",
            Self::SigmaErr => "SigmaErr",
            Self::RedChi2 => "RedChi2",
            Self::FitOk => "FitOk",
        }
    }

    /// An array (else a scalar).
    pub fn is_array(self) -> bool {
        matches!(
            self,
            Self::Integral | Self::IntPos | Self::GaussFit | Self::FitPos
        )
    }

    /// The unit: "mm" when the name holds Pos, Sigma, FWHM or Mean (as the
    /// reference), else "V*mm": the profile's points are integrals of a
    /// trace in V over positions in mm, and so are the Gaussian's amplitude
    /// and curve (the reference said "V"; fws-plot, its CSV, the PVs and the
    /// file now agree); none for our unitless extras.
    pub fn egu(self) -> Option<&'static str> {
        match self {
            Self::RedChi2 | Self::FitOk => None,
            other => {
                let name = other.suffix();
                Some(
                    if ["Pos", "Sigma", "FWHM", "Mean"]
                        .iter()
                        .any(|s| name.contains(s))
                    {
                        "mm"
                    } else {
                        PROFILE_UNIT
                    },
                )
            }
        }
    }

    /// The PV name under the main prefix: `V-PDR-Sigma`, or `V-PDR-Sigma-F`
    /// for the filtered twin.
    pub fn pv_name(self, channel: &str, filtered: bool) -> String {
        let twin = if filtered { "-F" } else { "" };
        format!("{channel}-{}{twin}", self.suffix())
    }
}

/// What one fit publishes.
#[derive(Debug, Clone, PartialEq)]
struct FitOutput {
    curve_x: Vec<f64>,
    curve_y: Vec<f64>,
    amp: f64,
    mean: f64,
    sigma: f64,
    fwhm: f64,
    amp_err: f64,
    mean_err: f64,
    sigma_err: f64,
    red_chi2: f64,
    ok: bool,
}

impl FitOutput {
    /// Empty arrays and zeros: no fit (the reference's reset values).
    fn none() -> Self {
        Self {
            curve_x: Vec::new(),
            curve_y: Vec::new(),
            amp: 0.0,
            mean: 0.0,
            sigma: 0.0,
            fwhm: 0.0,
            amp_err: 0.0,
            mean_err: 0.0,
            sigma_err: 0.0,
            red_chi2: 0.0,
            ok: false,
        }
    }

    /// The fit of `y` against `x` when there are enough points and it
    /// succeeds with finite parameters (the reference's rule), else none.
    fn of(x: &[f64], y: &[f64]) -> Self {
        if x.len() < MIN_POINTS {
            return Self::none();
        }
        let fit = match fit_gaussian(x, y) {
            Ok(fit) => fit,
            Err(e) => {
                tracing::debug!("no Gaussian fit: {e}");
                return Self::none();
            }
        };
        let p = fit.params;
        if ![p.amplitude, p.mean, p.sigma, p.offset]
            .iter()
            .all(|v| v.is_finite())
        {
            return Self::none();
        }
        let (curve_x, curve_y) = fit.curve(x);
        Self {
            curve_x,
            curve_y,
            amp: p.amplitude,
            mean: p.mean,
            sigma: p.sigma,
            fwhm: fit.fwhm,
            amp_err: fit.errors.amplitude.unwrap_or(0.0),
            mean_err: fit.errors.mean.unwrap_or(0.0),
            sigma_err: fit.errors.sigma.unwrap_or(0.0),
            red_chi2: fit.quality.reduced_chi_square.unwrap_or(0.0),
            ok: fit.converged && !fit.amplitude_at_bound,
        }
    }
}

/// A channel's history and its two fits, as published.
#[derive(Debug, Clone, Default, PartialEq)]
struct ChannelState {
    centroids: Vec<f64>,
    integrals: Vec<f64>,
}

impl ChannelState {
    /// Every value of one twin (raw or filtered), fitted now.
    fn values(&self, filtered: bool) -> Vec<(FitQuantity, Value)> {
        let (x, y) = if filtered {
            let signal = separate_signal_noise(&self.integrals, &KMeansConfig::default())
                .unwrap_or_else(|e| {
                    tracing::debug!("no k-means separation: {e}");
                    vec![false; self.integrals.len()]
                });
            let pick = |v: &[f64]| -> Vec<f64> {
                v.iter()
                    .zip(&signal)
                    .filter(|(_, &keep)| keep)
                    .map(|(&v, _)| v)
                    .collect()
            };
            (pick(&self.centroids), pick(&self.integrals))
        } else {
            (self.centroids.clone(), self.integrals.clone())
        };
        let fit = FitOutput::of(&x, &y);
        quantities(x, y, fit)
    }
}

fn quantities(x: Vec<f64>, y: Vec<f64>, fit: FitOutput) -> Vec<(FitQuantity, Value)> {
    use FitQuantity::*;
    vec![
        (Integral, Value::Doubles(y)),
        (IntPos, Value::Doubles(x)),
        (GaussFit, Value::Doubles(fit.curve_y)),
        (FitPos, Value::Doubles(fit.curve_x)),
        (Amp, Value::Double(fit.amp)),
        (Mean, Value::Double(fit.mean)),
        (Sigma, Value::Double(fit.sigma)),
        (Fwhm, Value::Double(fit.fwhm)),
        (AmpErr, Value::Double(fit.amp_err)),
        (MeanErr, Value::Double(fit.mean_err)),
        (SigmaErr, Value::Double(fit.sigma_err)),
        (RedChi2, Value::Double(fit.red_chi2)),
        (FitOk, Value::Long(i64::from(fit.ok))),
    ]
}

/// Where a step's inputs are: the position array and each channel's
/// traces, matched as the reference matches them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FitInputs {
    /// `{scan}InterpolatedPosCh1`.
    pub position: String,
    /// The group holding the traces (`struck`).
    pub traces_group: String,
}

/// The Gauss-fit callback: optional (a failure is logged, the scan goes on).
pub struct GaussFitCallback {
    main: String,
    inputs: FitInputs,
    channels: Vec<ChannelState>,
    publish: Arc<dyn Publish>,
}

impl GaussFitCallback {
    /// A callback publishing through `publish`; `main` is the daemon's prefix
    /// (for the names stored in the file).
    pub fn new(main: &str, inputs: FitInputs, publish: Arc<dyn Publish>) -> Self {
        Self {
            main: main.to_string(),
            inputs,
            channels: vec![ChannelState::default(); FIT_CHANNELS.len()],
            publish,
        }
    }

    /// Empty histories, and empty arrays and zeros on every fit PV.
    fn reset(&mut self) {
        for (channel, state) in FIT_CHANNELS.iter().zip(&mut self.channels) {
            *state = ChannelState::default();
            for filtered in [false, true] {
                for (quantity, value) in quantities(Vec::new(), Vec::new(), FitOutput::none()) {
                    self.publish
                        .publish(&quantity.pv_name(channel, filtered), value);
                }
            }
        }
    }
}

/// The channel's trace: TRC2 preferred over TRC1, matched by substring as
/// the reference does, so sites' trace names need not follow ours exactly.
fn trace<'a>(data: &'a StepData, group: &str, channel: &str) -> Option<&'a [f64]> {
    let records = data.groups.get(group)?;
    ["TRC2", "TRC1"].iter().find_map(|kind| {
        records.iter().find_map(|r| match &r.value {
            Value::Doubles(v) if r.name.contains(channel) && r.name.contains(kind) => {
                Some(v.as_slice())
            }
            _ => None,
        })
    })
}

#[async_trait]
impl StepCallback for GaussFitCallback {
    fn name(&self) -> &str {
        GAUSS_FIT_SOURCE
    }

    async fn pre_step(&mut self, ctx: &StepContext) -> Result<(), CallbackError> {
        if ctx.index == 0 {
            self.reset();
        }
        Ok(())
    }

    async fn post_step(
        &mut self,
        ctx: &StepContext,
        data: &mut StepData,
    ) -> Result<(), CallbackError> {
        let read: &StepData = data;
        let x = match read.find("scan", &self.inputs.position).map(|r| &r.value) {
            Some(Value::Doubles(x)) => x,
            _ => {
                return Err(CallbackError(format!(
                    "step {}: no {} array to fit against",
                    ctx.index + 1,
                    self.inputs.position
                )))
            }
        };
        // Up to 8 traces of 100k samples: milliseconds of CPU each.
        let results = cpu_bound(|| self.fit_step(ctx, read, x));
        for analysis in results {
            data.add_analysis(analysis);
        }
        Ok(())
    }
}

/// Runs CPU-heavy `work` without holding up the other tasks of its async
/// worker (tokio hands them to another worker); inline on a single-threaded
/// runtime, where that is not possible.
fn cpu_bound<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}

impl GaussFitCallback {
    /// The step's profile points and fits, published; returns them as the
    /// step's results: per channel with a trace, its fit and its twin's,
    /// each quantity filed under its PV's full name.
    fn fit_step(&mut self, ctx: &StepContext, data: &StepData, x: &[f64]) -> Vec<Analysis> {
        let mut results = Vec::new();
        // The channels' profile points are independent: computed on every
        // core at once, then taken in channel order.
        let group = &self.inputs.traces_group;
        let metrics: Vec<_> = FIT_CHANNELS
            .par_iter()
            .map(|channel| {
                let y = trace(data, group, channel)?;
                let n = x.len().min(y.len());
                Some(step_metrics(&x[..n], &y[..n], RoiMode::Dynamic))
            })
            .collect();
        for ((channel, state), metrics) in FIT_CHANNELS.iter().zip(&mut self.channels).zip(metrics)
        {
            let metrics = match metrics {
                None => continue,
                Some(Ok(m)) => m,
                Some(Err(e)) => {
                    tracing::debug!(channel, step = ctx.index + 1, "no profile point: {e}");
                    continue;
                }
            };
            state.centroids.push(metrics.centroid);
            state.integrals.push(metrics.integral);
            for filtered in [false, true] {
                let quantities = state
                    .values(filtered)
                    .into_iter()
                    .map(|(quantity, value)| {
                        let name = quantity.pv_name(channel, filtered);
                        self.publish.publish(&name, value.clone());
                        Quantity {
                            name: quantity.suffix().to_string(),
                            record: format!("{}{name}", self.main),
                            value,
                            egu: quantity.egu().map(str::to_string),
                        }
                    })
                    .collect();
                results.push(Analysis {
                    source: GAUSS_FIT_SOURCE.to_string(),
                    subject: fit_subject(channel, filtered),
                    group: FIT_GROUP.to_string(),
                    quantities,
                });
            }
        }
        results
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runner::PvRecord;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Published(Mutex<Vec<(String, Value)>>);

    impl Publish for Published {
        fn publish(&self, name: &str, value: Value) {
            self.0.lock().unwrap().push((name.to_string(), value));
        }
    }

    impl Published {
        fn last(&self, name: &str) -> Option<Value> {
            let all = self.0.lock().unwrap();
            all.iter()
                .rev()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        }
    }

    fn double(v: Option<Value>) -> f64 {
        match v {
            Some(Value::Double(v)) => v,
            other => panic!("{other:?}"),
        }
    }

    /// A sweep at `at` mm of a beam (mean 0.3, sigma 1.2) seen by H-PDB.
    fn step_at(at: f64) -> StepData {
        let x = fitting::linspace(at - 10.0, at + 10.0, 400);
        let height = 50.0 * (-(at - 0.3) * (at - 0.3) / (2.0 * 1.2 * 1.2)).exp();
        let y: Vec<f64> = x
            .iter()
            .map(|&v| fitting::gaussian(v, height, at, 0.4, 0.0))
            .collect();
        let mut data = StepData::default();
        data.push(
            "scan",
            PvRecord {
                name: "Test:SCAN:InterpolatedPosCh1".into(),
                value: Value::Doubles(x),
                egu: Some("mm".into()),
            },
        );
        for kind in ["TRC1", "TRC2"] {
            let scale = if kind == "TRC2" { 1.0 } else { 100.0 };
            data.push(
                "struck",
                PvRecord {
                    name: format!("Test:STRUCK:H-PDB-{kind}-ArrayData"),
                    value: Value::Doubles(y.iter().map(|v| v * scale).collect()),
                    egu: Some("V".into()),
                },
            );
        }
        data
    }

    fn callback(published: &Arc<Published>) -> GaussFitCallback {
        GaussFitCallback::new(
            "Test:SCAN:DMN-",
            FitInputs {
                position: "Test:SCAN:InterpolatedPosCh1".into(),
                traces_group: "struck".into(),
            },
            published.clone(),
        )
    }

    fn ctx(index: usize) -> StepContext {
        StepContext {
            index,
            total: 9,
            positions: vec![],
            elapsed: std::time::Duration::ZERO,
        }
    }

    #[tokio::test]
    async fn a_scan_of_a_gaussian_beam_recovers_it_raw_and_filtered() {
        let published = Arc::new(Published::default());
        let mut cb = callback(&published);
        let positions = fitting::linspace(-4.0, 4.0, 9);
        let mut last = StepData::default();
        for (i, &at) in positions.iter().enumerate() {
            cb.pre_step(&ctx(i)).await.unwrap();
            last = step_at(at);
            cb.post_step(&ctx(i), &mut last).await.unwrap();
            let fitted = double(published.last("H-PDB-Sigma")) != 0.0;
            assert_eq!(fitted, i + 1 >= 5, "a fit from the fifth point on");
        }
        for twin in ["", "-F"] {
            let get = |q: &str| double(published.last(&format!("H-PDB-{q}{twin}")));
            assert!((get("Mean") - 0.3).abs() < 1e-3, "{}", get("Mean"));
            // Each integral is the pulse's, scaled by the profile there.
            assert!((get("Sigma") - 1.2).abs() < 1e-3, "{}", get("Sigma"));
            assert!((get("FWHM") - 2.3548 * get("Sigma")).abs() < 1e-3);
            assert!(get("SigmaErr") >= 0.0 && get("SigmaErr") < 0.05);
            assert_eq!(
                published.last(&format!("H-PDB-FitOk{twin}")),
                Some(Value::Long(1))
            );
            match published.last(&format!("H-PDB-GaussFit{twin}")) {
                Some(Value::Doubles(c)) => assert_eq!(c.len(), fitting::CURVE_POINTS),
                other => panic!("{other:?}"),
            }
        }
        // TRC2 preferred: the 100x TRC1 copy would give integrals 100x larger.
        match published.last("H-PDB-Integral") {
            Some(Value::Doubles(h)) => {
                assert_eq!(h.len(), 9);
                assert!(h.iter().all(|&v| v < 50.0 * 0.4 * 2.6), "{h:?}");
            }
            other => panic!("{other:?}"),
        }
        // The step carries the results typed: by channel and twin, each
        // quantity by its name with the value published, its unit, and the
        // PV's full name to file it under in the scan group.
        for twin in ["", "-F"] {
            let fit = last
                .analysis_of(GAUSS_FIT_SOURCE, &format!("H-PDB{twin}"))
                .unwrap();
            assert_eq!(fit.group, "scan");
            let names: Vec<&str> = fit.quantities.iter().map(|q| q.name.as_str()).collect();
            let suffixes: Vec<&str> = FitQuantity::ALL.iter().map(|q| q.suffix()).collect();
            assert_eq!(names, suffixes, "every quantity, in the PVs' order");
            let sigma = fit.quantity("Sigma").unwrap();
            assert_eq!(sigma.record, format!("Test:SCAN:DMN-H-PDB-Sigma{twin}"));
            assert_eq!(sigma.egu.as_deref(), Some("mm"));
            assert_eq!(
                Some(sigma.value.clone()),
                published.last(&format!("H-PDB-Sigma{twin}"))
            );
            let amp = fit.quantity("Amp").unwrap();
            assert_eq!(amp.egu.as_deref(), Some(PROFILE_UNIT));
            assert_eq!(amp.record, format!("Test:SCAN:DMN-H-PDB-Amp{twin}"));
            assert!(fit.quantity("RedChi2").unwrap().egu.is_none());
            assert_eq!(fit.quantity("FitOk").unwrap().value, Value::Long(1));
            match &fit.quantity("IntPos").unwrap().value {
                // The twin's history holds the points k-means kept.
                Value::Doubles(h) if twin.is_empty() => assert_eq!(h.len(), 9),
                Value::Doubles(h) => assert!((5..=9).contains(&h.len()), "{h:?}"),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(last.analyses(GAUSS_FIT_SOURCE).count(), 2, "one channel");
        // Beside the records, not among them: the scan group holds only
        // what was read.
        assert_eq!(last.groups["scan"].len(), 1);
        assert!(last.find("scan", "Test:SCAN:DMN-H-PDB-Sigma").is_none());
        // Channels without traces give no result.
        assert!(last.analysis_of(GAUSS_FIT_SOURCE, "V-PDR").is_none());
    }

    #[tokio::test]
    async fn a_new_sequence_starts_from_empty_histories_and_zeros() {
        let published = Arc::new(Published::default());
        let mut cb = callback(&published);
        for i in 0..6 {
            cb.pre_step(&ctx(i)).await.unwrap();
            cb.post_step(&ctx(i), &mut step_at(i as f64 - 2.5))
                .await
                .unwrap();
        }
        assert_ne!(double(published.last("H-PDB-Sigma")), 0.0);
        cb.pre_step(&ctx(0)).await.unwrap();
        for channel in FIT_CHANNELS {
            for twin in [false, true] {
                for q in FitQuantity::ALL {
                    let value = published.last(&q.pv_name(channel, twin)).unwrap();
                    let empty = match value {
                        Value::Doubles(v) => v.is_empty(),
                        Value::Double(v) => v == 0.0,
                        Value::Long(v) => v == 0,
                        _ => false,
                    };
                    assert!(empty, "{} not reset", q.pv_name(channel, twin));
                }
            }
        }
        cb.post_step(&ctx(0), &mut step_at(0.0)).await.unwrap();
        match published.last("H-PDB-Integral") {
            Some(Value::Doubles(h)) => assert_eq!(h.len(), 1),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_step_without_positions_is_a_callback_error() {
        let published = Arc::new(Published::default());
        let mut cb = callback(&published);
        let err = cb
            .post_step(&ctx(2), &mut StepData::default())
            .await
            .unwrap_err();
        assert!(err.0.contains("step 3") && err.0.contains("InterpolatedPosCh1"));
    }

    #[test]
    fn names_and_units_follow_the_reference() {
        assert_eq!(FitQuantity::Fwhm.pv_name("V-PDR", true), "V-PDR-FWHM-F");
        let reference: Vec<_> = FitQuantity::ALL[..8]
            .iter()
            .map(|q| (q.suffix(), q.egu().unwrap()))
            .collect();
        assert_eq!(
            reference,
            [
                ("Integral", "V*mm"),
                ("IntPos", "mm"),
                ("GaussFit", "V*mm"),
                ("FitPos", "mm"),
                ("Amp", "V*mm"),
                ("Mean", "mm"),
                ("Sigma", "mm"),
                ("FWHM", "mm"),
            ]
        );
    }
}
