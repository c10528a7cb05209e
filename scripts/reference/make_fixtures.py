#!/usr/bin/env python3
"""Generate the reference answers the Rust cross-check tests compare against.

Every answer comes from the reference itself: scipy's curve_fit with the
reference daemon's start point, bounds and evaluation budget, and the
published fws-daemon 3.3.1 package's own signal-processing, file-name and
planning functions (installed with --no-deps by scripts/setup-python.sh).
Inputs are drawn from a seeded generator, so a rerun gives the same files.

usage: make_fixtures.py OUT_DIR
"""

import importlib.util
import json
import math
import sys
import warnings
from pathlib import Path

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit
from scipy.signal import savgol_filter
from scipy.special import erfc

from fws_daemon.scan.config import ScanConfig
from fws_daemon.scan.planner import ScanPlanner
from fws_daemon.utils import fit_utils as fu
from fws_daemon.utils import misc_utils

SEED = 20261122
GAUSS_BOUNDS = ([0, -np.inf, 1e-6, -np.inf], [np.inf, np.inf, np.inf, np.inf])
GAUSS_MAXFEV = 2000
ERFC_P0 = [10.0, 300.0, 1.0, 1.0]


def floats(a):
    return [float(v) for v in np.asarray(a, dtype=float).ravel()]


def jsonable(v):
    """None for NaN/inf so the JSON stays strict."""
    v = float(v)
    return v if math.isfinite(v) else None


