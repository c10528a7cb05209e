//! Issue 11, A3: a daemon told to use some interfaces binds only there.
//! The binary runs in a private network namespace (`unshare -n`: nothing
//! can leave it) holding loopback and a veth interface 10.77.0.1, so the
//! daemon has a second interface it could bind; its sockets are read from
//! /proc. Told loopback (the test-mode defaults), every socket is on
//! 127.0.0.1; told 10.77.0.1, every socket is there (or on its broadcast
//! address), and pyepics reaches it there, by unicast and by broadcast.

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
         ip addr add {DUMMY}/24 brd + dev v0 && ip link set v1 up && ip link set v0 up && \
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

/// Waits until the daemon serves and its CA client has its sockets too
/// (they come with its first searches): the server's search socket, the
/// beacon sender, the client's search socket and the repeater at least.
fn wait_serving(daemon: &mut Child, dir: &Path) -> Vec<(String, String)> {
    let started = Instant::now();
    loop {
        let err = std::fs::read_to_string(dir.join("daemon.err")).unwrap_or_default();
        if err.contains(" serving ") {
            let bound = bound_addresses(daemon.id());
            if bound.iter().filter(|(t, _)| t == "udp").count() >= 4 {
                return bound;
            }
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

/// pyepics, in the daemon's namespace, reads Busy with `env`.
fn caget_busy(daemon: &Child, env: &[(String, String)]) -> (String, String) {
    let out = Command::new("nsenter")
        .args(["-t", &daemon.id().to_string(), "-n"])
        .arg(loopback::python())
        .args([
            "-c",
            "import epics; print(epics.caget('Test:SCAN:DMN-Busy', timeout=10))",
        ])
        .envs(env.iter().cloned())
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The loopback settings with `interface` to serve on and `search` for
/// the client's searches and the beacons.
fn env_with(port: u16, interface: &str, search: &str) -> Vec<(String, String)> {
    loopback::loopback_env(port)
        .into_iter()
        .map(|(k, v)| match k.as_str() {
            "EPICS_CAS_INTF_ADDR_LIST" => (k, interface.to_string()),
            "EPICS_CA_ADDR_LIST" | "EPICS_CAS_BEACON_ADDR_LIST" => (k, search.to_string()),
            _ => (k, v),
        })
        .collect()
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
    let bound = wait_serving(&mut daemon, &dir);
    stop(daemon);
    let err = std::fs::read_to_string(dir.join("daemon.err")).unwrap();
    assert!(
        bound
            .iter()
            .all(|(t, ip)| !t.ends_with('6') && ip == "127.0.0.1"),
        "a socket beyond loopback: {bound:?}\n{err}"
    );
    assert!(err.contains("network: binding only on 127.0.0.1"), "{err}");

    // One interface: everything there, and a CA client reaches it there;
    // by unicast, and by the broadcast a site network uses (the server also
    // listens on the interface's broadcast address, and nowhere else).
    let broadcast = "10.77.0.255";
    for (case, search) in [("unicast", DUMMY), ("broadcast", broadcast)] {
        let dir = work.path().join(case);
        std::fs::create_dir_all(&dir).unwrap();
        let env = env_with(loopback::free_port(), DUMMY, search);
        let mut daemon = start_fenced(&dir, &env);
        let bound = wait_serving(&mut daemon, &dir);
        let (busy, said) = caget_busy(&daemon, &env);
        stop(daemon);
        let err = std::fs::read_to_string(dir.join("daemon.err")).unwrap();
        assert!(
            bound
                .iter()
                .all(|(t, ip)| !t.ends_with('6') && (ip == DUMMY || ip == broadcast)),
            "{case}: a socket beyond {DUMMY}: {bound:?}\n{err}"
        );
        assert_eq!(busy, "0", "{case}: pyepics on {search}: {said}\n{err}");
    }
}
