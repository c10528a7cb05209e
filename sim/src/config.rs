//! The simulator's settings: the beam, the sweep, the faults (a YAML file
//! given with `--sim-config`; every field has a default).

use serde::Deserialize;
use thiserror::Error;

/// A simulator setting file could not be used.
#[derive(Debug, Error)]
#[error("simulator settings: {0}")]
pub struct SimConfigError(pub String);

/// Everything the simulator can be told.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    /// The beam the wire crosses.
    pub beam: BeamModel,
    /// How long a sweep takes, seconds (0: it ends at once).
    pub sweep_seconds: f64,
    /// Samples per struck trace (and per InterpolatedPosCh1/Ch2 array).
    pub trace_samples: usize,
    /// Wire travel covered by one trace, mm, centred on the interaction
    /// position.
    pub trace_span_mm: f64,
    /// Width (sigma) of the beam pulse's signal along the trace, mm.
    pub pulse_sigma_mm: f64,
    /// Faults to inject.
    pub faults: Faults,
}

/// A Gaussian transverse beam profile with detector noise.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BeamModel {
    /// Profile centre, mm.
    pub mean: f64,
    /// Profile sigma, mm.
    pub sigma: f64,
    /// Peak signal at the centre, V (the default, 50, gives profile
    /// integrals above the reference filter's floor of 3).
    pub amplitude: f64,
    /// Constant detector offset, V.
    pub background: f64,
    /// Gaussian noise per sample, V (standard deviation).
    pub noise: f64,
    /// Noise seed: the same seed and sweeps give the same traces.
    pub seed: u64,
}

/// Injected faults; sweeps are counted from 1 since the simulator started.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Sweeps that end with ScanStatus = `failure_code`.
    pub failing_sweeps: Vec<u64>,
    /// The ScanStatus code of a failing sweep (1: IOPS Failure Detected).
    pub failure_code: i64,
    /// Sweeps that never end (RunHardScan stays 1).
    pub hanging_sweeps: Vec<u64>,
    /// PV names (full, or suffixes after the prefix) that are never served,
    /// as if their IOC were disconnected.
    pub unreachable_pvs: Vec<String>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            beam: BeamModel::default(),
            sweep_seconds: 0.05,
            trace_samples: 1000,
            trace_span_mm: 20.0,
            pulse_sigma_mm: 0.4,
            faults: Faults::default(),
        }
    }
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            failing_sweeps: Vec::new(),
            failure_code: 1,
            hanging_sweeps: Vec::new(),
            unreachable_pvs: Vec::new(),
        }
    }
}

impl Default for BeamModel {
    fn default() -> Self {
        Self {
            mean: 0.0,
            sigma: 1.7,
            amplitude: 50.0,
            background: 0.0,
            noise: 0.002,
            seed: 1,
        }
    }
}

impl SimConfig {
    /// Parses and checks a settings file's text.
    pub fn from_yaml(text: &str) -> Result<Self, SimConfigError> {
        let config: SimConfig =
            serde_yaml::from_str(text).map_err(|e| SimConfigError(e.to_string()))?;
        config.check()?;
        Ok(config)
    }

    /// Reads a settings file.
    pub fn load(path: &std::path::Path) -> Result<Self, SimConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| SimConfigError(format!("{}: {e}", path.display())))?;
        Self::from_yaml(&text).map_err(|e| SimConfigError(format!("{}: {}", path.display(), e.0)))
    }

    /// Physical sense: positive widths and counts, finite numbers.
    pub fn check(&self) -> Result<(), SimConfigError> {
        let b = &self.beam;
        let finite = [
            b.mean,
            b.sigma,
            b.amplitude,
            b.background,
            b.noise,
            self.sweep_seconds,
            self.trace_span_mm,
            self.pulse_sigma_mm,
        ]
        .iter()
        .all(|v| v.is_finite());
        let problem = if !finite {
            Some("every number must be finite")
        } else if b.sigma <= 0.0 || self.pulse_sigma_mm <= 0.0 || self.trace_span_mm <= 0.0 {
            Some("beam.sigma, pulse_sigma_mm and trace_span_mm must be > 0")
        } else if b.noise < 0.0 || self.sweep_seconds < 0.0 {
            Some("beam.noise and sweep_seconds must be >= 0")
        } else if !(1..=4).contains(&self.faults.failure_code) {
            Some("faults.failure_code must be a ScanStatus error code, 1..4")
        } else if !(2..=1_000_000).contains(&self.trace_samples) {
            Some("trace_samples must be within 2..1000000")
        } else {
            None
        };
        match problem {
            Some(p) => Err(SimConfigError(p.into())),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let c = SimConfig::from_yaml("beam: {sigma: 2.5, seed: 7}\nsweep_seconds: 0").unwrap();
        assert_eq!(c.beam.sigma, 2.5);
        assert_eq!(c.beam.seed, 7);
        assert_eq!(c.beam.amplitude, 50.0);
        assert_eq!(c.sweep_seconds, 0.0);
        assert!(SimConfig::from_yaml("beam: {sigma: 0}").is_err());
        assert!(SimConfig::from_yaml("bogus: 1").is_err());
        assert!(SimConfig::from_yaml("trace_samples: 1").is_err());
    }
}
