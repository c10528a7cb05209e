//! Operator inputs, as read from the daemon's PVs, validated into a
//! [`ScanConfig`]. Every rejection names the PV, the value and the rule, in
//! words an operator can act on.

use crate::file_name::{file_name, ScannerIndex};
use crate::plan::{Plan, PlanError};
use chrono::NaiveDateTime;
use std::fmt;
use std::path::PathBuf;
use thiserror::Error;

/// Default upper bound on the steps of one scan.
pub const DEFAULT_MAX_STEPS: u32 = 10_000;
/// Longest file name most file systems accept, in bytes.
const MAX_FILE_NAME_BYTES: usize = 255;

/// One input as it arrived from its PV: a number, or text meant to hold one
/// (C `caput` sends strings by default).
#[derive(Debug, Clone, PartialEq)]
pub enum RawInput {
    /// A floating-point PV value.
    Number(f64),
    /// An integer or enum PV value.
    Integer(i64),
    /// A string PV value.
    Text(String),
}

impl fmt::Display for RawInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RawInput::Number(v) => write!(f, "{v:?}"),
            RawInput::Integer(v) => write!(f, "{v}"),
            RawInput::Text(t) => write!(f, "{t:?}"),
        }
    }
}

/// The scan inputs of the daemon's PVs, as read.
#[derive(Debug, Clone, PartialEq)]
pub struct RawScanInputs {
    /// `NumScans`: steps in the scan.
    pub num_scans: RawInput,
    /// `RelativeScan`: positions relative to the current one.
    pub relative_scan: RawInput,
    /// `CenterPosition` (recorded; the reference does not plan with it).
    pub center_position: RawInput,
    /// `ScanStart`, mm.
    pub scan_start: RawInput,
    /// `ScanEnd`, mm.
    pub scan_end: RawInput,
    /// `OutputPath`: folder for the file; empty means the default folder.
    pub output_path: String,
}

/// Limits the daemon's configuration puts on a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanLimits {
    /// Most steps in one scan.
    pub max_steps: u32,
}

impl Default for ScanLimits {
    fn default() -> Self {
        Self {
            max_steps: DEFAULT_MAX_STEPS,
        }
    }
}

/// The daemon's rule for output folders. The planner does no I/O, so the
/// daemon supplies the check (which may resolve links on disk).
pub trait OutputPathCheck {
    /// The folder to write into for the operator's `raw` text (`""` means
    /// the default), or why it is refused.
    fn resolve(&self, raw: &str) -> Result<PathBuf, String>;
}

/// A purely lexical rule: the folder is `root` joined with `raw`, after `.`
/// and `..` are resolved without leaving `root`; absolute paths must lie
/// inside `root`. Symbolic links are the daemon's business (it can
/// canonicalise on disk before trusting the result).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WithinDataRoot {
    /// The data root every output folder must lie in.
    pub root: PathBuf,
}

impl OutputPathCheck for WithinDataRoot {
    fn resolve(&self, raw: &str) -> Result<PathBuf, String> {
        use std::path::Component;
        if raw.contains('\0') {
            return Err("it contains a NUL character".to_string());
        }
        let candidate = PathBuf::from(raw);
        let relative = if candidate.is_absolute() {
            candidate
                .strip_prefix(&self.root)
                .map(PathBuf::from)
                .map_err(|_| format!("it is outside the data root {}", self.root.display()))?
        } else {
            candidate
        };
        let mut inside = Vec::new();
        for part in relative.components() {
            match part {
                Component::Normal(p) => inside.push(p.to_os_string()),
                Component::CurDir => {}
                Component::ParentDir => {
                    if inside.pop().is_none() {
                        return Err(format!(
                            "it leaves the data root {} through '..'",
                            self.root.display()
                        ));
                    }
                }
                Component::RootDir | Component::Prefix(_) => {
                    return Err("it is not a plain folder path".to_string())
                }
            }
        }
        Ok(inside.iter().fold(self.root.clone(), |acc, p| acc.join(p)))
    }
}

