//! The custom-callback protocol, sans I/O: one JSON object per line each
//! way. The daemon sends `hello`, then `pre_step` / `post_step` for every
//! step and `sequence_end`; the callback answers each line with one line:
//! `{"status":"ok"}` (post_step may add `"extra":{name: scalar}`) or
//! `{"status":"error","message":"..."}`. README.md documents the fields.

use crate::gauss_fit::{FitQuantity, FIT_CHANNELS};
use crate::hdf5_file::RootAttributes;
use runner::Value;
use runner::{StepContext, StepData};
use serde::Serialize;
use serde_json::{json, Value as Json};
use std::collections::BTreeMap;
use thiserror::Error;

/// The protocol's version, sent in `hello`.
pub const PROTOCOL_VERSION: u32 = 1;
/// Longest extra-scalar name accepted.
pub const EXTRA_NAME_MAX: usize = 128;

/// A reply the daemon cannot use.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProtocolError {
    /// Not one JSON object.
    #[error("not a JSON object: {0}")]
    NotJson(String),
    /// `status` missing or not "ok"/"error".
    #[error("\"status\" must be \"ok\" or \"error\", got {0}")]
    BadStatus(String),
    /// An `extra` entry the file cannot hold.
    #[error("extra {name:?}: {reason}")]
    BadExtra {
        /// The entry's name.
        name: String,
        /// Why it was refused.
        reason: String,
    },
}

/// A scalar a callback returns for the step's file group.
#[derive(Debug, Clone, PartialEq)]
pub enum ExtraValue {
    /// A number (JSON integers that fit i64 stay integers).
    Double(f64),
    /// An integer or a boolean (0/1).
    Long(i64),
    /// A text.
    Text(String),
}

impl From<ExtraValue> for Value {
    fn from(v: ExtraValue) -> Self {
        match v {
            ExtraValue::Double(d) => Value::Double(d),
            ExtraValue::Long(l) => Value::Long(l),
            ExtraValue::Text(t) => Value::Text(t),
        }
    }
}

/// What the callback answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// Done; extra scalars for the step's `custom` group (post_step only).
    Ok(Vec<(String, ExtraValue)>),
    /// The callback reports a failure of its own.
    Error(String),
}

/// What `hello` announces: the sequence the callback is started for.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// The daemon's PV prefix (fit PV names begin with it).
    pub main_prefix: String,
    /// The sequence's file (already created).
    pub file_path: String,
    /// The file's root attributes, as the reference's `metadata`.
    pub root: RootAttributes,
}

/// Field order on the wire is the structs' (serde_json's map order depends
/// on a feature other crates may switch on; ours must not).
#[derive(Serialize)]
struct Hello<'a> {
    r#type: &'static str,
    protocol: u32,
    daemon: &'a str,
    main_prefix: &'a str,
    file_path: &'a str,
    total: usize,
    plan: &'a [f64],
    root: Root<'a>,
}

/// The reference's root attributes (its callbacks' `metadata`).
#[derive(Serialize)]
struct Root<'a> {
    num_scans: u32,
    position_scan: Option<[f64; 2]>,
    relative_scan: bool,
    file_path: &'a str,
    start_time: &'a str,
    username: &'a str,
    source: &'a str,
}

#[derive(Serialize)]
struct Step<'a> {
    r#type: &'static str,
    step: usize,
    total: usize,
    positions: &'a [f64],
    elapsed_s: f64,
    file_path: &'a str,
}

#[derive(Serialize)]
struct PostStep<'a> {
    #[serde(flatten)]
    step: Step<'a>,
    group: String,
    data: BTreeMap<&'a str, BTreeMap<&'a str, Record<'a>>>,
    metadata: BTreeMap<&'a str, Json>,
    missing: &'a [String],
    fit: BTreeMap<String, BTreeMap<&'static str, Json>>,
}

#[derive(Serialize)]
struct Record<'a> {
    value: Json,
    egu: Option<&'a str>,
}

#[derive(Serialize)]
struct SequenceEnd<'a> {
    r#type: &'static str,
    exit_status: &'a str,
    reason: &'a str,
    completed_steps: usize,
    file_path: &'a str,
}

/// The `hello` line.
pub fn hello(session: &Session) -> String {
    let root = &session.root;
    line(&Hello {
        r#type: "hello",
        protocol: PROTOCOL_VERSION,
        daemon: &root.daemon_version,
        main_prefix: &session.main_prefix,
        file_path: &session.file_path,
        total: root.plan.len(),
        plan: &root.plan,
        root: Root {
            num_scans: root.num_scans,
            position_scan: root.position_scan.map(|(a, b)| [a, b]),
            relative_scan: root.relative_scan,
            file_path: &session.file_path,
            start_time: &root.start_time,
            username: &root.username,
            source: &root.daemon_version,
        },
    })
}

