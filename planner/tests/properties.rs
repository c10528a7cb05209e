//! Plan invariants over arbitrary inputs: step count, order, bounds, and
//! snake adjacency; no panic on any input.

use planner::{AxisRange, Plan, RawInput, RawScanInputs, ScanConfig, ScanLimits, WithinDataRoot};
use proptest::prelude::*;
use std::path::PathBuf;

fn any_number() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => -1e6..1e6f64,
        1 => prop::num::f64::ANY,
        1 => Just(f64::NAN),
        1 => Just(f64::NEG_INFINITY),
    ]
}

fn any_raw() -> impl Strategy<Value = RawInput> {
    prop_oneof![
        any_number().prop_map(RawInput::Number),
        any::<i64>().prop_map(RawInput::Integer),
        ".{0,12}".prop_map(RawInput::Text),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn linspace_count_order_and_bounds(start in -1e6..1e6f64, span in 1e-9..1e6f64, num in 0u32..300) {
        let end = start + span;
        let plan = Plan::linspace(start, end, num, 10_000).unwrap();
        prop_assert_eq!(plan.len(), num as usize);
        let p: Vec<f64> = plan.steps().map(|s| s.positions[0]).collect();
        for (i, w) in p.windows(2).enumerate() {
            prop_assert!(w[0] <= w[1], "not ascending at {}: {:?}", i, w);
        }
        for (i, s) in plan.steps().enumerate() {
            prop_assert_eq!(s.index, i);
            prop_assert!(s.positions[0] >= start && s.positions[0] <= end);
        }
        if num >= 1 {
            prop_assert_eq!(p[0], start);
        }
        if num >= 2 {
            prop_assert_eq!(p[p.len() - 1], end);
        }
    }

    #[test]
    fn grids_cover_every_point_and_snake_moves_one_step(
        sizes in prop::collection::vec(1u32..6, 1..4),
        snake in any::<bool>(),
    ) {
        let axes: Vec<AxisRange> = sizes
            .iter()
            .map(|&n| AxisRange { start: 0.0, end: f64::from(n - 1), num: n })
            .collect();
        let plan = Plan::grid(&axes, snake, 10_000).unwrap();
        let total: u32 = sizes.iter().product();
        prop_assert_eq!(plan.len(), total as usize);
        prop_assert_eq!(plan.axes(), sizes.len());
        // Integer grids: positions are the indices themselves.
        let mut seen: Vec<Vec<u32>> = plan.steps().map(|s| s.positions.iter().map(|&v| v as u32).collect()).collect();
        for w in seen.windows(2) {
            let moved: Vec<u32> = w[0].iter().zip(&w[1]).map(|(a, b)| a.abs_diff(*b)).collect();
            if snake {
                prop_assert_eq!(moved.iter().sum::<u32>(), 1, "not adjacent: {:?}", w);
            }
        }
        seen.sort();
        seen.dedup();
        prop_assert_eq!(seen.len(), total as usize, "points repeated or missing");
    }

    #[test]
    fn arbitrary_operator_inputs_never_panic(
        num in any_raw(), rel in any_raw(), center in any_raw(),
        start in any_raw(), end in any_raw(), path in ".{0,20}", current in any_number(),
    ) {
        let raw = RawScanInputs {
            num_scans: num, relative_scan: rel, center_position: center,
            scan_start: start, scan_end: end, output_path: path,
        };
        let limits = ScanLimits::default();
        let rule = WithinDataRoot { root: PathBuf::from("/data") };
        if let Ok(config) = ScanConfig::from_raw(&raw, &limits, &rule) {
            prop_assert!(config.start < config.end);
            prop_assert!(config.output_dir.starts_with("/data"));
            if let Ok(plan) = config.plan(Some(current), &limits) {
                prop_assert_eq!(plan.len(), config.num_scans as usize);
                prop_assert!(plan.steps().all(|s| s.positions[0].is_finite()));
            }
        }
    }
}
