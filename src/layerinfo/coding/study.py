"""Coding schemes of Bayesian feature-learning networks (study S4).

van Meegen & Sompolinsky 2025, "Coding schemes in neural networks learning classification
tasks", Nat. Commun. 16, 3354, arXiv:2406.16689. Wide one- to three-hidden-layer networks are
sampled from their weight posterior; every hidden layer's population code is measured, the last
layer's is classified (none, analog, redundant, sparse), and the networks are compared with the
lazy Gaussian-process limit.

Definitions used throughout (S posterior samples, N neurons, C classes, R outputs):

* class response ``r[s, i, c]``: mean of ``phi(z_i(x))`` over the training inputs of class ``c``
  in posterior sample ``s`` (per sample, as codes are a property of one network: averaging over
  samples would mix the symmetry-broken states of different chains);
* normalised response ``r / rho_s`` with ``rho_s = max_{i,c} |r[s, i, c]|``, the strongest class
  response in the population of that sample (codes are relative to the population, so that a
  bulk of weakly responding neurons carries no code next to a few strongly responding ones);
* code of neuron ``i``: the set of classes ``c`` with normalised response ``> threshold``
  (a bit mask, bit ``c`` set for class ``c``); a neuron "carries a code" when the set is not empty;
* posterior-averaged kernel ``K(x, x') = < (1/N) sum_i phi_i(x) phi_i(x') >_posterior``;
* class-explained variance ``eta2`` of a neuron (:func:`~layerinfo.coding.schemes.eta_squared`);
* generalisation error of the posterior on test inputs ``< |f_s(x) - y|^2 >`` = bias^2
  ``|fbar(x) - y|^2`` + posterior variance ``< |f_s(x) - fbar(x)|^2 >`` (``fbar`` the
  posterior-mean predictor), averaged over test inputs and outputs.

This module turns posterior files into the study's tables; the pieces live beside it:
:mod:`~layerinfo.coding.tasks`, :mod:`~layerinfo.coding.langevin`, :mod:`~layerinfo.coding.kernels`,
:mod:`~layerinfo.coding.schemes`, :mod:`~layerinfo.coding.posterior`, :mod:`~layerinfo.coding.plots`.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import pandas as pd

from layerinfo.coding.kernels import gp_interpolate, kernel_alignment, nngp_kernel, sampled_kernel
from layerinfo.coding.units import RANGES, SCALINGS
from layerinfo.coding.posterior import read_posterior
from layerinfo.coding.schemes import (
    binary_fraction,
    check_criteria,
    class_responses,
    classify_scheme,
    code_frequencies,
    code_label,
    drift,
    ess,
    eta_squared,
    neuron_codes,
    readout_branches,
    readout_outliers,
    readout_statistics,
    rhat,
)
from layerinfo.coding.tasks import one_hot

log = logging.getLogger(__name__)

KEYS = ("task", "nonlinearity", "scaling", "width")


def layer_measures(layers_by_chain: list[list[np.ndarray]], labels: np.ndarray, n_classes: int, value_range,
                   tolerance: float) -> list[dict]:
    """Per hidden layer: class-explained variance (mean over neurons and population), the
    posterior-averaged kernel's alignment with the labels, the fraction of binary class-mean
    responses, the drift of each chain's code (mean over chains) and the largest relative
    difference between two chains' posterior-averaged kernels. ``layers_by_chain[k][l]`` is
    chain ``k``'s layer ``l``, ``(S, P, N)``."""
    rows = []
    for l in range(len(layers_by_chain[0])):
        acts = [chain[l] for chain in layers_by_chain]
        pooled = np.concatenate(acts)
        per, pop = eta_squared(pooled, labels, n_classes)
        responses = [class_responses(a, labels, n_classes) for a in acts]
        kernels = [sampled_kernel(a) for a in acts]
        kernel = np.mean(kernels, 0)
        rel = max((np.linalg.norm(a - b) / np.linalg.norm(kernel)
                   for i, a in enumerate(kernels) for b in kernels[i + 1:]), default=float("nan"))
        rows.append({
            "layer": l + 1, "eta2_mean": float(np.nanmean(per)), "eta2_population": float(pop.mean()),
            "kernel_alignment": kernel_alignment(kernel, labels, n_classes),
            "binary_fraction": binary_fraction(np.concatenate(responses), value_range, tolerance),
            "drift": float(np.nanmean([drift(r) for r in responses])),
            "kernel_chain_rel_diff": float(rel), "_kernel": kernel, "_eta2": per})
    return rows


def _readout_signature(readout, last, y, gamma, n_classes, eta2, value_range, c) -> dict:
    """The last layer's readout statistics, branches and outliers (inputs pooled over chains)."""
    out = readout_outliers(readout, last, y, gamma, c["sparse_outlier_factor"])
    mask = out.pop("outlier_mask")
    branches = readout_branches(readout)
    return {**readout_statistics(readout), "n_branches": branches["n_branches"],
            "min_branch_share": float(min(branches["branch_shares"])),
            "branch_shares": ";".join(f"{v:.3f}" for v in branches["branch_shares"]), **out,
            "eta2_outliers": float(np.nanmean(eta2[mask])) if mask.any() else float("nan"),
            "n_classes": n_classes}


