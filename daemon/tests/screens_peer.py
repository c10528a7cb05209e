#!/usr/bin/env python3
"""The operator screens against a running daemon: PyDM (PyQt5, under the
Xvfb display tests/screens.rs starts) opens deploy/screens/fws_daemon.ui on
`fws-daemon 1 --test-mode` (its built-in simulator), every widget's
channels connect, an operator fills the inputs and clicks Start scan with
QTest, the scan completes and the profile plot shows its points. The
Phoebus screen (fws_daemon.bob) is checked as far as it can be here: its
XML, widget types and versions, and every PV it names served by the
daemon. Loopback-only CA settings come from the environment.

usage: screens_peer.py DAEMON_BINARY WORK_DIR DEPLOY_DIR SCREENSHOT.png
Exits non-zero with a message on the first failed check.
"""

import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
import peer_checks
from peer_checks import check, started

BIN, WORK, DEPLOY, SHOT = sys.argv[1:5]
P = "Test:SCAN:DMN-"
UI = os.path.join(DEPLOY, "screens", "fws_daemon.ui")
BOB = os.path.join(DEPLOY, "screens", "fws_daemon.bob")
T0 = time.time()






def log(what):
    print(f"[{time.time() - T0:5.1f} s] {what}", flush=True)


# The daemon with short sweeps: 21 steps take a few seconds.
sim = os.path.join(WORK, "sim.yaml")
with open(sim, "w") as f:
    f.write("sweep_seconds: 0.02\ntrace_samples: 500\n"
            "beam: {mean: 0.5, sigma: 1.7, amplitude: 50.0, noise: 0.05, seed: 3}\n")
daemon_log = open(os.path.join(WORK, "daemon.log"), "w")
daemon = subprocess.Popen(
    [BIN, "1", "--test-mode", "--data-root", os.path.join(WORK, "data"),
     "--log-dir", os.path.join(WORK, "log"), "--sim-config", sim],
    stdout=daemon_log, stderr=subprocess.STDOUT)
started.append(daemon)

import epics  # noqa: E402  (after the daemon: libca reads the environment)

busy_pv = epics.PV(P + "Busy", auto_monitor=False)
deadline = time.time() + 20
while not busy_pv.wait_for_connection(timeout=0.5):
    check(daemon.poll() is None, "the daemon exited early (see daemon.log)")
    check(time.time() < deadline, "the daemon came up within 20 s")
log("daemon up")


def served(names, what):
    """Every PV of `names` connects to the running daemon."""
    pvs = {n: epics.PV(n, auto_monitor=False) for n in sorted(names)}
    missing = [n for n, pv in pvs.items() if not pv.wait_for_connection(timeout=3)]
    check(not missing, f"{what}: PVs the daemon does not serve: {missing}")
    for pv in pvs.values():
        pv.disconnect()


# 1. The Phoebus screen: well-formed, Phoebus' widget types at their
# versions with the properties each needs, its macro, every PV served.
# Widget types and current versions as Phoebus' display builder model
# (org.csstudio.display.builder.model.widgets.*Widget, WidgetDescriptor
# and the version each persists).
PHOEBUS = {
    "label": "2.0.0", "textupdate": "2.0.0", "textentry": "3.0.0",
    "action_button": "3.0.0", "led": "2.0.0", "combo": "2.0.0",
    "checkbox": "2.0.0", "group": "2.0.0", "xyplot": "3.0.0",
}
NEEDS = {  # properties without which the widget shows nothing useful
    "textupdate": ["pv_name"], "textentry": ["pv_name"], "led": ["pv_name"],
    "combo": ["pv_name"], "checkbox": ["pv_name", "label"], "label": ["text"],
    "action_button": ["pv_name", "actions", "text"], "group": ["name"],
    "xyplot": ["traces", "x_axis", "y_axes"],
}
bob = ET.parse(BOB).getroot()
check(bob.tag == "display" and bob.get("version") == "2.0.0", "a Phoebus display, version 2.0.0")
check(bob.find("macros/P") is not None, "the display defines the P macro")
bob_pvs, types = set(), set()
for w in bob.iter("widget"):
    kind, version = w.get("type"), w.get("version")
    types.add(kind)
    check(kind in PHOEBUS, f"widget type {kind!r} is one of Phoebus'")
    check(version == PHOEBUS[kind], f"{kind} has version {PHOEBUS[kind]} (got {version})")
    for name in ["name", "x", "y", "width", "height"]:
        check(w.find(name) is not None, f"{kind} {w.findtext('name')!r} has <{name}>")
    for name in NEEDS[kind]:
        check(w.find(name) is not None, f"{kind} {w.findtext('name')!r} has <{name}>")
    for tag in ["pv_name", "x_pv", "y_pv"]:
        for e in w.iter(tag):
            if e.text and e.text.strip():
                bob_pvs.add(e.text.strip())
    for action in w.iter("action"):
        check(action.get("type") == "write_pv", "button actions write a PV")
        bob_pvs.add(action.findtext("pv_name").strip())