/// Why operator inputs were refused; the message is shown to operators.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ConfigError {
    /// Text that is not a number.
    #[error("{pv} ({value}) is not a number")]
    NotANumber {
        /// The PV.
        pv: &'static str,
        /// What it held.
        value: RawInput,
    },
    /// NaN or infinity.
    #[error("{pv} ({value}) must be a finite number")]
    NotFinite {
        /// The PV.
        pv: &'static str,
        /// What it held.
        value: RawInput,
    },
    /// A fraction where a count is needed.
    #[error("{pv} ({value}) must be a whole number")]
    NotWhole {
        /// The PV.
        pv: &'static str,
        /// What it held.
        value: RawInput,
    },
    /// A negative count.
    #[error("{pv} ({value}) must be >= 0")]
    Negative {
        /// The PV.
        pv: &'static str,
        /// What it held.
        value: RawInput,
    },
    /// Not 0/1 or a yes/no word.
    #[error("{pv} ({value}) must be 0 or 1")]
    NotABool {
        /// The PV.
        pv: &'static str,
        /// What it held.
        value: RawInput,
    },
    /// More steps than the limit.
    #[error("NumScans ({value}) is more than the limit of {max} steps")]
    TooManySteps {
        /// Steps asked for.
        value: u64,
        /// The limit.
        max: u32,
    },
    /// The reference's rule `start < end`.
    #[error("ScanStart ({start:?}) must be less than ScanEnd ({end:?})")]
    StartNotBelowEnd {
        /// `ScanStart`.
        start: f64,
        /// `ScanEnd`.
        end: f64,
    },
    /// The output folder was refused by the daemon's rule.
    #[error("OutputPath ({path:?}) is not allowed: {reason}")]
    OutputPath {
        /// What the operator gave.
        path: String,
        /// Why it was refused.
        reason: String,
    },
    /// The range text makes the file name longer than a file system allows.
    #[error("ScanStart/ScanEnd ({start:?}, {end:?}) make the file name {bytes} bytes long (at most {MAX_FILE_NAME_BYTES})")]
    FileNameTooLong {
        /// `ScanStart`.
        start: f64,
        /// `ScanEnd`.
        end: f64,
        /// Length of the name.
        bytes: usize,
    },
}

/// A validated scan: what the reference's `ScanConfig` holds, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanConfig {
    /// Steps (0: nothing to scan).
    pub num_scans: u32,
    /// `ScanStart`, mm; below `end`.
    pub start: f64,
    /// `ScanEnd`, mm.
    pub end: f64,
    /// Positions relative to the current one.
    pub relative: bool,
    /// `CenterPosition`, recorded with the scan.
    pub center_position: f64,
    /// Folder for the file, as resolved by the daemon's rule.
    pub output_dir: PathBuf,
}

fn number(pv: &'static str, value: &RawInput) -> Result<f64, ConfigError> {
    let v = match value {
        RawInput::Number(v) => *v,
        RawInput::Integer(i) => *i as f64,
        RawInput::Text(t) => t
            .trim()
            .parse::<f64>()
            .map_err(|_| ConfigError::NotANumber {
                pv,
                value: value.clone(),
            })?,
    };
    if v.is_finite() {
        Ok(v)
    } else {
        Err(ConfigError::NotFinite {
            pv,
            value: value.clone(),
        })
    }
}

fn count(pv: &'static str, value: &RawInput, max: u32) -> Result<u32, ConfigError> {
    let v = number(pv, value)?;
    if v.fract() != 0.0 {
        return Err(ConfigError::NotWhole {
            pv,
            value: value.clone(),
        });
    }
    if v < 0.0 {
        return Err(ConfigError::Negative {
            pv,
            value: value.clone(),
        });
    }
    if v > f64::from(max) {
        return Err(ConfigError::TooManySteps {
            value: if v >= u64::MAX as f64 {
                u64::MAX
            } else {
                v as u64
            },
            max,
        });
    }
    Ok(v as u32)
}

