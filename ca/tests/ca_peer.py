#!/usr/bin/env python3
"""A Channel Access client that is not ours, run against our server by
tests/interop.rs: pyepics (the reference C libca) reads and writes in native
types; caproto writes strings, as C `caput` does. Prints what it saw as JSON.

usage: ca_peer.py PREFIX   (network settings come from the EPICS_CA_* env)
"""

import json
import sys

import epics
from caproto import ChannelType
from caproto.sync.client import write as cp_write

P = sys.argv[1]


def connect(name):
    pv = epics.PV(P + name, auto_monitor=False)
    if not pv.wait_for_connection(timeout=10):
        raise SystemExit(f"cannot connect to {P + name}")
    return pv


def write_string(name, text):
    """A DBR_STRING put with completion: 'ok', or the CA status the server
    answered with (caproto reports a refusal in the response, not by raising)."""
    # repeater=False: caproto would otherwise start a detached repeater that
    # outlives this script and holds its output pipes open.
    response = cp_write(
        P + name, text, data_type=ChannelType.STRING, notify=True, timeout=5, repeater=False
    )
    status = response.status.name
    return "ok" if status == "ECA_NORMAL" else status


def native(name):
    """The channel's native field type, as C libca reports it."""
    pv = epics.PV(P + name, form="native", auto_monitor=False)
    if not pv.wait_for_connection(timeout=10):
        raise SystemExit(f"cannot connect to {P + name}")
    return pv.type


out = {}
d, e, w, l = connect("D"), connect("E"), connect("W"), connect("L")
out["double"] = d.get(use_monitor=False)
out["units"] = d.get_ctrlvars().get("units")
out["enum_labels"] = list(e.get_ctrlvars()["enum_strs"])
out["enum_as_string"] = e.get(use_monitor=False, as_string=True)
wave = w.get(use_monitor=False, count=None)
out["wave_len"] = int(len(wave))
out["wave_sum"] = float(sum(wave))

out["put_native"] = d.put(7.25, wait=True, timeout=5)
out["after_put_native"] = d.get(use_monitor=False)
d.put(500.0, wait=True, timeout=5)
out["after_put_out_of_range"] = d.get(use_monitor=False)

out["string_double"] = write_string("D", "3.5")
out["after_string_double"] = d.get(use_monitor=False)
out["string_garbage"] = write_string("D", "abc")
out["after_string_garbage"] = d.get(use_monitor=False)
out["string_enum_label"] = write_string("E", "Task Fail")
out["after_enum_label"] = e.get(use_monitor=False, as_string=True)
out["string_enum_unknown"] = write_string("E", "Nope")
out["string_long_fraction"] = write_string("L", "2.5")
out["after_long_fraction"] = l.get(use_monitor=False)
out["string_read_only"] = write_string("RO", "1.0")
# A long string (char waveform): read and written as text by C libca and
# as bytes by caproto; one too long for it is refused.
p = connect("P")
out["long_text"] = p.get(use_monitor=False, as_string=True)
long_path = "/data/" + "/".join(["folder"] * 20)
p.put(long_path, wait=True, timeout=5)
out["after_long_put"] = p.get(use_monitor=False, as_string=True)
cp_write(P + "P", b"/short", notify=True, timeout=5, repeater=False)
out["after_caproto_bytes"] = p.get(use_monitor=False, as_string=True)
out["long_dbr_string"] = write_string("P", "x" * 39)  # caput without -S
out["after_dbr_string"] = p.get(use_monitor=False, as_string=True)
out["native_types"] = {n: native(n) for n in ["D", "L", "E", "S", "P", "W", "RO"]}
# Access rights as C libca reports them at connection: a read-only PV is not
# writable (screens show it so), not only refused after a put.
out["write_access"] = {n: bool(connect(n).write_access) for n in ["D", "P", "RO"]}
out["read_access"] = bool(connect("RO").read_access)
# 300 bytes into a 255-byte long string: refused, its real length said.
response = cp_write(P + "P", b"A" * 300, notify=True, timeout=5, repeater=False)
out["too_long"] = response.status.name
print(json.dumps(out))
