//! The runner's values and Channel Access's: the same shapes, converted at
//! this one border so the loop, the callbacks and the files never see the
//! CA layer.

/// A value read over CA as the runner records it.
pub fn from_ca(value: ca::Value) -> runner::Value {
    match value {
        ca::Value::Double(v) => runner::Value::Double(v),
        ca::Value::Long(v) => runner::Value::Long(v),
        ca::Value::Text(v) => runner::Value::Text(v),
        ca::Value::Doubles(v) => runner::Value::Doubles(v),
        ca::Value::Longs(v) => runner::Value::Longs(v),
    }
}

/// A runner value (a callback's result, a published status) as CA serves
/// it.
pub fn to_ca(value: runner::Value) -> ca::Value {
    match value {
        runner::Value::Double(v) => ca::Value::Double(v),
        runner::Value::Long(v) => ca::Value::Long(v),
        runner::Value::Text(v) => ca::Value::Text(v),
        runner::Value::Doubles(v) => ca::Value::Doubles(v),
        runner::Value::Longs(v) => ca::Value::Longs(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shape_survives_the_round_trip() {
        for value in [
            ca::Value::Double(-1.5),
            ca::Value::Long(7),
            ca::Value::Text("Scan Ok".into()),
            ca::Value::Doubles(vec![0.25, f64::NAN]),
            ca::Value::Longs(vec![1, -2]),
        ] {
            let back = to_ca(from_ca(value.clone()));
            assert_eq!(format!("{back:?}"), format!("{value:?}"));
        }
    }
}
