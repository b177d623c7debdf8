"""Resolution and relevance of a layer's discrete states, and Zipf's law (Song, Marsili, Jo 2018).

A layer maps M samples to discrete states s. With k_s samples in state s and m_k states seen
exactly k times:

    resolution  H[s] = -sum_s (k_s / M) ln(k_s / M)
    relevance   H[k] = -sum_k (k m_k / M) ln(k m_k / M)

both reported divided by ln M (so all-distinct states give H[s] = 1, H[k] = 0, and a single
state gives 0, 0). Where the curve H[k] against H[s] has slope -1 the state frequencies follow
Zipf's law, frequency proportional to 1/rank.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import zeta

from layerinfo.information.discrete import row_symbols
from layerinfo.models import get_activation


def state_counts(states: np.ndarray) -> np.ndarray:
    """Number of samples k_s in each distinct state.

    Parameters
    ----------
    states : ndarray of shape (n_samples,) or (n_samples, n_units)
        Integer state labels, or one integer (e.g. binary) vector per sample.
    """
    s = np.asarray(states)
    if s.ndim == 2:
        s = row_symbols(s)
    elif s.ndim != 1:
        raise ValueError(f"states must have shape (n_samples,) or (n_samples, n_units), got {s.shape}")
    if s.size == 0:
        raise ValueError("states must contain at least one sample")
    if not np.issubdtype(s.dtype, np.integer) and not np.issubdtype(s.dtype, np.bool_):
        raise ValueError(f"states must be integers, got dtype {s.dtype}")
    return np.unique(s, return_counts=True)[1]


def resolution_relevance(states: np.ndarray) -> dict[str, float]:
    """Resolution H[s] and relevance H[k], in nats and normalised by ln M.

    Returns
    -------
    dict with ``H_s_norm``, ``H_k_norm`` (divided by ln M; 0 when M = 1), ``H_s_nats``,
    ``H_k_nats``, ``n_states`` and ``n_samples``.
    """
    k_s = state_counts(states)
    m = int(k_s.sum())
    p_s = k_s / m
    h_s = float(-(p_s * np.log(p_s)).sum()) + 0.0  # + 0.0: no "-0" for a single state
    k, m_k = np.unique(k_s, return_counts=True)
    p_k = k * m_k / m
    h_k = float(-(p_k * np.log(p_k)).sum()) + 0.0
    log_m = math.log(m)
    return {
        "H_s_norm": h_s / log_m if m > 1 else 0.0,
        "H_k_norm": h_k / log_m if m > 1 else 0.0,
        "H_s_nats": h_s,
        "H_k_nats": h_k,
        "n_states": int(k_s.size),
        "n_samples": m,
    }


def binarise(activations: np.ndarray, activation: str) -> np.ndarray:
    """Binary states of a layer of a feed-forward network: unit on when ``t > phi(0)``.

    For a monotone activation phi this is "the pre-activation is positive" (tanh, ReLU, ELU,
    swish above its minimum, softsign, linear: t > 0; sigmoid: t > 1/2; softplus: t > ln 2),
    one rule for every activation of :data:`layerinfo.models.ACTIVATIONS` and for the softmax
    output (``"softmax"``: on when above 1/n_classes).

    Returns
    -------
    ndarray of uint8, same shape as ``activations``.
    """
    t = np.asarray(activations)
    if activation == "softmax":
        threshold = 1.0 / t.shape[-1]
    else:
        fn = get_activation(activation).fn
        import torch

        threshold = 0.0 if fn is None else float(fn(torch.zeros(1, dtype=torch.float64)))
    return (t > threshold).astype(np.uint8)


def _power_law_nll(alpha: float, log_k_sum: float, n: int, k_min: int) -> float:
    return alpha * log_k_sum + n * math.log(zeta(alpha, k_min))


def power_law_alpha(counts: np.ndarray, k_min: int = 1) -> float:
    """Maximum-likelihood exponent alpha of P(k) = k^-alpha / zeta(alpha, k_min), k >= k_min.

    Discrete power law (Clauset, Shalizi & Newman 2009, eq. 3.5), maximised numerically
    over 1 < alpha < 10 with the Hurwitz zeta function as normaliser.
    """
    k = np.asarray(counts, dtype=np.float64)
    k = k[k >= k_min]
    if k.size < 2:
        raise ValueError(f"need at least 2 counts >= k_min={k_min}, got {k.size}")
    log_k_sum, n = float(np.log(k).sum()), int(k.size)
    result = minimize_scalar(_power_law_nll, bounds=(1.0 + 1e-6, 10.0), args=(log_k_sum, n, k_min),
                             method="bounded", options={"xatol": 1e-8})
    return float(result.x)


def _ks_distance(k: np.ndarray, alpha: float, k_min: int) -> float:
    k = np.sort(k[k >= k_min])
    values, first = np.unique(k, return_index=True)
    empirical_tail = 1.0 - first / k.size  # P(K >= v) for each distinct v
    model_tail = zeta(alpha, values) / zeta(alpha, k_min)
    return float(np.abs(empirical_tail - model_tail).max())


def zipf_fit(
    counts: np.ndarray,
    k_min: int | None = None,
    n_bootstrap: int = 200,
    rng: np.random.Generator | None = None,
) -> dict[str, float]:
    """Zipf exponent of the state frequencies, by maximum likelihood, with a bootstrap interval.

    The counts k_s of the states are fitted with a discrete power law P(k) ~ k^-alpha for
    k >= k_min; a rank-frequency law frequency ~ rank^-z has alpha = 1 + 1/z, so the
    returned ``zipf_exponent`` is z = 1 / (alpha - 1) (Zipf's law: z = 1).

    Parameters
    ----------
    counts : ndarray of int, shape (n_states,)
        Samples per state (:func:`state_counts`).
    k_min : int, optional
        Lower end of the power-law range; by default the value minimising the
        Kolmogorov–Smirnov distance between data and fit (Clauset et al. 2009).
    n_bootstrap : int
        Bootstrap resamples of the states for the 95% percentile interval (0: no interval).
    rng : numpy.random.Generator, optional
        Source of the resamples (default: seeded with 0, so results are reproducible).

    Returns
    -------
    dict with ``zipf_exponent``, ``zipf_ci_low``, ``zipf_ci_high``, ``alpha``, ``k_min``,
    ``ks_distance`` and ``n_tail`` (states with k >= k_min).
    """
    k = np.asarray(counts, dtype=np.int64)
    if k_min is None:
        candidates = np.unique(k)
        candidates = candidates[[np.sum(k >= c) >= 10 for c in candidates]]
        if candidates.size == 0:
            raise ValueError("too few states to fit a power law (need 10 with equal or higher counts)")
        fits = [(c, power_law_alpha(k, int(c))) for c in candidates]
        k_min, alpha = min(fits, key=lambda f: _ks_distance(k, f[1], int(f[0])))
        k_min = int(k_min)
    else:
        alpha = power_law_alpha(k, k_min)
    rng = np.random.default_rng(0) if rng is None else rng
    boot = []
    for _ in range(n_bootstrap):
        sample = rng.choice(k, size=k.size, replace=True)
        if np.sum(sample >= k_min) >= 2:
            boot.append(1.0 / (power_law_alpha(sample, k_min) - 1.0))
    low, high = (np.percentile(boot, [2.5, 97.5]) if boot else (math.nan, math.nan))
    return {
        "zipf_exponent": 1.0 / (alpha - 1.0),
        "zipf_ci_low": float(low),
        "zipf_ci_high": float(high),
        "alpha": alpha,
        "k_min": k_min,
        "ks_distance": _ks_distance(k, alpha, k_min),
        "n_tail": int(np.sum(k >= k_min)),
    }


def layer_zipf(counts: np.ndarray, n_bootstrap: int = 200, rng: np.random.Generator | None = None) -> dict:
    """:func:`zipf_fit` where a power law can be fitted, NaN fields (with the reason) where not.

    A fit needs at least 10 states and two distinct counts: a layer whose states are all
    distinct (every k_s = 1, the input end of a deep network) or that has a handful of states
    (the narrow top) has no rank-frequency tail to fit.

    Returns
    -------
    dict with the keys of :func:`zipf_fit` and ``zipf_status`` (``"ok"`` or the reason).
    """
    k = np.asarray(counts, dtype=np.int64)
    empty = {"zipf_exponent": math.nan, "zipf_ci_low": math.nan, "zipf_ci_high": math.nan, "alpha": math.nan,
             "k_min": math.nan, "ks_distance": math.nan, "n_tail": 0}
    if k.size < 10:
        return {**empty, "zipf_status": f"only {k.size} states (< 10)"}
    if np.unique(k).size < 2:
        return {**empty, "zipf_status": f"every state seen {int(k[0])} time(s)"}
    try:
        fit = zipf_fit(k, n_bootstrap=n_bootstrap, rng=rng)
    except ValueError as err:
        return {**empty, "zipf_status": str(err)}
    if np.unique(k[k >= fit["k_min"]]).size < 2:
        return {**empty, "zipf_status": "tail above k_min has one count value"}
    return {**fit, "zipf_status": "ok"}


def rank_frequency(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ranks 1..n and the counts sorted in decreasing order (the rank-frequency plot of Zipf)."""
    k = np.sort(np.asarray(counts))[::-1]
    return np.arange(1, k.size + 1), k


def local_slopes(h_s: np.ndarray, h_k: np.ndarray) -> np.ndarray:
    """Local slope dH[k]/dH[s] of the relevance curve through points ordered by resolution.

    The points (e.g. the layers of one network) are sorted by ``h_s``; the slope at each
    point is the second-order finite difference on the non-uniform grid (``numpy.gradient``),
    one-sided at the ends. Points sharing a value of H[s] with a neighbour get NaN. Returned in
    the order of the inputs. Slope -1 is where resolution and relevance trade at the same price
    and the state frequencies follow Zipf's law (Song, Marsili & Jo 2018, arXiv:1710.11324).

    Parameters
    ----------
    h_s, h_k : ndarray of shape (n_points,)
        Resolution and relevance (normalised or in nats, the same for both).
    """
    h_s, h_k = np.asarray(h_s, dtype=float), np.asarray(h_k, dtype=float)
    if h_s.shape != h_k.shape or h_s.ndim != 1:
        raise ValueError(f"h_s and h_k must be 1-d of equal length, got {h_s.shape} and {h_k.shape}")
    out = np.full(h_s.size, math.nan)
    if h_s.size < 2:
        return out
    order = np.argsort(h_s, kind="stable")
    x, y = h_s[order], h_k[order]
    if np.any(np.diff(x) <= 0):
        # gradient needs strictly increasing x: slope from distinct neighbours only
        keep = np.concatenate([[True], np.diff(x) > 0])
        xs, ys = x[keep], y[keep]
        slopes = np.gradient(ys, xs) if xs.size >= 2 else np.full(xs.size, math.nan)
        dup = ~keep | np.concatenate([~keep[1:], [False]])
        full = np.full(x.size, math.nan)
        full[np.flatnonzero(keep)] = slopes
        full[dup] = math.nan
    else:
        full = np.gradient(y, x)
    out[order] = full
    return out


def zipf_point(h_s: np.ndarray, h_k: np.ndarray) -> int:
    """Index of the point whose local slope dH[k]/dH[s] (:func:`local_slopes`) is closest to -1.

    Raises ``ValueError`` when no point has a finite slope.
    """
    slopes = local_slopes(h_s, h_k)
    if not np.isfinite(slopes).any():
        raise ValueError("no point has a finite local slope (need >= 2 distinct values of h_s)")
    return int(np.nanargmin(np.abs(slopes + 1.0)))
