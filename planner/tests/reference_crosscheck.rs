//! The reference's plans (`ScanPlanner.generate`) and file-name range text
//! (`_format_range`) from the published fws-daemon 3.3.1, generated in the
//! same run by `scripts/reference/make_fixtures.py`; ours must be equal to
//! the last bit and character.

#[path = "../../tests/support/reference_fixtures.rs"]
mod reference_fixtures;

use planner::{range_text, Plan, DEFAULT_MAX_STEPS};
use reference_fixtures::fixture;
use serde_json::Value;

#[test]
fn plans_equal_the_reference_bit_for_bit() {
    let cases = fixture("plans.json");
    assert!(cases.len() >= 5);
    for case in cases {
        let start = case["start"].as_f64().expect("start");
        let end = case["end"].as_f64().expect("end");
        let num = case["num"].as_u64().expect("num") as u32;
        let plan = if case["relative"].as_bool() == Some(true) {
            Plan::relative(start, end, num, case["current"].as_f64(), DEFAULT_MAX_STEPS)
        } else {
            Plan::linspace(start, end, num, DEFAULT_MAX_STEPS)
        }
        .expect("plan");
        let ours: Vec<u64> = plan.steps().map(|s| s.positions[0].to_bits()).collect();
        let reference: Vec<u64> = match &case["positions"] {
            Value::Null => Vec::new(), // the reference plans None for 0 steps
            v => v
                .as_array()
                .expect("positions")
                .iter()
                .map(|p| p.as_f64().expect("number").to_bits())
                .collect(),
        };
        assert_eq!(ours, reference, "{case}");
    }
}

#[test]
fn range_text_equals_the_reference() {
    let cases = fixture("file_names.json");
    assert!(cases.len() >= 10);
    for case in cases {
        let range = match (case["start"].as_f64(), case["end"].as_f64()) {
            (Some(s), Some(e)) => Some((s, e)),
            _ => None,
        };
        assert_eq!(
            range_text(range),
            case["range"].as_str().expect("range"),
            "{case}"
        );
    }
}
