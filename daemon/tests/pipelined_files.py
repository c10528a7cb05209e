"""Checks, with h5py, what a daemon killed -9 mid-scan left: the file opens,
every step group it lists is complete (the scan, struck and idc groups, each
dataset readable, the struck traces non-empty), and the steps on disk are at
least the ones the durability rule promises.

Usage: pipelined_files.py FILE MIN_STEPS
"""
import sys

import h5py

path, promised = sys.argv[1], int(sys.argv[2])
with h5py.File(path, "r") as f:
    steps = sorted(k for k in f.keys() if k.startswith("scan_"))
    for name in steps:
        group = f[name]
        for part in ("scan", "struck", "idc"):
            if part not in group:
                sys.exit(f"{name}: no {part} group (incomplete)")
            for dataset in group[part].values():
                dataset[()]
        traces = [d for d in group["struck"].values() if d.ndim == 1]
        if not traces or any(d.shape[0] == 0 for d in traces):
            sys.exit(f"{name}: empty traces")
    # Written with the first step: a file killed before it has none.
    completed = int(f.attrs.get("completed_steps", 0))
    if not steps and "completed_steps" in f.attrs and completed:
        sys.exit(f"completed_steps {completed} but no step group")
    if completed > len(steps):
        sys.exit(f"completed_steps {completed} but {len(steps)} groups")
    if len(steps) < promised:
        sys.exit(f"{len(steps)} steps on disk, the rule promises {promised}")
    print(f"{path}: {len(steps)} complete steps, completed_steps {completed}")
