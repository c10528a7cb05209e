//! Shared by integration tests (included with `#[path]`): loopback-only
//! Channel Access settings with ports of the test's own, and the project's
//! Python venv with the peers we did not write.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::fs::File;
use std::net::{TcpListener, UdpSocket};
use std::path::PathBuf;
use std::sync::Mutex;

/// Lock files of the ports this process reserved, held until it exits.
static RESERVED: Mutex<Vec<File>> = Mutex::new(Vec::new());

/// A port free for both TCP and UDP on loopback, reserved for this process.
///
/// Two rules make it collision-proof across the test binaries that cargo
/// runs in parallel:
/// - it lies below the kernel's ephemeral range, so no socket bound to
///   port 0 (a CA client's search socket, caproto's) can be given it while
///   the test has not bound it yet: a repeater registration sent to it
///   never lands on somebody else's socket;
/// - it is reserved with an exclusive lock file under the temporary folder,
///   so no other test process picks it, whatever the timing.
pub fn free_port() -> u16 {
    let (ephemeral_low, ephemeral_high) =
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
            .ok()
            .and_then(|t| {
                let mut range = t.split_whitespace().map(|n| n.parse::<u16>().ok());
                Some((range.next()??, range.next()??))
            })
            .unwrap_or((32768, 60999));
    // Below the ephemeral range when there is room (the usual 32768..),
    // else above it; never inside it, never on EPICS' own 5064..5076.
    let (low, high) = if ephemeral_low >= 11_000 {
        (
            if ephemeral_low > 21_000 {
                20_000
            } else {
                10_000
            },
            ephemeral_low,
        )
    } else {
        (ephemeral_high.saturating_add(1).max(10_000), u16::MAX)
    };
    assert!(
        high > low + 100,
        "no room outside the ephemeral ports {ephemeral_low}..{ephemeral_high}"
    );
    let span = u32::from(high - low);
    let dir = std::env::temp_dir().join("fws-test-ports");
    std::fs::create_dir_all(&dir).expect("the port reservation folder");
    let seed = std::process::id()
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
    for attempt in 0..span {
        let port = low + ((seed.wrapping_mul(2_654_435_761) + attempt) % span) as u16;
        let Ok(lock) = File::create(dir.join(port.to_string())) else {
            continue;
        };
        if lock.try_lock().is_err() {
            continue; // another test process holds it
        }
        let tcp = TcpListener::bind(("127.0.0.1", port));
        let udp = UdpSocket::bind(("127.0.0.1", port));
        if tcp.is_ok() && udp.is_ok() {
            RESERVED.lock().expect("the reservation list").push(lock);
            return port;
        }
    }
    panic!("no free port pair on loopback in {low}..{high}");
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

/// The last `lines` lines of `text`, for a failure's message.
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
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
