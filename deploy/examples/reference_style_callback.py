"""A custom-callback file written for the reference fws-daemon 3.3.1 (Python),
which the Rust daemon runs unchanged, in a process of its own, through its
bundled adapter:
    fws-daemon 1 --test-mode --custom-callback deploy/examples/reference_style_callback.py

Pre-step: says where the scanner goes. Post-step: the peak of every struck
trace, appended to `<file>.peaks.txt` next to the HDF5 file.
"""
import numpy as np


class StepAnnouncer:
    """Pre-scan callback: called with step_config={"scan_idx", "step"}."""

    def __call__(self, *args, **kwargs):
        config = kwargs.get("step_config") or {}
        print(f"step {config.get('scan_idx')}: moving to {config.get('step')} mm")


class PeakLogger:
    """Post-scan callback: called with scan_data, group_name, metadata,
    scan_metadata and file_path, as the reference calls it."""

    def __init__(self):
        self.steps = 0

    def __call__(self, *args, **kwargs):
        scan_data = kwargs["scan_data"]
        group = kwargs["group_name"]
        peaks = {
            pv.name: float(np.max(pv.val))
            for pv in scan_data.get("struck", [])
            if np.ndim(pv.val) == 1 and len(pv.val) > 0
        }
        with open(str(kwargs["file_path"]) + ".peaks.txt", "a") as out:
            for name in sorted(peaks):
                out.write(f"{group} {name} {peaks[name]!r}\n")
        self.steps += 1

    def reset_state(self):
        self.steps = 0


def get_pre_callback():
    return StepAnnouncer()


def get_post_callback():
    return PeakLogger()
