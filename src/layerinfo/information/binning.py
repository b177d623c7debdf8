"""Binning estimators: each unit's value is replaced by its bin, the layer's vector of bins
is one discrete symbol, and entropies are plug-in estimates over the samples.

Three published conventions; each function returns integer bin codes of the same shape
as its input, and :func:`binned_information` turns codes into I(X;T), I(T;Y) in bits.
"""

from __future__ import annotations

import numpy as np

from layerinfo.information.discrete import discrete_information, row_symbols


def codes_fixed(activations: np.ndarray, n_bins: int = 30, low: float = -1.0, high: float = 1.0) -> np.ndarray:
    """Shwartz-Ziv & Tishby (2017) bins: edges ``linspace(low, high, n_bins)`` in float32.

    A value x falls in bin ``k = digitize(x, edges)``, i.e. ``edges[k-1] <= x < edges[k]``,
    with the edges rounded to float32 as in the published code (comparisons then happen
    after exact promotion of both sides). Values at or above ``high`` share the top code.
    As in the published code, which replaces x by ``edges[k - 1]``, values below ``low``
    (k = 0) wrap to ``edges[-1]`` and so share the top code too; this only matters for
    activations that reach below ``low`` (linear, PReLU).

    Returns
    -------
    codes : ndarray of int32, same shape as ``activations``, values in 1..n_bins.
    """
    edges = np.linspace(low, high, n_bins).astype(np.float32)
    k = np.digitize(activations, edges)
    k[k == 0] = n_bins
    return k.astype(np.int32)


def codes_width(activations: np.ndarray, bin_width: float = 0.07) -> np.ndarray:
    """Saxe et al. (2018) bins: code ``floor(x / bin_width)`` on an unbounded grid.

    The division happens in the activations' dtype (float32 for recorded layers), as
    NumPy does when the published code divides a float32 array by a Python float.
    """
    t = np.asarray(activations)
    dtype = t.dtype if np.issubdtype(t.dtype, np.floating) else np.float64
    return np.floor(t.astype(dtype, copy=False) / np.asarray(bin_width, dtype=dtype)).astype(np.int64)


def ebab_lower_edge(natural_lower: float) -> float | None:
    """The first EBAB edge for an activation whose values are bounded below by ``natural_lower``.

    Non-negative activations start at their bound (0 for ReLU, softplus, abs, sigmoid), so
    exact zeros get a bin of their own; negative bounds are moved 1e-6 below (-1.000001 for
    tanh and ELU, as in the published code) so the bound itself is an ordinary value;
    unbounded activations (``-inf``) have no fixed first edge (``None``).
    """
    if not np.isfinite(natural_lower):
        return None
    return float(natural_lower) if natural_lower >= 0 else float(natural_lower) - 1e-6


def activation_lower_edge(activation: str) -> float | None:
    """:func:`ebab_lower_edge` of a layer with the named activation (a name of
    :data:`layerinfo.models.ACTIVATIONS`, or ``softmax`` for an output layer, bounded by 0)."""
    from layerinfo.models import ACTIVATIONS

    if activation == "softmax":
        return ebab_lower_edge(0.0)
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; allowed: softmax, {', '.join(ACTIVATIONS)}")
    return ebab_lower_edge(ACTIVATIONS[activation].lower)


def ebab_edges(activations: np.ndarray, n_bins: int = 30, lower: float | None = None) -> np.ndarray:
    """Entropy-based adaptive bin edges (Chelombiev et al. 2019), as in the published code.

    All units' values of the layer are pooled; ``u`` are their distinct values, sorted,
    without ``lower`` itself. The edges are ``[lower, u[floor(i * U / n_bins)] for
    i = 0..n_bins-1, u[-1]]`` (U = len(u)), so every bin holds the same number of distinct
    values (not of samples). With ``lower=None`` the first edge is ``u[0]``. Edges may
    repeat when U < n_bins; repeated edges only create empty bins.
    """
    values = np.unique(np.asarray(activations).ravel()).astype(np.float64)
    if lower is not None:
        values = values[values != lower]
    if values.size == 0:
        return np.array([lower if lower is not None else 0.0])
    positions = (np.arange(n_bins) * values.size / n_bins).astype(np.int64)
    first = [float(lower)] if lower is not None else []
    return np.array([*first, *values[positions], values[-1]])


def codes_ebab(activations: np.ndarray, n_bins: int = 30, lower: float | None = None) -> np.ndarray:
    """EBAB codes: each value replaced by the left edge of its bin, ``edges[digitize(x, edges) - 1]``.

    A value below the first edge wraps to the last edge, as in the published code.
    Returned as float64 values (the symbols), same shape as ``activations``.
    """
    t = np.asarray(activations)
    edges = ebab_edges(t, n_bins, lower)
    # + 0.0 turns -0.0 into 0.0 so equal symbols have equal bytes.
    return edges[np.digitize(t, edges) - 1] + 0.0


def ebab_indices(activations: np.ndarray, n_bins: int = 30, lower: float | None = None) -> np.ndarray:
    """Integer EBAB codes: equal exactly where :func:`codes_ebab` gives equal values.

    Each value's edge is numbered by its distinct value among the edges (repeated edges,
    and -0.0 and 0.0, share a number), so rows can be keyed as integers.
    """
    t = np.asarray(activations)
    edges = ebab_edges(t, n_bins, lower)
    _, edge_ids = np.unique(edges, return_inverse=True)
    return edge_ids.ravel()[np.digitize(t, edges) - 1].astype(np.int32)


def binned_information(codes: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """I(X;T) and I(T;Y) in bits from per-unit bin codes ``(n_samples, n_units)``."""
    return discrete_information(row_symbols(codes), labels)
