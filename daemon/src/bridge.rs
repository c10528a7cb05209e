//! The daemon's own PVs (spec section 3), under the `main` prefix.

use ca::{PvSpec, PvType, Value};
use callbacks::{FitQuantity, FIT_CHANNELS};
use runner::ExitStatus;

/// TaskStatus states, as the reference.
pub const TASK_STATUS: [&str; 5] = ["Success", "Task Fail", "IO Fail", "Code Crash", "Skipped"];
/// LogLevel states, as the reference.
pub const LOG_LEVELS: [&str; 4] = ["DEBUG", "INFO", "WARNING", "ERROR"];
/// ScanControl states: the reference's RESUME, PAUSE, ABORT and our STOP.
pub const SCAN_CONTROL: [&str; 4] = runner::Directive::LABELS;
/// Longest path accepted in OutputPath, DataFilePath, MetadataFilePath.
pub const PATH_LEN: usize = 255;
/// Longest message kept in a log PV.
pub const LOG_LEN: usize = 1023;

/// TaskStatus values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStatus {
    /// The sequence completed.
    Success = 0,
    /// The inputs were refused; nothing ran.
    TaskFail = 1,
    /// Hardware or the file failed during the run.
    IoFail = 2,
    /// A bug: the sequence task itself failed.
    CodeCrash = 3,
    /// Nothing to do.
    Skipped = 4,
}

/// The operator inputs that autosave keeps and the planner reads.
pub const INPUTS: [&str; 8] = [
    "NumScans",
    "RelativeScan",
    "CenterPosition",
    "ScanStart",
    "ScanEnd",
    "OutputPath",
    "DataFilePath",
    "MetadataFilePath",
];

/// The live fit's PVs (read-only): for each channel and quantity the
/// reference's `<main><C>-<T>` and its filtered twin `-F`. Histories hold up
/// to `max_steps` points, fit curves `fitting::CURVE_POINTS`.
pub fn fit_pvs(main: &str, max_steps: u32) -> Vec<PvSpec> {
    let mut out = Vec::new();
    for channel in FIT_CHANNELS {
        for filtered in [false, true] {
            for quantity in FitQuantity::ALL {
                let (kind, initial) = match quantity {
                    FitQuantity::Integral | FitQuantity::IntPos => (
                        PvType::Doubles {
                            max_len: max_steps.max(1) as usize,
                        },
                        Value::Doubles(Vec::new()),
                    ),
                    FitQuantity::GaussFit | FitQuantity::FitPos => (
                        PvType::Doubles {
                            max_len: callbacks::FIT_CURVE_POINTS,
                        },
                        Value::Doubles(Vec::new()),
                    ),
                    FitQuantity::FitOk => (PvType::Bool, Value::Long(0)),
                    _ => (
                        PvType::Double {
                            min: f64::MIN,
                            max: f64::MAX,
                        },
                        Value::Double(0.0),
                    ),
                };
                out.push(PvSpec {
                    name: format!("{main}{}", quantity.pv_name(channel, filtered)),
                    kind,
                    initial,
                    writable: false,
                    units: quantity.egu().map(str::to_string),
                    precision: 4,
                });
            }
        }
    }
    out
}

/// Every bridge PV, unprefixed name first; `max_steps` bounds NumScans.
pub fn bridge_pvs(main: &str, max_steps: u32) -> Vec<PvSpec> {
    let any = PvType::Double {
        min: f64::MIN,
        max: f64::MAX,
    };
    let text = |max_len| PvType::Text { max_len };
    let labels = |l: &[&str]| PvType::Enum {
        labels: l.iter().map(|s| s.to_string()).collect(),
    };
    let pv = |name: &str, kind: PvType, initial: Value, writable: bool, units: &str| PvSpec {
        name: format!("{main}{name}"),
        kind,
        initial,
        writable,
        units: (!units.is_empty()).then(|| units.to_string()),
        precision: 3,
    };
    let empty = || Value::Text(String::new());
    vec![
        pv("Trigger", PvType::Bool, Value::Long(0), true, ""),
        pv("Heartbeat", PvType::Bool, Value::Long(0), false, ""),
        pv("Busy", PvType::Bool, Value::Long(0), false, ""),
        pv(
            "TaskStatus",
            labels(&TASK_STATUS),
            Value::Long(0),
            false,
            "",
        ),
        pv("TaskDuration", any.clone(), Value::Double(0.0), false, "s"),
        pv("DebugLog", text(LOG_LEN), empty(), false, ""),
        pv("InfoLog", text(LOG_LEN), empty(), false, ""),
        pv("WarningLog", text(LOG_LEN), empty(), false, ""),
        pv("ErrorLog", text(LOG_LEN), empty(), false, ""),
        pv("LogLevel", labels(&LOG_LEVELS), Value::Long(1), true, ""),
        pv("SilencedLoggers", text(PATH_LEN), empty(), true, ""),
        pv(
            "NumScans",
            PvType::Long {
                min: 0,
                max: i64::from(max_steps),
            },
            Value::Long(0),
            true,
            "",
        ),
        pv("RelativeScan", PvType::Bool, Value::Long(0), true, ""),
        pv(
            "CenterPosition",
            any.clone(),
            Value::Double(0.0),
            true,
            "mm",
        ),
        pv("ScanStart", any.clone(), Value::Double(0.0), true, "mm"),
        pv("ScanEnd", any.clone(), Value::Double(1.0), true, "mm"),
        pv("OutputPath", text(PATH_LEN), empty(), true, ""),
        pv("DataFilePath", text(PATH_LEN), empty(), true, ""),
        pv("MetadataFilePath", text(PATH_LEN), empty(), true, ""),
        pv("FileName", text(PATH_LEN), empty(), false, ""),
        pv(
            "ScanCurrentStep",
            PvType::Long {
                min: 0,
                max: i64::MAX,
            },
            Value::Long(0),
            false,
            "",
        ),
        pv("ScanElapsedTime", any, Value::Double(0.0), false, "s"),
        pv(
            "ScanControl",
            labels(&SCAN_CONTROL),
            Value::Long(0),
            true,
            "",
        ),
        pv(
            "ScanExitStatus",
            labels(&ExitStatus::LABELS),
            Value::Long(ExitStatus::Completed as i64),
            false,
            "",
        ),
        pv(
            "ScanExitReason",
            text(LOG_LEN),
            Value::Text("no sequence since the daemon started".into()),
            false,
            "",
        ),
    ]
    .into_iter()
    .chain(fit_pvs(main, max_steps))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reference_bridge_pv_is_served_once_with_its_labels() {
        let pvs = bridge_pvs("Test:SCAN:DMN-", 10_000);
        let names: Vec<&str> = pvs.iter().map(|p| p.name.as_str()).collect();
        for n in INPUTS {
            assert!(names.contains(&format!("Test:SCAN:DMN-{n}").as_str()));
        }
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len());
        // 8 channels x 8 reference quantities x 2 twins, and our 5 extras.
        let fit = fit_pvs("Test:SCAN:DMN-", 10_000);
        assert_eq!(fit.len(), 8 * 13 * 2);
        for name in ["V-PDR-Integral", "H-APDL-FWHM-F", "H-PDB-SigmaErr-F"] {
            assert!(names.contains(&format!("Test:SCAN:DMN-{name}").as_str()));
        }
        let status = pvs.iter().find(|p| p.name.ends_with("TaskStatus")).unwrap();
        assert_eq!(
            status.kind,
            PvType::Enum {
                labels: TASK_STATUS.iter().map(|s| s.to_string()).collect()
            }
        );
    }
}