def run_measures(path: str | os.PathLike, threshold: float, criteria: dict | None = None
                 ) -> tuple[dict, list[dict], pd.DataFrame, pd.DataFrame]:
    """One run's table row (last hidden layer and readout), its per-layer rows, its per-class
    generalisation rows and its code frequencies.

    The row holds the population measures pooled over chains, the scheme label and each
    chain's label (agreement across chains is a mixing check), the training MSE after burn-in
    (mean and largest chain mean), rank-normalised split R-hat and bulk ESS of the last layer's
    kernel–target alignment and of the mean squared hidden weight, the generalisation error
    split into bias^2 and posterior variance, and the interpolating lazy GP's predictions
    (relative L2 distance of the posterior-mean predictor to them on the test inputs).
    """
    c = check_criteria(criteria)
    post = read_posterior(path)
    cfg = post.config
    d = post.data
    x_tr, l_tr, x_te, l_te = d["x_train"], d["labels_train"], d["x_test"], d["labels_test"]
    m = post.n_classes
    nl, gamma = cfg["nonlinearity"], SCALINGS[cfg["scaling"]]
    value_range = RANGES[nl]
    y = one_hot(l_tr, m)
    layers_by_chain = [post.layers(k, x_tr) for k in range(len(post.chains))]
    layers = layer_measures(layers_by_chain, l_tr, m, value_range, c["binary_tolerance"])
    depth = len(layers)
    last = np.concatenate([chain[-1] for chain in layers_by_chain])
    readout = np.concatenate([ch["readout"] for ch in post.chains])
    top = layers[-1]
    signature = _readout_signature(readout, last, y, gamma, m, top["_eta2"], value_range, c)
    measures = {**signature, "eta2_population": top["eta2_population"], "binary_fraction": top["binary_fraction"]}
    scheme = classify_scheme(measures, c)
    per_chain = []
    for k, chain in enumerate(layers_by_chain):
        _, pop = eta_squared(chain[-1], l_tr, m)
        own = _readout_signature(post.chains[k]["readout"], chain[-1], y, gamma, m,
                                 eta_squared(chain[-1], l_tr, m)[0], value_range, c)
        resp = class_responses(chain[-1], l_tr, m)
        per_chain.append(classify_scheme({**own, "eta2_population": float(pop.mean()),
                                          "binary_fraction": binary_fraction(resp, value_range,
                                                                             c["binary_tolerance"])}, c))
    burn = cfg["sampler"]["burn_in"]
    kept = [ch["trace_step"] > burn for ch in post.chains]
    trace = {name: np.stack([ch[f"trace_{name}"][k] for ch, k in zip(post.chains, kept)])
             for name in ("mse", "alignment", "weight2")}
    # generalisation: every posterior sample's test outputs
    test_out = np.concatenate([post.outputs(k, x_te) for k in range(len(post.chains))])
    y_te = one_hot(l_te, m)
    mean_out = test_out.mean(0)
    sigma_w2 = cfg["prior"]["sigma_w2"]
    k_prior = nngp_kernel(x_tr, x_tr, nl, depth, sigma_w2)
    gp_out = gp_interpolate(k_prior, nngp_kernel(x_te, x_tr, nl, depth, sigma_w2), y)
    for row, l in zip(layers, range(1, depth + 1)):
        row["kernel_alignment_gp"] = kernel_alignment(nngp_kernel(x_tr, x_tr, nl, l, sigma_w2), l_tr, m)
    row = {
        "task": cfg["task"], "nonlinearity": nl, "scaling": cfg["scaling"], "width": cfg["width"],
        "task_kind": cfg["task_spec"]["kind"], "scheme": scheme, "scheme_per_chain": ";".join(per_chain), "depth": depth, "n_train": len(l_tr),
        "n_test": len(l_te), "n_chains": len(post.chains), "n_samples_per_chain": len(post.chains[0]["readout"]),
        "beta": cfg["sampler"]["beta"], "sigma_a2_effective": post.sigma_a2,
        **measures,
        "eta2_mean": top["eta2_mean"], "kernel_alignment": top["kernel_alignment"],
        "kernel_alignment_gp": top["kernel_alignment_gp"], "drift": top["drift"],
        "kernel_chain_rel_diff": top["kernel_chain_rel_diff"],
        "train_mse": float(trace["mse"].mean()), "train_mse_max_chain": float(trace["mse"].mean(1).max()),
        "alignment_rhat": rhat(trace["alignment"]), "alignment_ess": ess(trace["alignment"]),
        "weight2_rhat": rhat(trace["weight2"]), "weight2_ess": ess(trace["weight2"]),
        "test_mse": float(((test_out - y_te) ** 2).mean()),
        "test_bias2": float(((mean_out - y_te) ** 2).mean()),
        "test_variance": float(((test_out - mean_out) ** 2).mean()),
        "test_error": float(np.mean(mean_out.argmax(1) != l_te)),
        "test_error_gp": float(np.mean(gp_out.argmax(1) != l_te)),
        "test_mse_gp": float(((gp_out - y_te) ** 2).mean()),
        "predictor_rel_l2_to_gp": float(np.linalg.norm(mean_out - gp_out) / np.linalg.norm(gp_out)),
    }
    layer_rows = [{**{k: row[k] for k in KEYS}, **{k: v for k, v in lr.items() if not k.startswith("_")}}
                  for lr in layers]
    per_class = _per_class_rows(cfg, l_te, m, {"network": (mean_out, test_out), "gp_lazy": (gp_out, None)})
    freq = _code_frequency_rows(cfg, class_responses(last, l_tr, m), threshold)
    return row, layer_rows, per_class, freq


