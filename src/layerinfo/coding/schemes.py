"""Population codes of a hidden layer and the scheme they form (analog, redundant, sparse).

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

SCHEMES = ("analog", "redundant", "sparse", "unclassified")


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


def readout_statistics(readout: np.ndarray, branches: bool = True) -> dict:
    """Shape of the readout-weight distribution across neurons.

    ``readout`` ``(S, N, R)``: statistics over the N neurons, per sample and output, then
    averaged: excess kurtosis (0 Gaussian, < 0 few separated branches, > 0 heavy tails),
    Sarle's bimodality coefficient, the fraction of outliers (``|a - median| > 5 MAD/0.6745``,
    i.e. beyond five robust standard deviations) and the number of branches (modes of a
    Gaussian mixture chosen by BIC among 1 to 4 components, median over up to three samples
    and the outputs; skipped, NaN, with ``branches=False``).
    """
    from sklearn.mixture import GaussianMixture

    readout = np.asarray(readout, float)
    kurt = stats.kurtosis(readout, axis=1, bias=False)
    bc = bimodality_coefficient(readout, axis=1)
    med = np.median(readout, axis=1, keepdims=True)
    mad = np.median(np.abs(readout - med), axis=1, keepdims=True) / 0.6745
    outliers = np.abs(readout - med) > 5 * np.where(mad > 0, mad, np.inf)
    n_branches = []
    # a few samples suffice for the branch count (it is a slow fit)
    picks = np.unique(np.linspace(0, readout.shape[0] - 1, min(3, readout.shape[0])).astype(int)) if branches else []
    for s in picks:
        for r in range(readout.shape[2]):
            v = readout[s, :, r, None]
            bics = [GaussianMixture(k, random_state=0).fit(v).bic(v) for k in range(1, 5)]
            n_branches.append(int(np.argmin(bics)) + 1)
    return {
        "readout_excess_kurtosis": float(np.mean(kurt)),
        "readout_bimodality": float(np.mean(bc)),
        "readout_outlier_fraction": float(outliers.mean()),
        "readout_branches": float(np.median(n_branches)) if n_branches else float("nan"),
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


DEFAULT_CRITERIA = {
    "sparse_min_kurtosis": 2.0,
    "sparse_max_code_fraction": 0.35,
    "redundant_min_bimodality": 0.555,
    "redundant_min_code_purity": 0.9,
    "analog_max_abs_kurtosis": 1.0,
}


def classify_scheme(measures: dict, criteria: dict | None = None) -> str:
    """Label a population code ``analog``, ``redundant``, ``sparse`` or ``unclassified``.

    Rules, checked in this order (thresholds in ``criteria``, defaults :data:`DEFAULT_CRITERIA`):

    * sparse: heavy-tailed readout (excess kurtosis > ``sparse_min_kurtosis``) and a bulk of
      neurons without a code (fraction carrying a code < ``sparse_max_code_fraction``): a few
      outlier neurons with large readouts carry the codes;
    * redundant: multi-modal readout (bimodality coefficient > ``redundant_min_bimodality``,
      5/9 being that of a uniform law: a few discrete readout branches) and discrete codes
      shared by groups of neurons (code purity > ``redundant_min_code_purity``: neurons with
      the same code respond identically, see :func:`code_purity`);
    * analog: unimodal, Gaussian-like readout (|excess kurtosis| < ``analog_max_abs_kurtosis``
      and bimodality coefficient below the redundant threshold), the graded responses then
      spreading over many codes;
    * unclassified otherwise.

    ``measures`` holds ``readout_excess_kurtosis``, ``readout_bimodality``, ``code_fraction``
    and ``code_purity`` (see :func:`readout_statistics`, :func:`code_statistics`,
    :func:`code_purity`).
    """
    c = {**DEFAULT_CRITERIA, **(criteria or {})}
    unknown = set(c) - set(DEFAULT_CRITERIA)
    if unknown:
        raise ValueError(f"unknown criteria {sorted(unknown)}; allowed: {', '.join(DEFAULT_CRITERIA)}")
    kurt, bc = measures["readout_excess_kurtosis"], measures["readout_bimodality"]
    if kurt > c["sparse_min_kurtosis"] and measures["code_fraction"] < c["sparse_max_code_fraction"]:
        return "sparse"
    purity = measures["code_purity"]
    if bc > c["redundant_min_bimodality"] and np.isfinite(purity) and purity > c["redundant_min_code_purity"]:
        return "redundant"
    if abs(kurt) < c["analog_max_abs_kurtosis"] and bc <= c["redundant_min_bimodality"]:
        return "analog"
    return "unclassified"


def gelman_rubin(traces: np.ndarray) -> float:
    """Potential scale reduction ``R-hat`` of ``(n_chains, n_draws)`` traces (Gelman & Rubin 1992);
    near 1 when the chains sample the same law. NaN for a single chain."""
    traces = np.asarray(traces, float)
    m, n = traces.shape
    if m < 2 or n < 2:
        return float("nan")
    w = traces.var(axis=1, ddof=1).mean()
    b = n * traces.mean(axis=1).var(ddof=1)
    return float(np.sqrt(((n - 1) / n * w + b / n) / w)) if w > 0 else float("nan")


def population_measures(readout: np.ndarray, responses: np.ndarray, n_classes: int, threshold: float,
                        branches: bool = True) -> dict:
    """All measures behind a scheme label for readout ``(S, N, R)`` and responses ``(S, N, C)``."""
    codes = neuron_codes(responses, threshold)
    out = {**readout_statistics(readout, branches), **code_statistics(codes, n_classes)}
    out["code_purity"] = code_purity(responses, codes)
    out["neurons_per_code"] = (out["code_fraction"] * readout.shape[1] / out["n_codes"]) if out["n_codes"] else 0.0
    return out
