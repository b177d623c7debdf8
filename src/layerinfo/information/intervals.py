"""Sampling intervals for I(X;T) and I(T;Y), and a shuffled-label null for I(T;Y).

The probe set is treated as a sample from the data distribution. An interval says how much
the estimate would move with another probe set of the same size; it says nothing about the
choice of estimator (binning, KDE, ... estimate different quantities).

Subsamples are drawn **without** replacement: resampling with replacement (the ordinary
bootstrap) duplicates rows, and duplicated rows fall in the same bin or kernel, which biases
binning and KDE estimates upward in I(X;T) by construction.
"""

from __future__ import annotations

import numpy as np

from layerinfo.information import information_plane_many


def subsample_size(n: int, subsample: float | int) -> int:
    """Subsample size m: ``subsample`` rows if it is an integer >= 2, else that fraction of ``n``."""
    if isinstance(subsample, (int, np.integer)) and not isinstance(subsample, bool) and subsample >= 2:
        m = int(subsample)
    elif isinstance(subsample, float) and 0.0 < subsample < 1.0:
        m = int(np.floor(subsample * n))
    else:
        raise ValueError(f"subsample must be a fraction in (0, 1) or a number of rows >= 2, got {subsample!r}")
    if not 2 <= m < n:
        raise ValueError(f"subsample size m = {m} must satisfy 2 <= m < n = {n}")
    return m


def subsampling_interval(full: float, sub: np.ndarray, n: int, m: int, level: float) -> tuple[float, float]:
    """m-out-of-n subsampling interval (Politis & Romano 1994, Ann. Stat. 22:2031), with the
    finite-population correction of sampling without replacement.

    The law of ``theta_n - theta`` is approximated by that of ``c (theta_m - theta_n)`` over
    subsamples of size m drawn without replacement, with ``c = sqrt(m / (n - m))``: for a
    sqrt(n)-consistent estimator Var(theta_m - theta_n) = sigma^2 (1/m - 1/n), so c matches
    it to Var(theta_n) = sigma^2 / n at any ratio m/n (the delete-d jackknife factor of
    Shao & Wu 1989, Ann. Stat. 17:1176, with d = n - m; Politis & Romano's sqrt(m/n) is its
    limit for m/n -> 0). The interval is ``full - c * quantiles(sub - full)``, upper quantile
    for the lower end: centred on the full-sample estimate, and it removes the part of the
    small-sample bias that changes from m to n.
    """
    if not 2 <= m < n:
        raise ValueError(f"subsample size m = {m} must satisfy 2 <= m < n = {n}")
    alpha = 1.0 - level
    lo_q, hi_q = np.quantile(np.asarray(sub, dtype=np.float64) - full, [alpha / 2, 1 - alpha / 2])
    scale = np.sqrt(m / (n - m))
    return float(full - scale * hi_q), float(full - scale * lo_q)


def information_intervals(activations, labels, estimators: dict[str, tuple[str, dict]], *,
                          subsample: float | int = 0.5, repeats: int = 50, level: float = 0.95,
                          seed: int = 0, null: bool = True, device: str = "cpu") -> dict[str, dict]:
    """Full-sample estimates with subsampling intervals, for several estimators of one layer.

    Parameters
    ----------
    activations : array_like of shape (n_samples, n_units)
    labels : array_like of int, shape (n_samples,)
    estimators : dict
        ``{name: (method, params)}`` as for :func:`layerinfo.information.information_plane_many`.
    subsample : float or int
        m, as a fraction of n or a number of rows (:func:`subsample_size`).
    repeats : int
        Number of subsamples (and of label shuffles for the null).
    level : float
        Coverage of the interval, in (0, 1).
    seed : int
        Seed of the subsample and shuffle draws (``numpy.random.default_rng``).
    null : bool
        Also estimate I(T;Y) with the labels shuffled ``repeats`` times (full sample).

    Returns
    -------
    dict name -> ``I_XT``, ``I_TY`` (full sample, bits), ``I_XT_ci_low``, ``I_XT_ci_high``,
    ``I_TY_ci_low``, ``I_TY_ci_high``, ``m``, and with ``null``: ``I_TY_null`` (the ``level``
    quantile of the shuffled-label estimates) and ``I_TY_null_p`` ((1 + #null >= observed) /
    (1 + repeats)).
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"interval level must be in (0, 1), got {level!r}")
    if not (isinstance(repeats, (int, np.integer)) and repeats >= 2):
        raise ValueError(f"repeats must be an integer >= 2, got {repeats!r}")
    t = np.asarray(activations)
    y = np.asarray(labels)
    n = len(t)
    m = subsample_size(n, subsample)
    rng = np.random.default_rng(seed)
    full = information_plane_many(t, y, estimators, device)
    subs = {name: {"I_XT": [], "I_TY": []} for name in estimators}
    for _ in range(repeats):
        rows = np.sort(rng.choice(n, size=m, replace=False))
        for name, value in information_plane_many(t[rows], y[rows], estimators, device).items():
            subs[name]["I_XT"].append(value["I_XT"])
            subs[name]["I_TY"].append(value["I_TY"])
    nulls = {name: [] for name in estimators}
    if null:
        for _ in range(repeats):
            shuffled = rng.permutation(y)
            for name, value in information_plane_many(t, shuffled, estimators, device).items():
                nulls[name].append(value["I_TY"])
    out = {}
    for name in estimators:
        row = {"I_XT": full[name]["I_XT"], "I_TY": full[name]["I_TY"], "m": m}
        for q in ("I_XT", "I_TY"):
            row[f"{q}_ci_low"], row[f"{q}_ci_high"] = subsampling_interval(
                full[name][q], np.array(subs[name][q]), n, m, level)
        if null:
            values = np.array(nulls[name])
            row["I_TY_null"] = float(np.quantile(values, level))
            row["I_TY_null_p"] = float((1 + np.sum(values >= full[name]["I_TY"])) / (1 + repeats))
        out[name] = row
    return out
