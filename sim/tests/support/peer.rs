//! Running a Python peer against the simulators: its script's one JSON
//! line, and where watlowlib's own venv is.
#![allow(dead_code, clippy::unwrap_used)]

use std::ffi::OsStr;
use std::path::PathBuf;

/// The Python of the venv scripts/setup-python.sh makes for watlowlib
/// (Python >= 3.13, from pyenv); it may be missing.
pub fn watlowlib_python() -> PathBuf {
    std::env::var_os("FWS_WATLOWLIB_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap())
                .join(".cache/fws-daemon/venv-watlowlib")
        })
        .join("bin/python")
}

/// Runs `python script args...` and returns the JSON object it printed;
/// a failure panics with what it said.
pub async fn run_json(
    python: &std::path::Path,
    script: &str,
    args: &[&OsStr],
) -> serde_json::Value {
    let out = tokio::process::Command::new(python)
        .arg(script)
        .args(args)
        .output()
        .await
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(said.trim()).unwrap()
}
