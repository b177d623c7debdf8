"""Coding schemes of Bayesian feature-learning networks (study S4).

van Meegen & Sompolinsky 2025, "Coding schemes in neural networks learning classification
tasks", Nat. Commun. 16, 3354, arXiv:2406.16689. Wide one- to three-hidden-layer networks are
sampled from their weight posterior (:mod:`layerinfo.langevin`); this module defines the tasks,
measures the population code of the last hidden layer, classifies it as analog, redundant or
sparse, and compares the sampled networks with the lazy Gaussian-process limit.

Definitions used throughout (S posterior samples, N neurons, C classes, R outputs):

* class response ``r[s, i, c]``: mean of ``phi(z_i(x))`` over the training inputs of class ``c``
  in posterior sample ``s`` (per sample, as codes are a property of one network: averaging over
  samples would mix the symmetry-broken states of different chains);
* normalised response ``r / rho_s`` with ``rho_s = max_{i,c} |r[s, i, c]|``, the strongest class
  response in the population of that sample (codes are relative to the population, so that a
  bulk of weakly responding neurons carries no code next to a few strongly responding ones);
* code of neuron ``i``: the set of classes ``c`` with normalised response ``> threshold``
  (a bit mask, bit ``c`` set for class ``c``); a neuron "carries a code" when the set is not empty;
* posterior-averaged kernel ``K(x, x') = < (1/N) sum_i phi_i(x) phi_i(x') >_posterior``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from datetime import UTC, datetime
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import torch
from scipy import stats

import layerinfo
from layerinfo.h5io import atomic_path, open_checked
from layerinfo.langevin import (
    NONLINEARITIES,
    SCALINGS,
    Network,
    hidden_activity,
    langevin_sample,
    readout_prior_variance,
)

log = logging.getLogger(__name__)

SCHEMES = ("analog", "redundant", "sparse", "unclassified")
POSTERIOR_FORMAT = "layerinfo-posterior"
POSTERIOR_FORMAT_VERSION = 1


# --------------------------------------------------------------------------------------------
# Tasks


def orthogonal_classes(n_inputs: int, n_train: int, n_test: int, noise: float,
                       proportions=(0.5, 0.25, 0.25), rng: np.random.Generator | None = None):
    """The toy task of the paper: classes with orthogonal means and the given proportions.

    Class means ``m_c = sqrt(n_inputs) q_c`` with ``q_c`` orthonormal (random orientation), so
    ``|m_c|^2 = n_inputs`` and ``z = w . x / sqrt(n_inputs)`` is of order one; each input is its
    class mean plus isotropic Gaussian noise of standard deviation ``noise`` per component.
    Class ``c`` holds ``round(proportions[c] * n)`` samples (the last class the remainder).

    Returns
    -------
    x_train (n_train, n_inputs), labels_train (n_train,), x_test, labels_test : ndarray
    """
    proportions = np.asarray(proportions, dtype=float)
    if proportions.ndim != 1 or len(proportions) < 2 or np.any(proportions <= 0):
        raise ValueError(f"proportions must be at least two positive numbers, got {proportions.tolist()}")
    if not math.isclose(proportions.sum(), 1.0, abs_tol=1e-6):
        raise ValueError(f"proportions must sum to 1, got {proportions.sum()}")
    if n_inputs < len(proportions):
        raise ValueError(f"n_inputs must be >= the number of classes {len(proportions)}, got {n_inputs}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    rng = rng if rng is not None else np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((n_inputs, len(proportions))))
    means = q.T * math.sqrt(n_inputs)

    def draw(n):
        counts = np.round(proportions * n).astype(int)
        counts[-1] = n - counts[:-1].sum()
        labels = np.repeat(np.arange(len(proportions)), counts)
        return means[labels] + noise * rng.standard_normal((n, n_inputs)), labels

    x_train, l_train = draw(n_train)
    x_test, l_test = draw(n_test)
    return x_train, l_train, x_test, l_test


def dataset_task(inputs: np.ndarray, labels: np.ndarray, n_train: int, n_test: int,
                 rng: np.random.Generator | None = None):
    """A random train/test subset of a dataset, standardised with the training statistics.

    Each feature is centred and divided by its training standard deviation (features constant
    on the training set are only centred), so ``|x|^2 ≈ n_inputs`` as for the toy task. The
    training set is sorted by class (kernels and maps then show class blocks).
    """
    if n_train + n_test > len(labels):
        raise ValueError(f"n_train + n_test must be <= {len(labels)} samples, got {n_train} + {n_test}")
    rng = rng if rng is not None else np.random.default_rng(0)
    order = rng.permutation(len(labels))
    train = order[:n_train][np.argsort(labels[order[:n_train]], kind="stable")]
    test = order[n_train:n_train + n_test]
    mean = inputs[train].mean(0)
    std = inputs[train].std(0)
    std[std == 0] = 1.0
    scale = lambda v: (v - mean) / std
    return scale(inputs[train]), labels[train], scale(inputs[test]), labels[test]


def one_hot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """One-hot targets ``(n_samples, n_classes)``: 1 for the class, 0 elsewhere."""
    return np.eye(n_classes)[labels]


# --------------------------------------------------------------------------------------------
# Closed-form kernels (the lazy, infinite-width limit)


def nngp_kernel(x1: np.ndarray, x2: np.ndarray, nonlinearity: str, depth: int = 1,
                sigma_w2: float = 1.0) -> np.ndarray:
    """``E[phi(z^L(x)) phi(z^L(x'))]`` over the Gaussian prior at infinite width.

    Pre-activations of layer 1 have covariance ``k = sigma_w2 x.x' / N0``; each further layer has
    ``k' = sigma_w2 E[phi(u) phi(v)]`` with ``(u, v)`` Gaussian of covariance ``k``. Closed forms:
    linear ``E = k12``; erf (Williams 1997) ``E = (2/pi) arcsin(2 k12 / sqrt((1 + 2 k11)(1 + 2 k22)))``;
    ReLU (arc-cosine kernel of order 1, Cho & Saul 2009)
    ``E = sqrt(k11 k22) (sin t + (pi - t) cos t) / (2 pi)`` with ``cos t = k12 / sqrt(k11 k22)``.

    Returns
    -------
    ndarray, shape (n1, n2)
    """
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"nonlinearity must be one of {', '.join(NONLINEARITIES)}, got {nonlinearity!r}")
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    x1, x2 = np.asarray(x1, float), np.asarray(x2, float)
    n0 = x1.shape[1]
    k12 = sigma_w2 * x1 @ x2.T / n0
    k11 = sigma_w2 * np.sum(x1 ** 2, 1) / n0
    k22 = sigma_w2 * np.sum(x2 ** 2, 1) / n0
    for layer in range(depth):
        e12, e11, e22 = _expect(nonlinearity, k12, k11, k22)
        if layer == depth - 1:
            return e12
        k12, k11, k22 = sigma_w2 * e12, sigma_w2 * e11, sigma_w2 * e22
    raise AssertionError  # pragma: no cover


def _expect(nonlinearity, k12, k11, k22):
    if nonlinearity == "linear":
        return k12, k11, k22
    if nonlinearity == "erf":
        f = lambda a, b, c: (2 / np.pi) * np.arcsin(np.clip(2 * a / np.sqrt((1 + 2 * b) * (1 + 2 * c)), -1, 1))
        return f(k12, k11[:, None], k22[None, :]), f(k11, k11, k11), f(k22, k22, k22)
    norm = np.sqrt(np.outer(k11, k22))
    cos = np.clip(np.divide(k12, norm, out=np.zeros_like(k12), where=norm > 0), -1, 1)
    t = np.arccos(cos)
    return norm * (np.sin(t) + (np.pi - t) * cos) / (2 * np.pi), k11 / 2, k22 / 2


def gp_expected_train_mse(k_train: np.ndarray, y_train: np.ndarray, sigma_a2: float, noise_variance: float) -> float:
    """Posterior expectation of the training mean squared error of the lazy network's Gaussian
    process: ``(|m - Y|_F^2 + R tr(Sigma)) / (P R)`` with posterior mean ``m`` and covariance
    ``Sigma = sigma_a2 K - sigma_a2^2 K (sigma_a2 K + noise_variance I)^-1 K`` on the training inputs
    (``R`` outputs). The target a lazy chain's training error should reach."""
    k = sigma_a2 * k_train
    a = k + noise_variance * np.eye(len(k))
    mean = k @ np.linalg.solve(a, y_train)
    cov = k - k @ np.linalg.solve(a, k)
    p, r = y_train.shape
    return float((((mean - y_train) ** 2).sum() + r * np.trace(cov)) / (p * r))


def gp_predict(k_train: np.ndarray, k_test_train: np.ndarray, y_train: np.ndarray, sigma_a2: float,
               noise_variance: float) -> np.ndarray:
    """Posterior mean of the lazy network's Gaussian process on test inputs.

    ``f* = sigma_a2 K*^T (sigma_a2 K + noise_variance I)^-1 Y`` (noise variance ``T / beta``).
    """
    if noise_variance < 0:
        raise ValueError(f"noise_variance must be >= 0, got {noise_variance}")
    a = sigma_a2 * k_train + noise_variance * np.eye(len(k_train))
    return sigma_a2 * k_test_train @ np.linalg.solve(a, y_train)


# --------------------------------------------------------------------------------------------
# Coding measures


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


def kernel_alignment(kernel: np.ndarray, labels: np.ndarray, n_classes: int) -> float:
    """Centred kernel-target alignment ``<HKH, HYY^TH>_F / (|HKH|_F |HYY^TH|_F)`` (1 = the kernel is
    the class-membership kernel up to scale; Cortes, Mohri & Rostamizadeh 2012)."""
    y = one_hot(labels, n_classes)
    n = len(labels)
    h = np.eye(n) - 1.0 / n
    kc, yc = h @ kernel @ h, h @ (y @ y.T) @ h
    denom = np.linalg.norm(kc) * np.linalg.norm(yc)
    return float((kc * yc).sum() / denom) if denom > 0 else float("nan")


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


# --------------------------------------------------------------------------------------------
# Runs: one (task, nonlinearity, scaling) sampled with several chains, stored in HDF5


class PosteriorFileError(ValueError):
    """A posterior file is missing, unreadable, foreign, of another version or incomplete."""


def run_name(nonlinearity: str, scaling: str) -> str:
    return f"{nonlinearity}-{scaling}"


def task_data(run: dict, dataset_path: str | os.PathLike | None = None):
    """Training and test data of a run: ``x_train, labels_train, x_test, labels_test, n_classes``."""
    spec = run["task_spec"]
    rng = np.random.default_rng([run["seed"], 0])
    if spec["kind"] == "toy":
        x_tr, l_tr, x_te, l_te = orthogonal_classes(spec["n_inputs"], spec["n_train"], spec["n_test"],
                                                    spec["noise"], spec["proportions"], rng)
        return x_tr, l_tr, x_te, l_te, len(spec["proportions"])
    if dataset_path is None:
        raise ValueError(f"task {run['task']!r} reads dataset {spec['dataset']!r}: dataset_path is required")
    from layerinfo.datasets import read_dataset

    data = read_dataset(dataset_path)
    x_tr, l_tr, x_te, l_te = dataset_task(data.inputs.astype(float), data.labels, spec["n_train"], spec["n_test"], rng)
    return x_tr, l_tr, x_te, l_te, data.n_classes


def sample_run(run: dict, output: str | os.PathLike, dataset_path: str | os.PathLike | None = None) -> Path:
    """Sample one run's posterior (``n_chains`` independent chains) and write its posterior file.

    Layout (``format="layerinfo-posterior"``, ``format_version=1``)::

        /                          attrs: format, format_version, complete, config (JSON), config_hash,
                                          seed, package_version, torch_version, device, created,
                                          sigma_a2_effective (the readout prior variance used)
        data/{x_train,labels_train,x_test,labels_test}
        chains/{k}/hidden/{l}      (S, N, fan_in) float32 posterior samples of layer l's weights
        chains/{k}/readout         (S, N, C) float32
        chains/{k}/trace_step, chains/{k}/trace_mse   training MSE every ``thin`` steps

    Written under a temporary name and renamed when complete.
    """
    x_tr, l_tr, x_te, l_te, n_classes = task_data(run, dataset_path)
    y_tr = one_hot(l_tr, n_classes)
    prior, sampler = run["prior"], run["sampler"]
    sigma_a2 = readout_prior_variance(prior["sigma_a2"], len(l_tr), run["scaling"], prior["readout_scale_with_p"])
    chains = []
    for k in range(sampler["n_chains"]):
        generator = torch.Generator().manual_seed(int(np.random.SeedSequence([run["seed"], 1, k]).generate_state(1)[0]))
        chains.append(langevin_sample(
            x_tr, y_tr, nonlinearity=run["nonlinearity"], scaling=run["scaling"], width=run["width"],
            depth=run["task_spec"]["depth"], beta=sampler["beta"], temperature=sampler["temperature"],
            sigma_w2=prior["sigma_w2"], sigma_a2=sigma_a2, step_size=sampler["step_size"],
            n_steps=sampler["n_steps"], burn_in=sampler["burn_in"], thin=sampler["thin"], generator=generator,
            desc=f"{run['task']} {run_name(run['nonlinearity'], run['scaling'])} chain {k}"))
    output = Path(output)
    with atomic_path(output, ".h5") as tmp, h5py.File(tmp, "w") as f:
        f.attrs.update(format=POSTERIOR_FORMAT, format_version=POSTERIOR_FORMAT_VERSION, complete=False,
                       config=json.dumps(run, sort_keys=True), seed=run["seed"],
                       config_hash=hashlib.sha256(json.dumps(run, sort_keys=True).encode()).hexdigest()[:16],
                       package_version=layerinfo.__version__, torch_version=str(torch.__version__), device="cpu",
                       created=datetime.now(UTC).isoformat(timespec="seconds"),
                       sigma_a2_effective=sigma_a2)
        for name, value in (("x_train", x_tr), ("labels_train", l_tr), ("x_test", x_te), ("labels_test", l_te)):
            f.create_dataset(f"data/{name}", data=value)
        for k, chain in enumerate(chains):
            for l, w in enumerate(chain.hidden):
                f.create_dataset(f"chains/{k}/hidden/{l}", data=w.astype(np.float32), compression="gzip")
            f.create_dataset(f"chains/{k}/readout", data=chain.readout.astype(np.float32), compression="gzip")
            f.create_dataset(f"chains/{k}/trace_step", data=chain.trace_step)
            f.create_dataset(f"chains/{k}/trace_mse", data=chain.trace_mse)
        f.attrs["complete"] = True
    return output


class Posterior:
    """A posterior file in memory: ``config``, data arrays, and per chain ``hidden``/``readout``."""

    def __init__(self, path: Path, handle: h5py.File):
        self.path = path
        self.config = json.loads(handle.attrs["config"])
        self.sigma_a2 = float(handle.attrs["sigma_a2_effective"])
        self.data = {k: handle[f"data/{k}"][()] for k in handle["data"]}
        self.chains = []
        for k in sorted(handle["chains"], key=int):
            g = handle[f"chains/{k}"]
            self.chains.append({
                "hidden": [g[f"hidden/{l}"][()].astype(np.float64) for l in sorted(g["hidden"], key=int)],
                "readout": g["readout"][()].astype(np.float64),
                "trace_step": g["trace_step"][()], "trace_mse": g["trace_mse"][()]})

    @property
    def n_classes(self) -> int:
        return self.chains[0]["readout"].shape[2]

    def activity(self, chain: int, x: np.ndarray) -> np.ndarray:
        """Last hidden layer ``(S, n_inputs, N)`` of every sample of one chain."""
        c = self.chains[chain]
        xt = torch.as_tensor(x, dtype=torch.float64)
        return np.stack([hidden_activity(Network([torch.as_tensor(h[s]) for h in c["hidden"]], None), xt,
                                         self.config["nonlinearity"])[-1].numpy()
                         for s in range(len(c["readout"]))])

    def outputs(self, chain: int, x: np.ndarray) -> np.ndarray:
        """Network outputs ``(S, n_inputs, C)`` of every sample of one chain."""
        h = self.activity(chain, x)
        return h @ self.chains[chain]["readout"] / h.shape[2] ** SCALINGS[self.config["scaling"]]


def read_posterior(path: str | os.PathLike) -> Posterior:
    """Read a posterior file, refusing a missing, foreign, other-version or incomplete one."""
    path = Path(path)
    with open_checked(path, POSTERIOR_FORMAT, POSTERIOR_FORMAT_VERSION, PosteriorFileError, "posterior") as handle:
        try:
            return Posterior(path, handle)
        except (KeyError, OSError, ValueError) as err:
            raise PosteriorFileError(f"{path}: malformed posterior file: {err}") from None


# --------------------------------------------------------------------------------------------
# Measures of a run and the study's tables


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


def run_measures(path: str | os.PathLike, threshold: float, criteria: dict | None = None
                 ) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """The table row of one run, its per-class generalisation rows and its code frequencies.

    The row holds the population measures pooled over chains, the scheme label, each chain's
    label (agreement across chains is a mixing check), the training MSE after burn-in, its
    Gelman–Rubin R-hat across chains, the posterior-averaged kernel's alignment with the class
    kernel (and the lazy GP kernel's), and the relative difference between the chains'
    posterior-averaged kernels ``|K_1 - K_2|_F / |K|_F`` (largest over chain pairs).
    """
    post = read_posterior(path)
    cfg = post.config
    d = post.data
    x_tr, l_tr, x_te, l_te = d["x_train"], d["labels_train"], d["x_test"], d["labels_test"]
    c = post.n_classes
    burn = cfg["sampler"]["burn_in"]
    readouts, responses, kernels, test_out, labels = [], [], [], [], []
    for k in range(len(post.chains)):
        act = post.activity(k, x_tr)
        responses.append(class_responses(act, l_tr, c))
        readouts.append(post.chains[k]["readout"])
        kernels.append(np.einsum("sin,sjn->ij", act, act) / (act.shape[0] * act.shape[2]))
        test_out.append(post.outputs(k, x_te).mean(0))
        m = population_measures(readouts[-1], responses[-1], c, threshold, branches=False)
        labels.append(classify_scheme(m, criteria))
    measures = population_measures(np.concatenate(readouts), np.concatenate(responses), c, threshold)
    scheme = classify_scheme(measures, criteria)
    kernel = np.mean(kernels, 0)
    rel = max((np.linalg.norm(a - b) / np.linalg.norm(kernel)
               for i, a in enumerate(kernels) for b in kernels[i + 1:]), default=float("nan"))
    traces = np.stack([ch["trace_mse"][ch["trace_step"] > burn] for ch in post.chains])
    depth = cfg["task_spec"]["depth"]
    k_prior = nngp_kernel(x_tr, x_tr, cfg["nonlinearity"], depth, cfg["prior"]["sigma_w2"])
    k_test = nngp_kernel(x_te, x_tr, cfg["nonlinearity"], depth, cfg["prior"]["sigma_w2"])
    noise = cfg["sampler"]["temperature"] / cfg["sampler"]["beta"]
    gp_out = gp_predict(k_prior, k_test, one_hot(l_tr, c), cfg["prior"]["sigma_a2"], noise)
    net_out = np.mean(test_out, 0)
    row = {
        "task": cfg["task"], "nonlinearity": cfg["nonlinearity"], "scaling": cfg["scaling"],
        "scheme": scheme, "scheme_per_chain": ";".join(labels),
        "width": cfg["width"], "depth": depth, "n_train": len(l_tr), "n_classes": c,
        "n_chains": len(post.chains), "n_samples_per_chain": len(post.chains[0]["readout"]),
        "sigma_a2_effective": post.sigma_a2,
        **measures,
        "train_mse": float(traces.mean()), "train_mse_rhat": gelman_rubin(traces),
        "train_mse_gp_expected": gp_expected_train_mse(k_prior, one_hot(l_tr, c), cfg["prior"]["sigma_a2"], noise),
        "kernel_chain_rel_diff": float(rel),
        "kernel_alignment": kernel_alignment(kernel, l_tr, c),
        "kernel_alignment_gp": kernel_alignment(k_prior, l_tr, c),
        "test_error": float(np.mean(net_out.argmax(1) != l_te)),
        "test_error_gp": float(np.mean(gp_out.argmax(1) != l_te)),
        "test_mse": float(np.mean((net_out - one_hot(l_te, c)) ** 2)),
        "test_mse_gp": float(np.mean((gp_out - one_hot(l_te, c)) ** 2)),
    }
    per_class = []
    for cls in range(c):
        sel = l_te == cls
        if not sel.any():
            continue
        for model, out in (("network", net_out), ("gp_lazy", gp_out)):
            per_class.append({"task": cfg["task"], "nonlinearity": cfg["nonlinearity"], "scaling": cfg["scaling"],
                              "model": model, "class": cls, "n_test": int(sel.sum()),
                              "test_error": float(np.mean(out[sel].argmax(1) != cls)),
                              "test_mse": float(np.mean((out[sel] - one_hot(l_te[sel], c)) ** 2))})
    all_responses = np.concatenate(responses)
    freq = code_frequencies(neuron_codes(all_responses, threshold))
    freq.insert(1, "classes", [code_label(code) for code in freq["code"]])
    freq.insert(2, "n_classes_in_code", [bin(int(code)).count("1") for code in freq["code"]])
    for k, key in enumerate(("task", "nonlinearity", "scaling")):
        freq.insert(k, key, cfg[key])
    freq = freq.rename(columns={"fraction": "neuron_fraction"})
    return row, pd.DataFrame(per_class), freq


def coding_tables(paths, schemes_csv, generalisation_csv, codes_csv, threshold: float = 0.5,
                  criteria: dict | None = None) -> pd.DataFrame:
    """Write ``coding_schemes.csv`` (one row per task x nonlinearity x scaling), the per-class
    generalisation table and the code frequencies (one row per run x code: the fraction of
    neurons, pooled over posterior samples and chains, carrying it; code 0 = no code);
    returns the first."""
    from layerinfo.progress import progress
    from layerinfo.tables import write_csv

    rows, per_class, codes = [], [], []
    for path in progress(list(paths), "coding measures"):
        row, gen, freq = run_measures(path, threshold, criteria)
        rows.append(row)
        per_class.append(gen)
        codes.append(freq)
        log.info("%s %s %s: %s", row["task"], row["nonlinearity"], row["scaling"], row["scheme"])
    table = pd.DataFrame(rows)
    write_csv(table, schemes_csv)
    write_csv(pd.concat(per_class, ignore_index=True), generalisation_csv)
    write_csv(pd.concat(codes, ignore_index=True), codes_csv)
    return table
