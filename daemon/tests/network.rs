//! Issue 11, A3: a daemon told to use some interfaces binds only there.
//! The binary runs in a private network namespace (`unshare -n`: nothing
//! can leave it) holding loopback and a veth interface 10.77.0.1, so the
//! daemon has a second interface it could bind; its sockets are read from
//! /proc. Told loopback (the test-mode defaults), every socket is on
//! 127.0.0.1; told 10.77.0.1, every socket is there, and pyepics reaches
//! it there.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../tests/support/loopback.rs"]
mod loopback;

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const DUMMY: &str = "10.77.0.1";

/// The daemon in a fresh network namespace with `lo` and a second
/// interface (one end of a veth pair) up.
fn start_fenced(dir: &Path, env: &[(String, String)]) -> Child {
    let setup = format!(
        "ip link set lo up && ip link add v0 type veth peer name v1 && \
         ip addr add {DUMMY}/24 dev v0 && ip link set v1 up && ip link set v0 up && \
         exec \"$0\" \"$@\""
    );
    Command::new("unshare")
        .args(["-n", "sh", "-c", &setup])
        .arg(env!("CARGO_BIN_EXE_fws-daemon"))
        .args(["1", "--test-mode", "--data-root"])
        .arg(dir.join("data"))
        .arg("--log-dir")
        .arg(dir.join("log"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().cloned())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("daemon.err")).unwrap())
        .spawn()
        .expect("unshare (util-linux) and ip (iproute2); the test needs root")
}

fn wait_serving(daemon: &mut Child, dir: &Path) {
    let started = Instant::now();
    loop {
        let err = std::fs::read_to_string(dir.join("daemon.err")).unwrap_or_default();
        if err.contains(" serving ") {
            // The client's sockets come up with its first searches.
            std::thread::sleep(Duration::from_millis(1500));
            return;
        }
        if let Some(status) = daemon.try_wait().unwrap() {
            panic!("the daemon exited ({status}); is this root? stderr:\n{err}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "not serving:\n{err}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Local addresses of every IPv4/IPv6 socket the process holds.
fn bound_addresses(pid: u32) -> Vec<(String, String)> {
    let inodes: HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| {
            let l = l.to_string_lossy().into_owned();
            Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
        })
        .collect();
    let mut out = Vec::new();
    for table in ["udp", "tcp", "udp6", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() > 9 && inodes.contains(f[9]) {
                out.push((table.to_string(), local_ip(f[1])));
            }
        }
    }
    out
}

/// `0100007F:13C4` (little-endian hex) -> "127.0.0.1"; IPv6 as hex.
fn local_ip(field: &str) -> String {
    let hex = field.split(':').next().unwrap();
    if hex.len() == 8 {
        let n = u32::from_str_radix(hex, 16).unwrap();
        Ipv4Addr::from(n.swap_bytes()).to_string()
    } else {
        hex.to_string()
    }
}

fn stop(mut daemon: Child) {
    let _ = daemon.kill();
    let _ = daemon.wait();
}

#[test]
fn told_loopback_or_one_interface_the_daemon_binds_only_there() {
    let work = tempfile::tempdir().unwrap();

    // Loopback: the test-mode defaults, with ports of this test's own.
    let dir = work.path().join("loopback");
    std::fs::create_dir_all(&dir).unwrap();
    let env = loopback::loopback_env(loopback::free_port());
    let mut daemon = start_fenced(&dir, &env);
    wait_serving(&mut daemon, &dir);
    let bound = bound_addresses(daemon.id());
    stop(daemon);
    let err = std::fs::read_to_string(dir.join("daemon.err")).unwrap();
    assert!(
        bound.len() >= 4,
        "the server's and the client's sockets: {bound:?}"
    );
    assert!(
        bound
            .iter()
            .all(|(t, ip)| !t.ends_with('6') && ip == "127.0.0.1"),
        "a socket beyond loopback: {bound:?}\n{err}"
    );
    assert!(err.contains("network: binding only on 127.0.0.1"), "{err}");

    // One interface: everything there, and a CA client reaches it there.
    let dir = work.path().join("interface");
    std::fs::create_dir_all(&dir).unwrap();
    let port = loopback::free_port();
    let env: Vec<(String, String)> = loopback::loopback_env(port)
        .into_iter()
        .map(|(k, v)| match k.as_str() {
            "EPICS_CA_ADDR_LIST" | "EPICS_CAS_INTF_ADDR_LIST" | "EPICS_CAS_BEACON_ADDR_LIST" => {
                (k, DUMMY.to_string())
            }
            _ => (k, v),
        })
        .collect();
    let mut daemon = start_fenced(&dir, &env);
    wait_serving(&mut daemon, &dir);
    let bound = bound_addresses(daemon.id());
    let reached = Command::new("nsenter")
        .args(["-t", &daemon.id().to_string(), "-n"])
        .arg(loopback::python())
        .args([
            "-c",
            "import epics; print(epics.caget('Test:SCAN:DMN-Busy', timeout=10))",
        ])
        .envs(env.iter().cloned())
        .output()
        .unwrap();
    stop(daemon);
    let err = std::fs::read_to_string(dir.join("daemon.err")).unwrap();
    assert!(
        bound.iter().all(|(t, ip)| !t.ends_with('6') && ip == DUMMY),
        "a socket beyond {DUMMY}: {bound:?}\n{err}"
    );
    assert_eq!(
        String::from_utf8_lossy(&reached.stdout).trim(),
        "0",
        "pyepics on {DUMMY}: {}",
        String::from_utf8_lossy(&reached.stderr)
    );
}