def reference_gauss_fit(x, y):
    """The reference daemon's _perform_gaussian_fit call, verbatim in effect."""
    p0 = [
        np.max(y) - np.min(y),
        x[np.argmax(y)],
        (np.max(x) - np.min(x)) / 6.0 or 1.0,
        np.min(y),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        popt, pcov, info, _, status = curve_fit(
            fu.gaussian_model, x, y, p0=p0, bounds=GAUSS_BOUNDS,
            maxfev=GAUSS_MAXFEV, full_output=True,
        )
    ssr = float(np.sum((fu.gaussian_model(x, *popt) - y) ** 2))
    perr = np.sqrt(np.diag(pcov))
    return floats(p0), popt, perr, ssr, int(info["nfev"]), int(status)


def polished_gauss_fit(x, y, popt):
    """scipy run on from its own answer to machine-precision tolerances: the
    optimum that the reference settings approach (they stop on tolerances
    that are not scale-invariant, 1e-8 on an unscaled step). The problem is
    solved on x and y scaled to unit span, which has the same optimum and
    keeps scipy's tolerance tests meaningful, then mapped back."""
    xc, xw = float(np.mean(x)), float(np.ptp(x)) or 1.0
    yw = float(np.ptp(y)) or 1.0
    xs, ys = (x - xc) / xw, y / yw
    start = [popt[0] / yw, (popt[1] - xc) / xw, popt[2] / xw, popt[3] / yw]
    bounds = ([0, -np.inf, 1e-6 / xw, -np.inf], [np.inf] * 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        best, pcov = curve_fit(
            fu.gaussian_model, xs, ys, p0=start, bounds=bounds, method="trf",
            ftol=1e-15, xtol=1e-15, gtol=1e-15, max_nfev=20000,
        )
    unit = np.array([yw, xw, xw, yw])
    best = np.array([best[0] * yw, best[1] * xw + xc, best[2] * xw, best[3] * yw])
    ssr = float(np.sum((fu.gaussian_model(x, *best) - y) ** 2))
    return best, np.sqrt(np.diag(pcov)) * unit, ssr


def gaussian_cases(rng):
    cases = []

    def add(name, x, y):
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        p0, popt, perr, ssr, nfev, status = reference_gauss_fit(x, y)
        best, best_err, best_ssr = polished_gauss_fit(x, y, popt)
        # Well conditioned: every parameter determined to better than 20 %
        # of its own size (or of the x range, for the mean), amplitude off
        # its bound.
        xr = float(np.ptp(x)) or 1.0
        scale = [abs(popt[0]), max(abs(popt[1]), xr), abs(popt[2]), max(abs(popt[3]), abs(popt[0]))]
        rel = [perr[i] / scale[i] if scale[i] > 0 else np.inf for i in range(4)]
        well = bool(status > 0 and np.all(np.isfinite(perr)) and max(rel) < 0.2 and popt[0] > 1e-9)
        # Noise-free data: the residuals, and so the standard errors, are
        # rounding noise; parameters are compared on the data's own scale.
        exact = bool(best_ssr <= 1e-24 * float(np.sum(y * y)))
        cases.append({
            "name": name, "x": floats(x), "y": floats(y), "p0": p0,
            "popt": floats(popt), "perr": [jsonable(v) for v in perr],
            "ssr": ssr, "nfev": nfev, "status": status, "well_conditioned": well, "exact": exact,
            "popt_polished": floats(best), "perr_polished": [jsonable(v) for v in best_err],
            "ssr_polished": best_ssr,
        })

    g = fu.gaussian_model
    truth = (3.0, 0.7, 1.9, 0.2)
    for n in [5, 6, 8, 11, 21, 50, 100, 1000, 10_000, 100_000]:
        x = np.linspace(-10, 10, n)
        add(f"n{n}_noise1pct", x, g(x, *truth) + rng.normal(0, 0.03, n))
    for noise in [0.0, 0.001, 0.05, 0.1, 0.3]:
        x = np.linspace(-10, 10, 101)
        add(f"noise_{noise}", x, g(x, *truth) + rng.normal(0, noise * 3.0, 101))
    for offset in [0.0, 100.0, -50.0, 1e4]:
        x = np.linspace(-5, 5, 61)
        add(f"offset_{offset}", x, g(x, 1.0, -0.3, 0.8, offset) + rng.normal(0, 0.01, 61))
    x = np.linspace(-2, 2, 81)
    add("narrow_peak", x, g(x, 5.0, 0.13, 0.12, 0.0) + rng.normal(0, 0.05, 81))
    x = np.linspace(-10, 10, 81)
    add("wide_peak", x, g(x, 2.0, 1.0, 12.0, 0.5) + rng.normal(0, 0.01, 81))
    y = g(x, 2.0, 1.0, 1.5, 0.1) + rng.normal(0, 0.02, 81)
    y[[5, 40, 70]] += [3.0, -2.0, 4.0]
    add("outliers", x, y)
    add("peak_at_right_edge", x, g(x, 2.0, 9.5, 1.5, 0.1) + rng.normal(0, 0.02, 81))
    add("peak_at_left_edge", x, g(x, 2.0, -10.0, 2.0, 0.1) + rng.normal(0, 0.02, 81))
    xmm = np.linspace(995.0, 1005.0, 41)
    add("positions_near_1000mm", xmm, g(xmm, 0.8, 1000.4, 1.1, 0.02) + rng.normal(0, 0.005, 41))
    xs = np.linspace(-3e-3, 3e-3, 41)
    add("micro_scale_x", xs, g(xs, 1.0, 2e-4, 5e-4, 0.0) + rng.normal(0, 0.01, 41))
    add("counts_1e6", x, g(x, 1e6, -1.0, 2.5, 1e3) + rng.normal(0, 1e3, 81))
    add("volts_1e-6", x, g(x, 2e-6, 0.5, 1.0, 1e-7) + rng.normal(0, 2e-8, 81))
    xp = rng.permutation(np.linspace(-6, 6, 21))
    add("unsorted_centroid_history", xp, g(xp, 4.0, 0.3, 1.7, 0.0) + rng.normal(0, 0.05, 21))
    xc = np.linspace(-8, 8, 33)
    add("poisson_counts", xc, rng.poisson(g(xc, 40.0, 0.0, 2.0, 3.0)).astype(float))
    add("dip", x, g(x, -2.0, 0.0, 1.0, 5.0))
    for i, n in enumerate([81, 21, 200, 1000]):
        xn = np.linspace(-10, 10, n)
        add(f"pure_noise_{i}", xn, rng.normal(0, 1.0, n))
    add("five_points_exact", np.array([-2.0, -1.0, 0.0, 1.0, 2.0]), g(np.array([-2.0, -1.0, 0.0, 1.0, 2.0]), 1.0, 0.1, 0.9, 0.0))
    return cases


def erfc_cases(rng):
    cases = []
    for i, (a, b, c, d, step) in enumerate([
        (0.4, 296.0, 8.0, 0.01, 2), (0.6, 310.0, 12.0, 0.02, 5), (0.3, 285.0, 5.0, 0.005, 1),
        (0.5, 300.0, 20.0, 0.0, 4), (0.45, 305.5, 9.5, 0.03, 3),
    ]):
        x = np.arange(250.0, 351.0, step)
        y = a * erfc((x - b) / c) + d + rng.normal(0, 0.005, x.size)
        f = lambda v, a, b, c, d: a * erfc((v - b) / c) + d
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)
            p1, _ = curve_fit(f, x, y, p0=ERFC_P0, maxfev=10000)
            popt, pcov = curve_fit(f, x, y, p0=p1, maxfev=10000)
        ssr = float(np.sum((f(x, *popt) - y) ** 2))
        thresholds = [int(round(popt[1] + k * popt[2])) for k in (0, 1, 3, 5)]
        cases.append({
            "name": f"erfc_{i}", "x": floats(x), "y": floats(y), "p0": ERFC_P0,
            "popt": floats(popt), "perr": [jsonable(v) for v in np.sqrt(np.diag(pcov))],
            "ssr": ssr, "thresholds": thresholds,
        })
    return cases


def signal_cases(rng):
    """Waveforms through the reference's ROI, smoothing, integral, centroid."""
    cases = []

    def add(name, x, y, roi_percent):
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        mask = fu.extract_peak_roi_mask(y, roi_percent)
        idx = np.where(mask)[0]
        smooth = fu.apply_smoothing(y[mask])
        cases.append({
            "name": name, "x": floats(x), "y": floats(y), "roi_percent": roi_percent,
            "roi_start": int(idx[0]), "roi_end": int(idx[-1]),
            "peak": int(fu.find_peak_index(y)),
            "smooth": floats(smooth),
            "integral": float(fu.calculate_integral(x[mask], smooth)),
            "centroid": float(fu.calculate_centroid(x[mask], smooth)),
        })

    for n in [5, 12, 20, 21, 200, 2000, 100_000]:
        x = np.linspace(-15.0, 15.0, n)
        y = -fu.gaussian_model(x, 0.8, 1.3, 0.9, 0.0) + rng.normal(0, 0.01, n)
        add(f"negative_pulse_n{n}", x, y, 0.0)
    x = np.linspace(0, 50, 5000)
    y = fu.gaussian_model(x, 2.0, 12.0, 0.3, 0.05) + rng.normal(0, 0.02, 5000)
    for pct in [0.0, 0.1, 1.0, 5.0, 30.0, 150.0]:
        add(f"fixed_roi_{pct}", x, y, pct)
    add("peak_at_start", x, fu.gaussian_model(x, 2.0, 0.0, 0.5, 0.0) + rng.normal(0, 0.01, 5000), 0.0)
    add("peak_at_end", x, fu.gaussian_model(x, 2.0, 50.0, 0.5, 0.0) + rng.normal(0, 0.01, 5000), 0.0)
    add("noise_only", x, rng.normal(0, 0.01, 5000), 0.0)
    add("all_negative", x, -1.0 - np.abs(rng.normal(0, 0.1, 5000)), 0.0)
    xs = rng.permutation(np.linspace(-3, 3, 300))
    add("unsorted_x", xs, fu.gaussian_model(np.linspace(-3, 3, 300), 1.0, 0.0, 0.4, 0.0), 0.0)

    savgol = []
    for n in [11, 12, 25, 1000]:
        y = rng.normal(0, 1, n).cumsum()
        savgol.append({"y": floats(y), "smooth": floats(savgol_filter(y, 11, 2))})
    return cases, savgol


def kmeans_cases(rng):
    cases = []
    inputs = [
        [0.01, 0.02, 100.0, 120.0, 0.015, 90.0],
        [1.0, 2.0],
        [0.1, 0.2, 2.0, 2.5],
        list(np.concatenate([rng.lognormal(np.log(50), 0.2, 15), rng.lognormal(np.log(0.05), 0.5, 6)])),
        list(rng.lognormal(np.log(10), 0.1, 20)),
        [0.0, 0.0, 10.0, 12.0, -3.0],
        list(np.abs(rng.normal(5, 4, 40))),
        [5.0, 5.0, 5.0, 5.0],
    ]
    for y in inputs:
        mask = fu.separate_signal_noise(np.array(y, dtype=float))
        cases.append({"y": floats(y), "mask": [bool(m) for m in mask]})
    return cases


def normalize_cases():
    out = []
    for y, norm in [([1.0, 2.0, 3.0], 3.0), ([0.5, -0.25], 0.1), ([7.0], -2.0)]:
        out.append({"y": y, "divisor": norm, "out": floats(fu.normalize_data(np.array(y), norm))})
    return out


def planner_cases():
    cases = []
    for start, end, num, relative, current in [
        (0.0, 10.0, 3, False, None), (-5.5, 5.5, 21, False, None), (0.1, 0.7, 7, False, None),
        (-2.0, 2.0, 5, True, 37.25), (1e-3, 2e-3, 11, False, None), (-1e6, 1e6, 1001, False, None),
        (3.3, 9.9, 1, False, None), (0.0, 1.0, 0, False, None), (-0.3, 0.3, 13, True, -7.1),
    ]:
        cfg = ScanConfig.from_args({"num_scans": num, "file_path": "x.h5",
                                    "position_scan": (start, end), "relative_scan": relative})
        steps = ScanPlanner.generate(cfg, current)
        cases.append({"start": start, "end": end, "num": num, "relative": relative,
                      "current": current, "positions": None if steps is None else floats(steps)})
    names = []
    for start, end in [(0.0, 10.0), (0.5, 10.0), (-2.25, 2.25), (-10.0, -0.5), (-0.04, 0.04),
                       (1e20, 2e20), (123456.789, 123457.05), (0.05, 0.15), (-0.0, 1.0),
                       (2.5, 3.5), (99.95, 100.05), (1e-7, 2e-7)]:
        names.append({"start": start, "end": end, "range": misc_utils._format_range((start, end))})
    names.append({"start": None, "end": None, "range": misc_utils._format_range(None)})
    return cases, names


def load_reference_module(relative):
    """A module file of the fws-daemon package, loaded by path: the package's
    __init__ pulls in its EPICS dependencies, these files import nothing."""
    import fws_daemon

    path = Path(fws_daemon.__file__).parent / relative
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def prefix_cases():
    prefixes = load_reference_module("daemon/interface/pv_prefixes.py")
    auxiliary = load_reference_module("daemon/interface/scanner_auxiliary.py")
    cases = []
    for test_mode in (False, True):
        for index in range(1, 7):
            p = prefixes.IOCPrefixes(index, test_mode=test_mode)
            cases.append({
                "index": index, "test_mode": test_mode,
                "scan": p.SCAN_PV_PREFIX, "main": p.DAEMON_PV_PREFIX, "idc": p.IDC_PV_PREFIX,
                "struck": p.STRUCK_PV_PREFIX, "be": p.BE_PV_PREFIX, "evr": p.EVR_PV_PREFIX,
                "idc_delay": p.IDC_DELAY_PV,
                "bpms": auxiliary.ScannerAuxiliary(index, test_mode=test_mode).BPMS,
            })
    return cases


def main():
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    signal, savgol = signal_cases(rng)
    planner, names = planner_cases()
    files = {
        "gaussian.json": gaussian_cases(rng),
        "erfc.json": erfc_cases(rng),
        "signal.json": signal,
        "savgol.json": savgol,
        "kmeans.json": kmeans_cases(rng),
        "normalize.json": normalize_cases(),
        "plans.json": planner,
        "file_names.json": names,
        "prefixes.json": prefix_cases(),
    }
    for name, data in files.items():
        (out / name).write_text(json.dumps(data, allow_nan=False))
    counts = ", ".join(f"{k}: {len(v)}" for k, v in files.items())
    print(f"reference fixtures in {out} ({counts})")


if __name__ == "__main__":
    main()
