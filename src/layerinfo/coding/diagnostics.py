"""Convergence of the posterior chains, judged on statistics that do not depend on which neuron
plays which role.

A network's posterior is symmetric under permutations of its hidden neurons, and symmetry-broken
states (which neuron became an outlier, which carries which code) do not mix between chains. A
check on any one neuron's weight would therefore always fail, and a check on a fast statistic
(kernel alignment, mean squared weight: they settle within a few hundred steps) passes while the
outlier neurons are still forming. The statistics here are permutation invariant and include the
slow ones, each computed at every trace point of a chain (burn-in included):

* ``max_readout_over_sqrt_n``: ``max_i |a_i| / sqrt(N)`` (``|a_i|`` the norm of neuron ``i``'s
  m-dimensional readout vector); O(1) for an outlier (``a_i = sqrt(N) abar_i``, the authors' poster);
* ``top_readout_over_sqrt_n``: mean of the ``m`` largest ``|a_i| / sqrt(N)`` (sorted norms, top k = m);
* ``n_outliers``: neurons with ``|a_i| > N^(1/4) median_j |a_j|`` (:func:`~layerinfo.coding.schemes.outlier_mask`);
* ``max_z_over_sqrt_n``: ``max_i max_mu |z_i(x_mu)| / sqrt(N)`` of the last hidden layer;
* ``n_patterns``, ``max_pattern_share``, ``code_fraction``: the histogram of on/off code
  patterns (:func:`layerinfo.coding.schemes.neuron_codes`): the number of distinct non-empty
  patterns, the largest share of the N neurons holding one pattern, the share with any code;
* ``alignment``, ``weight2``: the sampler's traces (fast statistics, kept for comparison).

Tests of a run (:func:`convergence`), all on the kept samples except the plateau:

* rank-normalised split R-hat of every statistic (Vehtari, Gelman, Simpson, Carpenter & Bürkner
  2021) against the value that independent draws of the same size stay below with probability
  ``1 - 0.05 / n_statistics`` (:func:`rhat_threshold`, never below the paper's 1.01);
* a running-window trend test: each chain's kept draws are cut into consecutive windows, and the
  Mann–Kendall statistic of the window means, summed over chains, is tested against "no trend"
  (two-sided, Bonferroni over the statistics at family level 0.05; :func:`trend_test`);
* plateau: the first trace step at which each slow statistic has covered 90 % of its way from its
  first value to its kept-window median (:func:`plateau_step`); it must not lie after the burn-in;
* at least :data:`MIN_CHAINS` chains (R-hat needs several, the issue's ">= 4").
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy import special, stats

from layerinfo.coding.schemes import neuron_codes, outlier_mask

MIN_CHAINS = 4
FAMILY_ALPHA = 0.05
PLATEAU_FRACTION = 0.9
N_WINDOWS = 5
STATISTICS = ("max_readout_over_sqrt_n", "top_readout_over_sqrt_n", "n_outliers", "max_z_over_sqrt_n",
              "n_patterns", "max_pattern_share", "code_fraction", "alignment", "weight2")
#: continuous statistics whose approach to their plateau is timed (the slow ones first)
PLATEAU_STATISTICS = ("max_readout_over_sqrt_n", "top_readout_over_sqrt_n", "max_z_over_sqrt_n", "alignment",
                      "weight2")


def slow_statistics(readout: np.ndarray, response: np.ndarray, zmax: np.ndarray, threshold: float) -> dict:
    """The permutation-invariant statistics (module docstring) at every trace point of one chain.

    ``readout`` ``(T, N, m)``, ``response`` ``(T, N, m)`` class-mean activity, ``zmax`` ``(T, N)``;
    ``threshold`` the code threshold. Returns name -> ``(T,)`` array (without the sampler's
    ``alignment`` and ``weight2`` traces)."""
    readout = np.asarray(readout, float)
    t, n, m = readout.shape
    norm = np.linalg.norm(readout, axis=2) / math.sqrt(n)
    top = -np.sort(-norm, axis=1)[:, :m]
    codes = neuron_codes(np.asarray(response, float), threshold)
    n_patterns, max_share = np.zeros(t), np.zeros(t)
    for k in range(t):
        coding = codes[k][codes[k] > 0]
        if coding.size:
            counts = np.unique(coding, return_counts=True)[1]
            n_patterns[k], max_share[k] = len(counts), counts.max() / n
    return {"max_readout_over_sqrt_n": norm.max(1), "top_readout_over_sqrt_n": top.mean(1),
            "n_outliers": outlier_mask(readout).sum(1).astype(float),
            "max_z_over_sqrt_n": np.asarray(zmax, float).max(1) / math.sqrt(n),
            "n_patterns": n_patterns, "max_pattern_share": max_share, "code_fraction": (codes > 0).mean(1)}


def _rhat_basic(chains: np.ndarray) -> float:
    m, n = chains.shape
    w = chains.var(axis=1, ddof=1).mean()
    b = n * chains.mean(axis=1).var(ddof=1)
    return float(np.sqrt(((n - 1) / n * w + b / n) / w)) if w > 0 else float("nan")


def _split(chains: np.ndarray) -> np.ndarray:
    chains = np.asarray(chains, float)
    half = chains.shape[1] // 2
    return np.concatenate([chains[:, :half], chains[:, chains.shape[1] - half:]])


def _rank_normalise(values: np.ndarray) -> np.ndarray:
    """``Phi^-1((rank - 3/8) / (S + 1/4))`` of every draw among all ``S`` draws (average ranks for ties)."""
    flat = values.ravel()
    ranks = stats.rankdata(flat)
    return special.ndtri((ranks - 0.375) / (flat.size + 0.25)).reshape(values.shape)


def rhat(traces: np.ndarray) -> float:
    """Rank-normalised split R-hat of ``(n_chains, n_draws)`` traces (Vehtari, Gelman, Simpson,
    Carpenter & Bürkner 2021, Bayesian Analysis 16, 667).

    Each chain is split in halves; the draws are rank-normalised over all chains; R-hat is the
    classic ``sqrt(((n-1)/n W + B/n) / W)`` of the split, rank-normalised chains, and the same
    of the folded draws ``|x - median|`` (sensitive to differences in scale); the larger of the
    two is returned. Near 1 (below 1.01 in the paper's recommendation) when the chains agree.
    NaN with fewer than 4 draws per chain or constant draws.
    """
    traces = np.asarray(traces, float)
    if traces.ndim != 2 or traces.shape[1] < 4 or np.ptp(traces) == 0:
        return float("nan")
    split = _split(traces)
    bulk = _rhat_basic(_rank_normalise(split))
    folded = _rhat_basic(_rank_normalise(np.abs(split - np.median(split))))
    return float(max(bulk, folded))


def ess(traces: np.ndarray) -> float:
    """Bulk effective sample size of ``(n_chains, n_draws)`` traces (Vehtari et al. 2021).

    On the split, rank-normalised chains (``M`` chains of ``n`` draws):
    ``rho_t = 1 - (W - mean_chains(acov_t)) / var_plus`` with ``var_plus = (n-1)/n W + B/n``;
    ``ESS = M n / tau``, ``tau = -1 + 2 sum_k P_k`` over Geyer's initial positive, monotone
    sequence of pair sums ``P_k = rho_2k + rho_2k+1`` (Geyer 1992). NaN with fewer than 4
    draws per chain or constant draws.
    """
    traces = np.asarray(traces, float)
    if traces.ndim != 2 or traces.shape[1] < 4 or np.ptp(traces) == 0:
        return float("nan")
    z = _rank_normalise(_split(traces))
    m, n = z.shape
    centred = z - z.mean(1, keepdims=True)
    spectrum = np.fft.rfft(centred, n=2 * n, axis=1)
    acov = np.fft.irfft(spectrum * np.conj(spectrum), axis=1)[:, :n] / n
    w = z.var(axis=1, ddof=1).mean()
    var_plus = (n - 1) / n * w + z.mean(1).var(ddof=1)
    rho = 1 - (w - acov.mean(0)) / var_plus
    rho[0] = 1.0
    pairs = []
    for k in range(0, n - 1, 2):
        p = rho[k] + rho[k + 1]
        if p <= 0:
            break
        pairs.append(min(p, pairs[-1]) if pairs else p)
    tau = -1 + 2 * sum(pairs) if pairs else 1.0
    return float(m * n / max(tau, 1.0 / np.log10(m * n + 10)))


@lru_cache(maxsize=64)
def rhat_threshold(n_chains: int, n_draws: int, n_statistics: int = len(STATISTICS), n_sim: int = 4000) -> float:
    """The R-hat that independent standard-normal draws, ``n_chains`` x ``n_draws``, stay below
    with probability ``1 - 0.05 / n_statistics`` (simulated, fixed seed), and at least 1.01.

    Why not 1.01 alone (Vehtari et al. 2021): that value assumes ~400 effective draws; with tens
    of draws per chain independent draws exceed it often (R-hat^2 - 1 fluctuates like
    ``(B/W - 1) / n``), and every run would fail however well it mixed.
    """
    rng = np.random.default_rng(12345)
    values = np.array([rhat(rng.standard_normal((n_chains, n_draws))) for _ in range(n_sim)])
    return float(max(1.01, np.quantile(values, 1 - FAMILY_ALPHA / n_statistics)))


def trend_test(traces: np.ndarray, n_windows: int = N_WINDOWS) -> tuple[float, float]:
    """Running-window trend test of ``(n_chains, n_draws)`` kept draws: ``(z, p)``.

    Each chain's draws are cut into ``n_windows`` consecutive windows (fewer when a chain has
    under 2 draws per window, at least 3); the Mann–Kendall statistic ``S = sum_{i<j} sign(w_j -
    w_i)`` of the window means ``w`` is summed over the chains, with variance ``K W (W - 1)
    (2W + 5) / 18`` under "no trend" (independent window means; Kendall 1975), continuity
    corrected, two-sided normal p-value. A slow stationary statistic whose windows are shorter
    than its correlation time also shows a "trend": the chain is then too short to tell drift
    from slow mixing, and failing it is the intended outcome. ``(nan, nan)`` with too few draws.
    """
    traces = np.asarray(traces, float)
    k, n = traces.shape
    w = min(n_windows, n // 2)
    if w < 3:
        return float("nan"), float("nan")
    edges = np.linspace(0, n, w + 1).astype(int)
    means = np.stack([traces[:, a:b].mean(1) for a, b in zip(edges[:-1], edges[1:])], axis=1)
    i, j = np.triu_indices(w, 1)
    s = float(np.sign(means[:, j] - means[:, i]).sum())
    var = k * w * (w - 1) * (2 * w + 5) / 18
    z = (s - np.sign(s)) / math.sqrt(var)
    return float(z), float(2 * stats.norm.sf(abs(z)))


def plateau_step(steps: np.ndarray, trace: np.ndarray, kept: np.ndarray) -> float:
    """First trace step at which one chain's statistic (smoothed over 3 trace points) has covered
    ``PLATEAU_FRACTION`` of the way from its first value to the median of its kept draws
    (``kept`` a boolean mask of the trace points after burn-in); the first step when the statistic
    never moved by more than twice the kept draws' standard deviation."""
    trace = np.asarray(trace, float)
    smooth = np.convolve(np.pad(trace, 1, mode="edge"), np.ones(3) / 3, mode="valid")
    target = np.median(trace[kept])
    rise = target - smooth[0]
    if not abs(rise) > 2 * np.std(trace[kept]):
        return float(steps[0])
    reached = (smooth - smooth[0]) / rise >= PLATEAU_FRACTION
    return float(steps[np.argmax(reached)]) if reached.any() else float(steps[-1])


