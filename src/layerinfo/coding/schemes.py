"""Population codes of a hidden layer and the scheme they form (none, analog, redundant, sparse).

The signatures follow van Meegen & Sompolinsky (2025): a layer carries a code when its
neurons' responses are driven by the class (class-explained variance); a linear network's code
is *analog* (graded responses to every class, Gaussian readouts); a sigmoidal network's is
*redundant* (a few discrete branches of m-dimensional readout vectors, each shared by many
neurons, class-mean responses on or off); a ReLU network's is *sparse* (O(1) outlier neurons,
whose readouts grow like sqrt(N), carry the output while the bulk stays small).

Definitions (S posterior samples, N neurons, C classes, R outputs):

* class response ``r[s, i, c]``: mean of ``phi(z_i(x))`` over the training inputs of class ``c``
  in posterior sample ``s`` (per sample, as codes are a property of one network: averaging over
  samples would mix the symmetry-broken states of different chains);
* normalised response ``r / rho_s`` with ``rho_s = max_{i,c} |r[s, i, c]|``, the strongest class
  response in the population of that sample (codes are relative to the population, so that a
  bulk of weakly responding neurons carries no code next to a few strongly responding ones);
* code of neuron ``i``: the set of classes ``c`` with normalised response ``> threshold``
  (a bit mask, bit ``c`` set for class ``c``); a neuron "carries a code" when the set is not empty.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

SCHEMES = ("none", "analog", "redundant", "sparse", "unclassified")


def class_responses(activity: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Mean activity per class.

    Parameters
    ----------
    activity : ndarray, shape (n_posterior_samples, n_inputs, n_neurons)
    labels : ndarray, shape (n_inputs,)

    Returns
    -------
    ndarray, shape (n_posterior_samples, n_neurons, n_classes)
    """
    activity = np.asarray(activity, float)
    if activity.ndim != 3:
        raise ValueError(f"activity must have shape (samples, inputs, neurons), got {activity.shape}")
    out = np.zeros((activity.shape[0], activity.shape[2], n_classes))
    for c in range(n_classes):
        if np.any(labels == c):
            out[:, :, c] = activity[:, labels == c, :].mean(1)
    return out


def normalised_responses(responses: np.ndarray) -> np.ndarray:
    """``r / rho_s`` with ``rho_s = max |r|`` over the neurons and classes of sample ``s``; values in
    [-1, 1]. ``responses`` ``(S, N, C)``."""
    scale = np.max(np.abs(responses), axis=(1, 2), keepdims=True)
    return responses / np.where(scale > 0, scale, 1.0)


