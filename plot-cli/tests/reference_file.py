#!/usr/bin/env python3
"""Writes a scan file as the reference Python daemon (fws-daemon 3.3.1)
writes it, with h5py: production prefixes of scanner 1, root attributes,
one `scan_NNN` group per step with the `scan`, `struck` and `beam` groups,
datasets named by full PV name with an `egu` attribute.

usage: reference_file.py OUT.h5 STEPS [SIGMA_MM] [MEAN_MM]
The beam: a Gaussian profile of SIGMA (1.7) around MEAN (0.3) mm, swept
from -6 to 6 mm; each sweep a pulse at the interaction position.
"""
import sys

import h5py
import numpy as np

out, steps = sys.argv[1], int(sys.argv[2])
sigma = float(sys.argv[3]) if len(sys.argv) > 3 else 1.7
mean = float(sys.argv[4]) if len(sys.argv) > 4 else 0.3
SCAN, AMC = "PBI-WS06:Ctrl-SCAN-001:", "PBI-WS06:Ctrl-AMC-110:"
CHANNELS = ["V-PDR", "V-PDL", "H-PDT", "H-PDB", "V-APDT", "V-APDB", "H-APDR", "H-APDL"]
BCM = "HEBT-010LWU:PBI-BCM-001:FlatTopCurrentR"
BPM = "HEBT-090LWU:PBI-BPM-001:YP-AvgValue"  # scanner 1's first BPM
rng = np.random.default_rng(7)

with h5py.File(out, "w") as f:
    f.attrs["num_scans"] = steps
    f.attrs["position_scan"] = [-6.0, 6.0]
    f.attrs["relative_scan"] = False
    f.attrs["file_path"] = out
    f.attrs["start_time"] = "2025-02-17T14:30:00.000000+00:00"
    f.attrs["username"] = "operator"
    f.attrs["source"] = "fws-daemon 3.3.1"
    for i, at in enumerate(np.linspace(-6.0, 6.0, steps)):
        g = f.create_group(f"scan_{i + 1:03d}")
        g.attrs[SCAN + "ScanStatus"] = 0
        x = np.linspace(at - 10.0, at + 10.0, 600)
        scan = g.create_group("scan")
        d = scan.create_dataset(SCAN + "PosToDelay", data=at)
        d.attrs["egu"] = "mm"
        d = scan.create_dataset(SCAN + "InterpolatedPosCh1", data=x)
        d.attrs["egu"] = "mm"
        d = scan.create_dataset(SCAN + "InterpolatedPosCh2", data=x + 0.001)
        d.attrs["egu"] = "mm"
        struck = g.create_group("struck")
        height = 50.0 * np.exp(-((at - mean) ** 2) / (2 * sigma * sigma))
        for c, channel in enumerate(CHANNELS):
            for kind, scale in (("TRC1", 100.0), ("TRC2", 1.0)):
                y = (1 - 0.04 * c) * height / scale * np.exp(-((x - at) ** 2) / (2 * 0.4 ** 2))
                y = y + rng.normal(0.0, 0.002, x.size)
                d = struck.create_dataset(f"{AMC}{channel}-{kind}-ArrayData", data=y)
                d.attrs["egu"] = "V"
        beam = g.create_group("beam")
        d = beam.create_dataset(BCM, data=2.0 + 0.01 * i)
        d.attrs["egu"] = "mA"
        d = beam.create_dataset(BPM, data=0.05 * i)
        d.attrs["egu"] = "mm"
