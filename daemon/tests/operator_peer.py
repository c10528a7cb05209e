#!/usr/bin/env python3
"""The operator's side of the end-to-end test: pyepics (the reference C
libca) drives a running fws-daemon in test mode, h5py reads its files.
Started by tests/e2e.rs with loopback-only CA settings in the environment.

usage: operator_peer.py DAEMON_BINARY SIM_BINARY WORK_DIR [embedded|ioc]
With `ioc`, the daemon's PVs live in a stock EPICS IOC (pythonSoftIOC
loading deploy/db/fws_daemon.db) and the daemon runs `--pv-host ioc`, a
pure client, with the simulator as its own process; the checks are the
same except where the IOC's own record rules answer first (marked).
Exits non-zero with a message on the first failed check.
"""

import json
import os
import subprocess
import sys
import time

import epics
import h5py
from caproto import ChannelType
from caproto.sync.client import write as cp_write
import numpy as np
from scipy.optimize import curve_fit
import peer_checks
from peer_checks import check, started

BIN, SIM_BIN, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
IOC = (sys.argv[4] if len(sys.argv) > 4 else "embedded") == "ioc"
HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(WORK, "data")
P = "Test:SCAN:DMN-"
SIM = os.path.join(WORK, "sim.yaml")






# Ports for the simulator as its own process, reserved by the Rust test
# (below the ephemeral range, locked against other test processes: see
# tests/support/loopback.rs), never picked here.
SPARE_PORTS = [int(p) for p in os.environ["FWS_TEST_PORTS"].split()]


def free_port():
    return SPARE_PORTS.pop()


OWN = os.environ["EPICS_CA_SERVER_PORT"]
SIM_PORT = free_port()  # the simulator as its own process (ioc mode)


def start_sim(log_name, config, port):
    proc = subprocess.Popen([SIM_BIN, "--port", str(port), "--sim-config", config],
                            stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(WORK, log_name), "w"))
    started.append(proc)
    return proc


def start_daemon(log_name, args=None, env=None):
    log = open(os.path.join(WORK, log_name), "w")
    if args is None:
        args = ["--data-root", DATA, "--log-dir", os.path.join(WORK, "log")]
        args += ["--no-sim"] if IOC else ["--sim-config", SIM]
    if IOC:
        args = args + ["--pv-host", "ioc"]
        env = env or dict(os.environ, EPICS_CA_ADDR_LIST=f"127.0.0.1:{OWN} 127.0.0.1:{SIM_PORT}")
    proc = subprocess.Popen([BIN, "1", "--test-mode"] + args, stdout=log,
                            stderr=subprocess.STDOUT, env=env)
    started.append(proc)
    if IOC:
        # The IOC serves the PVs already: the daemon is up when it beats.
        beats = []
        epics.camonitor(P + "Heartbeat", callback=lambda value=None, **_: beats.append(value))
        deadline = time.time() + 20
        while time.time() < deadline and len(beats) < 3:
            check(proc.poll() is None, f"the daemon exited early (see {log_name})")
            time.sleep(0.05)
        epics.camonitor_clear(P + "Heartbeat")
        check(len(beats) >= 3, "the daemon beats (the IOC's Heartbeat toggles)")
        return proc
    pv = epics.PV(P + "Busy", auto_monitor=False)
    deadline = time.time() + 20
    while time.time() < deadline:
        if pv.wait_for_connection(timeout=0.5):
            return proc
        check(proc.poll() is None, f"the daemon exited early (see {log_name})")
    raise SystemExit("FAILED: the daemon did not come up within 20 s")


def stop_daemon(proc):
    proc.terminate()
    proc.wait(timeout=15)


def get(name, **kw):
    return epics.caget(P + name, use_monitor=False, timeout=5, **kw)


def text(name):
    return get(name, as_string=True) or ""


