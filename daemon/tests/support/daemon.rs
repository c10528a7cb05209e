//! Shared by the daemon's binary tests (included with `#[path]`): a CA
//! client for daemons on ports of the test's own, finding the scan files a
//! daemon wrote and reading their root attributes.
#![allow(dead_code, clippy::unwrap_used)]

use hdf5::types::VarLenUnicode;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Loopback settings with ports of this test's own, set for this process
/// (epics-ca-rs reads them once, at the first client: the daemons a test
/// starts in turn serve on these ports), and a runtime and client on them.
pub fn operator_client() -> (Vec<(String, String)>, tokio::runtime::Runtime, ca::PvClient) {
    let env = crate::loopback::loopback_env(crate::loopback::free_port());
    for (k, v) in &env {
        std::env::set_var(k, v);
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = runtime
        .block_on(ca::PvClient::new(Duration::from_secs(20)))
        .unwrap();
    (env, runtime, client)
}

/// Every `.h5` file under `dir`, sorted.
pub fn h5_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|e| e == "h5") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// A text attribute of the file's root.
pub fn text_attr(file: &hdf5::File, name: &str) -> String {
    let value: VarLenUnicode = file.attr(name).unwrap().read_scalar().unwrap();
    value.as_str().to_string()
}