check({"action_button", "xyplot", "textentry", "textupdate", "led"} <= types,
      f"the .bob has buttons, entries, read-backs, LEDs and a plot: {types}")
check(all(p.startswith("$(P)") for p in bob_pvs), "every .bob PV is under $(P)")
bob_names = {p.replace("$(P)", P) for p in bob_pvs}
served(bob_names, "fws_daemon.bob")
log(f".bob: {len(bob_names)} PVs served")

# 2. The PyDM screen.
ui_text = open(UI).read()
ui_pvs = set(re.findall(r"ca://\$\{P\}([A-Za-z0-9_:\-]+)", ui_text))
served({P + p for p in ui_pvs}, "fws_daemon.ui")
log(f".ui: {len(ui_pvs)} PVs served")
expected = ({"NumScans", "RelativeScan", "CenterPosition", "ScanStart", "ScanEnd",
             "OutputPath", "DataFilePath", "MetadataFilePath", "Trigger", "Busy",
             "TaskStatus", "ScanExitStatus", "ScanExitReason", "ScanCurrentStep",
             "ScanElapsedTime", "ScanControl", "DebugLog", "InfoLog", "WarningLog",
             "ErrorLog", "LogLevel", "FileName"}
            | {f"H-PDB-{q}" for q in ["Amp", "Mean", "Sigma", "FWHM", "AmpErr", "MeanErr",
                                      "SigmaErr", "RedChi2", "FitOk", "IntPos", "Integral",
                                      "FitPos", "GaussFit"]})
check(expected <= ui_pvs, f".ui lacks {sorted(expected - ui_pvs)}")
check(expected <= {p.replace("$(P)", "") for p in bob_pvs},
      f".bob lacks {sorted(expected - {p.replace('$(P)', '') for p in bob_pvs})}")

from qtpy.QtCore import Qt  # noqa: E402
from qtpy.QtTest import QTest  # noqa: E402
from pydm import PyDMApplication  # noqa: E402
from pydm.data_plugins import plugin_for_address  # noqa: E402
from pydm.widgets.base import PyDMWidget  # noqa: E402
from pydm.widgets import PyDMWaveformPlot  # noqa: E402

app = PyDMApplication(ui_file=UI, macros={"P": P}, hide_nav_bar=True, hide_menu_bar=True,
                      hide_status_bar=True)
window = app.main_window
window.resize(1240, 800)
window.show()
display = window.display_widget()


def pump(seconds, until=lambda: False):
    deadline = time.time() + seconds
    while time.time() < deadline:
        app.processEvents()
        if until():
            return True
        time.sleep(0.01)
    return until()


# PyDM's plots are not PyDMWidgets: their curves' channels are checked too.
plots = display.findChildren(PyDMWaveformPlot)
check(len(plots) == 1, "one profile plot")
widgets = list(display.findChildren(PyDMWidget)) + plots
channels = [(w, c) for w in widgets for c in w.channels() if c is not None and c.address]
check(len(widgets) >= 35, f"the screen has its PyDM widgets ({len(widgets)})")
check(len(channels) == len(widgets) + 3, f"every widget has its channel, the plot four ({len(channels)})")


def disconnected():
    out = []
    for w, c in channels:
        plugin = plugin_for_address(c.address)
        conn = plugin.connections.get(plugin.get_connection_id(c)) if plugin else None
        if conn is None or not conn.connected:
            out.append(f"{w.objectName()}: {c.address}")
        elif hasattr(w, "_connected") and not w._connected and not isinstance(w, PyDMWaveformPlot):
            out.append(f"{w.objectName()} (widget shows disconnected)")
    return out