fn flag(pv: &'static str, value: &RawInput) -> Result<bool, ConfigError> {
    let refused = || ConfigError::NotABool {
        pv,
        value: value.clone(),
    };
    match value {
        RawInput::Integer(0) => Ok(false),
        RawInput::Integer(1) => Ok(true),
        RawInput::Number(v) if *v == 0.0 => Ok(false),
        RawInput::Number(v) if *v == 1.0 => Ok(true),
        RawInput::Text(t) => match t.trim().to_ascii_lowercase().as_str() {
            "0" | "false" | "no" | "off" => Ok(false),
            "1" | "true" | "yes" | "on" => Ok(true),
            _ => Err(refused()),
        },
        _ => Err(refused()),
    }
}

impl ScanConfig {
    /// Validates the inputs as the reference does (`NumScans >= 0`,
    /// `ScanStart < ScanEnd`), and further: numbers finite, counts whole and
    /// within `limits`, the output folder accepted by `paths`, and a file
    /// name a file system can hold. The first problem found is returned.
    pub fn from_raw(
        raw: &RawScanInputs,
        limits: &ScanLimits,
        paths: &dyn OutputPathCheck,
    ) -> Result<Self, ConfigError> {
        let num_scans = count("NumScans", &raw.num_scans, limits.max_steps)?;
        let relative = flag("RelativeScan", &raw.relative_scan)?;
        let center_position = number("CenterPosition", &raw.center_position)?;
        let start = number("ScanStart", &raw.scan_start)?;
        let end = number("ScanEnd", &raw.scan_end)?;
        if start >= end {
            return Err(ConfigError::StartNotBelowEnd { start, end });
        }
        // The stamp and scanner digits have fixed widths, so any of each will do.
        let bytes = file_name(
            ScannerIndex::default(),
            Some((start, end)),
            Some(num_scans),
            NaiveDateTime::default(),
        )
        .len();
        if bytes > MAX_FILE_NAME_BYTES {
            return Err(ConfigError::FileNameTooLong { start, end, bytes });
        }
        let output_dir =
            paths
                .resolve(&raw.output_path)
                .map_err(|reason| ConfigError::OutputPath {
                    path: raw.output_path.clone(),
                    reason,
                })?;
        Ok(Self {
            num_scans,
            start,
            end,
            relative,
            center_position,
            output_dir,
        })
    }

    /// `(start, end)`, the reference's `position_scan`.
    pub fn position_scan(&self) -> (f64, f64) {
        (self.start, self.end)
    }

    /// The steps: `linspace(start, end, num_scans)`, shifted by `current`
    /// (the current `PosToDelay`) for a relative scan.
    pub fn plan(&self, current: Option<f64>, limits: &ScanLimits) -> Result<Plan, PlanError> {
        if self.relative {
            Plan::relative(
                self.start,
                self.end,
                self.num_scans,
                current,
                limits.max_steps,
            )
        } else {
            Plan::linspace(self.start, self.end, self.num_scans, limits.max_steps)
        }
    }