/// Whether the callback asked for waveforms in `post_step` (`hello`
/// reply's `"arrays": true`); scalars only otherwise.
pub fn wants_arrays(hello_reply: &str) -> bool {
    serde_json::from_str::<Json>(hello_reply)
        .ok()
        .and_then(|v| v.get("arrays").and_then(Json::as_bool))
        .unwrap_or(false)
}

fn step<'a>(kind: &'static str, ctx: &'a StepContext, file_path: &'a str) -> Step<'a> {
    Step {
        r#type: kind,
        step: ctx.index + 1,
        total: ctx.total,
        positions: &ctx.positions,
        elapsed_s: ctx.elapsed.as_secs_f64(),
        file_path,
    }
}

/// The `pre_step` line (step is 1-based).
pub fn pre_step(ctx: &StepContext, file_path: &str) -> String {
    line(&step("pre_step", ctx, file_path))
}

/// The `post_step` line: the step's data (`{group: {pv: {"value", "egu"}}}`,
/// waveforms only when `arrays`), metadata, missing PVs, and the live fit's
/// scalar results per channel and twin (`{"H-PDB": {"Sigma": ..}, "H-PDB-F": ..}`).
pub fn post_step(
    ctx: &StepContext,
    file_path: &str,
    data: &StepData,
    main_prefix: &str,
    arrays: bool,
) -> String {
    let groups = data
        .groups
        .iter()
        .map(|(group, records)| {
            let pvs = records
                .iter()
                .filter_map(|r| {
                    let value = to_json(&r.value, arrays)?;
                    Some((
                        r.name.as_str(),
                        Record {
                            value,
                            egu: r.egu.as_deref(),
                        },
                    ))
                })
                .collect();
            (group.as_str(), pvs)
        })
        .collect();
    line(&PostStep {
        step: step("post_step", ctx, file_path),
        group: crate::hdf5_file::step_group_name(ctx.index),
        data: groups,
        metadata: data
            .metadata
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), to_json(v, arrays)?)))
            .collect(),
        missing: &data.missing,
        fit: fit_results(data, main_prefix),
    })
}

/// The `sequence_end` line.
pub fn sequence_end(
    exit_status: &str,
    reason: &str,
    completed_steps: usize,
    file_path: &str,
) -> String {
    line(&SequenceEnd {
        r#type: "sequence_end",
        exit_status,
        reason,
        completed_steps,
        file_path,
    })
}

/// The live fit's scalars found in the step's `scan` group.
fn fit_results(
    data: &StepData,
    main_prefix: &str,
) -> BTreeMap<String, BTreeMap<&'static str, Json>> {
    let mut out = BTreeMap::new();
    for channel in FIT_CHANNELS {
        for filtered in [false, true] {
            let found: BTreeMap<&'static str, Json> = FitQuantity::ALL
                .iter()
                .filter(|q| !q.is_array())
                .filter_map(|q| {
                    let name = format!("{main_prefix}{}", q.pv_name(channel, filtered));
                    let record = data.find("scan", &name)?;
                    Some((q.suffix(), to_json(&record.value, false)?))
                })
                .collect();
            if !found.is_empty() {
                let twin = if filtered { "-F" } else { "" };
                out.insert(format!("{channel}{twin}"), found);
            }
        }
    }
    out
}

/// A value as JSON; waveforms only when `arrays`. Non-finite numbers
/// become null (JSON has none).
fn to_json(value: &Value, arrays: bool) -> Option<Json> {
    match value {
        Value::Double(d) => Some(json!(d)),
        Value::Long(l) => Some(json!(l)),
        Value::Text(t) => Some(json!(t)),
        Value::Doubles(v) if arrays => Some(json!(v)),
        Value::Longs(v) if arrays => Some(json!(v)),
        Value::Doubles(_) | Value::Longs(_) => None,
    }
}

fn line(message: &impl Serialize) -> String {
    // Our own structs of strings and numbers always serialize.
    let mut s = serde_json::to_string(message).unwrap_or_default();
    s.push('\n');
    s
}

