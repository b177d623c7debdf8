"""Measures of a hidden layer's population code; the schemes they form (none, analog, redundant,
sparse) are judged in :mod:`layerinfo.coding.claims` alone, never here.

The signatures follow van Meegen & Sompolinsky (2025): a layer carries a code when its
neurons' responses are driven by the class (class-explained variance); a linear network's code
is *analog* (graded responses to every class, Gaussian readouts); a sigmoidal network's is
*redundant* (a few discrete branches of m-dimensional readout vectors, each shared by many
neurons, class-mean responses on or off); a ReLU network's is *sparse* (O(1) outlier neurons,
whose readouts grow like sqrt(N), carry the codes while the bulk's common readout carries none).

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


def outlier_mask(readout: np.ndarray) -> np.ndarray:
    """Outlier neurons of readouts ``(..., N, m)``: ``|a_i| > N^(1/4) median_j |a_j|``.

    The authors' poster gives the ReLU single-neuron posterior: the bulk's readouts are O(1)
    (``P(a) = delta(a - a0)``), the outliers' ``a_i = sqrt(N) abar_i``. Our reading: the
    threshold is the geometric middle ``N^(1/4)`` of the two scales, so that both groups lie a
    factor growing like ``N^(1/4)`` away from it (a fixed factor would count bulk neurons at
    small N or miss outliers at large N).
    """
    norm = np.linalg.norm(np.asarray(readout, float), axis=-1)
    n = norm.shape[-1]
    return norm > n ** 0.25 * np.median(norm, axis=-1, keepdims=True)


def outlier_measures(readout: np.ndarray, activity: np.ndarray, responses: np.ndarray, targets: np.ndarray,
                     gamma: float, threshold: float) -> dict:
    """The outlier neurons (:func:`outlier_mask`) of every posterior sample and what they do.

    Parameters
    ----------
    readout : ndarray, shape (S, N, m)
    activity : ndarray, shape (S, P, N)
        Last hidden layer on the training inputs.
    responses : ndarray, shape (S, N, m)
        Class-mean responses (:func:`class_responses`).
    targets : ndarray, shape (P, m)

    Returns
    -------
    dict (means over samples): ``n_outliers``; ``outliers_per_class`` (list, class ``c``: outliers
    whose code is ``{c}`` alone); ``outlier_single_class_fraction`` (share of outliers whose code
    holds exactly one class; NaN without outliers); ``bulk_code_fraction`` (share of the other
    neurons carrying any code); ``max_readout_over_sqrt_n`` (``max_i |a_i| / sqrt(N)``);
    ``outlier_activity_over_sqrt_n`` (largest activity of an outlier over the inputs, over
    ``sqrt(N)``; NaN without outliers); ``outlier_output_share`` (the outliers' part of the fit of
    the centred targets, ``<f_O - mean f_O, Yc> / <f - mean f, Yc>``, ``f_O = Phi_O a_O /
    N^gamma``: centring removes the constant offset that the bulk's common readout ``a0`` carries).
    """
    readout, activity = np.asarray(readout, float), np.asarray(activity, float)
    s, n, m = readout.shape
    mask = outlier_mask(readout)
    codes = neuron_codes(responses, threshold)
    single = np.isin(codes, 1 << np.arange(m))
    per_class = [float(((codes == 1 << c) & mask).sum(1).mean()) for c in range(m)]
    n_out = mask.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        single_fraction = float((single & mask).sum() / n_out.sum()) if n_out.sum() else float("nan")
        bulk = float(((codes > 0) & ~mask).sum() / (~mask).sum()) if (~mask).sum() else float("nan")
        yc = targets - targets.mean(0)
        f_all = np.einsum("spn,snm->spm", activity, readout) / n ** gamma
        f_out = np.einsum("spn,snm->spm", activity * mask[:, None, :], readout) / n ** gamma
        f_all, f_out = f_all - f_all.mean(1, keepdims=True), f_out - f_out.mean(1, keepdims=True)
        share = (f_out * yc).sum((1, 2)) / (f_all * yc).sum((1, 2))
    top_activity = [float(activity[k][:, mask[k]].max()) / np.sqrt(n) for k in range(s) if mask[k].any()]
    return {"n_outliers": float(n_out.mean()), "outliers_per_class": per_class,
            "outlier_single_class_fraction": single_fraction, "bulk_code_fraction": bulk,
            "max_readout_over_sqrt_n": float((np.linalg.norm(readout, axis=2).max(1) / np.sqrt(n)).mean()),
            "outlier_activity_over_sqrt_n": float(np.mean(top_activity)) if top_activity else float("nan"),
            "outlier_output_share": float(np.nanmean(share)) if np.isfinite(share).any() else float("nan")}


def pattern_measures(codes: np.ndarray) -> dict:
    """Multiplicity of the on/off code patterns, ``codes`` ``(S, N)`` (means over samples):
    ``n_patterns`` (distinct non-empty patterns), ``pattern_multiplicity`` (coding neurons per
    distinct pattern: how many neurons share a code on average), ``max_pattern_share`` (the most
    shared pattern's neurons over N). NaN multiplicity where no neuron carries a code."""
    codes = np.asarray(codes)
    n_patterns, mult, top = [], [], []
    for row in codes:
        coding = row[row > 0]
        counts = np.unique(coding, return_counts=True)[1] if coding.size else np.zeros(0)
        n_patterns.append(len(counts))
        mult.append(coding.size / len(counts) if len(counts) else np.nan)
        top.append(counts.max() / len(row) if len(counts) else 0.0)
    return {"n_patterns": float(np.mean(n_patterns)),
            "pattern_multiplicity": float(np.nanmean(mult)) if np.isfinite(mult).any() else float("nan"),
            "max_pattern_share": float(np.mean(top))}


def normalised_binary_fraction(responses: np.ndarray, tolerance: float = 0.1) -> float:
    """Fraction of normalised class responses ``|r| / rho_s`` (:func:`normalised_responses`) within
    ``tolerance`` of 0 or 1: near 1 for an on/off code, lower for graded responses; defined for
    every nonlinearity (unlike :func:`binary_fraction`, which needs a bounded unit)."""
    r = np.abs(normalised_responses(np.asarray(responses, float)))
    return float(np.mean((r <= tolerance) | (r >= 1 - tolerance)))


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
