//! Stopping a process that serves PVs. `epics-ca-rs` installs its own
//! SIGTERM handler, which exits the process (code 0)
//! `EPICS_CAS_DRAIN_GRACE_SECS` (30 s by default) after the signal,
//! whatever the program is doing at that moment. Our programs stop
//! themselves: the library's deadline is kept beyond theirs, so their own
//! shutdown (an aborted sequence's file closed, the last status written)
//! always ends first.

/// The library's SIGTERM deadline our programs ask for: well beyond their
/// own shutdown (at most about 20 s), so it never cuts one short.
pub const LIBRARY_GRACE_S: u64 = 120;

/// Keeps `EPICS_CAS_DRAIN_GRACE_SECS` at [`LIBRARY_GRACE_S`] or more (a
/// site's longer value is kept), so the library's handler never exits the
/// process in the middle of its own shutdown. Call it at the start of
/// `main`, before any thread starts.
pub fn own_shutdown() {
    let site = std::env::var("EPICS_CAS_DRAIN_GRACE_SECS")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok());
    if site.is_none_or(|s| s < LIBRARY_GRACE_S) {
        std::env::set_var("EPICS_CAS_DRAIN_GRACE_SECS", LIBRARY_GRACE_S.to_string());
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
