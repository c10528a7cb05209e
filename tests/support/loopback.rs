//! Shared by integration tests (included with `#[path]`): loopback-only
//! Channel Access settings with ports of the test's own, and the project's
//! Python venv with the peers we did not write.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::{TcpListener, UdpSocket};
use std::path::PathBuf;

/// A port free for both TCP and UDP on loopback.
pub fn free_port() -> u16 {
    for _ in 0..50 {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("bind a TCP port");
        let port = tcp.local_addr().expect("local address").port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port pair on loopback");
}

/// Loopback-only settings for this process's server and for the client.
///
/// Beacons go to the repeater port, as EPICS does by default: a client
/// learns from them that a server came up and searches again at once;
/// otherwise its search backoff can leave a late server unfound for 20 s.
pub fn loopback_env(server_port: u16) -> Vec<(String, String)> {
    let repeater = free_port();
    [
        ("EPICS_CA_ADDR_LIST", "127.0.0.1".to_string()),
        ("EPICS_CA_AUTO_ADDR_LIST", "NO".to_string()),
        ("EPICS_CAS_INTF_ADDR_LIST", "127.0.0.1".to_string()),
        ("EPICS_CAS_BEACON_ADDR_LIST", "127.0.0.1".to_string()),
        ("EPICS_CAS_AUTO_BEACON_ADDR_LIST", "NO".to_string()),
        ("EPICS_CA_SERVER_PORT", server_port.to_string()),
        ("EPICS_CA_REPEATER_PORT", repeater.to_string()),
        ("EPICS_CAS_BEACON_PORT", repeater.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

pub fn python() -> PathBuf {
    let venv = std::env::var_os("FWS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/fws-daemon/venv")
        });
    let python = venv.join("bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/test.sh, which installs pyepics and caproto",
        python.display()
    );
    python
}
