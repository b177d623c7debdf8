"""The study's units without torch: names, output ranges, scalings, and a NumPy forward pass.

The sampler (:mod:`layerinfo.coding.langevin`) runs on torch; the tables and figures read
posterior samples and only need forward passes, which this module does in NumPy, so that they
run without torch (and the figures image does not carry it).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erf

NONLINEARITIES = ("linear", "sigmoid", "relu", "erf")
#: readout exponent gamma of f = a^T phi / N^gamma: feature learning (mean field) and lazy
SCALINGS = {"feature": 1.0, "lazy": 0.5}
#: range of each nonlinearity's output (``None``: unbounded), used to measure binary codes
RANGES = {"linear": None, "sigmoid": (0.0, 1.0), "relu": None, "erf": (-1.0, 1.0)}
SQRT_PI_HALF = math.sqrt(math.pi) / 2


def check_nonlinearity(name: str) -> None:
    if name not in NONLINEARITIES:
        raise ValueError(f"nonlinearity must be one of {', '.join(NONLINEARITIES)}, got {name!r}")


def phi_array(name: str, z: np.ndarray) -> np.ndarray:
    """The nonlinearity of :func:`layerinfo.coding.langevin.phi`, on arrays."""
    check_nonlinearity(name)
    if name == "linear":
        return z
    if name == "sigmoid":
        return 0.5 * (1.0 + erf(SQRT_PI_HALF * z))
    if name == "relu":
        return np.maximum(z, 0.0)
    return erf(z)


def layer_activities(hidden: list[np.ndarray], x: np.ndarray, nonlinearity: str) -> list[np.ndarray]:
    """``phi(z^l)`` of every hidden layer: weights ``hidden[l]`` ``(..., N, fan_in)`` (a leading
    axis holds samples), inputs ``x`` ``(P, N0)``; a list of ``(..., P, N)``."""
    out, h = [], x
    for w in hidden:
        h = phi_array(nonlinearity, h @ np.swapaxes(w, -1, -2) / math.sqrt(w.shape[-1]))
        out.append(h)
    return out


def chain_schedule(sampler: dict, width: int, reference_width: int) -> dict:
    """The sampler settings of a run at width ``N``: with ``scale_with_width`` (default true),
    ``n_steps``, ``burn_in`` and ``thin`` are given at ``reference_width`` and multiplied by
    ``N / reference_width`` (rounded; ``scale_with_width: false`` uses them at every width).

    Why proportional to ``N``: the outlier neurons of a ReLU network form on a Langevin time that
    grows with the width (measured with this sampler, toy task, step 0.01: their readout
    ``max|a|/sqrt(N)`` plateaus after ~1500 steps at N = 100 and ~5000 at N = 400), and in the
    mean-field scaling the per-weight drift of the data term is O(1/N) (temperature T / N). The
    configs' burn-in of 1500 steps at N = 100 makes it ``15 N``, which covers both measurements
    (6000 steps at N = 400); thinning in proportion
    keeps the number of kept samples, so the convergence statistics compare like with like.
    """
    out = dict(sampler)
    if not out.pop("scale_with_width", True) or width == reference_width:
        return {**out, "reference_width": int(reference_width)}
    factor = width / reference_width
    for key in ("n_steps", "burn_in", "thin"):
        out[key] = max(int(round(sampler[key] * factor)), 1 if key != "burn_in" else 0)
    return {**out, "reference_width": int(reference_width)}
