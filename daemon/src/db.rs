//! `deploy/db/fws_daemon.db`: the daemon's PVs as EPICS records, for sites
//! that host them in their own IOC (`--pv-host ioc`). Rendered from the
//! same specs the embedded server serves, so the two cannot drift; a test
//! holds the committed file to the rendering. Each record also gets a
//! DESC (from [`description`]) and an access-security group matching
//! `deploy/ioc/fws_daemon.acf`.

use ca::{PvSpec, PvType, Value, CA_STRING_LEN};
use callbacks::{FitQuantity, FIT_CHANNELS};
use std::fmt::Write as _;

/// The access-security group of the operator PVs (inputs, Trigger,
/// ScanControl, LogLevel, SilencedLoggers): the PVs the daemon serves
/// writable. `deploy/ioc/fws_daemon.acf` lets operator hosts write them.
pub const ASG_OPERATE: &str = "FWS_OPERATE";
/// The access-security group of every other PV (status, logs, fit
/// results): only the daemon's host writes them.
pub const ASG_STATUS: &str = "FWS_STATUS";
/// EPICS' limit on a DESC field (`char[41]`, NUL included).
pub const DESC_LEN: usize = 40;

/// The DESC of the bridge PV `name` (unprefixed), or None for a PV this
/// table does not know yet (a test then fails: add it here).
pub fn description(name: &str) -> Option<String> {
    let fixed = match name {
        "Trigger" => "Write 1 to start a scan sequence",
        "Heartbeat" => "Toggles while the control loop is alive",
        "Busy" => "1 while a scan sequence runs",
        "TaskStatus" => "Result of the last sequence",
        "TaskDuration" => "Wall time of the last sequence",
        "DebugLog" => "Last DEBUG message",
        "InfoLog" => "Last INFO message",
        "WarningLog" => "Last WARNING message",
        "ErrorLog" => "Last ERROR message",
        "LogLevel" => "Lowest level logged and published",
        "SilencedLoggers" => "Modules whose messages are dropped",
        "NumScans" => "Steps of the next scan",
        "RelativeScan" => "Positions relative to PosToDelay",
        "CenterPosition" => "Centre of the scan range",
        "ScanStart" => "First position of the scan",
        "ScanEnd" => "Last position of the scan",
        "OutputPath" => "Output folder, inside the data root",
        "DataFilePath" => "Extra data PVs (YAML in the data root)",
        "MetadataFilePath" => "Extra metadata PVs (YAML, data root)",
        "FileName" => "File of the current or last scan",
        "ScanCurrentStep" => "Step in progress (1-based)",
        "ScanElapsedTime" => "Time since the sequence started",
        "ScanControl" => "RESUME, PAUSE, ABORT or STOP the scan",
        "ScanExitStatus" => "How the last sequence really ended",
        "ScanExitReason" => "Why the last sequence ended early",
        _ => return fit_description(name),
    };
    Some(fixed.to_string())
}

/// The fit PVs: `<channel>-<quantity>[-F]` by rule.
fn fit_description(name: &str) -> Option<String> {
    let (channel, rest) = FIT_CHANNELS.iter().find_map(|c| {
        name.strip_prefix(c)
            .and_then(|r| r.strip_prefix('-'))
            .map(|r| (*c, r))
    })?;
    let (suffix, filtered) = match rest.strip_suffix("-F") {
        Some(s) => (s, true),
        None => (rest, false),
    };
    let quantity = FitQuantity::ALL
        .into_iter()
        .find(|q| q.suffix() == suffix)?;
    let what = match quantity {
        FitQuantity::Integral => "integral history",
        FitQuantity::IntPos => "centroid history",
        FitQuantity::GaussFit => "Gauss fit curve, y",
        FitQuantity::FitPos => "Gauss fit curve, x",
        FitQuantity::Amp => "Gauss amplitude",
        FitQuantity::Mean => "Gauss mean",
        FitQuantity::Sigma => "Gauss sigma",
        FitQuantity::Fwhm => "Gauss FWHM",
        FitQuantity::AmpErr => "amplitude std error",
        FitQuantity::MeanErr => "mean std error",
        FitQuantity::SigmaErr => "sigma std error",
        FitQuantity::RedChi2 => "fit reduced chi-square",
        FitQuantity::FitOk => "1: fit converged",
    };
    Some(format!(
        "{channel} {what}{}",
        if filtered { ", filtered" } else { "" }
    ))
}