def neuron_codes(responses: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Code of every neuron as a bit mask: bit ``c`` set when its normalised response to class
    ``c`` exceeds ``threshold``. ``responses`` ``(S, N, C)`` -> ``(S, N)`` int64."""
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must lie in (0, 1), got {threshold}")
    above = normalised_responses(responses) > threshold
    return (above * (1 << np.arange(responses.shape[2]))).sum(-1).astype(np.int64)


def code_label(code: int, class_names=None) -> str:
    """``5`` -> ``'{0,2}'`` (class names if given); ``0`` -> ``'{}'``."""
    members = [i for i in range(int(code).bit_length()) if code >> i & 1]
    names = [str(class_names[i]) if class_names is not None else str(i) for i in members]
    return "{" + ",".join(names) + "}"


def code_frequencies(codes: np.ndarray) -> pd.DataFrame:
    """Fraction of neurons (pooled over posterior samples) carrying each code, most frequent
    first; columns ``code``, ``fraction``."""
    values, counts = np.unique(np.asarray(codes).ravel(), return_counts=True)
    frame = pd.DataFrame({"code": values, "fraction": counts / counts.sum()})
    return frame.sort_values(["fraction", "code"], ascending=[False, True], ignore_index=True)


def bimodality_coefficient(values: np.ndarray, axis: int = -1) -> np.ndarray:
    """Sarle's bimodality coefficient ``(g^2 + 1) / (k + 3 (n-1)^2 / ((n-2)(n-3)))`` with sample
    skewness ``g`` and excess kurtosis ``k`` (bias-corrected). 1/3 for a Gaussian, 5/9 for a
    uniform law, towards 1 for two separated modes; above 5/9 suggests more than one mode."""
    n = np.shape(values)[axis]
    if n < 4:
        raise ValueError(f"need at least 4 values, got {n}")
    g = stats.skew(values, axis=axis, bias=False)
    k = stats.kurtosis(values, axis=axis, bias=False)
    return (g ** 2 + 1) / (k + 3 * (n - 1) ** 2 / ((n - 2) * (n - 3)))


def readout_statistics(readout: np.ndarray) -> dict:
    """Shape of the readout-weight distribution across neurons.

    ``readout`` ``(S, N, R)``: statistics over the N neurons, per sample and output, then
    averaged: excess kurtosis (0 Gaussian, < 0 a few separated branches, > 0 heavy tails),
    Sarle's bimodality coefficient and the standard deviation.
    """
    readout = np.asarray(readout, float)
    return {
        "readout_excess_kurtosis": float(np.mean(stats.kurtosis(readout, axis=1, bias=False))),
        "readout_bimodality": float(np.mean(bimodality_coefficient(readout, axis=1))),
        "readout_std": float(readout.std(axis=1).mean()),
    }


def code_statistics(codes: np.ndarray, n_classes: int) -> dict:
    """Population statistics of codes ``(S, N)``: fraction of neurons carrying a code, number of
    distinct codes among them, effective number of codes ``exp(entropy)`` and the share of the
    coding neurons held by the ``n_classes`` most frequent codes."""
    codes = np.asarray(codes)
    coding = codes[codes > 0]
    out = {"code_fraction": float((codes > 0).mean())}
    if coding.size == 0:
        out.update(n_codes=0, effective_codes=0.0, top_code_share=float("nan"))
        return out
    _, counts = np.unique(coding, return_counts=True)
    p = np.sort(counts / counts.sum())[::-1]
    out.update(n_codes=len(p), effective_codes=float(np.exp(-(p * np.log(p)).sum())),
               top_code_share=float(p[:n_classes].sum()))
    return out


def code_purity(responses: np.ndarray, codes: np.ndarray) -> float:
    """How well the codes describe the responses: ``1 - W / T`` with ``W`` the variance of the
    normalised response vectors within groups of neurons sharing a code and ``T`` their total
    variance (pooled over posterior samples). Near 1 when neurons with one code respond
    identically (discrete, redundant codes); lower for graded (analog) responses."""
    r = normalised_responses(responses)
    within, total = 0.0, 0.0
    for s in range(r.shape[0]):
        rs = r[s]
        total += ((rs - rs.mean(0)) ** 2).sum()
        for code in np.unique(codes[s]):
            group = rs[codes[s] == code]
            within += ((group - group.mean(0)) ** 2).sum()
    return float(1 - within / total) if total > 0 else float("nan")


def eta_squared(activity: np.ndarray, labels: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Class-explained variance of every neuron and of the population.

    ``eta2_i = sum_c p_c (r_ic - rbar_i)^2 / var_mu(phi_i(x_mu))`` with ``r_ic`` the neuron's
    mean response to class ``c``, ``p_c`` the class share and ``rbar_i`` the overall mean
    (between-class over total variance, in [0, 1]; NaN for a neuron with constant response).
    The population value is ``sum_i between_i / sum_i total_i``: the share of the layer's
    response variance explained by the class, dominated by the neurons that vary most.
    For random features on P orthogonal inputs ``E[eta2] = (C - 1) / (P - 1)``.

    Parameters
    ----------
    activity : ndarray, shape (n_posterior_samples, n_inputs, n_neurons)
    labels : ndarray, shape (n_inputs,)

    Returns
    -------
    per_neuron : ndarray, shape (n_posterior_samples, n_neurons)
    population : ndarray, shape (n_posterior_samples,)
    """
    activity = np.asarray(activity, float)
    r = class_responses(activity, labels, n_classes)
    share = np.bincount(labels, minlength=n_classes) / len(labels)
    mean = activity.mean(1)
    between = (share * (r - mean[:, :, None]) ** 2).sum(-1)
    total = activity.var(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per = np.where(total > 1e-12 * max(total.max(), 1e-300), between / total, np.nan)
        pop = between.sum(1) / total.sum(1)
    return per, pop


def binary_fraction(responses: np.ndarray, value_range, tolerance: float = 0.1) -> float:
    """Fraction of class-mean responses within ``tolerance`` of either end of the nonlinearity's
    range ``(low, high)`` (e.g. 0 and 1 for the sigmoid: the neuron is off or on for that class);
    NaN for an unbounded nonlinearity (``value_range=None``). ``responses`` ``(S, N, C)``."""
    if value_range is None:
        return float("nan")
    low, high = value_range
    r = np.asarray(responses, float)
    return float(np.mean((np.abs(r - low) <= tolerance) | (np.abs(r - high) <= tolerance)))


def readout_branches(readout: np.ndarray, max_branches: int = 8, n_fit: int = 3, seed: int = 0) -> dict:
    """Branches of the readout vectors ``a_i`` (m-dimensional, one per neuron).

    A Gaussian mixture with 1 to ``max_branches`` components (full covariances) is fitted to
    the N readout vectors of up to ``n_fit`` posterior samples (spread over the chain); the
    number of branches is the Bayesian-information-criterion choice (median over the samples)
    and the shares are the neurons' fractions in each component of the last fit (hard
    assignment, largest first).

    Parameters
    ----------
    readout : ndarray, shape (n_posterior_samples, n_neurons, n_outputs)

    Returns
    -------
    dict with ``n_branches`` (float), ``branch_shares`` (list of floats) and ``branch_labels``
    (the last fit's component of every neuron, shape (n_neurons,), numbered by share).
    """
    from sklearn.mixture import GaussianMixture
    from threadpoolctl import threadpool_limits

    readout = np.asarray(readout, float)
    s, n, m = readout.shape
    picks = np.unique(np.linspace(0, s - 1, min(n_fit, s)).astype(int))
    counts, shares, labels = [], [], np.zeros(n, int)
    for k in picks:
        v = readout[k]
        v = (v - v.mean(0)) / max(v.std(), 1e-300)
        fits = []
        # tiny linear algebra: one BLAS thread (several threads make each 3 x 3 solve ~100 x slower)
        with threadpool_limits(1):
            for c in range(1, min(max_branches, n // 2) + 1):
                fits.append(GaussianMixture(c, covariance_type="full", random_state=seed, reg_covar=1e-4).fit(v))
        best = fits[int(np.argmin([f.bic(v) for f in fits]))]
        counts.append(best.n_components)
        assign = best.predict(v)
        sizes = np.bincount(assign, minlength=best.n_components)
        order = np.argsort(-sizes, kind="stable")
        shares = (sizes[order] / n).tolist()
        labels = np.argsort(order)[assign]
    return {"n_branches": float(np.median(counts)), "branch_shares": shares, "branch_labels": labels}


def readout_outliers(readout: np.ndarray, activity: np.ndarray, targets: np.ndarray, gamma: float,
                     factor: float = 5.0) -> dict:
    """Outlier neurons of the readout and the share of the output they carry.

    Neuron ``i`` is an outlier in sample ``s`` when ``|a_i| > factor * median_j |a_j|`` (norms
    of the m-dimensional readout vectors). Its output share is
    ``<f_O, Y> / <f, Y>`` with ``f_O = Phi_O a_O / N^gamma`` the outliers' contribution to the
    training outputs (``f ≈ Y`` at zero temperature, so this is the part of the fit they carry).

    Parameters
    ----------
    readout : ndarray, shape (S, N, m)
    activity : ndarray, shape (S, P, N)
        Last hidden layer on the training inputs.
    targets : ndarray, shape (P, m)

    Returns
    -------
    dict: ``n_outliers`` (mean over samples), ``outlier_output_share`` (mean), ``max_readout_over_sqrt_n``
    (mean over samples of ``max_i |a_i| / sqrt(N)``), ``outlier_mask`` ``(S, N)`` bool.
    """
    readout, activity = np.asarray(readout, float), np.asarray(activity, float)
    n = readout.shape[1]
    norm = np.linalg.norm(readout, axis=2)
    med = np.median(norm, axis=1, keepdims=True)
    mask = norm > factor * med
    f_all = np.einsum("spn,snm->spm", activity, readout) / n ** gamma
    f_out = np.einsum("spn,snm->spm", activity * mask[:, None, :], readout) / n ** gamma
    with np.errstate(invalid="ignore", divide="ignore"):
        share = (f_out * targets).sum((1, 2)) / (f_all * targets).sum((1, 2))
    return {"n_outliers": float(mask.sum(1).mean()), "outlier_output_share": float(np.nanmean(share)),
            "max_readout_over_sqrt_n": float((norm.max(1) / np.sqrt(n)).mean()), "outlier_mask": mask}


def drift(responses: np.ndarray) -> float:
    """How much a chain's code moves: Pearson correlation, over classes, of each neuron's class
    responses (centred over classes) in the first and the last kept sample, averaged over the
    neurons whose responses vary (1: every neuron keeps its code; about 0: codes reshuffled).
    ``responses`` ``(S, N, C)`` of one chain."""
    r = np.asarray(responses, float)
    a, b = r[0] - r[0].mean(1, keepdims=True), r[-1] - r[-1].mean(1, keepdims=True)
    den = np.sqrt((a ** 2).sum(1) * (b ** 2).sum(1))
    ok = den > 1e-12 * max(den.max(), 1e-300)
    return float(((a * b).sum(1)[ok] / den[ok]).mean()) if ok.any() else float("nan")


DEFAULT_CRITERIA = {
    "none_max_eta2": 0.5,
    "sparse_outlier_factor": 5.0,
    "sparse_max_outliers_per_class": 2.0,
    "sparse_min_output_share": 0.5,
    "redundant_min_branches": 2,
    "redundant_max_branches": 7,
    "redundant_min_branch_share": 0.05,
    "redundant_min_binary_fraction": 0.9,
    "binary_tolerance": 0.1,
    "analog_max_abs_kurtosis": 0.5,
}


def check_criteria(criteria: dict | None) -> dict:
    """The classifier's thresholds: ``criteria`` over :data:`DEFAULT_CRITERIA`; unknown keys refused."""
    unknown = set(criteria or {}) - set(DEFAULT_CRITERIA)
    if unknown:
        raise ValueError(f"unknown criteria {sorted(unknown)}; allowed: {', '.join(DEFAULT_CRITERIA)}")
    return {**DEFAULT_CRITERIA, **(criteria or {})}


def classify_scheme(measures: dict, criteria: dict | None = None) -> str:
    """Label a layer's population code ``none``, ``sparse``, ``redundant``, ``analog`` or
    ``unclassified`` from its signatures (thresholds in ``criteria``, defaults
    :data:`DEFAULT_CRITERIA`), checked in this order:

    * none: the responses are not class-driven, population class-explained variance
      ``eta2_population`` < ``none_max_eta2`` (random features: the lazy regime);
    * sparse: a few outlier neurons carry the output: ``1 <= n_outliers <=
      sparse_max_outliers_per_class * n_classes`` and ``outlier_output_share >=
      sparse_min_output_share`` (whether their count stays put as N grows is a comparison
      across widths, made by the study's table);
    * redundant: ``redundant_min_branches <= n_branches <= redundant_max_branches`` readout
      branches, the smallest holding at least ``redundant_min_branch_share`` of the neurons,
      and ``binary_fraction >= redundant_min_binary_fraction`` (class-mean responses on or off);
    * analog: one readout branch, ``|readout_excess_kurtosis| < analog_max_abs_kurtosis``
      (Gaussian readouts) and graded responses (``binary_fraction`` below the redundant
      threshold, or NaN for an unbounded nonlinearity);
    * unclassified otherwise.

    ``measures`` holds ``eta2_population``, ``n_outliers``, ``outlier_output_share``, ``n_classes``,
    ``n_branches``, ``min_branch_share``, ``binary_fraction``, ``readout_excess_kurtosis``.
    """
    c = check_criteria(criteria)
    if not measures["eta2_population"] >= c["none_max_eta2"]:
        return "none"
    n_out = measures["n_outliers"]
    if (1 <= n_out <= c["sparse_max_outliers_per_class"] * measures["n_classes"]
            and measures["outlier_output_share"] >= c["sparse_min_output_share"]):
        return "sparse"
    binary = measures["binary_fraction"]
    branches = measures["n_branches"]
    if (c["redundant_min_branches"] <= branches <= c["redundant_max_branches"]
            and measures["min_branch_share"] >= c["redundant_min_branch_share"]
            and np.isfinite(binary) and binary >= c["redundant_min_binary_fraction"]):
        return "redundant"
    graded = not np.isfinite(binary) or binary < c["redundant_min_binary_fraction"]
    if branches == 1 and abs(measures["readout_excess_kurtosis"]) < c["analog_max_abs_kurtosis"] and graded:
        return "analog"
    return "unclassified"


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
    from scipy import special

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
