#!/usr/bin/env python3
"""Would the systemd unit's sandbox let the daemon work? systemd is not PID 1
here, so the unit cannot run; instead the daemon runs under strace through
a real scan (test mode, its built-in simulator, driven with pyepics on
loopback) and a SIGTERM, and every system call it made must pass the
unit's SystemCallFilter (@system-service minus @privileged and @resources,
expanded by systemd-analyze itself), every socket it opened must be of a
family RestrictAddressFamilies allows, and every file it wrote must lie
in the folders ReadWritePaths opens (or PrivateTmp's /tmp).
Started by tests/site_kit.rs with loopback-only CA settings.

usage: sandbox_peer.py DAEMON_BINARY UNIT_FILE WORK_DIR
Exits non-zero with a message on the first failed check.
"""

import json
import os
import re
import subprocess
import sys
import time
import peer_checks
from peer_checks import check

BIN, UNIT, WORK = sys.argv[1:4]
P = "Test:SCAN:DMN-"




def unit_values(key):
    """Every value of `key=` in the unit (a key may repeat)."""
    out = []
    for line in open(UNIT):
        if line.startswith(key + "="):
            out.append(line.split("=", 1)[1].strip())
    return out


def expand(group, seen=None):
    """The system calls of a systemd group, nested groups expanded."""
    seen = seen if seen is not None else set()
    if group in seen:
        return set()
    seen.add(group)
    text = subprocess.run(["systemd-analyze", "syscall-filter", group],
                          capture_output=True, text=True, check=True).stdout
    names = set()
    for line in text.splitlines()[1:]:
        word = line.strip()
        if not word or word.startswith("#"):
            continue
        names |= expand(word, seen) if word.startswith("@") else {word}
    return names


# The unit's filter: an allow list, then deny lists (`~...`).
allowed, denied = set(), set()
for value in unit_values("SystemCallFilter"):
    deny = value.startswith("~")
    for word in value.lstrip("~").split():
        names = expand(word) if word.startswith("@") else {word}
        (denied if deny else allowed).update(names)
check(len(allowed) > 200 and denied, f"the unit's filter expands ({len(allowed)} allowed)")
families = set(unit_values("RestrictAddressFamilies")[0].split())
writable = unit_values("ReadWritePaths")[0].split()

data, logs = os.path.join(WORK, "data"), os.path.join(WORK, "log")
trace = os.path.join(WORK, "strace.txt")
with open(os.path.join(WORK, "sim.yaml"), "w") as f:
    f.write("sweep_seconds: 0.02\ntrace_samples: 500\n")
daemon = subprocess.Popen(
    # -y: file descriptors printed with their paths, so writes through a
    # folder's descriptor (openat(fd, name), /proc/self/fd/N/name) resolve.
    ["strace", "-f", "-qq", "-y", "-o", trace, "-e", "trace=all", "-e", "signal=none",
     BIN, "1", "--test-mode", "--data-root", data, "--log-dir", logs,
     "--sim-config", os.path.join(WORK, "sim.yaml")],
    stdout=open(os.path.join(WORK, "daemon.log"), "w"), stderr=subprocess.STDOUT, cwd=WORK)
try:
    import epics

    busy = epics.PV(P + "Busy", auto_monitor=False)
    deadline = time.time() + 60
    while not busy.wait_for_connection(timeout=0.5):
        check(daemon.poll() is None, "the daemon runs under strace (see daemon.log)")
        check(time.time() < deadline, "the daemon came up within 60 s under strace")
    put = lambda n, v: epics.caput(P + n, v, wait=True, timeout=10)  # noqa: E731
    put("NumScans", 6)
    put("ScanStart", -3)
    put("ScanEnd", 3)
    put("OutputPath", "sandbox")
    seen = []
    epics.camonitor(P + "Busy", callback=lambda value=None, **_: seen.append(value))
    put("Trigger", 1)
    deadline = time.time() + 120
    while time.time() < deadline and not (1 in seen and seen[-1] == 0):
        time.sleep(0.05)
    check(1 in seen and seen[-1] == 0, f"a scan ran under strace (Busy {seen})")
    status = epics.caget(P + "TaskStatus", as_string=True, use_monitor=False, timeout=10)
    check(status == "Success", f"the scan succeeded ({status})")
finally:
    # SIGTERM to the daemon itself (strace would detach on its own), so its
    # shutdown is traced too; strace ends with it.
    with open(f"/proc/{daemon.pid}/task/{daemon.pid}/children") as f:
        children = [int(c) for c in f.read().split()]
    for child in children:
        os.kill(child, 15)
    try:
        daemon.wait(timeout=60)
    except subprocess.TimeoutExpired:
        for child in children:
            os.kill(child, 9)
        daemon.kill()
        raise SystemExit("FAILED: the daemon did not stop on SIGTERM within 60 s")

calls, socket_families, written, read = set(), set(), set(), set()
line_re = re.compile(r"^\d+\s+([a-z0-9_]+)\((.*)")
fd_paths = {}  # the latest path strace showed for each descriptor number


def resolve(path, dirfd):
    """An absolute path for a name given to a *at call (or a plain one)."""
    fd = re.match(r"/proc/self/fd/(\d+)(/.*)?$", path)
    if fd:
        return fd_paths.get(fd.group(1), path) + (fd.group(2) or "")
    if path.startswith("/"):
        return path
    # Relative: to the folder of dirfd, or the daemon's working folder.
    base = re.match(r"\d+<(.*)>$", dirfd or "")
    return os.path.join(base.group(1) if base else WORK, path)


for line in open(trace, errors="replace"):
    m = line_re.match(line)
    if not m:
        continue
    name, args = m.groups()
    calls.add(name)
    for fd, path in re.findall(r"(\d+)<(/[^>]*)>", args):
        fd_paths[fd] = path
    if name in ("socket", "socketpair"):
        socket_families.add(args.split(",", 1)[0].strip())
    if name in ("openat", "open", "creat", "mkdir", "mkdirat", "rename", "renameat",
                "renameat2", "unlink", "unlinkat") and " = -1 " not in args:
        dirfd = args.split(",", 1)[0].strip() if name.endswith("at") or name == "renameat2" else None
        paths = [resolve(p, dirfd) for p in re.findall(r'"([^"]*)"', args)]
        writes = name not in ("openat", "open") or re.search(r"O_WRONLY|O_RDWR|O_CREAT", args)
        (written if writes else read).update(paths)

check(len(calls) > 30, f"strace saw the daemon's calls ({len(calls)})")
refused = sorted(c for c in calls if c not in allowed or c in denied)
check(not refused, f"system calls the unit's filter refuses: {refused}")
bad_families = sorted(f for f in socket_families if f not in families)
check(not bad_families, f"socket families the unit refuses: {bad_families}")
check("AF_NETLINK" in socket_families or "AF_INET" in socket_families, f"{socket_families}")
# The test's folders stand for the unit's: data root, log folder, /tmp.
outside = sorted(p for p in written
                 if not any(p.startswith(d) for d in [data, logs, "/tmp/", "/dev/null"]))
check(not outside, f"written outside ReadWritePaths {writable}: {outside}")
# ProtectHome=yes hides /home and /root: the daemon must not need them.
homes = sorted(p for p in read | written if p.startswith(("/home/", "/root/"))
               and not p.startswith(os.path.dirname(BIN)))
check(not homes, f"the daemon opened files under /home or /root: {homes}")
print(json.dumps({"checks": peer_checks.count, "syscalls": len(calls), "families": sorted(socket_families)}),
      flush=True)
