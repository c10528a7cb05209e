"""Runs a reference fws-daemon (3.3.1) custom-callback file unchanged under
the Rust fws-daemon's JSON-lines callback protocol.

usage: python3 fws_callback_adapter.py USER_CALLBACKS.py

The user file is loaded as the reference loads it: `get_pre_callback()` and
`get_post_callback()` (either may be missing) return callables, called with
the reference's keyword arguments:
  pre:  step_config={"scan_idx": <1-based step>, "step": <position>}
  post: scan_data={group: [PV, ...]}, group_name="scan_NNN",
        metadata=<root attributes>, scan_metadata={pv: value},
        file_path=<the HDF5 file>
PV objects carry .name, .val (numpy arrays for waveforms when numpy is
installed), .raw and .egu (.egu.val is the unit). A post callback may return
a dict of name -> number/bool/text: stored in the step's `custom` group (an
extension; the reference ignores return values). `reset_state()` is called
at each `hello` (the start of a sequence, or a restart after a failure) and
`close()` at the end, when the callables have them.
The user's prints go to stderr: stdout carries the protocol.
"""

import importlib.util
import json
import sys
import traceback
from pathlib import Path

try:
    import numpy as _np
except ImportError:  # waveforms stay lists
    _np = None


class _Egu:
    def __init__(self, name, unit):
        self.name = name + ".EGU"
        self.val = unit
        self.raw = unit


class PV:
    """The fields of the reference's epics_bridge PV that callbacks read."""

    def __init__(self, name, value, egu):
        if isinstance(value, list) and _np is not None:
            value = _np.asarray([float("nan") if v is None else v for v in value])
        self.name = name
        self.val = value
        self.raw = value
        self.egu = _Egu(name, egu)

    def __repr__(self):
        return f"PV({self.name!r}, val={self.val!r})"


def _load(path):
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Custom script not found: {path}")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"Could not load specification for {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    pre = getattr(module, "get_pre_callback", lambda: None)()
    post = getattr(module, "get_post_callback", lambda: None)()
    return pre, post


def _scalar(value):
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        value = value.item()
    if isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"not a number, boolean or text: {value!r}")


def main():
    protocol = sys.stdout
    sys.stdout = sys.stderr  # a print in user code must not break the protocol
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    user_file = sys.argv[1]
    pre = post = None
    load_error = None
    try:
        pre, post = _load(user_file)
    except Exception as exc:  # reported in the hello reply
        traceback.print_exc()
        load_error = f"loading {user_file}: {type(exc).__name__}: {exc}"
    root = {}

    def reply(obj):
        protocol.write(json.dumps(obj) + "\n")
        protocol.flush()

    for line in sys.stdin:
        message = json.loads(line)
        kind = message.get("type")
        try:
            extra = None
            if kind == "hello":
                if load_error:
                    reply({"status": "error", "message": load_error})
                    continue
                root = message.get("root", {})
                for cb in (pre, post):
                    if hasattr(cb, "reset_state"):
                        cb.reset_state()
                reply({"status": "ok", "name": Path(user_file).name, "arrays": post is not None})
                continue
            if kind == "pre_step" and pre is not None:
                pre(step_config={"scan_idx": message["step"], "step": message["positions"][0]})
            elif kind == "post_step" and post is not None:
                scan_data = {
                    group: [PV(name, pv["value"], pv["egu"]) for name, pv in pvs.items()]
                    for group, pvs in message["data"].items()
                }
                returned = post(
                    scan_data=scan_data,
                    group_name=message["group"],
                    metadata=root,
                    scan_metadata=message["metadata"],
                    file_path=message["file_path"],
                )
                if isinstance(returned, dict):
                    extra = {str(k): _scalar(v) for k, v in returned.items()}
            elif kind == "sequence_end":
                for cb in (pre, post):
                    if hasattr(cb, "close"):
                        cb.close()
            reply({"status": "ok", "extra": extra} if extra else {"status": "ok"})
        except Exception as exc:
            traceback.print_exc()
            reply({"status": "error", "message": f"{type(exc).__name__}: {exc}"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