def chain_statistics(chain: dict, threshold: float) -> dict:
    """Every statistic of :data:`STATISTICS` along one chain of a posterior file (trace arrays)."""
    return {**slow_statistics(chain["trace_readout"], chain["trace_response"], chain["trace_zmax"], threshold),
            "alignment": np.asarray(chain["trace_alignment"], float),
            "weight2": np.asarray(chain["trace_weight2"], float)}


def convergence(chains: list[dict], burn_in: int, threshold: float) -> tuple[dict, list[dict]]:
    """Diagnostics of one run's chains (posterior-file chain dicts with their traces).

    Returns the run's summary (``converged``, ``convergence_reason``, ``plateau_step``,
    ``rhat_threshold``, the largest R-hat and its statistic, the smallest trend p-value, the
    bulk ESS of ``max_readout_over_sqrt_n``) and one row per statistic (``rhat``, ``trend_z``,
    ``trend_p``, ``plateau_step``, ``ess``, kept-window mean)."""
    per_chain = [chain_statistics(c, threshold) for c in chains]
    steps = np.asarray(chains[0]["trace_step"])
    kept = steps > burn_in
    k, n_kept = len(chains), int(kept.sum())
    limit = rhat_threshold(k, n_kept) if k >= 2 and n_kept >= 4 else float("nan")
    alpha = FAMILY_ALPHA / len(STATISTICS)
    rows, reasons = [], []
    if k < MIN_CHAINS:
        reasons.append(f"{k} chains (at least {MIN_CHAINS} needed for R-hat)")
    if n_kept < 6:
        reasons.append(f"{n_kept} kept samples per chain (at least 6 needed for the trend test)")
    for name in STATISTICS:
        full = np.stack([s[name] for s in per_chain])
        draws = full[:, kept]
        constant = np.ptp(draws) == 0
        r = float("nan") if constant else rhat(draws)
        z, p = (0.0, 1.0) if constant else trend_test(draws)
        plateau = (max(plateau_step(steps, f, kept) for f in full) if name in PLATEAU_STATISTICS
                   else float("nan"))
        rows.append({"statistic": name, "kept_mean": float(draws.mean()), "rhat": r, "rhat_threshold": limit,
                     "ess": float("nan") if constant else ess(draws), "trend_z": z, "trend_p": p,
                     "plateau_step": plateau})
        if k >= 2 and not constant and not r <= limit:
            reasons.append(f"R-hat of {name} {r:.3g} > {limit:.3g}")
        if not constant and n_kept >= 6 and not p >= alpha:
            reasons.append(f"trend in {name} (p = {p:.2g} < {alpha:.2g})")
    plateau = float(np.nanmax([r["plateau_step"] for r in rows]))
    if plateau > burn_in:
        reasons.append(f"plateau at step {plateau:.0f}, after the burn-in ({burn_in})")
    finite = [r for r in rows if np.isfinite(r["rhat"])]
    trend_p = [r["trend_p"] for r in rows if np.isfinite(r["trend_p"])]
    worst = max(finite, key=lambda r: r["rhat"]) if finite else None
    summary = {"converged": not reasons, "convergence_reason": "; ".join(reasons) if reasons else "",
               "plateau_step": plateau, "burn_in": int(burn_in), "rhat_threshold": limit,
               "rhat_max": worst["rhat"] if worst else float("nan"),
               "rhat_max_statistic": worst["statistic"] if worst else "",
               "trend_p_min": float(min(trend_p)) if trend_p else float("nan"),
               "ess_max_readout": rows[0]["ess"], "n_kept_per_chain": n_kept}
    return summary, rows
