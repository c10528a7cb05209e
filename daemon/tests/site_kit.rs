//! The site kit (docs/deploy.md): `scripts/install.sh` into a staging root
//! (where every file lands, modes, owners, a second run, an upgrade), the
//! systemd unit checked by `systemd-analyze` offline, and the IOC-mode kit
//! (`deploy/ioc`) run in pythonSoftIOC with its access rules checked over
//! loopback Channel Access (`ioc_kit.py`).

#[path = "../../tests/support/loopback.rs"]
mod loopback;

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_path_buf()
}

/// `fws-daemon`, `fws-sim` and `fws-plot` as cargo built them for the
/// tests (the other two are built here too, a no-op when up to date, so a
/// stale one is never installed).
fn binaries() -> PathBuf {
    let daemon = Path::new(env!("CARGO_BIN_EXE_fws-daemon"));
    // By binary name, from the workspace root: whichever member holds it.
    let status = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--bin", "fws-sim", "--bin", "fws-plot"])
        .current_dir(repo())
        .status()
        .expect("run cargo build");
    assert!(status.success(), "building fws-sim and fws-plot failed");
    daemon.parent().expect("the target folder").to_path_buf()
}

fn install(stage: &Path, bin_dir: &Path) -> Output {
    let out = Command::new("bash")
        .arg(repo().join("scripts/install.sh"))
        .env("FWS_INSTALL_ROOT", stage)
        .env("FWS_INSTALL_BIN_DIR", bin_dir)
        .output()
        .expect("run scripts/install.sh");
    assert!(
        out.status.success(),
        "install.sh failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Every entry under `root` with what a rewrite or a new mode or owner
/// would alter: (mode, uid, gid, size, mtime, inode); `install` writes a
/// replaced file as a new inode. (Not ctime: `install -C` re-applies the
/// same mode and owner to a file it leaves alone, which moves ctime only.)
type Stat = (u32, u32, u32, u64, i64, u64);

fn snapshot(root: &Path) -> BTreeMap<PathBuf, Stat> {
    let mut out = BTreeMap::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).expect("read a staged folder") {
            let path = entry.expect("an entry").path();
            let meta = std::fs::symlink_metadata(&path).expect("metadata");
            if meta.is_dir() {
                todo.push(path.clone());
            }
            let rel = path
                .strip_prefix(root)
                .expect("under the root")
                .to_path_buf();
            let ns = |s: i64, n: i64| s * 1_000_000_000 + n;
            out.insert(
                rel,
                (
                    meta.mode(),
                    meta.uid(),
                    meta.gid(),
                    meta.len(),
                    ns(meta.mtime(), meta.mtime_nsec()),
                    meta.ino(),
                ),
            );
        }
    }
    out
}

/// The installed files as docs/deploy.md lists them: the first column of
/// its "Installed files" table (`| `/usr/local/bin/fws-daemon` | ...`).
fn documented_paths() -> Vec<String> {
    let doc = std::fs::read_to_string(repo().join("docs/deploy.md")).expect("docs/deploy.md");
    let table = doc
        .split("### Installed files")
        .nth(1)
        .expect("docs/deploy.md has an \"Installed files\" section");
    table
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| l.split('`').nth(1))
        .filter(|p| p.starts_with('/'))
        .map(str::to_string)
        .collect()
}

