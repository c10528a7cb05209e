#!/usr/bin/env python3
"""The IOC-mode kit (deploy/ioc) in a real EPICS IOC: pythonSoftIOC (EPICS
dbCore, iocsh and rsrv from PyPI `softioc`) runs deploy/ioc/st.cmd through
its own iocsh, then caproto clients on three loopback addresses check the
access rules of fws_daemon.acf. Started by tests/ioc_kit.rs with
loopback-only CA settings in the environment.

usage: ioc_kit.py DEPLOY_DIR
What cannot run here is checked by name only: the autosave commands
(pythonSoftIOC has no autosave; their names are autosave's iocsh
registrations) and the two lines of the site's IOC application (its dbd
and registerRecordDeviceDriver: pythonSoftIOC has registered base's).
Exits non-zero with a message on the first failed check.
"""

import ctypes
import os
import re
import socket
import sys
import tempfile
import time
import peer_checks
from peer_checks import check

DEPLOY = os.path.abspath(sys.argv[1])
ST_CMD = os.path.join(DEPLOY, "ioc", "st.cmd")
P = "Test:SCAN:DMN-"
# Three identities on loopback (the whole 127/8 reaches this host): the
# operator host, the daemon's host, and a host in neither list.
OPERATOR_IP, DAEMON_IP, OTHER_IP = "127.0.0.1", "127.0.0.2", "127.0.0.4"

# autosave's iocsh commands with their argument counts, as registered by
# autosave (asApp/src/save_restore.c save_restoreRegister, and dbrestore.c
# for the two restore-file commands).
AUTOSAVE = {
    "set_requestfile_path": 2, "set_savefile_path": 2, "set_savefile_name": 2,
    "set_pass0_restoreFile": 2, "set_pass1_restoreFile": 2,
    "create_monitor_set": 3, "create_periodic_set": 3, "create_triggered_set": 3,
    "create_manual_set": 2, "save_restoreSet_DatedBackupFiles": 1,
    "save_restoreSet_NumSeqFiles": 1, "save_restoreSet_SeqPeriodInSeconds": 1,
    "save_restoreSet_IncompleteSetsOk": 1, "save_restoreSet_status_prefix": 1,
    "save_restoreSet_Debug": 1, "set_saveTask_priority": 1,
}




def parse(line):
    """An iocsh line as (command, [arguments]) (quotes removed), or None."""
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    if line.startswith("<"):
        return "<", [line[1:].strip()]
    # iocsh splits at blanks, commas and parentheses outside quotes.
    words = re.findall(r'"((?:[^"\\]|\\.)*)"|([^\s,()"]+)', line)
    words = [q if q or not u else u for q, u in words]
    return words[0], words[1:]


from softioc import softioc  # noqa: E402  (after the helpers: loads EPICS)
from epicscorelibs.ioc import Com  # noqa: E402

Com.iocshCmd.argtypes = (ctypes.c_char_p,)
Com.iocshCmd.restype = ctypes.c_int


def iocsh(command):
    """Runs one iocsh command; returns (status, what it printed)."""
    with tempfile.TemporaryFile() as out:
        sys.stdout.flush()
        saved = os.dup(1)
        os.dup2(out.fileno(), 1)
        try:
            status = Com.iocshCmd(command.encode())
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        out.seek(0)
        return status, out.read().decode(errors="replace")


# 1. Every command of st.cmd is known; every file it names is in the kit.
_, help_text = iocsh("help")
known = set(help_text.split()) - {"#"}
check("dbLoadRecords" in known and "asSetFilename" in known, "iocsh lists its commands")
lines = [(n, parse(l)) for n, l in enumerate(open(ST_CMD), 1)]
lines = [(n, c) for n, c in lines if c]
runnable = []
for n, (cmd, args) in lines:
    where = f"st.cmd line {n}: {cmd}"
    if cmd == "<":
        check(args == ["envPaths"], f"{where}: only the build's envPaths is included")
    elif cmd in AUTOSAVE:
        check(len(args) <= AUTOSAVE[cmd], f"{where}: at most {AUTOSAVE[cmd]} arguments")
    elif cmd.endswith("_registerRecordDeviceDriver") or (
            cmd == "dbLoadDatabase" and args[0].startswith("$(TOP)/dbd/")):
        pass  # the site's IOC application
    else:
        check(cmd in known, f"{where}: a command of EPICS base's iocsh")
        runnable.append((n, cmd, args))
names = {c for _, (c, _) in lines}
for needed in ["dbLoadRecords", "asSetFilename", "asSetSubstitutions", "iocInit",
               "set_pass0_restoreFile", "set_pass1_restoreFile", "create_monitor_set"]:
    check(needed in names, f"st.cmd runs {needed}")

text = open(ST_CMD).read()
for ref in re.findall(r"\$\(FWS\)/([\w./-]+)", text):
    check(os.path.exists(os.path.join(DEPLOY, ref)), f"st.cmd names $(FWS)/{ref}: in deploy/")
req_dir = re.search(r'set_requestfile_path\("\$\(FWS\)/(\w+)"', text).group(1)
for req in re.findall(r'create_monitor_set\("([^"]+)"', text):
    check(os.path.isfile(os.path.join(DEPLOY, req_dir, req)), f"{req} in deploy/{req_dir}")