/// The macro for the daemon's prefix (the `main` prefix).
pub const PREFIX_MACRO: &str = "$(P)";
/// The macro for the longest scan, with the daemon's default.
fn steps_macro(max_steps: u32) -> String {
    format!("$(MAX_STEPS={max_steps})")
}

/// The records of `specs` (named `$(P)<name>`, rendered with `max_steps`
/// as the `MAX_STEPS` macro's default).
pub fn render(specs: &[PvSpec], max_steps: u32) -> String {
    let mut out = String::from(
        "# fws-daemon's PVs for a site IOC (fws-daemon --pv-host ioc).\n\
         # Generated from the daemon's PV specs: do not edit; regenerate with\n\
         #   FWS_BLESS_DB=1 cargo test -p daemon --bin fws-daemon db::\n\
         # Macros: P = the daemon's prefix (e.g. Test:SCAN:DMN-), MAX_STEPS = the\n\
         # daemon's max_steps (history length; NumScans' upper limit).\n\
         # Operator inputs post a monitor on every write where the record type\n\
         # allows it (MPST/MDEL); read-only PVs are the daemon's to write.\n\
         # Access security (deploy/ioc/fws_daemon.acf): ASG FWS_OPERATE for\n\
         # the operator PVs, FWS_STATUS for the daemon's; without an ACF\n\
         # loaded (asSetFilename) EPICS ignores ASG and everyone may write.\n",
    );
    for spec in specs {
        let Some(name) = spec.name.strip_prefix(PREFIX_MACRO) else {
            continue;
        };
        out.push('\n');
        render_one(&mut out, name, spec, max_steps);
    }
    out
}

fn number(v: i64, max_steps: u32) -> String {
    if v == i64::from(max_steps) {
        steps_macro(max_steps)
    } else {
        v.to_string()
    }
}

