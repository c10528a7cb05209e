//! Stopping a process that serves PVs. `epics-ca-rs` installs its own
//! SIGTERM handler that exits the process `EPICS_CAS_DRAIN_GRACE_SECS`
//! (30 s by default) after the signal, whatever the program is doing; our
//! programs stop themselves instead, at once and cleanly.

/// Sets `EPICS_CAS_DRAIN_GRACE_SECS=0` unless the site set it, so the
/// library's handler does not hold the process for 30 s. Call it at the
/// start of `main`, before any thread starts.
pub fn stop_on_signal_without_grace() {
    if std::env::var_os("EPICS_CAS_DRAIN_GRACE_SECS").is_none() {
        std::env::set_var("EPICS_CAS_DRAIN_GRACE_SECS", "0");
    }
}

/// Completes at SIGTERM (systemd's stop) or Ctrl-C.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
