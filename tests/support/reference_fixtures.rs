//! Loads the reference answers that `scripts/reference/make_fixtures.py`
//! writes into `$FWS_REFERENCE_FIXTURES` (scripts/test.sh sets it).
//! Included by path from each crate's cross-check tests.

use serde_json::Value;
use std::path::PathBuf;

/// The JSON array in fixture file `name`; panics with what to run when the
/// fixtures are missing, so a cross-check can never pass without them.
pub fn fixture(name: &str) -> Vec<Value> {
    let dir = std::env::var_os("FWS_REFERENCE_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            panic!(
                "FWS_REFERENCE_FIXTURES is not set: run scripts/test.sh, which generates the \
                 reference fixtures with scipy and the fws-daemon 3.3.1 package"
            )
        });
    let path = dir.join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    match serde_json::from_str(&text) {
        Ok(Value::Array(items)) => items,
        other => panic!("{} is not a JSON array: {other:?}", path.display()),
    }
}