/// Reads one reply line.
pub fn decode_reply(line: &str) -> Result<Reply, ProtocolError> {
    let shown = || {
        let t = line.trim();
        let cut: String = t.chars().take(200).collect();
        if cut.len() < t.len() {
            format!("{cut:?}...")
        } else {
            format!("{cut:?}")
        }
    };
    let value: Json = serde_json::from_str(line).map_err(|_| ProtocolError::NotJson(shown()))?;
    let Json::Object(obj) = value else {
        return Err(ProtocolError::NotJson(shown()));
    };
    match obj.get("status").and_then(Json::as_str) {
        Some("ok") => {}
        Some("error") => {
            let message = obj
                .get("message")
                .and_then(Json::as_str)
                .unwrap_or("(no message)");
            return Ok(Reply::Error(message.to_string()));
        }
        _ => {
            return Err(ProtocolError::BadStatus(
                obj.get("status")
                    .map(Json::to_string)
                    .unwrap_or_else(|| "nothing".into()),
            ))
        }
    }
    // By name: the order of a JSON object is not the callback's to rely on.
    let mut extra = BTreeMap::new();
    if let Some(entries) = obj.get("extra") {
        let Json::Object(entries) = entries else {
            return Err(ProtocolError::BadExtra {
                name: String::new(),
                reason: "\"extra\" must be an object of name: scalar".into(),
            });
        };
        for (name, v) in entries {
            let bad = |reason: &str| ProtocolError::BadExtra {
                name: name.clone(),
                reason: reason.to_string(),
            };
            if name.is_empty()
                || name.len() > EXTRA_NAME_MAX
                || name.contains('/')
                || name == "."
                || name == ".."
            {
                return Err(bad(
                    "a name must be 1 to 128 bytes, without '/', and not '.' or '..'",
                ));
            }
            let value = match v {
                Json::Bool(b) => ExtraValue::Long(i64::from(*b)),
                Json::Number(n) => match n.as_i64() {
                    Some(i) => ExtraValue::Long(i),
                    None => ExtraValue::Double(n.as_f64().ok_or_else(|| bad("not a number"))?),
                },
                Json::String(s) => ExtraValue::Text(s.clone()),
                _ => return Err(bad("must be a number, a boolean or a text")),
            };
            extra.insert(name.clone(), value);
        }
    }
    Ok(Reply::Ok(extra.into_iter().collect()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use runner::PvRecord;
    use std::time::Duration;

    fn ctx() -> StepContext {
        StepContext {
            index: 2,
            total: 5,
            positions: vec![-0.5],
            elapsed: Duration::from_millis(1500),
        }
    }

    fn session() -> Session {
        Session {
            main_prefix: "T:DMN-".into(),
            file_path: "/d/FWS01_-1_1_n5_20261122-1000.h5".into(),
            root: RootAttributes {
                num_scans: 5,
                position_scan: Some((-1.0, 1.0)),
                relative_scan: false,
                start_time: "2026-11-22T10:00:00+00:00".into(),
                username: "op".into(),
                daemon_version: "fws-daemon (Rust) 9.9".into(),
                plan: vec![-1.0, -0.5, 0.0, 0.5, 1.0],
            },
        }
    }

    #[test]
    fn messages_are_golden_lines() {
        assert_eq!(
            hello(&session()),
            concat!(
                r#"{"type":"hello","protocol":1,"daemon":"fws-daemon (Rust) 9.9","#,
                r#""main_prefix":"T:DMN-","file_path":"/d/FWS01_-1_1_n5_20261122-1000.h5","#,
                r#""total":5,"plan":[-1.0,-0.5,0.0,0.5,1.0],"#,
                r#""root":{"num_scans":5,"position_scan":[-1.0,1.0],"relative_scan":false,"#,
                r#""file_path":"/d/FWS01_-1_1_n5_20261122-1000.h5","#,
                r#""start_time":"2026-11-22T10:00:00+00:00","username":"op","#,
                r#""source":"fws-daemon (Rust) 9.9"}}"#,
                "\n"
            )
        );
        assert_eq!(
            pre_step(&ctx(), "/d/x.h5"),
            concat!(
                r#"{"type":"pre_step","step":3,"total":5,"positions":[-0.5],"#,
                r#""elapsed_s":1.5,"file_path":"/d/x.h5"}"#,
                "\n"
            )
        );
        assert_eq!(
            sequence_end("Aborted", "ABORT during the sweep", 2, "/d/x.h5"),
            concat!(
                r#"{"type":"sequence_end","exit_status":"Aborted","#,
                r#""reason":"ABORT during the sweep","completed_steps":2,"file_path":"/d/x.h5"}"#,
                "\n"
            )
        );
    }

    #[test]
    fn post_step_carries_scalars_fit_results_and_arrays_on_request() {
        let mut data = StepData::default();
        let rec = |name: &str, value: Value, egu: Option<&str>| PvRecord {
            name: name.into(),
            value,
            egu: egu.map(str::to_string),
        };
        data.push("scan", rec("T:PosToDelay", Value::Double(-0.5), Some("mm")));
        data.push(
            "scan",
            rec("T:DMN-H-PDB-Sigma", Value::Double(1.7), Some("mm")),
        );
        data.push("scan", rec("T:DMN-H-PDB-FitOk-F", Value::Long(1), None));
        data.push(
            "struck",
            rec(
                "T:H-PDB-TRC2",
                Value::Doubles(vec![0.25, f64::NAN]),
                Some("V"),
            ),
        );
        data.metadata.insert("T:ScanStatus".into(), Value::Long(0));
        data.missing.push("T:Gone".into());
        let scalars = post_step(&ctx(), "/d/x.h5", &data, "T:DMN-", false);
        assert_eq!(
            scalars,
            concat!(
                r#"{"type":"post_step","step":3,"total":5,"positions":[-0.5],"#,
                r#""elapsed_s":1.5,"file_path":"/d/x.h5","group":"scan_003","#,
                r#""data":{"scan":{"T:DMN-H-PDB-FitOk-F":{"value":1,"egu":null},"#,
                r#""T:DMN-H-PDB-Sigma":{"value":1.7,"egu":"mm"},"#,
                r#""T:PosToDelay":{"value":-0.5,"egu":"mm"}},"struck":{}},"#,
                r#""metadata":{"T:ScanStatus":0},"missing":["T:Gone"],"#,
                r#""fit":{"H-PDB":{"Sigma":1.7},"H-PDB-F":{"FitOk":1}}}"#,
                "\n"
            )
        );
        let with_arrays = post_step(&ctx(), "/d/x.h5", &data, "T:DMN-", true);
        assert!(
            with_arrays.contains(r#""struck":{"T:H-PDB-TRC2":{"value":[0.25,null],"egu":"V"}}"#),
            "{with_arrays}"
        );
        assert!(with_arrays.ends_with("}\n") && with_arrays.matches('\n').count() == 1);
    }

    #[test]
    fn replies_decode_or_say_what_is_wrong() {
        assert_eq!(decode_reply(r#"{"status":"ok"}"#), Ok(Reply::Ok(vec![])));
        assert_eq!(
            decode_reply(r#"{"status":"ok","extra":{"peak":1.5,"n":3,"flag":true,"tag":"a"}}"#),
            Ok(Reply::Ok(vec![
                ("flag".into(), ExtraValue::Long(1)),
                ("n".into(), ExtraValue::Long(3)),
                ("peak".into(), ExtraValue::Double(1.5)),
                ("tag".into(), ExtraValue::Text("a".into())),
            ]))
        );
        assert_eq!(
            decode_reply(r#"{"status":"error","message":"no beam"}"#),
            Ok(Reply::Error("no beam".into()))
        );
        assert_eq!(
            decode_reply("hello there"),
            Err(ProtocolError::NotJson("\"hello there\"".into()))
        );
        assert!(matches!(
            decode_reply("[1]"),
            Err(ProtocolError::NotJson(_))
        ));
        assert!(matches!(
            decode_reply(r#"{"status":"fine"}"#),
            Err(ProtocolError::BadStatus(s)) if s == "\"fine\""
        ));
        assert!(matches!(
            decode_reply("{}"),
            Err(ProtocolError::BadStatus(_))
        ));
        for bad in [
            r#"{"status":"ok","extra":{"a/b":1}}"#,
            r#"{"status":"ok","extra":{"":1}}"#,
            r#"{"status":"ok","extra":{"..":1}}"#,
            r#"{"status":"ok","extra":{"v":[1,2]}}"#,
            r#"{"status":"ok","extra":{"v":null}}"#,
            r#"{"status":"ok","extra":[1]}"#,
        ] {
            assert!(
                matches!(decode_reply(bad), Err(ProtocolError::BadExtra { .. })),
                "{bad}"
            );
        }
        let long = format!(
            "{{\"status\":\"ok\",\"extra\":{{\"{}\":1}}}}",
            "x".repeat(129)
        );
        assert!(matches!(
            decode_reply(&long),
            Err(ProtocolError::BadExtra { .. })
        ));
        assert!(wants_arrays(r#"{"status":"ok","arrays":true}"#));
        assert!(!wants_arrays(r#"{"status":"ok"}"#));
    }
}
