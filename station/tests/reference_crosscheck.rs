//! The reference's PV prefixes (`IOCPrefixes`, `ScannerAuxiliary`) from
//! the published fws-daemon 3.3.1, generated in the same run by
//! `scripts/reference/make_fixtures.py`.

#[path = "../../tests/support/reference_fixtures.rs"]
mod reference_fixtures;

use planner::ScannerIndex;
use reference_fixtures::fixture;
use station::{Naming, Prefixes};

#[test]
fn prefixes_equal_the_reference() {
    let cases = fixture("prefixes.json");
    assert_eq!(cases.len(), 12);
    for case in cases {
        let index = ScannerIndex::try_from(case["index"].as_i64().expect("index")).expect("0..99");
        let naming = if case["test_mode"].as_bool() == Some(true) {
            Naming::Test
        } else {
            Naming::Production
        };
        let p = Prefixes::new(index, naming).expect("known scanner");
        let text = |k: &str| case[k].as_str().expect("string").to_string();
        assert_eq!(p.scan, text("scan"), "{case}");
        assert_eq!(p.main, text("main"), "{case}");
        assert_eq!(p.idc, text("idc"), "{case}");
        assert_eq!(p.struck, text("struck"), "{case}");
        assert_eq!(p.be, text("be"), "{case}");
        assert_eq!(p.evr, text("evr"), "{case}");
        assert_eq!(p.idc_delay, text("idc_delay"), "{case}");
        let bpms: Vec<String> = case["bpms"]
            .as_array()
            .expect("bpms")
            .iter()
            .map(|b| b.as_str().expect("string").to_string())
            .collect();
        assert_eq!(p.bpms.to_vec(), bpms, "{case}");
    }
}