def _per_class_rows(cfg: dict, l_te, n_classes: int, outputs: dict) -> pd.DataFrame:
    """Test error of the mean predictor, its MSE, bias^2 and posterior variance, per class."""
    rows = []
    for cls in range(n_classes):
        sel = l_te == cls
        if not sel.any():
            continue
        y = one_hot(l_te[sel], n_classes)
        for model, (mean, samples) in outputs.items():
            var = float(((samples[:, sel] - mean[sel]) ** 2).mean()) if samples is not None else 0.0
            bias2 = float(((mean[sel] - y) ** 2).mean())
            rows.append({**{k: cfg[k] for k in KEYS}, "model": model, "class": cls, "n_test": int(sel.sum()),
                         "test_error": float(np.mean(mean[sel].argmax(1) != cls)),
                         "test_bias2": bias2, "test_variance": var, "test_mse": bias2 + var})
    return pd.DataFrame(rows)


def _code_frequency_rows(cfg: dict, responses, threshold: float) -> pd.DataFrame:
    """Fraction of neurons carrying each code, pooled over samples and chains."""
    freq = code_frequencies(neuron_codes(responses, threshold))
    freq.insert(1, "classes", [code_label(code) for code in freq["code"]])
    freq.insert(2, "n_classes_in_code", [bin(int(code)).count("1") for code in freq["code"]])
    for k, key in enumerate(KEYS):
        freq.insert(k, key, cfg[key])
    return freq.rename(columns={"fraction": "neuron_fraction"})


def add_width_comparison(table: pd.DataFrame) -> pd.DataFrame:
    """For runs measured at several widths: ``outlier_count_ratio`` = outliers at this width
    over those at the smallest width of the same task x nonlinearity x scaling, and
    ``width_ratio`` (NaN where a run has a single width)."""
    table = table.copy()
    table["width_ratio"] = np.nan
    table["outlier_count_ratio"] = np.nan
    for _, group in table.groupby(["task", "nonlinearity", "scaling"]):
        if group["width"].nunique() < 2:
            continue
        base = group.loc[group["width"].idxmin()]
        table.loc[group.index, "width_ratio"] = group["width"] / base["width"]
        with np.errstate(divide="ignore", invalid="ignore"):
            table.loc[group.index, "outlier_count_ratio"] = group["n_outliers"] / base["n_outliers"]
    return table


def coding_tables(paths, schemes_csv, layers_csv, generalisation_csv, codes_csv, threshold: float = 0.5,
                  criteria: dict | None = None) -> pd.DataFrame:
    """Write ``coding_schemes.csv`` (one row per task x nonlinearity x scaling x width: the last
    hidden layer, its readout and the generalisation error), ``coding_layers.csv`` (one row per
    run x hidden layer), the per-class generalisation table and the code frequencies (one row
    per run x code: the fraction of neurons, pooled over posterior samples and chains, carrying
    it; code 0 = no code); returns the first."""
    from layerinfo.progress import progress
    from layerinfo.tables import write_csv

    rows, layers, per_class, codes = [], [], [], []
    for path in progress(list(paths), "coding measures"):
        row, layer_rows, gen, freq = run_measures(path, threshold, criteria)
        rows.append(row)
        layers.extend(layer_rows)
        per_class.append(gen)
        codes.append(freq)
        log.info("%s %s %s N=%d: %s", row["task"], row["nonlinearity"], row["scaling"], row["width"], row["scheme"])
    table = add_width_comparison(pd.DataFrame(rows))
    write_csv(table, schemes_csv)
    write_csv(pd.DataFrame(layers), layers_csv)
    write_csv(pd.concat(per_class, ignore_index=True), generalisation_csv)
    write_csv(pd.concat(codes, ignore_index=True), codes_csv)
    return table