fn render_one(out: &mut String, name: &str, spec: &PvSpec, max_steps: u32) {
    let input = !spec.writable;
    let (record, mut fields): (&str, Vec<(String, String)>) = match &spec.kind {
        PvType::Bool => (
            if input { "bi" } else { "bo" },
            vec![
                ("ZNAM".into(), "False".into()),
                ("ONAM".into(), "True".into()),
            ],
        ),
        PvType::Enum { labels } => {
            const STATES: [&str; 16] = [
                "ZR", "ON", "TW", "TH", "FR", "FV", "SX", "SV", "EI", "NI", "TE", "EL", "TV", "TT",
                "FT", "FF",
            ];
            let f = labels
                .iter()
                .zip(STATES)
                .enumerate()
                .flat_map(|(i, (label, state))| {
                    [
                        (format!("{state}VL"), i.to_string()),
                        (format!("{state}ST"), label.clone()),
                    ]
                })
                .collect();
            (if input { "mbbi" } else { "mbbo" }, f)
        }
        PvType::Long { min, max } => {
            let mut f = Vec::new();
            if !input && (*min > i64::from(i32::MIN) || *max < i64::from(i32::MAX)) {
                f.push(("DRVL".into(), number(*min, max_steps)));
                f.push(("DRVH".into(), number(*max, max_steps)));
            }
            (if input { "longin" } else { "longout" }, f)
        }
        PvType::Double { .. } => (
            if input { "ai" } else { "ao" },
            vec![("PREC".into(), spec.precision.to_string())],
        ),
        PvType::Text { max_len } if *max_len <= CA_STRING_LEN => {
            (if input { "stringin" } else { "stringout" }, Vec::new())
        }
        PvType::Text { max_len } => (
            "waveform",
            vec![
                ("FTVL".into(), "CHAR".into()),
                ("NELM".into(), (max_len + 1).to_string()),
            ],
        ),
        PvType::Doubles { max_len } => (
            "waveform",
            vec![
                ("FTVL".into(), "DOUBLE".into()),
                ("NELM".into(), number(*max_len as i64, max_steps)),
                ("PREC".into(), spec.precision.to_string()),
            ],
        ),
    };
    if let Some(units) = &spec.units {
        fields.push(("EGU".into(), units.clone()));
    }
    match (&spec.kind, &spec.initial) {
        (PvType::Double { .. }, Value::Double(v)) if *v != 0.0 => {
            fields.push(("VAL".into(), format!("{v:?}")))
        }
        (PvType::Long { .. } | PvType::Bool | PvType::Enum { .. }, Value::Long(v)) if *v != 0 => {
            fields.push(("VAL".into(), v.to_string()))
        }
        (PvType::Text { max_len }, Value::Text(t))
            if !t.is_empty() && *max_len <= CA_STRING_LEN =>
        {
            fields.push(("VAL".into(), t.clone()))
        }
        _ => {}
    }
    if spec.writable {
        // Every operator write reaches the daemon, even of the same value
        // (bo and mbbo records post on change only: they have no such field).
        match record {
            "waveform" | "stringout" => fields.push(("MPST".into(), "Always".into())),
            "ao" | "longout" => fields.push(("MDEL".into(), "-1".into())),
            _ => {}
        }
    }
    if let Some(desc) = description(name) {
        fields.insert(0, ("DESC".into(), desc));
    }
    fields.push((
        "ASG".into(),
        if spec.writable {
            ASG_OPERATE
        } else {
            ASG_STATUS
        }
        .into(),
    ));
    let _ = writeln!(out, "record({record}, \"{PREFIX_MACRO}{name}\") {{");
    for (field, value) in fields {
        let _ = writeln!(
            out,
            "    field({field}, \"{}\")",
            value.replace('"', "\\\"")
        );
    }
    out.push_str("}\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bridge::bridge_pvs;
    use planner::DEFAULT_MAX_STEPS;

    fn committed_path() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/db/fws_daemon.db")
    }

    #[test]
    fn the_committed_db_is_the_rendering_of_the_served_pvs() {
        let rendered = render(
            &bridge_pvs(PREFIX_MACRO, DEFAULT_MAX_STEPS),
            DEFAULT_MAX_STEPS,
        );
        if std::env::var_os("FWS_BLESS_DB").is_some() {
            std::fs::write(committed_path(), &rendered).expect("write the db");
        }
        let committed = std::fs::read_to_string(committed_path()).unwrap_or_default();
        assert!(
            committed == rendered,
            "deploy/db/fws_daemon.db is not the rendering of today's PVs; regenerate it with \
             FWS_BLESS_DB=1 cargo test -p daemon --bin fws-daemon db::"
        );
    }

    #[test]
    fn records_carry_types_labels_sizes_units_and_precision() {
        let db = render(&bridge_pvs(PREFIX_MACRO, 10_000), 10_000);
        let record = |name: &str| -> String {
            let head = format!("\"$(P){name}\")");
            let start = db.find(&head).unwrap_or_else(|| panic!("{name} missing"));
            let begin = db[..start].rfind("record(").unwrap();
            let end = start + db[start..].find("}\n").unwrap();
            db[begin..end].to_string()
        };
        let trigger = record("Trigger");
        assert!(trigger.starts_with("record(bo,"), "{trigger}");
        assert!(trigger.contains("field(ONAM, \"True\")") && !trigger.contains("MPST"));
        let status = record("TaskStatus");
        assert!(status.starts_with("record(mbbi,"), "{status}");
        assert!(
            status.contains("field(FRST, \"Skipped\")") && status.contains("field(FRVL, \"4\")")
        );
        let control = record("ScanControl");
        assert!(control.starts_with("record(mbbo,") && control.contains("field(THST, \"STOP\")"));
        let steps = record("NumScans");
        assert!(
            steps.contains("field(DRVH, \"$(MAX_STEPS=10000)\")"),
            "{steps}"
        );
        let end = record("ScanEnd");
        assert!(end.starts_with("record(ao,") && end.contains("field(EGU, \"mm\")"));
        assert!(end.contains("field(VAL, \"1.0\")") && end.contains("field(PREC, \"3\")"));
        let path = record("OutputPath");
        assert!(path.contains("field(FTVL, \"CHAR\")") && path.contains("field(NELM, \"256\")"));
        let history = record("H-PDB-Integral-F");
        assert!(
            history.contains("field(NELM, \"$(MAX_STEPS=10000)\")"),
            "{history}"
        );
        let curve = record("V-PDR-GaussFit");
        assert!(curve.contains("field(NELM, \"500\")") && curve.contains("field(EGU, \"V*mm\")"));
        let sigma = record("H-APDL-Sigma");
        assert!(sigma.starts_with("record(ai,") && sigma.contains("field(EGU, \"mm\")"));
        assert_eq!(db.matches("record(").count(), bridge_pvs("x", 10).len());
        assert!(trigger.contains("field(ASG, \"FWS_OPERATE\")"), "{trigger}");
        assert!(status.contains("field(ASG, \"FWS_STATUS\")"), "{status}");
        assert!(
            sigma.contains("field(DESC, \"H-APDL Gauss sigma\")"),
            "{sigma}"
        );
        assert!(
            history.contains("field(DESC, \"H-PDB integral history, filtered\")"),
            "{history}"
        );
    }

    #[test]
    fn every_record_has_a_short_unique_description_and_its_access_group() {
        let specs = bridge_pvs(PREFIX_MACRO, DEFAULT_MAX_STEPS);
        let mut seen = std::collections::HashSet::new();
        for spec in &specs {
            let name = spec.name.trim_start_matches(PREFIX_MACRO);
            let desc = description(name).unwrap_or_else(|| {
                panic!("{name} has no DESC: add it to db::description (max {DESC_LEN} chars)")
            });
            assert!(
                !desc.is_empty() && desc.len() <= DESC_LEN && desc.is_ascii(),
                "{name}: DESC {desc:?} must be 1..={DESC_LEN} ASCII characters"
            );
            assert!(!desc.contains('"'), "{name}: DESC {desc:?} has a quote");
            assert!(
                seen.insert(desc.clone()),
                "{name}: DESC {desc:?} used twice"
            );
        }
        let db = render(&specs, DEFAULT_MAX_STEPS);
        assert_eq!(db.matches("field(DESC, ").count(), specs.len());
        let operate = specs.iter().filter(|s| s.writable).count();
        assert_eq!(db.matches("field(ASG, \"FWS_OPERATE\")").count(), operate);
        assert_eq!(
            db.matches("field(ASG, \"FWS_STATUS\")").count(),
            specs.len() - operate
        );
        // The operator PVs are the inputs, Trigger, ScanControl and the
        // two logging settings: the ACF's FWS_OPERATE group.
        let mut writable: Vec<&str> = specs
            .iter()
            .filter(|s| s.writable)
            .map(|s| s.name.trim_start_matches(PREFIX_MACRO))
            .collect();
        writable.sort_unstable();
        let mut expected: Vec<&str> = crate::bridge::INPUTS
            .iter()
            .copied()
            .chain(["Trigger", "ScanControl", "LogLevel", "SilencedLoggers"])
            .collect();
        expected.sort_unstable();
        assert_eq!(writable, expected);
    }
}
