//! Station settings (`--config FILE`): data root, prefix overrides, PV
//! group files, timeouts. Every field is optional.

use planner::Prefixes;
use runner::RetryPolicy;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The settings file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Station {
    /// Where output files, autosave and extra PV-group files live.
    pub data_root: Option<PathBuf>,
    /// Prefix overrides (keys: scan, main, idc, struck, be, evr).
    pub prefixes: PrefixOverrides,
    /// Replacement default PV-group files (the reference's YAML format).
    pub pv_groups: PvGroupFiles,
    /// Timeouts and retries.
    pub timing: Timing,
    /// Most steps in one scan.
    pub max_steps: Option<u32>,
}

/// Prefix overrides.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[allow(missing_docs)]
pub struct PrefixOverrides {
    pub scan: Option<String>,
    pub main: Option<String>,
    pub idc: Option<String>,
    pub struck: Option<String>,
    pub be: Option<String>,
    pub evr: Option<String>,
}

/// Replacement PV-group files.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PvGroupFiles {
    /// Data groups (datasets).
    pub data: Option<PathBuf>,
    /// Metadata groups (step attributes).
    pub metadata: Option<PathBuf>,
}

/// Timeouts (seconds), retries and optional delays.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Timing {
    /// Wait for the first sweep of a sequence.
    pub first_sweep_s: f64,
    /// Wait for every later sweep.
    pub sweep_s: f64,
    /// Tries per step.
    pub attempts: u32,
    /// Pause between tries.
    pub retry_delay_s: f64,
    /// Pause after each move.
    pub settle_s: f64,
    /// Pause between steps.
    pub between_steps_s: f64,
    /// Per-PV read timeout of the collector.
    pub pv_read_s: f64,
    /// Put-with-completion timeout (PosToDelay, RunHardScan).
    pub put_s: f64,
    /// The watchdog's limit on a silent control loop; unset: the
    /// reference's max(4 s, 10 + 30 x NumScans s).
    pub watchdog_s: Option<f64>,
}

impl Default for Timing {
    fn default() -> Self {
        let policy = RetryPolicy::default();
        Self {
            first_sweep_s: policy.first_sweep_timeout.as_secs_f64(),
            sweep_s: policy.sweep_timeout.as_secs_f64(),
            attempts: policy.attempts,
            retry_delay_s: 0.0,
            settle_s: 0.0,
            between_steps_s: 0.0,
            pv_read_s: 2.0,
            put_s: 10.0,
            watchdog_s: None,
        }
    }
}

impl Station {
    /// Reads and checks a settings file.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let station: Station =
            serde_yaml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        station
            .timing
            .check()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(station)
    }

    /// `prefixes` with this station's overrides applied.
    pub fn apply(&self, mut prefixes: Prefixes) -> Prefixes {
        let o = &self.prefixes;
        for (field, value) in [
            (&mut prefixes.scan, &o.scan),
            (&mut prefixes.main, &o.main),
            (&mut prefixes.idc, &o.idc),
            (&mut prefixes.struck, &o.struck),
            (&mut prefixes.be, &o.be),
            (&mut prefixes.evr, &o.evr),
        ] {
            if let Some(v) = value {
                *field = v.clone();
            }
        }
        prefixes
    }
}

impl Timing {
    fn check(&self) -> Result<(), String> {
        let all = [
            self.first_sweep_s,
            self.sweep_s,
            self.retry_delay_s,
            self.settle_s,
            self.between_steps_s,
            self.pv_read_s,
            self.put_s,
        ];
        if all.iter().any(|v| !v.is_finite() || *v < 0.0) {
            return Err("timing: every value must be a finite number of seconds >= 0".into());
        }
        if let Some(w) = self.watchdog_s {
            // Four heartbeats at least, as the reference's floor: a beat a
            // little late must not end a healthy daemon.
            if !w.is_finite() || w < 4.0 {
                return Err("timing.watchdog_s must be a number of seconds >= 4".into());
            }
        }
        if self.attempts == 0 {
            return Err("timing.attempts must be at least 1".into());
        }
        Ok(())
    }

    /// The step loop's policy.
    pub fn policy(&self) -> RetryPolicy {
        RetryPolicy {
            first_sweep_timeout: secs(self.first_sweep_s),
            sweep_timeout: secs(self.sweep_s),
            attempts: self.attempts,
            retry_delay: secs(self.retry_delay_s),
            settle: secs(self.settle_s),
            between_steps: secs(self.between_steps_s),
        }
    }
}

/// Seconds as a duration (checked finite and >= 0 at load).
pub fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s).unwrap_or(Duration::ZERO)
}
