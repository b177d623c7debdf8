"""Estimators of I(X;T) and I(T;Y) for one layer, in bits.

The stable entry point is :func:`information_plane`; the workflow's rules call it too.
"""

from __future__ import annotations

import numpy as np

from layerinfo.information import binning
from layerinfo.information.discrete import check_samples
from layerinfo.options import resolve_options

# method -> its parameters and their defaults
METHODS: dict[str, dict[str, object]] = {
    "bins_fixed": {"n_bins": 30},
    "bins_width": {"bin_width": 0.07},
    "ebab": {"n_bins": 30, "lower": None, "activation": None},
    "kde_upper": {"noise_variance": 0.1},
    "kde_lower": {"noise_variance": 0.1},
    "akde": {"variant": "paper", "scale": 0.1, "noise_std": 0.01, "kernel_variance": 0.01, "seed": 0,
             "rng": None},
}
AKDE_VARIANTS = ("paper", "range", "code")


def check_method(method: str, params: dict) -> dict:
    """Validate a method name and its parameters; return the parameters with defaults filled."""
    full = resolve_options("method", method, METHODS, params)
    for key in ("n_bins",):
        if key in full and not (isinstance(full[key], (int, np.integer)) and full[key] >= 2):
            raise ValueError(f"{method}: {key} must be an integer >= 2, got {full[key]!r}")
    for key in ("bin_width", "noise_variance", "scale", "kernel_variance"):
        if key in full and not (isinstance(full[key], (int, float)) and full[key] > 0):
            raise ValueError(f"{method}: {key} must be a number > 0, got {full[key]!r}")
    if method == "ebab" and full["activation"] is not None:
        binning.activation_lower_edge(full["activation"])  # a known name, or a ValueError listing them
        if full["lower"] is not None:
            raise ValueError("ebab: give lower or activation, not both")
    if method == "akde" and full["variant"] not in AKDE_VARIANTS:
        raise ValueError(f"akde: variant must be one of {', '.join(AKDE_VARIANTS)}, got {full['variant']!r}")
    return full


def information_plane(activations, labels, method: str, **params) -> dict[str, float]:
    """Estimate I(X;T) and I(T;Y) of one layer, in bits.

    Parameters
    ----------
    activations : array_like of shape (n_samples, n_units)
        The layer's values T for each input x (one row per distinct input; a
        deterministic network, so I(X;T) = H(T) for the binning methods).
    labels : array_like of int, shape (n_samples,)
        Class of each sample.
    method : str
        ``"bins_fixed"`` (``n_bins``; edges ``linspace(-1, 1, n_bins)``, Shwartz-Ziv & Tishby),
        ``"bins_width"`` (``bin_width``; ``floor(t / bin_width)``, Saxe et al.),
        ``"ebab"`` (``n_bins``, ``lower`` or ``activation``; entropy-based adaptive bins,
        Chelombiev et al.: the published partition puts its lowest edge at the activation's
        lower bound, e.g. 0 for ReLU; give ``activation`` (a name of
        :data:`layerinfo.models.ACTIVATIONS`) or ``lower`` for it. With neither, the lowest
        edge is the smallest value seen, which is the published partition only when that value
        is the activation's bound),
        ``"kde_upper"`` / ``"kde_lower"`` (``noise_variance``; Kolchinsky–Tracey bounds),
        ``"akde"`` (``variant="paper"|"range"|"code"`` with ``scale`` or ``noise_std``,
        ``kernel_variance``, and ``seed`` or a ``numpy.random.Generator`` ``rng`` for the
        jitter; adaptive KDE, Chelombiev et al.).
    **params
        Method parameters; see :data:`METHODS` for the defaults.

    Returns
    -------
    dict with ``I_XT`` and ``I_TY`` in bits.

    Raises
    ------
    ValueError
        Unknown method or parameter (listing the allowed ones), bad shapes, NaN or
        infinite activations.
    """
    params = check_method(method, params)
    t, y = check_samples(activations, labels)
    return _estimate(t, y, method, params)


def information_plane_many(activations, labels, estimators: dict[str, tuple[str, dict]],
                           device: str = "cpu") -> dict[str, dict]:
    """Several estimators on one layer: ``{name: (method, params)}`` -> ``{name: {I_XT, I_TY}}``.

    ``device`` is the torch device of the KDE-family arithmetic (float64 on any device).

    Same values as calling :func:`information_plane` for each, but the KDE-family
    estimators that act on the activations as they are (``kde_upper``, ``kde_lower``,
    ``akde`` variant ``paper``) share one pass over the pairwise distances.
    """
    from layerinfo.information import kde  # torch: imported only where a kernel is computed

    t, y = check_samples(activations, labels)
    results, shared = {}, []
    for name, (method, params) in estimators.items():
        params = check_method(method, params)
        width = kde.kernel_width(method, params, t)
        if width is None:
            results[name] = _estimate(t, y, method, params, device)
        else:
            shared.append((name, width))
    if shared:
        values = kde.kernel_information(t, y, [width for _, width in shared], device)
        results.update(zip((name for name, _ in shared), values))
    return {name: results[name] for name in estimators}


def _estimate(t: np.ndarray, y: np.ndarray, method: str, params: dict, device: str = "cpu") -> dict[str, float]:
    if method == "bins_fixed":
        return binning.binned_information(binning.codes_fixed(t, params["n_bins"]), y)
    if method == "bins_width":
        return binning.binned_information(binning.codes_width(t, params["bin_width"]), y)
    if method == "ebab":
        lower = params["lower"]
        if params["activation"] is not None:
            lower = binning.activation_lower_edge(params["activation"])
        return binning.binned_information(binning.ebab_indices(t, params["n_bins"], lower), y)
    from layerinfo.information import kde

    if method in ("kde_upper", "kde_lower"):
        return kde.kde_information(t, y, params["noise_variance"], bound=method[4:], device=device)
    return kde.akde_information(t, y, **params, device=device)
