"""Checks, with h5py, what a writer killed -9 left: each file opens, every
step group it lists is complete (its scan, struck and idc groups, each
dataset readable, the struck traces non-empty), `completed_steps` never
claims more than the groups on disk, and the steps on disk are at least the
ones promised (those the writer had reported flushed).

Usage: killed_files.py FILE PROMISED [FILE PROMISED ...]
Prints one line per file; exits non-zero naming every file that fails.
"""
import sys

import h5py


def check(path, promised):
    with h5py.File(path, "r") as f:
        steps = sorted(k for k in f.keys() if k.startswith("scan_"))
        for name in steps:
            group = f[name]
            for part in ("scan", "struck", "idc"):
                if part not in group:
                    return f"{name}: no {part} group (incomplete)"
                for dataset in group[part].values():
                    dataset[()]
            traces = [d for d in group["struck"].values() if d.ndim == 1]
            if not traces or any(d.shape[0] == 0 for d in traces):
                return f"{name}: empty traces"
        completed = int(f.attrs.get("completed_steps", 0))
        if completed > len(steps):
            return f"completed_steps {completed} but {len(steps)} groups"
        if len(steps) < promised:
            return f"{len(steps)} steps on disk, {promised} were promised"
        return f"ok: {len(steps)} complete steps, completed_steps {completed}"


failed = []
args = sys.argv[1:]
for path, promised in zip(args[0::2], args[1::2]):
    try:
        said = check(path, int(promised))
    except Exception as e:  # any h5py error is a broken file
        said = f"unreadable: {type(e).__name__}: {e}"
    print(f"{path}: {said}")
    if not said.startswith("ok:"):
        failed.append(path)
if failed:
    sys.exit(f"{len(failed)} of {len(args) // 2} files broken: {' '.join(failed)}")