/// The staged user: (uid, gid) from the staging root's passwd, and its line.
fn staged_user(stage: &Path) -> (u32, u32, String) {
    let passwd = std::fs::read_to_string(stage.join("etc/passwd")).expect("staged passwd");
    let lines: Vec<&str> = passwd.lines().filter(|l| l.starts_with("fws:")).collect();
    assert_eq!(lines.len(), 1, "one fws user: {passwd}");
    let f: Vec<&str> = lines[0].split(':').collect();
    (
        f[2].parse().expect("uid"),
        f[3].parse().expect("gid"),
        lines[0].to_string(),
    )
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

#[test]
fn install_sh_stages_the_documented_files_with_their_owners_and_a_second_run_changes_nothing() {
    let stage = tempfile::tempdir().expect("a staging root");
    let bins = binaries();
    install(stage.path(), &bins);
    let s = |p: &str| stage.path().join(p.trim_start_matches('/'));

    // Every documented path is there, and nothing else (the staging root's
    // passwd files aside: they stand for the host's).
    let documented = documented_paths();
    assert!(documented.len() >= 15, "the table lists {documented:?}");
    for path in &documented {
        assert!(
            s(path).exists(),
            "{path} (docs/deploy.md) was not installed"
        );
    }
    let staged = snapshot(stage.path());
    for (path, (mode, ..)) in &staged {
        let abs = format!("/{}", path.display());
        let is_dir = mode & 0o170000 == 0o040000;
        let covered = documented
            .iter()
            .any(|d| *d == abs || (is_dir && d.starts_with(&format!("{abs}/"))));
        // useradd's files (and its lock and backups) stand for the host's.
        let account = ["passwd", "group", "shadow", "gshadow", ".pwd.lock"]
            .iter()
            .any(|f| abs.starts_with(&format!("/etc/{f}")));
        assert!(
            covered || account,
            "{abs} was installed but docs/deploy.md does not list it"
        );
    }

    // The service user: a system user (uid < 1000) with no login shell.
    let (uid, gid, line) = staged_user(stage.path());
    assert!(uid < 1000 && uid > 0, "{line}");
    assert!(
        line.ends_with(":/var/lib/fws-daemon:/usr/sbin/nologin"),
        "{line}"
    );
    let group = std::fs::read_to_string(s("/etc/group")).expect("staged group");
    assert!(
        group
            .lines()
            .any(|l| l.starts_with(&format!("fws:x:{gid}:"))
                || l.starts_with(&format!("fws:!:{gid}:"))),
        "{group}"
    );

    // Modes and owners.
    let root_owned = std::fs::metadata(s("/usr/local/bin/fws-daemon"))
        .expect("binary")
        .uid()
        == 0;
    for exe in ["fws-daemon", "fws-plot", "fws-sim"] {
        let p = s(&format!("/usr/local/bin/{exe}"));
        assert_eq!(mode(&p), 0o755, "{exe}");
        assert_eq!(
            std::fs::read(&p).expect("staged"),
            std::fs::read(bins.join(exe)).expect("built"),
            "{exe}"
        );
    }
    for dir in ["/var/lib/fws-daemon", "/var/log/fws-daemon"] {
        let meta = std::fs::metadata(s(dir)).expect("a staged folder");
        assert!(meta.is_dir() && mode(&s(dir)) == 0o755, "{dir}");
        if root_owned {
            assert_eq!((meta.uid(), meta.gid()), (uid, gid), "{dir} owned by fws");
        }
    }
    let unit = std::fs::read_to_string(s("/usr/local/lib/systemd/system/fws-daemon@.service"))
        .expect("unit");
    assert_eq!(
        mode(&s("/usr/local/lib/systemd/system/fws-daemon@.service")),
        0o644
    );
    assert!(
        unit.contains("\nExecStart=/usr/local/bin/fws-daemon %i "),
        "{unit}"
    );
    for (etc, example) in [
        (
            "/etc/fws-daemon/station.yaml",
            "deploy/station.example.yaml",
        ),
        ("/etc/fws-daemon/environment", "deploy/environment.example"),
    ] {
        assert_eq!(
            std::fs::read(s(etc)).expect("staged"),
            std::fs::read(repo().join(example)).expect("example"),
            "{etc}"
        );
        assert_eq!(mode(&s(etc)), 0o644, "{etc}");
    }

    // A site edits its settings; a second run changes nothing at all.
    let site_station = "# this site's\ndata_root: /var/lib/fws-daemon\nmax_steps: 500\n";
    std::fs::write(s("/etc/fws-daemon/station.yaml"), site_station).expect("edit");
    std::fs::write(
        s("/etc/fws-daemon/environment"),
        "EPICS_CA_ADDR_LIST=10.0.0.255\n",
    )
    .expect("edit");
    let before = snapshot(stage.path());
    let second = install(stage.path(), &bins);
    let after = snapshot(stage.path());
    let changed: Vec<_> = after
        .iter()
        .filter(|(p, v)| before.get(*p) != Some(v))
        .map(|(p, _)| p)
        .collect();
    assert!(
        changed.is_empty() && before.len() == after.len(),
        "a second run changed {changed:?}"
    );
    let said = String::from_utf8_lossy(&second.stdout);
    assert!(
        said.contains("user fws exists")
            && said.contains("/etc/fws-daemon/station.yaml exists, kept"),
        "{said}"
    );

    // An upgrade brings a new binary and keeps the site's files.
    let newer = tempfile::tempdir().expect("a bin folder");
    for exe in ["fws-daemon", "fws-plot"] {
        std::os::unix::fs::symlink(bins.join(exe), newer.path().join(exe)).expect("link");
    }
    std::fs::write(newer.path().join("fws-sim"), "#!/bin/sh\necho newer\n")
        .expect("a newer fws-sim");
    std::fs::set_permissions(
        newer.path().join("fws-sim"),
        std::fs::Permissions::from_mode(0o755),
    )
    .expect("chmod");
    install(stage.path(), newer.path());
    let upgraded = snapshot(stage.path());
    let changed: Vec<_> = upgraded
        .iter()
        .filter(|(p, v)| after.get(*p) != Some(v))
        .map(|(p, _)| p.display().to_string())
        .collect();
    assert_eq!(
        changed,
        ["usr/local/bin", "usr/local/bin/fws-sim"],
        "an upgrade changes the new binary (and its folder's mtime) only"
    );
    assert_eq!(
        std::fs::read_to_string(s("/etc/fws-daemon/station.yaml")).expect("kept"),
        site_station
    );

    // The staged unit passes systemd's own checks (below).
    systemd_checks(stage.path());
}

/// `systemd-analyze verify` on the installed unit in the staging root (its
/// ExecStart binary is there), with systemd's vendor units copied in for
/// the dependencies (sysinit.target, ...): any warning fails, because
/// verify exits 0 on most of them (an unknown key, a value it cannot
/// parse). Then `systemd-analyze security`: the sandbox's exposure score
/// stays at most 2.0 ("OK").
fn systemd_checks(stage: &Path) {
    let vendor = stage.join("usr/lib/systemd");
    std::fs::create_dir_all(&vendor).expect("a vendor unit folder");
    let copied = Command::new("cp")
        .args(["-r", "/usr/lib/systemd/system"])
        .arg(&vendor)
        .status()
        .expect("cp");
    assert!(
        copied.success(),
        "copy systemd's units (is systemd installed? scripts/install-deps.sh)"
    );
    let verify = Command::new("systemd-analyze")
        .arg("verify")
        .arg(format!("--root={}", stage.display()))
        .arg("fws-daemon@1.service")
        .output()
        .expect("run systemd-analyze (scripts/install-deps.sh installs systemd)");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    assert!(
        verify.status.success() && said.trim().is_empty(),
        "systemd-analyze verify:\n{said}"
    );

    let security = Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--threshold=20", "--no-pager"])
        .arg(format!("--root={}", stage.display()))
        .arg("fws-daemon@1.service")
        .output()
        .expect("run systemd-analyze security");
    let report = String::from_utf8_lossy(&security.stdout);
    assert!(
        security.status.success(),
        "exposure above 2.0:\n{report}{}",
        String::from_utf8_lossy(&security.stderr)
    );
    let overall = report
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_default();
    println!("{overall}");
}

/// Runs a Python peer of this suite with loopback CA settings of its own
/// (killed after `limit`) and returns its last line, the checks' count.
fn run_peer(script: &str, args: &[&std::ffi::OsStr], limit: Duration) -> String {
    let port = loopback::free_port();
    let mut child = Command::new(loopback::python())
        .arg(repo().join("daemon/tests").join(script))
        .args(args)
        .envs(loopback::loopback_env(port))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {script}: {e}"));
    let started = Instant::now();
    while child.try_wait().expect("poll").is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("its output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{script} checks failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.lines().last().unwrap_or_default().to_string();
    assert!(last.contains("\"checks\""), "{stdout}");
    println!("{last}");
    last
}

#[test]
fn the_ioc_kit_runs_in_a_stock_ioc_and_its_access_rules_hold() {
    run_peer(
        "ioc_kit.py",
        &[repo().join("deploy").as_os_str()],
        Duration::from_secs(60),
    );
}

/// The unit cannot run here (systemd is not PID 1): the daemon runs a scan
/// under strace instead, and what it did must pass the unit's sandbox.
#[test]
fn a_scan_stays_within_the_units_system_call_filter_socket_families_and_writable_paths() {
    let work = tempfile::tempdir().expect("a work folder");
    run_peer(
        "sandbox_peer.py",
        &[
            std::ffi::OsStr::new(env!("CARGO_BIN_EXE_fws-daemon")),
            repo()
                .join("deploy/systemd/fws-daemon@.service")
                .as_os_str(),
            work.path().as_os_str(),
        ],
        Duration::from_secs(180),
    );
}
