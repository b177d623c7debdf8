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
from scipy.optimize import minimize
from scipy.special import erfc, log_ndtr, zeta

from layerinfo.information.discrete import row_symbols


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
        # imported here: the activation registry needs torch, the rest of this module does not
        # (figures and claims read it without torch)
        import torch

        from layerinfo.models import get_activation

        fn = get_activation(activation).fn

        threshold = 0.0 if fn is None else float(fn(torch.zeros(1, dtype=torch.float64)))
    return (t > threshold).astype(np.uint8)


# --- discrete power law fitted to the state counts (Clauset, Shalizi & Newman 2009) -------------
#
# Every fit below works on the histogram of the counts: the distinct values u_1 < ... < u_D of k_s
# and their multiplicities c_j (the number of states seen u_j times). A bootstrap resample of the
# states is a multinomial draw of the multiplicities, and the tail sums over k >= k_min for every
# candidate k_min are reversed cumulative sums, so a resample costs O(D) and not O(n_states).

ALPHA_BOUNDS = (1.0 + 1e-6, 10.0)
MIN_TAIL = 10  # states with k >= k_min needed to fit a power law
_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


def _histogram(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values (float64, increasing) of ``counts`` and their multiplicities (int64)."""
    values, mult = np.unique(np.asarray(counts, dtype=np.int64), return_counts=True)
    return values.astype(np.float64), mult.astype(np.int64)


def _tail_sums(values: np.ndarray, mult: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each j: n_j = sum_{i >= j} c_i and L_j = sum_{i >= j} c_i ln u_i (the tail from u_j on)."""
    n_tail = np.cumsum(mult[::-1])[::-1]
    log_sum = np.cumsum((mult * np.log(values))[::-1])[::-1]
    return n_tail, log_sum


def _power_law_mle(log_sum: np.ndarray, n: np.ndarray, k_min: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """Maximum-likelihood alpha for several tails at once, by golden-section search.

    The negative log-likelihood of P(k) = k^-alpha / zeta(alpha, k_min), k >= k_min, on a tail of
    ``n`` counts with sum of logs ``log_sum`` is ``alpha * log_sum + n * ln zeta(alpha, k_min)``
    (Clauset et al. 2009, eq. 3.5), convex in alpha (ln zeta is a log-sum-exp of linear functions
    of alpha), so the search over ``ALPHA_BOUNDS`` finds the minimum to within ``tol``.
    """
    log_sum, n, k_min = (np.atleast_1d(np.asarray(a, dtype=np.float64)) for a in (log_sum, n, k_min))

    def nll(alpha):
        return alpha * log_sum + n * np.log(zeta(alpha, k_min))

    a = np.full(log_sum.shape, ALPHA_BOUNDS[0])
    b = np.full(log_sum.shape, ALPHA_BOUNDS[1])
    c, d = b - _GOLDEN * (b - a), a + _GOLDEN * (b - a)
    fc, fd = nll(c), nll(d)
    for _ in range(int(math.ceil(math.log(tol / (b[0] - a[0])) / math.log(_GOLDEN)))):
        left = fc < fd  # minimum in [a, d]
        b = np.where(left, d, b)
        a = np.where(left, a, c)
        new_c, new_d = b - _GOLDEN * (b - a), a + _GOLDEN * (b - a)
        f_new = nll(np.where(left, new_c, new_d))  # one new point per iteration
        c, d = np.where(left, new_c, d), np.where(left, c, new_d)
        fc, fd = np.where(left, f_new, fd), np.where(left, fc, f_new)
    return (a + b) / 2.0


def power_law_alpha(counts: np.ndarray, k_min: int = 1) -> float:
    """Maximum-likelihood exponent alpha of P(k) = k^-alpha / zeta(alpha, k_min), k >= k_min.

    Discrete power law (Clauset, Shalizi & Newman 2009, eq. 3.5), maximised numerically over
    1 < alpha < 10 with the Hurwitz zeta function as normaliser.

    Parameters
    ----------
    counts : ndarray of int, shape (n_states,)
    k_min : int
        Lower end of the fitted range (>= 1).
    """
    k = np.asarray(counts, dtype=np.float64)
    k = k[k >= k_min]
    if k.size < 2:
        raise ValueError(f"need at least 2 counts >= k_min={k_min}, got {k.size}")
    return float(_power_law_mle(np.log(k).sum(), k.size, k_min)[0])


def _choose_k_min(values: np.ndarray, mult: np.ndarray, min_tail: int = MIN_TAIL):
    """Fit every candidate k_min and keep the one of smallest Kolmogorov–Smirnov distance.

    Candidates are the distinct count values u_j whose tail (k >= u_j) holds at least
    ``min_tail`` states and at least two distinct values. The KS distance compares the
    empirical and fitted P(K >= u | K >= k_min) at the distinct values u of the tail.

    Returns
    -------
    (j, alpha, ks) of the chosen candidate (index into ``values``), or None without candidates.
    """
    n_tail, log_sum = _tail_sums(values, mult)
    cand = np.flatnonzero((n_tail >= min_tail) & (np.arange(values.size) < values.size - 1))
    if cand.size == 0:
        return None
    alphas = _power_law_mle(log_sum[cand], n_tail[cand], values[cand])
    ks = _ks_matrix(values, n_tail, cand, alphas)
    best = int(np.argmin(ks))  # first minimum: the smallest k_min among ties
    return int(cand[best]), float(alphas[best]), float(ks[best])


def _ks_matrix(values, n_tail, cand, alphas) -> np.ndarray:
    """KS distance of each candidate's fit: max over u >= k_min of |P_emp(K >= u) - P_fit(K >= u)|."""
    model = zeta(alphas[:, None], values[None, :]) / zeta(alphas, values[cand])[:, None]
    empirical = n_tail[None, :] / n_tail[cand][:, None]
    diff = np.where(np.arange(values.size)[None, :] >= cand[:, None], np.abs(empirical - model), 0.0)
    return diff.max(1)


def _ks_distance(k: np.ndarray, alpha: float, k_min: int) -> float:
    values, mult = _histogram(np.asarray(k)[np.asarray(k) >= k_min])
    n_tail, _ = _tail_sums(values, mult)
    return float(_ks_matrix(values, n_tail, np.array([0]), np.array([alpha]))[0])


def _log_ndtr_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """ln(Phi(b) - Phi(a)) for a < b, accurate in both tails of the standard normal."""
    upper = a > 0  # both in the upper tail: work with survival functions
    hi = np.where(upper, log_ndtr(-a), log_ndtr(b))
    lo = np.where(upper, log_ndtr(-b), log_ndtr(a))
    return hi + np.log1p(-np.exp(np.minimum(lo - hi, 0.0)))


def discrete_lognormal_logpmf(k: np.ndarray, mu: float, sigma: float, k_min: int) -> np.ndarray:
    """ln P(k) of the discrete lognormal on k >= k_min, in nats.

    P(k) = [Phi((ln(k + 1/2) - mu) / sigma) - Phi((ln(k - 1/2) - mu) / sigma)]
           / [1 - Phi((ln(k_min - 1/2) - mu) / sigma)],

    the continuous lognormal of log-mean ``mu`` and log-std ``sigma`` rounded to the nearest
    integer and truncated below ``k_min`` (Phi: the standard normal CDF). Parameters
    ``k`` : ndarray of int >= k_min, any shape; returns the same shape.
    """
    k = np.asarray(k, dtype=np.float64)
    a = (np.log(k - 0.5) - mu) / sigma
    b = (np.log(k + 0.5) - mu) / sigma
    return _log_ndtr_diff(a, b) - log_ndtr(-(math.log(k_min - 0.5) - mu) / sigma)


def fit_discrete_lognormal(values: np.ndarray, mult: np.ndarray, k_min: int) -> tuple[float, float]:
    """Maximum-likelihood (mu, sigma) of :func:`discrete_lognormal_logpmf` on a tail.

    ``values`` (distinct counts >= k_min) with multiplicities ``mult``. Nelder–Mead over
    (mu, ln sigma) from several starts (the log-moments of the tail, and heavy-tailed starts
    with mu far below ln k_min, where the lognormal approaches a power law); the best is kept.
    """
    values = np.asarray(values, dtype=np.float64)
    mult = np.asarray(mult, dtype=np.float64)
    logs = np.log(values)
    mean = float((mult * logs).sum() / mult.sum())
    std = float(math.sqrt(max((mult * (logs - mean) ** 2).sum() / mult.sum(), 1e-4)))

    def nll(theta):
        return -float((mult * discrete_lognormal_logpmf(values, theta[0], math.exp(theta[1]), k_min)).sum())

    bounds = [(-500.0, float(logs.max()) + 10.0), (math.log(0.05), math.log(200.0))]
    starts = [(mean, math.log(std)), (math.log(k_min) - 5.0, math.log(2.0)), (math.log(k_min) - 20.0, math.log(4.0))]
    best = None
    for mu0, ls0 in starts:
        x0 = [min(max(mu0, bounds[0][0]), bounds[0][1]), min(max(ls0, bounds[1][0]), bounds[1][1])]
        res = minimize(nll, x0, method="Nelder-Mead", bounds=bounds,
                       options={"xatol": 1e-7, "fatol": 1e-9, "maxiter": 4000})
        if best is None or res.fun < best.fun:
            best = res
    return float(best.x[0]), float(math.exp(best.x[1]))


def power_law_vs_lognormal(counts: np.ndarray, alpha: float, k_min: int) -> dict[str, float]:
    """Likelihood-ratio test of the power law against the lognormal on the tail k >= k_min.

    Clauset, Shalizi & Newman (2009, §5; Vuong 1989): with l_i = ln p_PL(k_i) - ln p_LN(k_i) over
    the n tail states, R = sum_i l_i (nats; R > 0 favours the power law), sigma² the variance of
    the l_i, the normalised ratio R / (sigma sqrt(n)) is asymptotically standard normal when the
    two fit equally well, and the two-sided p value is p = erfc(|R| / (sigma sqrt(2 n))). A small p
    with R < 0 rejects the power law in favour of the lognormal; a large p says the data cannot
    tell the two apart. The power law is the one fitted (``alpha``, ``k_min``); the discrete
    lognormal is fitted here by maximum likelihood on the same tail
    (:func:`fit_discrete_lognormal`).

    Returns
    -------
    dict with ``lr_R`` (nats), ``lr_normalised``, ``lr_p``, ``lognormal_mu``, ``lognormal_sigma``
    and ``lr_n`` (tail states).
    """
    k = np.asarray(counts, dtype=np.int64)
    values, mult = _histogram(k[k >= k_min])
    if values.size == 0:
        raise ValueError(f"no counts >= k_min={k_min}")
    mu, sigma = fit_discrete_lognormal(values, mult, k_min)
    log_pl = -alpha * np.log(values) - math.log(zeta(alpha, k_min))
    ell = log_pl - discrete_lognormal_logpmf(values, mu, sigma, k_min)
    n = int(mult.sum())
    r = float((mult * ell).sum())
    sd = float(math.sqrt((mult * (ell - r / n) ** 2).sum() / n))
    if sd > 1e-12 * max(1.0, abs(r) / n):
        z = r / (sd * math.sqrt(n))
        p = float(erfc(abs(z) / math.sqrt(2.0)))
    else:  # identical fits on every observation: nothing to tell apart
        z, p = 0.0, 1.0
    return {"lr_R": r, "lr_normalised": float(z), "lr_p": p, "lognormal_mu": mu, "lognormal_sigma": sigma, "lr_n": n}


def power_law_rejected(lr_R: float, lr_p: float, level: float = 0.1) -> bool:
    """Whether the likelihood-ratio test rejects the power law: R < 0 and p < ``level``.

    The power law is kept (not rejected) when p >= ``level`` (the test cannot tell it from the
    lognormal) or R >= 0 (the power law fits at least as well); Clauset et al. (2009) use 0.1.
    """
    return bool(lr_R < 0 and lr_p < level)


def zipf_fit(
    counts: np.ndarray,
    k_min: int | None = None,
    n_bootstrap: int = 200,
    rng: np.random.Generator | None = None,
    compare: bool = True,
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
        Lower end of the power-law range; by default the candidate minimising the
        Kolmogorov–Smirnov distance between data and fit (Clauset et al. 2009, §3.3), among the
        distinct counts with at least 10 states and two distinct values at or above them.
    n_bootstrap : int
        Bootstrap resamples of the states for the 95% percentile interval (0: no interval). When
        k_min is chosen from the data it is chosen again in every resample, so the interval
        carries the uncertainty of k_min as well as of alpha (Clauset et al. 2009, §3.5).
    rng : numpy.random.Generator, optional
        Source of the resamples (default: seeded with 0, so results are reproducible).
    compare : bool
        Also run the likelihood-ratio test against a lognormal (:func:`power_law_vs_lognormal`).

    Returns
    -------
    dict with ``zipf_exponent``, ``zipf_ci_low``, ``zipf_ci_high``, ``alpha``, ``k_min``,
    ``ks_distance``, ``n_tail`` (states with k >= k_min), ``n_bootstrap_fits`` (resamples that
    could be fitted) and, with ``compare``, the keys of :func:`power_law_vs_lognormal`.
    """
    k = np.asarray(counts, dtype=np.int64)
    if n_bootstrap < 0:
        raise ValueError(f"n_bootstrap must be >= 0, got {n_bootstrap}")
    values, mult = _histogram(k)
    choose = k_min is None
    if choose:
        chosen = _choose_k_min(values, mult)
        if chosen is None:
            raise ValueError(f"too few states to fit a power law (need {MIN_TAIL} with equal or higher counts)")
        j, alpha, ks = chosen
        k_min = int(values[j])
    else:
        k_min = int(k_min)
        alpha = power_law_alpha(k, k_min)
        ks = _ks_distance(k, alpha, k_min)
    rng = np.random.default_rng(0) if rng is None else rng
    boot = []
    for _ in range(n_bootstrap):
        resampled = rng.multinomial(k.size, mult / k.size)
        keep = resampled > 0
        v, m = values[keep], resampled[keep]
        if choose:
            refit = _choose_k_min(v, m)
            if refit is not None:
                boot.append(refit[1])
        else:
            tail = v >= k_min
            if m[tail].sum() >= 2:
                boot.append(float(_power_law_mle((m[tail] * np.log(v[tail])).sum(), m[tail].sum(), k_min)[0]))
    boot_z = 1.0 / (np.asarray(boot) - 1.0)
    low, high = (np.percentile(boot_z, [2.5, 97.5]) if boot_z.size else (math.nan, math.nan))
    out = {
        "zipf_exponent": 1.0 / (alpha - 1.0),
        "zipf_ci_low": float(low),
        "zipf_ci_high": float(high),
        "alpha": alpha,
        "k_min": k_min,
        "ks_distance": ks,
        "n_tail": int(np.sum(k >= k_min)),
        "n_bootstrap_fits": int(boot_z.size),
    }
    if compare:
        out.update(power_law_vs_lognormal(k, alpha, k_min))
    return out


LR_KEYS = ("lr_R", "lr_normalised", "lr_p", "lognormal_mu", "lognormal_sigma", "lr_n")


def layer_zipf(counts: np.ndarray, n_bootstrap: int = 200, rng: np.random.Generator | None = None) -> dict:
    """:func:`zipf_fit` where a power law can be fitted, NaN fields (with the reason) where not.

    A fit needs at least 10 states and two distinct counts: a layer whose states are all
    distinct (every k_s = 1, the input end of a deep network) or that has a handful of states
    (the narrow top) has no rank-frequency tail to fit.

    Returns
    -------
    dict with the keys of :func:`zipf_fit` (likelihood-ratio test included) and ``zipf_status``
    (``"ok"`` or the reason).
    """
    k = np.asarray(counts, dtype=np.int64)
    empty = {"zipf_exponent": math.nan, "zipf_ci_low": math.nan, "zipf_ci_high": math.nan, "alpha": math.nan,
             "k_min": math.nan, "ks_distance": math.nan, "n_tail": 0, "n_bootstrap_fits": 0,
             **{key: math.nan for key in LR_KEYS}}
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