pump(20, lambda: not disconnected())
check(not disconnected(), f"every widget connected; not: {disconnected()}")
log(f"{len(widgets)} widgets, {len(channels)} channels connected")

# The ScanControl buttons write the state their text names.
labels = epics.PV(P + "ScanControl").get_ctrlvars(timeout=5)["enum_strs"]
for text in ["RESUME", "PAUSE", "STOP", "ABORT"]:
    b = [w for w in widgets if w.objectName() == f"ScanControl_{text}"]
    check(len(b) == 1, f"a {text} button")
    check(labels[int(b[0].pressValue)] == text, f"{text} writes ScanControl={b[0].pressValue}")


# 3. An operator sets 21 steps from -6 to 6 mm and clicks Start scan.
def type_into(name, text):
    edit = [w for w in widgets if w.objectName() == name][0]
    edit.setFocus()
    edit.selectAll()
    QTest.keyClicks(edit, text)
    QTest.keyClick(edit, Qt.Key_Return)


type_into("NumScans", "21")
type_into("ScanStart", "-6")
type_into("ScanEnd", "6")
type_into("OutputPath", "screen-test")
rb = lambda n: epics.caget(P + n, use_monitor=False, timeout=5)  # noqa: E731
check(pump(5, lambda: rb("NumScans") == 21 and rb("ScanStart") == -6.0 and rb("ScanEnd") == 6.0),
      f"the inputs reached the daemon: {rb('NumScans')}, {rb('ScanStart')}, {rb('ScanEnd')}")
busy = []
epics.camonitor(P + "Busy", callback=lambda value=None, **_: busy.append(value))
trigger = [w for w in widgets if w.objectName() == "Trigger"][0]
QTest.mouseClick(trigger, Qt.LeftButton)
log("Start scan clicked")
check(pump(5, lambda: 1 in busy), "the click started a sequence (Busy 1)")
check(pump(60, lambda: busy[-1] == 0), f"the sequence ended (Busy {busy})")
epics.camonitor_clear(P + "Busy")
status = epics.caget(P + "TaskStatus", as_string=True, use_monitor=False, timeout=5)
check(status == "Success", f"TaskStatus Success (got {status})")
log("scan complete")

# The screen shows the result: the plot's points and fit, the status.
plot = plots[0]
points, fit = plot._curves[0], plot._curves[1]


def drawn():
    return (points.x_waveform is not None and points.y_waveform is not None
            and len(points.x_waveform) >= 21 and len(points.y_waveform) >= 21
            and fit.x_waveform is not None and len(fit.x_waveform) >= 100)


check(pump(10, drawn), "the profile plot shows the 21 points and the fit curve")
check(points.lineStyle == Qt.NoPen and points.symbol == "o", "the history as points, no line")
check(fit.lineStyle == Qt.SolidLine and fit.symbol is None, "the fit as a line, no points")
check(points.x_channel.address.endswith("H-PDB-IntPos")
      and points.y_channel.address.endswith("H-PDB-Integral")
      and fit.x_channel.address.endswith("H-PDB-FitPos")
      and fit.y_channel.address.endswith("H-PDB-GaussFit"), "x/y of both curves")
task = [w for w in widgets if w.objectName() == "TaskStatus"][0]
check(pump(5, lambda: task.text() == "Success"), f"the screen shows Success ({task.text()})")
sigma = [w for w in widgets if w.objectName() == "H_PDB_Sigma"][0]
check(pump(5, lambda: sigma.value and abs(float(sigma.value) - 1.7) < 0.5),
      f"the screen shows the fitted sigma near 1.7 mm ({sigma.value})")
check(not disconnected(), f"still connected after the scan: {disconnected()}")
pump(1.0)
window.grab().save(SHOT)
check(os.path.getsize(SHOT) > 20000, "a screenshot was saved")
log(f"screenshot {SHOT}")
print(f'{{"checks": {peer_checks.count}, "seconds": {time.time() - T0:.1f}}}', flush=True)
daemon.terminate()
daemon.wait(timeout=15)
os._exit(0)  # PyDM's and libca's threads: do not wait for them
