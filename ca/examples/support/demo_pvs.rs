//! The PV set served by `serve_demo` and by `tests/interop.rs` (included by
//! path in both, so that what is tried by hand is what is tested).

use ca::{PvSpec, PvType, Value};

/// `<prefix>D`, `L`, `E`, `S`, `P`, `W`, `RO`: a double with unit and range, a
/// long, an enum, a string, a long string (char waveform), a 100k-double read-only waveform, a read-only
/// double.
pub fn demo_pvs(prefix: &str) -> Vec<PvSpec> {
    let pv = |name: &str, kind, initial, writable| PvSpec {
        name: format!("{prefix}{name}"),
        kind,
        initial,
        writable,
        units: Some("mm".into()),
        precision: 3,
    };
    vec![
        pv(
            "D",
            PvType::Double {
                min: -100.0,
                max: 100.0,
            },
            Value::Double(1.5),
            true,
        ),
        pv("L", PvType::Long { min: 0, max: 99 }, Value::Long(4), true),
        pv(
            "E",
            PvType::Enum {
                labels: vec!["Success".into(), "Task Fail".into(), "IO Fail".into()],
            },
            Value::Long(0),
            true,
        ),
        pv(
            "S",
            PvType::Text { max_len: 39 },
            Value::Text("hello".into()),
            true,
        ),
        pv(
            "P",
            PvType::Text { max_len: 255 },
            Value::Text("/data/a/folder/name/longer/than/a/ca/string".into()),
            true,
        ),
        pv(
            "W",
            PvType::Doubles { max_len: 100_000 },
            Value::Doubles((0..100_000).map(|i| f64::from(i) * 0.5).collect()),
            false,
        ),
        pv(
            "RO",
            PvType::Double {
                min: 0.0,
                max: 10.0,
            },
            Value::Double(2.0),
            false,
        ),
    ]
}