    /// The output file's path: the reference's file name in `output_dir`.
    pub fn file_path(&self, scanner: ScannerIndex, stamp: NaiveDateTime) -> PathBuf {
        self.output_dir.join(file_name(
            scanner,
            Some(self.position_scan()),
            Some(self.num_scans),
            stamp,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> WithinDataRoot {
        WithinDataRoot {
            root: PathBuf::from("/data"),
        }
    }

    fn inputs() -> RawScanInputs {
        RawScanInputs {
            num_scans: RawInput::Integer(3),
            relative_scan: RawInput::Integer(0),
            center_position: RawInput::Number(0.0),
            scan_start: RawInput::Number(0.0),
            scan_end: RawInput::Number(10.0),
            output_path: "run1".to_string(),
        }
    }

    fn refused(edit: impl FnOnce(&mut RawScanInputs)) -> String {
        let mut raw = inputs();
        edit(&mut raw);
        ScanConfig::from_raw(&raw, &ScanLimits::default(), &root())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn accepts_good_inputs() {
        let c = ScanConfig::from_raw(&inputs(), &ScanLimits::default(), &root()).unwrap();
        assert_eq!(c.num_scans, 3);
        assert_eq!(c.output_dir, PathBuf::from("/data/run1"));
        let mut raw = inputs();
        raw.num_scans = RawInput::Text(" 7 ".into());
        raw.scan_start = RawInput::Text("-2.5".into());
        raw.relative_scan = RawInput::Text("yes".into());
        raw.output_path = String::new();
        let c = ScanConfig::from_raw(&raw, &ScanLimits::default(), &root()).unwrap();
        assert_eq!((c.num_scans, c.start, c.relative), (7, -2.5, true));
        assert_eq!(c.output_dir, PathBuf::from("/data"));
    }

    #[test]
    fn operator_readable_refusals() {
        assert_eq!(
            refused(|r| {
                r.scan_start = RawInput::Number(5.0);
                r.scan_end = RawInput::Number(2.0);
            }),
            "ScanStart (5.0) must be less than ScanEnd (2.0)"
        );
        assert_eq!(
            refused(|r| r.scan_end = RawInput::Number(f64::NAN)),
            "ScanEnd (NaN) must be a finite number"
        );
        assert_eq!(
            refused(|r| r.num_scans = RawInput::Integer(-1)),
            "NumScans (-1) must be >= 0"
        );
        assert_eq!(
            refused(|r| r.num_scans = RawInput::Number(2.5)),
            "NumScans (2.5) must be a whole number"
        );
        assert_eq!(
            refused(|r| r.num_scans = RawInput::Integer(10_001)),
            "NumScans (10001) is more than the limit of 10000 steps"
        );
        assert_eq!(
            refused(|r| r.scan_start = RawInput::Text("abc".into())),
            "ScanStart (\"abc\") is not a number"
        );
        assert_eq!(
            refused(|r| r.num_scans = RawInput::Text(String::new())),
            "NumScans (\"\") is not a number"
        );
        assert_eq!(
            refused(|r| r.relative_scan = RawInput::Integer(2)),
            "RelativeScan (2) must be 0 or 1"
        );
        assert_eq!(
            refused(|r| r.output_path = "../etc".into()),
            "OutputPath (\"../etc\") is not allowed: it leaves the data root /data through '..'"
        );
        assert_eq!(
            refused(|r| r.output_path = "/etc/cron.d".into()),
            "OutputPath (\"/etc/cron.d\") is not allowed: it is outside the data root /data"
        );
        assert!(refused(|r| {
            r.scan_start = RawInput::Number(-1e300);
            r.scan_end = RawInput::Number(1e300);
        })
        .contains("file name"));
        assert!(refused(|r| r.num_scans = RawInput::Number(1e300)).contains("more than the limit"));
    }

    #[test]
    fn data_root_rule() {
        let r = root();
        assert_eq!(
            r.resolve("/data/a/./b/../c").unwrap(),
            PathBuf::from("/data/a/c")
        );
        assert_eq!(r.resolve("a/..").unwrap(), PathBuf::from("/data"));
        assert!(r.resolve("/data/../etc").is_err());
        assert!(r.resolve("/datax").is_err());
        assert!(r.resolve("a\0b").is_err());
    }

    #[test]
    fn plan_and_file_path() {
        let c = ScanConfig::from_raw(&inputs(), &ScanLimits::default(), &root()).unwrap();
        let plan = c.plan(None, &ScanLimits::default()).unwrap();
        assert_eq!(plan.len(), 3);
        let stamp = chrono::NaiveDate::from_ymd_opt(2025, 2, 17)
            .and_then(|d| d.and_hms_opt(14, 30, 0))
            .unwrap();
        let index = ScannerIndex::try_from(1).unwrap();
        assert_eq!(
            c.file_path(index, stamp),
            PathBuf::from("/data/run1/FWS01_0_10_n3_20250217-1430.h5")
        );
    }
}
