"""Warnings about one layer's estimates: when a number is there but says little or nothing."""

from __future__ import annotations

import numpy as np

# I(X;T) this close to log2 N (bits) counts as "at log2 N": every sample in its own bin or kernel
SATURATION_BITS = 0.01


def estimate_warnings(t: np.ndarray, method: str, params: dict, values: dict[str, float]) -> list[tuple[str, str]]:
    """Warnings ``(kind, text)`` for the estimates ``values`` (``I_XT``, ``I_TY``, bits) of ``t``.

    Kinds: ``saturated``, ``grid``, ``edge``, ``dimension``, ``negative``, ``null``.

    - I(X;T) at log2 N: each sample is alone in its bin or kernel; for a deterministic network
      the estimate then only counts samples (Saxe et al. 2018; Goldfeld et al. 2019).
    - A fixed grid that does not fit the values: ``bins_fixed`` uses ``linspace(-1, 1, n_bins)``
      whatever the activation; values outside it pile into the end bins, and non-negative
      activations (ReLU) use only half of it (IDNNs issue #12). EBAB with a lower edge above
      the smallest value.
    - Dimension large for the sample count: with at least as many units as samples the
      points span at most an (N-1)-dimensional subspace and every distance-based estimate
      is dominated by the sample size.
    - Negative estimates (possible for the KDE bounds and differences of entropies).
    - I(T;Y) not above its shuffled-label null (``values["I_TY_null"]``, when given): labels
      drawn at random give as much, e.g. a KDE whose kernels are narrow against the spread of
      the points, where H(T | class) is log2 of the class size whatever the labels.
    """
    n, dim = t.shape
    out = []
    log_n = float(np.log2(n))
    if values["I_XT"] >= log_n - SATURATION_BITS:
        out.append(("saturated", f"I(X;T) at log2 N = {log_n:.3g} bits: every sample in its own bin or kernel, "
                   "the estimate counts samples"))
    lo, hi = float(np.min(t)), float(np.max(t))
    if method == "bins_fixed":
        outside = float(np.mean((t < -1.0) | (t > 1.0)))
        if outside > 0:
            out.append(("grid", f"{100 * outside:.3g}% of values outside the fixed grid [-1, 1] "
                       f"(range {lo:.3g}..{hi:.3g}) fall in its end bins"))
        if lo >= 0.0:
            out.append(("grid", "non-negative values use only half of the fixed grid [-1, 1]"))
    if method == "ebab" and params.get("lower") is not None and lo < params["lower"]:
        out.append(("edge", f"EBAB lower edge {params['lower']:.3g} above the smallest value {lo:.3g}"))
    if dim >= n:
        out.append(("dimension", f"dimension {dim} >= sample count {n}"))
    if values.get("I_TY_null") is not None and values["I_TY"] <= values["I_TY_null"]:
        out.append(("null", f"I(T;Y) = {values['I_TY']:.3g} bits not above its shuffled-label null "
                            f"({values['I_TY_null']:.3g} bits)"))
    for q in ("I_XT", "I_TY"):
        if values[q] < 0:
            out.append(("negative", f"{q} = {values[q]:.3g} bits < 0, clipped to 0"))
    return out