def eventually(name, says, timeout=5.0):
    """The text PV `name` soon contains `says` (log PVs are set by the
    daemon's logging, after the CA reply that caused the message)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if says in text(name):
            return True
        time.sleep(0.02)
    return False


def put(name, value):
    return epics.caput(P + name, value, wait=True, timeout=5)


def files():
    out = []
    for root, _, names in os.walk(DATA):
        out += [os.path.join(root, n) for n in names if n.endswith(".h5")]
    return sorted(out)


def run_sequence(timeout=60):
    """Trigger and wait for Busy 1 -> 0 (by polling the read-back here:
    the daemon itself polls nothing)."""
    busy = []
    epics.camonitor(P + "Busy", callback=lambda value=None, **_: busy.append(value))
    check(put("Trigger", 1) == 1, "Trigger accepted")
    deadline = time.time() + timeout
    while time.time() < deadline and not (1 in busy and busy[-1] == 0):
        time.sleep(0.02)
    epics.camonitor_clear(P + "Busy")
    check(1 in busy and busy[-1] == 0, f"Busy went 1 -> 0 (saw {busy})")
    return text("TaskStatus")


def start_and_reach(step, timeout=20):
    """Trigger, then wait until the new sequence runs step `step` (Busy
    goes 1 after ScanCurrentStep is reset, so the last one's is not read)."""
    put("Trigger", 1)
    deadline = time.time() + timeout
    while time.time() < deadline and get("Busy") != 1:
        time.sleep(0.005)
    while time.time() < deadline and get("ScanCurrentStep") < step:
        time.sleep(0.01)
    check(get("ScanCurrentStep") >= step, f"the sequence reached step {step}")


with open(SIM, "w") as f:
    # Sweeps 1-5: the good scan; 6-7 the busy test; 8 ok, 9-11 fail;
    # 12-13 ok, 14 never ends (the abort test).
    f.write("sweep_seconds: 0.02\ntrace_samples: 500\n"
            "faults: {failing_sweeps: [9, 10, 11], hanging_sweeps: [14]}\n")

if IOC:
    ioc = subprocess.Popen([sys.executable, os.path.join(HERE, "ioc_host.py"),
                            os.path.join(HERE, "../../deploy/db/fws_daemon.db"), P],
                           stdout=subprocess.DEVNULL,
                           stderr=open(os.path.join(WORK, "ioc.log"), "w"))
    started.append(ioc)
    check(epics.PV(P + "Busy", auto_monitor=False).wait_for_connection(timeout=30),
          "the IOC serves the daemon's PVs")
    start_sim("sim-1.log", SIM, SIM_PORT)
daemon = start_daemon("daemon-1.log")

# 1. A good scan, checked in the file with h5py.
put("NumScans", 5)
put("ScanStart", -2.0)
put("ScanEnd", 2.0)
put("RelativeScan", 0)
put("OutputPath", "runs/a/long/folder/name/beyond/forty/characters")
check(run_sequence() == "Success", f"TaskStatus Success (ErrorLog: {text('ErrorLog')})")
check(get("TaskDuration") > 0, "TaskDuration set")
name = text("FileName")
check(name.startswith("FWS01_-2_2_n5_") and name.endswith(".h5"), f"FileName {name}")
path = os.path.join(DATA, "runs/a/long/folder/name/beyond/forty/characters", name)
check(os.path.exists(path), f"{path} exists")
with h5py.File(path, "r") as f:
    check(sorted(f.keys()) == [f"scan_{i:03d}" for i in range(1, 6)], f"steps {list(f.keys())}")
    attrs = f.attrs
    check(attrs["num_scans"] == 5, "num_scans")
    check(list(attrs["position_scan"]) == [-2.0, 2.0], "position_scan")
    check(bool(attrs["relative_scan"]) is False, "relative_scan")
    check(attrs["file_path"] == path, f"file_path {attrs['file_path']}")
    check("T" in attrs["start_time"] and attrs["start_time"].endswith("+00:00"), "start_time ISO UTC")
    for key in ["username", "source", "daemon_version", "exit_status", "plan"]:
        check(key in attrs, f"root attribute {key}")
    check(attrs["exit_status"] == "Completed", "exit_status Completed")
    check(np.allclose(attrs["plan"], np.linspace(-2, 2, 5)), "plan attribute")
    positions = []
    for i in range(1, 6):
        g = f[f"scan_{i:03d}"]
        check(sorted(g.keys()) == sorted(["idc", "scan", "evr", "struck", "be", "misc", "beam"]),
              f"groups {sorted(g.keys())}")
        check(g.attrs["Test:SCAN:ScanStatus"] == 0, "metadata attribute ScanStatus")
        check(len(g.attrs) == 8, f"8 metadata attributes, got {len(g.attrs)}")
        d = g["scan"]["Test:SCAN:PosToDelay"]
        check(d.shape == () and d.attrs["egu"] == "mm", "PosToDelay scalar in mm")
        positions.append(float(d[()]))
        trace = g["struck"]["Test:STRUCK:H-PDB-TRC2-ArrayData"]
        check(trace.shape == (500,) and trace.attrs["egu"] == "V", "trace of 500 samples in V")
        x = g["scan"]["Test:SCAN:InterpolatedPosCh1"][()]
        peak_x = x[int(np.argmax(trace[()]))]
        check(abs(peak_x - positions[-1]) < 0.1, "the pulse sits at the interaction position")
        check("HEBT-010LWU:PBI-BCM-001:FlatTopCurrentR" in g["beam"], "full-name PVs recorded")
        check(len(g["idc"]) == 33 and len(g["struck"]) == 18, "every default PV recorded")
    check(np.allclose(positions, np.linspace(-2, 2, 5)), f"one position per step {positions}")
    heights = [f[f"scan_{i:03d}"]["struck"]["Test:STRUCK:V-PDR-TRC1-ArrayData"][()].max() for i in range(1, 6)]
    check(int(np.argmax(heights)) == 2, f"the beam profile peaks at the centre step {heights}")
before = files()

# 2. Invalid inputs: Task Fail, the reason in ErrorLog, no file, still serving.
cases = [
    ("ScanStart", 5.0, "must be less than ScanEnd"),
    ("OutputPath", "/etc", "outside the data root"),
    ("OutputPath", "../../escape", "leaves the data root"),
]
for pv, value, says in cases:
    saved = get(pv) if pv != "OutputPath" else text(pv)
    put(pv, value)
    check(run_sequence() == "Task Fail", f"{pv}={value!r}: Task Fail")
    check(says in text("ErrorLog"), f"{pv}={value!r}: ErrorLog says {says!r}: {text('ErrorLog')!r}")
    put(pv, saved)
refused = [
    ("ScanStart", "abc", "not a number"),
    ("ScanEnd", "nan", "not a finite number"),
    ("NumScans", "-3", "outside"),
]
for pv, value, says in refused:
    old = get(pv)
    # As C caput sends it: a DBR_STRING (via caproto; pyepics would convert
    # in Python).
    reply = cp_write(P + pv, value, data_type=ChannelType.STRING, notify=True,
                     timeout=5, repeater=False)
    if IOC and pv == "ScanStart":
        # [ioc] The IOC's ao record cannot convert "abc": it refuses the
        # write itself; nothing reaches the daemon.
        check(reply.status.name != "ECA_NORMAL", f"{pv}={value!r}: the IOC refuses it")
        check(get(pv) == old, f"{pv}: value kept after refusing {value!r}")
        continue
    if IOC and pv == "NumScans":
        # [ioc] The longout record's DRVL holds it at 0: a valid value.
        check(reply.status.name == "ECA_NORMAL" and get(pv) == 0, f"{pv}: the IOC's DRVL")
        put(pv, old)
        continue
    if IOC:
        # [ioc] The IOC stores NaN; the daemon refuses the value it reads.
        check(eventually("ErrorLog", says), f"{pv}={value!r}: ErrorLog {text('ErrorLog')!r}")
    else:
        # The write itself is refused...
        check(reply.status.name == "ECA_PUTFAIL",
              f"{pv}={value!r}: ECA_PUTFAIL, got {reply.status.name}")
        check(get(pv) == old, f"{pv}: value kept after refusing {value!r}")
        check(eventually("ErrorLog", says), f"{pv}={value!r}: ErrorLog {text('ErrorLog')!r}")
    # ...and a Trigger before a valid write does not run on the bad value.
    check(run_sequence() == "Task Fail", f"{pv}={value!r}: Task Fail")
    check(pv in text("ErrorLog") and "refused" in text("ErrorLog"), f"ErrorLog names {pv}")
    put(pv, old)
check(files() == before, "no file written by a refused sequence")
check(get("Heartbeat") in (0, 1), "still serving")

# 3. A Trigger while busy starts nothing and says so.
put("NumScans", 2)
busy = []
epics.camonitor(P + "Busy", callback=lambda value=None, **_: busy.append(value))
put("Trigger", 1)
deadline = time.time() + 10
while time.time() < deadline and 1 not in busy:
    time.sleep(0.005)
put("Trigger", 1)
while time.time() < deadline and not (1 in busy and busy[-1] == 0):
    time.sleep(0.01)
epics.camonitor_clear(P + "Busy")
check(busy.count(1) == 1, f"exactly one sequence ran: {busy}")
if not IOC:
    # [ioc] A bo record posts no monitor for a write of its current value:
    # the daemon never hears the second Trigger (nothing starts either way).
    check("ignored" in text("WarningLog"), f"WarningLog: {text('WarningLog')!r}")
check(len(files()) == len(before) + 1, "one new file")
before = files()

# 4. Failing sweeps: retried, then IO Fail; the file keeps the completed step.
put("NumScans", 3)
check(run_sequence() == "IO Fail", "IO Fail")
check("step 2" in text("ErrorLog"), f"ErrorLog names the step: {text('ErrorLog')!r}")
new = [f for f in files() if f not in before]
check(len(new) == 1, f"one new file {new}")
with h5py.File(new[0], "r") as f:
    check(list(f.keys()) == ["scan_001"], f"exactly the completed steps {list(f.keys())}")
    check(f.attrs["exit_status"] == "Failed", "exit_status Failed")

# 4b. ScanControl. ABORT during a sweep that never ends: the wait is cancelled
#     at once (not after the 15 s sweep timeout); TaskStatus stays the
#     reference's Success, ScanExitStatus and the file say Aborted.
check(text("ScanExitStatus") == "Failed" and "step 2" in text("ScanExitReason"),
      f"the IO Fail is Failed with its reason: {text('ScanExitReason')!r}")
before = files()
put("NumScans", 5)
busy = []
epics.camonitor(P + "Busy", callback=lambda value=None, **_: busy.append(value))
start_and_reach(3)
deadline = time.time() + 20
time.sleep(0.3)
check(busy[-1:] == [1], f"still sweeping step 3 (Busy {busy})")
aborted_at = time.time()
put("ScanControl", "ABORT")
while time.time() < deadline and busy[-1] != 0:
    time.sleep(0.01)
took = time.time() - aborted_at
epics.camonitor_clear(P + "Busy")
check(busy[-1] == 0 and took < 5, f"ABORT ended the sequence at once ({took:.2f} s)")
check(text("TaskStatus") == "Success", f"TaskStatus stays compatible: {text('TaskStatus')}")
check(text("ScanExitStatus") == "Aborted", f"ScanExitStatus {text('ScanExitStatus')}")
check("during the sweep of step 3 of 5" in text("ScanExitReason"),
      f"ScanExitReason {text('ScanExitReason')!r}")
check(text("ScanControl") == "RESUME", "ScanControl back to RESUME after the abort")
new = [f for f in files() if f not in before]
with h5py.File(new[0], "r") as f:
    check(list(f.keys()) == ["scan_001", "scan_002"], f"the completed steps kept {list(f.keys())}")
    check(f.attrs["exit_status"] == "Aborted" and f.attrs["completed_steps"] == 2
          and "sweep of step 3" in f.attrs["exit_reason"], "the file says Aborted, and why")

# PAUSE while idle holds the next sequence before its first step; RESUME runs it.
put("ScanControl", "PAUSE")
check(eventually("InfoLog", "hold before its first step"), f"InfoLog {text('InfoLog')!r}")
before = files()
put("NumScans", 3)
put("Trigger", 1)
check(eventually("InfoLog", "paused before step 1 of 3"), f"InfoLog {text('InfoLog')!r}")
time.sleep(0.5)
held = [f for f in files() if f not in before]
# Until its first step is whole the file is its hidden part, named by
# FileName already.
part = [os.path.join(r, n) for r, _, names in os.walk(DATA) for n in names
        if n == f".{text('FileName')}.part"]
check(get("Busy") == 1 and held == [] and len(part) == 1,
      f"held: busy, the file created as its part ({held} {part})")
with h5py.File(part[0], "r", locking=False) as f:  # the daemon has it open
    check(len(f.keys()) == 0 and f.attrs["exit_status"] == "Running", "no step yet, Running")
put("ScanControl", "RESUME")
deadline = time.time() + 20
while time.time() < deadline and get("Busy") == 1:
    time.sleep(0.02)
check(text("TaskStatus") == "Success" and text("ScanExitStatus") == "Completed",
      f"resumed and completed: {text('ScanExitStatus')} {text('ScanExitReason')!r}")
check(text("ScanExitReason") == "", "no reason for a completed scan")
new = [f for f in files() if f not in before]
with h5py.File(new[0], "r") as f:
    check(len(f.keys()) == 3 and f.attrs["exit_status"] == "Completed", "all 3 steps, Completed")

# STOP finishes the current step and closes the file: Stopped.
before = files()
put("NumScans", 40)
start_and_reach(4)
deadline = time.time() + 30
put("ScanControl", "STOP")
while time.time() < deadline and get("Busy") == 1:
    time.sleep(0.02)
check(text("ScanExitStatus") == "Stopped" and "STOP before step" in text("ScanExitReason"),
      f"Stopped: {text('ScanExitStatus')} {text('ScanExitReason')!r}")
check(text("TaskStatus") == "Success" and text("ScanControl") == "RESUME",
      "TaskStatus Success, ScanControl back to RESUME")
new = [f for f in files() if f not in before]
with h5py.File(new[0], "r") as f:
    kept = len(f.keys())
    check(4 <= kept < 40 and f.attrs["exit_status"] == "Stopped"
          and f.attrs["completed_steps"] == kept, f"stopped after {kept} whole steps")
# ABORT or STOP with nothing running: nothing to end, back to RESUME.
put("ScanControl", "ABORT")
check(eventually("WarningLog", "no sequence is running"), f"WarningLog {text('WarningLog')!r}")
check(text("ScanControl") == "RESUME", "idle ABORT reset")

# 9. What a new user and a hostile client found (issue 11, section A).
LOG = os.path.join(WORK, "log")


def log_text():
    time.sleep(0.3)  # the log file is written by a background thread
    return "".join(open(os.path.join(LOG, n)).read() for n in sorted(os.listdir(LOG)))


put("NumScans", 3)
put("ScanStart", -1.0)
put("ScanEnd", 1.0)
put("OutputPath", "hostile")

# A1: LogLevel WARNING silences the INFO lines of call sites that logged
# before (stderr, the file and InfoLog); SilencedLoggers drops a module.
check(run_sequence() == "Success", "a scan at INFO")
seen = len(log_text())
info_before = text("InfoLog")
put("LogLevel", "WARNING")
if IOC:
    # [ioc] the daemon hears the IOC's LogLevel through its monitor, which
    # may come after the Trigger's: give it a moment.
    time.sleep(0.5)
check(run_sequence() == "Success", "a scan at WARNING")
new = log_text()[seen:]
check(" INFO " not in new, f"no INFO line after LogLevel WARNING: {new[:400]!r}")
check(text("InfoLog") == info_before, f"InfoLog unchanged: {text('InfoLog')!r}")
put("LogLevel", "INFO")
put("SilencedLoggers", "runner::sequence")
if IOC:
    time.sleep(0.5)
seen = len(log_text())
check(run_sequence() == "Success", "a scan with runner::sequence silenced")
new = log_text()[seen:]
check("sequence started" in new and "step done" not in new,
      f"runner::sequence silenced, the rest kept: {new[:600]!r}")
put("SilencedLoggers", "")

# A5: a link inside the data root leads out: nothing is created past it.
OUTSIDE = os.path.join(WORK, "outside")
os.makedirs(OUTSIDE)
os.symlink(OUTSIDE, os.path.join(DATA, "link"))
check(text("FileName") != "", "a file name from the last scan")
put("OutputPath", "link/newsub/deeper")
check(run_sequence() == "Task Fail", "OutputPath through a link: Task Fail")
check("symbolic link" in text("ErrorLog"), f"ErrorLog: {text('ErrorLog')!r}")
check(os.listdir(OUTSIDE) == [], f"nothing made outside the data root: {os.listdir(OUTSIDE)}")
# A10: a sequence that wrote nothing leaves no file name behind.
check(text("FileName") == "", f"FileName cleared: {text('FileName')!r}")
check(text("ScanExitStatus") == "Failed", "Failed")

# A6: control characters in a path forge nothing.
FORGED = "2026-12-01T00:00:00Z ERROR fws_daemon: FORGED"
reply = cp_write(P + "OutputPath", ("nl\n" + FORGED).encode(), notify=True, timeout=5,
                 repeater=False)
if not IOC:
    check(reply.status.name == "ECA_PUTFAIL", f"refused: {reply.status.name}")
    check(text("OutputPath") == "link/newsub/deeper", "value kept")
check(eventually("ErrorLog", "control character"), f"ErrorLog: {text('ErrorLog')!r}")
check(run_sequence() == "Task Fail", "a Trigger before a valid OutputPath fails")
check(not any(line.startswith(FORGED) for line in log_text().splitlines()), "no forged log line")
check(not any("\n" in n for _, dirs, _ in os.walk(DATA) for n in dirs), "no folder with a newline")

# A10: a 5000-byte OutputPath is refused with its length (not a byte list),
# and the next sequence's reason replaces the last one's.
reply = cp_write(P + "OutputPath", b"A" * 5000, notify=True, timeout=5, repeater=False)
check(eventually("ErrorLog", "longer than the 255 this PV holds"), f"ErrorLog: {text('ErrorLog')!r}")
check("[65, 65" not in text("ErrorLog"), f"no byte list: {text('ErrorLog')[:200]!r}")
check('"AAAA' in text("ErrorLog"), f"the text quoted: {text('ErrorLog')[:200]!r}")
check(run_sequence() == "Task Fail", "Task Fail on the refused OutputPath")
check("OutputPath" in text("ScanExitReason") and len(text("ScanExitReason")) <= 1023,
      f"ScanExitReason says why: {text('ScanExitReason')[:200]!r}")
put("OutputPath", "hostile")

# A7: extra PV files an operator names: a FIFO, a huge file, too many PVs;
# each is a warning and the scan runs with the defaults.
os.mkfifo(os.path.join(DATA, "fifo.yaml"))
with open(os.path.join(DATA, "big.yaml"), "w") as f:
    f.write("g:\n" + "".join(f"  - X:PV{i}\n" for i in range(200_000)))
with open(os.path.join(DATA, "many.yaml"), "w") as f:
    f.write("g:\n" + "".join(f"  - X:PV{i}\n" for i in range(10_001)))
for name, says in [("fifo.yaml", "a FIFO, not a regular file"),
                   ("big.yaml", "larger than 1048576 bytes"),
                   ("many.yaml", "more than the 10000")]:
    put("DataFilePath", name)
    # A FIFO read the old way would block the sequence for good.
    check(run_sequence(timeout=30) == "Success", f"DataFilePath {name}: the scan runs")
    check(says in text("WarningLog"), f"{name}: WarningLog {text('WarningLog')!r}")
put("DataFilePath", "")

# A10: ScanExitStatus says Running while a sequence runs. A12: a flood of
# Triggers meanwhile is one warning line, then a count.
put("NumScans", 25)
seen = len(log_text())
start_and_reach(2)
check(text("ScanExitStatus") == "Running", f"Running: {text('ScanExitStatus')}")
if not IOC:
    # [ioc] a bo record posts no monitor for a write of its current value:
    # the IOC never passes a flood of Trigger=1 on.
    for _ in range(1000):
        epics.caput(P + "Trigger", 1, wait=False)
    epics.ca.flush_io()
deadline = time.time() + 30
while time.time() < deadline and get("Busy") == 1:
    time.sleep(0.05)
check(text("TaskStatus") == "Success", "the flooded scan completed")
if not IOC:
    deadline = time.time() + 10
    while time.time() < deadline and "(repeated" not in log_text()[seen:]:
        time.sleep(0.2)
    flood = [l for l in log_text()[seen:].splitlines() if "Trigger from" in l]
    check(1 <= len(flood) <= 3 and any("(repeated" in l for l in flood),
          f"1000 ignored Triggers in {len(flood)} lines: {flood}")
    # A11: the daemon's read-only PVs say so at connection.
    for name, writable in [("Busy", False), ("TaskStatus", False), ("FileName", False),
                           ("H-PDB-Sigma", False), ("NumScans", True), ("OutputPath", True)]:
        pv = epics.PV(P + name, auto_monitor=False)
        check(pv.wait_for_connection(timeout=5), f"{name} connects")
        check(bool(pv.write_access) == writable, f"{name}: write_access {pv.write_access}")
    try:
        epics.caput(P + "Busy", 1, wait=True, timeout=5)
        denied = ""
    except epics.ca.CASeverityException as e:
        denied = str(e)
    check("Write access denied" in denied and get("Busy") == 0,
          f"a put to Busy is denied and changes nothing: {denied!r}")

# 5. Inputs persist across a restart.
put("NumScans", 7)
put("ScanStart", -1.25)
put("OutputPath", "persisted/path")
# A shutdown while a sequence runs aborts it: its file is closed, Aborted.
before = files()
start_and_reach(3)
stop_daemon(daemon)
new = [f for f in files() if f not in before]
check(len(new) == 1, f"the interrupted scan's file {new}")
with h5py.File(new[0], "r") as f:
    kept = len(f.keys())
    check(f.attrs["exit_status"] == "Aborted" and f.attrs["completed_steps"] == kept
          and kept >= 2, f"shutdown: Aborted after {kept} steps ({f.attrs['exit_status']})")
daemon = start_daemon("daemon-2.log")
check(get("NumScans") == 7, "NumScans restored")
check(get("ScanStart") == -1.25, f"ScanStart restored: {get('ScanStart')}")
check(text("OutputPath") == "persisted/path", "OutputPath restored")
check(get("Busy") == 0 and get("Trigger") == 0, "not busy after the restart")
stop_daemon(daemon)

# 6. A station file (--config) sets the data root and a short read timeout;
#    the simulator runs as its own process (--no-sim + fws-sim) with one PV
#    that never connects; extra PV files are named at run time.
def write(path, content):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(content)


DATA2 = os.path.join(WORK, "station-data")
STATION = os.path.join(WORK, "station.yaml")
write(STATION, f"data_root: {DATA2}\n"
      "timing: {pv_read_s: 0.5, first_sweep_s: 5, sweep_s: 1, attempts: 2}\n")
write(os.path.join(DATA2, "extra/data.yaml"), "hardscan:\n  - Test:SCAN:TrigPosAuto\n")
write(os.path.join(DATA2, "extra/meta.yaml"), "hardscan:\n  - Test:SCAN:RunHardScan\n")
write(os.path.join(DATA2, "extra/bad.yaml"), "hardscan: [unclosed\n")
write(os.path.join(WORK, "outside.yaml"), "hardscan:\n  - Test:SCAN:RunHardScan\n")
SIM2 = os.path.join(WORK, "sim2.yaml")
write(SIM2, "sweep_seconds: 0.01\ntrace_samples: 500\n"
      "faults: {unreachable_pvs: [E151TStampFloat]}\n")
sim_port = free_port()
sim = start_sim("sim.log", SIM2, sim_port)
env = dict(os.environ, EPICS_CA_ADDR_LIST=f"127.0.0.1:{OWN} 127.0.0.1:{sim_port}")
LOG3 = os.path.join(WORK, "log3")
# A custom callback written for the reference daemon (a .py file exposing
# get_post_callback), run through the bundled adapter in its own process.
CALLBACK = os.path.join(WORK, "ref_callback.py")
write(CALLBACK, """
def get_post_callback():
    def post(**kw):
        pvs = {pv.name: pv for group in kw["scan_data"].values() for pv in group}
        trace = pvs["Test:STRUCK:H-PDB-TRC2-ArrayData"].val
        sigma = pvs.get("Test:SCAN:DMN-H-PDB-Sigma")
        return {"h_pdb_peak": float(trace.max()), "group_seen": kw["group_name"],
                "sigma_seen": sigma.val if sigma is not None else -1.0,
                "file_seen": kw["file_path"]}
    return post
""")
env["FWS_PYTHON"] = sys.executable
daemon = start_daemon("daemon-3.log", ["--no-sim", "--config", STATION, "--log-dir", LOG3,
                                       "--custom-callback", CALLBACK], env)
try:
    put("NumScans", 3)
    put("ScanStart", -1.0)
    put("ScanEnd", 1.0)
    put("OutputPath", "cfg")
    put("DataFilePath", "extra/data.yaml")
    put("MetadataFilePath", "extra/meta.yaml")
    infos = []
    epics.camonitor(P + "InfoLog", callback=lambda char_value=None, **_: infos.append(char_value))
    check(run_sequence() == "Success", f"Success with fws-sim (ErrorLog: {text('ErrorLog')})")
    epics.camonitor_clear(P + "InfoLog")
    out = sorted(os.listdir(os.path.join(DATA2, "cfg")))
    check(len(out) == 1, f"one file under the station's data root: {out}")
    with h5py.File(os.path.join(DATA2, "cfg", out[0]), "r") as f:
        for i in range(1, 4):
            g = f[f"scan_{i:03d}"]
            check("Test:SCAN:TrigPosAuto" in g["hardscan"], "the extra data PV is recorded")
            check("Test:SCAN:RunHardScan" in g.attrs and len(g.attrs) == 9,
                  f"the extra metadata PV is an attribute: {sorted(g.attrs)}")
            evr = list(g["evr"])
            check(len(evr) == 11 and not any(n.endswith("E151TStampFloat") for n in evr),
                  f"the missing PV is left out: {evr}")
    said = [m for m in infos if m and "PVs missing" in m]
    check(len(said) == 3 and all("E151TStampFloat" in m for m in said),
          f"InfoLog counts the missing PV at each step: {infos}")
    logged = "".join(open(os.path.join(LOG3, n)).read() for n in os.listdir(LOG3))
    check("step 3: 1 of " in logged, "the log file has the count too")

    for pv, value, says in [
        ("DataFilePath", "extra/bad.yaml", "DataFilePath"),
        ("MetadataFilePath", "../outside.yaml", "data root"),
    ]:
        put("DataFilePath", "")
        put("MetadataFilePath", "")
        put(pv, value)
        check(run_sequence() == "Success", f"{pv}={value}: the sequence goes on with the defaults")
        warning = text("WarningLog")
        check(says in warning and "not used" in warning, f"{pv}={value}: WarningLog {warning!r}")
    def newest():
        folder = os.path.join(DATA2, "cfg")
        return max((os.path.join(folder, n) for n in os.listdir(folder)), key=os.path.getmtime)

    with h5py.File(newest(), "r") as f:
        g = f["scan_001"]
        check("hardscan" not in g and len(g.attrs) == 8, "defaults only")
    # Three scans of the same range, likely in the same minute: three files.
    check(len(os.listdir(os.path.join(DATA2, "cfg"))) == 3, "no file overwritten")

    # A relative scan: TrigPosAuto first, then positions around the current
    # PosToDelay (the last scan ended at 1.0 mm).
    put("DataFilePath", "")
    put("MetadataFilePath", "")
    put("RelativeScan", 1)
    put("ScanStart", -0.5)
    put("ScanEnd", 0.5)
    check(run_sequence() == "Success", f"relative scan (ErrorLog: {text('ErrorLog')})")
    with h5py.File(newest(), "r") as f:
        check(bool(f.attrs["relative_scan"]), "relative_scan attribute")
        moved = [float(f[f"scan_{i:03d}"]["scan"]["Test:SCAN:PosToDelay"][()]) for i in (1, 2, 3)]
        check(np.allclose(moved, [0.5, 1.0, 1.5]), f"positions around 1.0 mm: {moved}")
    put("RelativeScan", 0)

    # 7. The live fit: 21 steps across a beam of sigma 1.7 mm centred at 0.
    put("NumScans", 21)
    put("ScanStart", -6.0)
    put("ScanEnd", 6.0)
    check(run_sequence() == "Success", f"fit scan (ErrorLog: {text('ErrorLog')})")
    fit_report = {}
    for twin in ["", "-F"]:
        sigma, mean = get(f"H-PDB-Sigma{twin}"), get(f"H-PDB-Mean{twin}")
        fit_report[f"H-PDB{twin}"] = {"sigma": sigma, "mean": mean}
        check(abs(sigma - 1.7) < 0.03 * 1.7, f"Sigma{twin} {sigma} within 3 % of 1.7")
        check(abs(mean) < 0.05, f"Mean{twin} {mean} within 0.05 mm of 0")
        check(get(f"H-PDB-FitOk{twin}") == 1, f"FitOk{twin}")
        check(len(get(f"H-PDB-Integral{twin}")) >= 5, f"Integral{twin} history")
        check(len(get(f"H-PDB-GaussFit{twin}")) == 500, f"GaussFit{twin} curve")
    with h5py.File(newest(), "r") as f:
        last = f["scan_021"]["scan"]
        d = last["Test:SCAN:DMN-H-PDB-Sigma"]
        check(d.attrs["egu"] == "mm" and abs(d[()] - get("H-PDB-Sigma")) < 1e-9,
              "the final fit is in the last step's scan group, in mm")
        check(len(last["Test:SCAN:DMN-V-PDR-Integral-F"][()]) <= 21, "filtered history stored")
        # scipy, with the reference's settings, on the histories in the file
        # agrees with what the daemon published, for every channel and twin.
        compared = 0
        for ch in ["V-PDR", "V-PDL", "H-PDT", "H-PDB", "V-APDT", "V-APDB", "H-APDR", "H-APDL"]:
            for twin in ["", "-F"]:
                name = lambda q: f"Test:SCAN:DMN-{ch}-{q}{twin}"
                x, y = last[name("IntPos")][()], last[name("Integral")][()]
                if len(x) < 5:
                    continue
                p0 = [y.max() - y.min(), x[np.argmax(y)], (x.max() - x.min()) / 6.0 or 1.0, y.min()]
                popt, _ = curve_fit(lambda v, a, m, s, o: a * np.exp(-(v - m) ** 2 / (2 * s * s)) + o,
                                    x, y, p0=p0, maxfev=2000,
                                    bounds=([0, -np.inf, 1e-6, -np.inf], [np.inf] * 4))
                ours = [last[name(q)][()] for q in ("Amp", "Mean", "Sigma")]
                check(np.allclose(ours, popt[:3], rtol=1e-5, atol=1e-7),
                      f"{ch}{twin}: ours {ours} vs scipy {popt[:3]}")
                check(abs(ours[1] - get(f"{ch}-Mean{twin}")) < 1e-9, f"{ch}{twin}: file = PV")
                compared += 1
        check(compared == 16, f"every channel and twin fitted and compared ({compared})")
        # The custom callback saw each step's data and fit and its extras are
        # in each step group.
        for i in range(1, 22):
            g = f[f"scan_{i:03d}"]
            custom = g["custom"]
            peak = g["struck"]["Test:STRUCK:H-PDB-TRC2-ArrayData"][()].max()
            check(custom["h_pdb_peak"][()] == peak, f"step {i}: the callback's peak")
            check(custom["group_seen"][()].decode() == f"scan_{i:03d}", f"step {i}: group_name")
            check(custom["file_seen"][()].decode() == f.filename, f"step {i}: file_path")
            fit = g["scan"].get("Test:SCAN:DMN-H-PDB-Sigma")
            check(custom["sigma_seen"][()] == (fit[()] if fit is not None else -1.0),
                  f"step {i}: the fit result it saw")

    # 8. The scanner IOC dies mid-scan: the sweep fails its tries, IO Fail,
    #    the file keeps every completed step. It comes back: the next scan
    #    runs without restarting the daemon.
    put("NumScans", 40)
    busy = []
    epics.camonitor(P + "Busy", callback=lambda value=None, **_: busy.append(value))
    start_and_reach(3, timeout=30)
    deadline = time.time() + 30
    sim.kill()
    sim.wait()
    while time.time() < deadline and not (1 in busy and busy[-1] == 0):
        time.sleep(0.05)
    epics.camonitor_clear(P + "Busy")
    check(text("TaskStatus") == "IO Fail", f"IOC lost: IO Fail, got {text('TaskStatus')}")
    check("step" in text("ErrorLog"), f"ErrorLog names the step: {text('ErrorLog')!r}")
    with h5py.File(newest(), "r") as f:
        kept = len(f.keys())
        check(kept >= 2 and f.attrs["exit_status"] == "Failed"
              and f.attrs["completed_steps"] == kept,
              f"the completed steps are kept ({kept}, {f.attrs['exit_status']})")
    sim = start_sim("sim-again.log", SIM2, sim_port)
    put("NumScans", 3)
    check(run_sequence(timeout=60) == "Success",
          f"the IOC is back: Success (ErrorLog: {text('ErrorLog')})")
finally:
    stop_daemon(daemon)
    sim.terminate()
    sim.wait(timeout=15)
if IOC:
    # Every status, log and fit value the daemon wrote reached the IOC
    # (empty arrays at a sequence's start included).
    for name in ["daemon-1.log", "daemon-2.log", "daemon-3.log"]:
        with open(os.path.join(WORK, name)) as log:
            content = log.read()
        check("writing to the IOC failed" not in content, f"{name}: a write to the IOC failed")
        check("with its PVs Test:SCAN:DMN-* in a site IOC" in content, f"{name}: ioc mode")
print(json.dumps({"checks": peer_checks.count, "fit (true sigma 1.7, mean 0)": fit_report}))