# 2. The request file names exactly the operator PVs (ASG FWS_OPERATE in
# the generated db) but Trigger and ScanControl.
db = open(os.path.join(DEPLOY, "db", "fws_daemon.db")).read()
records = re.findall(r'record\((\w+), "\$\(P\)([^"]+)"\) \{(.*?)\n\}', db, re.S)
operate = {name for _, name, body in records if 'field(ASG, "FWS_OPERATE")' in body}
check(len(records) > 200 and all("field(DESC, " in b for _, _, b in records),
      "every record of the db has a DESC")
req = [l.strip() for l in open(os.path.join(DEPLOY, "ioc", "fws_daemon.req"))
       if l.strip() and not l.startswith("#")]
check(all(r.startswith("$(P)") for r in req), "request lines are $(P)<name>")
check({r[4:] for r in req} == operate - {"Trigger", "ScanControl"},
      f"fws_daemon.req = the operator PVs but Trigger/ScanControl: {sorted(req)}")

# 3. Run st.cmd's base commands for real, with this test's values for the
# site-specific settings.
site = {
    "P": P,
    "FWS": DEPLOY,
    "OPERATOR_HOSTS": "'localhost,127.0.0.3'",
    "DAEMON_HOST": DAEMON_IP,
}
seen_env = set()
for n, cmd, args in runnable:
    if cmd == "epicsEnvSet" and args[0] in site:
        seen_env.add(args[0])
        line = f'epicsEnvSet("{args[0]}", "{site[args[0]]}")'
    else:
        line = open(ST_CMD).read().splitlines()[n - 1]
    status, out = iocsh(line)
    check(status == 0, f"st.cmd line {n} ran in iocsh: {line!r} -> {status} {out}")
check(seen_env == set(site), f"st.cmd sets {sorted(site)}")
_, var_out = iocsh("var asCheckClientIP")
check("asCheckClientIP = 1" in var_out, f"client IPs checked: {var_out!r}")
_, hag = iocsh("asphag")
check("127.0.0.1" in hag or "localhost" in hag, f"the operator hosts are loaded: {hag!r}")
print("IOC up", flush=True)

# 4. Access rules, as three hosts see them.
from caproto import AccessRights  # noqa: E402
from caproto.threading.client import Context  # noqa: E402
import caproto.threading.client as ca_client  # noqa: E402

_connect = socket.create_connection
SOURCE = [OPERATOR_IP]


def _from_source(address, *args, **kwargs):
    # caproto opens each circuit with socket.create_connection: open it from
    # the identity under test so rsrv sees that client address.
    kwargs["source_address"] = (SOURCE[0], 0)
    return _connect(address, *args, **kwargs)


ca_client.socket.create_connection = _from_source
OPERATE = ["NumScans", "ScanStart", "OutputPath", "Trigger", "ScanControl", "LogLevel"]
STATUS = ["Busy", "TaskStatus", "InfoLog", "H-PDB-Sigma", "ScanCurrentStep"]
VALUES = {"NumScans": 7, "ScanStart": -2.5, "OutputPath": b"run7\0", "Trigger": 1,
          "ScanControl": 1, "LogLevel": 2, "Busy": 1, "TaskStatus": 2,
          "InfoLog": b"hello\0", "H-PDB-Sigma": 1.25, "ScanCurrentStep": 3}


def as_host(ip, writable):
    """Connects from `ip`; each PV must be writable iff in `writable`, and a
    write must land iff it is; every PV stays readable."""
    SOURCE[0] = ip
    ctx = Context(host_name=f"fws-test-{ip}")
    names = OPERATE + STATUS
    pvs = ctx.get_pvs(*(P + n for n in names), timeout=5)
    for name, pv in zip(names, pvs):
        pv.wait_for_connection(timeout=10)
        rights = pv.channel.access_rights
        may = name in writable
        check(bool(rights & AccessRights.READ), f"{ip} reads {name}")
        check(bool(rights & AccessRights.WRITE) == may,
              f"{ip} {'may' if may else 'may not'} write {name} ({rights!r})")
        before = pv.read(timeout=5).data
        try:
            pv.write(VALUES[name], wait=True, timeout=5)
        except Exception as e:  # a refused write with notify is an error reply
            check(not may, f"{ip} wrote {name}: {e!r}")
        after = pv.read(timeout=5).data
        changed = list(before) != list(after)
        check(changed == may, f"{ip}: {name} {before!r} -> {after!r}")
    ctx.disconnect()


def desc(name):
    SOURCE[0] = OTHER_IP
    ctx = Context()
    (pv,) = ctx.get_pvs(f"{P}{name}.DESC", timeout=5)
    value = pv.read(timeout=5).data[0]
    ctx.disconnect()
    return value.decode() if isinstance(value, bytes) else value


check(desc("Trigger") == "Write 1 to start a scan sequence", "Trigger's DESC is served")
as_host(OTHER_IP, set())
as_host(OPERATOR_IP, set(OPERATE))
# The daemon's host writes its status PVs and may reset the operator PVs.
for name in ["NumScans", "ScanStart", "OutputPath", "Trigger", "ScanControl", "LogLevel"]:
    VALUES[name] = {"NumScans": 9, "ScanStart": -1.5, "OutputPath": b"run9\0",
                    "Trigger": 0, "ScanControl": 0, "LogLevel": 1}[name]
VALUES.update({"Busy": 1, "TaskStatus": 3, "InfoLog": b"bye\0", "H-PDB-Sigma": 0.5,
               "ScanCurrentStep": 4})
as_host(DAEMON_IP, set(OPERATE + STATUS))
print(f'{{"checks": {peer_checks.count}}}', flush=True)
os._exit(0)  # EPICS threads are still running: do not wait for them
