"""Coding schemes of Bayesian feature-learning networks (study S4).

van Meegen & Sompolinsky 2025, "Coding schemes in neural networks learning classification
tasks", Nat. Commun. 16, 3354, arXiv:2406.16689. Wide one- to three-hidden-layer networks are
sampled from their weight posterior; every hidden layer's population code is measured, the
chains' convergence is diagnosed (:mod:`~layerinfo.coding.diagnostics`), and the networks are
compared with the lazy Gaussian-process limit. The schemes are judged in
:mod:`~layerinfo.coding.claims` from these measures.

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
:mod:`~layerinfo.coding.diagnostics`,
:mod:`~layerinfo.coding.schemes`, :mod:`~layerinfo.coding.posterior`, :mod:`~layerinfo.coding.plots`.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import pandas as pd

from layerinfo.coding.diagnostics import convergence
from layerinfo.coding.kernels import gp_interpolate, kernel_alignment, nngp_kernel, sampled_kernel
from layerinfo.coding.posterior import read_posterior
from layerinfo.coding.schemes import (
    binary_fraction,
    class_responses,
    code_frequencies,
    code_label,
    drift,
    eta_squared,
    neuron_codes,
    normalised_binary_fraction,
    outlier_mask,
    outlier_measures,
    pattern_measures,
    readout_branches,
    readout_statistics,
)
from layerinfo.coding.tasks import one_hot
from layerinfo.coding.units import RANGES, SCALINGS, layer_activities

log = logging.getLogger(__name__)

KEYS = ("task", "nonlinearity", "scaling", "width")
#: "on or off": a class-mean response within this of either end of the unit's range (our reading
#: of the poster's discrete sigmoid branches; 10 % of the range)
BINARY_TOLERANCE = 0.1
#: prior draws of the hidden weights whose features the lazy network's are compared with
N_PRIOR_DRAWS = 8


def layer_measures(layers_by_chain: list[list[np.ndarray]], labels: np.ndarray, n_classes: int,
                   value_range) -> list[dict]:
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
            "binary_fraction": binary_fraction(np.concatenate(responses), value_range, BINARY_TOLERANCE),
            "drift": float(np.nanmean([drift(r) for r in responses])),
            "kernel_chain_rel_diff": float(rel), "_eta2": per})
    return rows


def prior_eta2(cfg: dict, x: np.ndarray, labels: np.ndarray, n_classes: int) -> tuple[float, float]:
    """Population class-explained variance of the last hidden layer of networks drawn from the
    prior, at the run's width and depth on the same inputs: mean and standard deviation over
    :data:`N_PRIOR_DRAWS` draws (the "no code" reference of random features)."""
    rng = np.random.default_rng([int(cfg["seed"]), 7])
    n, depth, sw = int(cfg["width"]), int(cfg["task_spec"]["depth"]), float(cfg["prior"]["sigma_w2"])
    values = []
    for _ in range(N_PRIOR_DRAWS):
        fan = [x.shape[1]] + [n] * (depth - 1)
        hidden = [rng.standard_normal((n, f)) * np.sqrt(sw) for f in fan]
        act = layer_activities(hidden, x, cfg["nonlinearity"])[-1][None]
        values.append(float(eta_squared(act, labels, n_classes)[1][0]))
    return float(np.mean(values)), float(np.std(values, ddof=1))


def run_measures(path: str | os.PathLike, threshold: float
                 ) -> tuple[dict, list[dict], pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """One run's table row (last hidden layer and readout), its per-layer rows, its per-class
    generalisation rows, its code frequencies and its convergence diagnostics (one row per
    statistic, :func:`layerinfo.coding.diagnostics.convergence`).

    Every measure the claims judge is computed here and nowhere else; nothing here is judged
    (the criteria live in :mod:`layerinfo.coding.claims`). The row holds the population
    measures pooled over chains, the outlier neurons (by their scaling,
    :func:`~layerinfo.coding.schemes.outlier_mask`), the on/off pattern multiplicity, the
    convergence summary, the training MSE after burn-in (mean and largest chain mean), the
    generalisation error split into bias^2 and posterior variance, the interpolating lazy GP's
    predictions (relative L2 distance of the posterior-mean predictor to them on the test
    inputs), the GP at the likelihood's own ridge ``1 / (beta sigma_a^2)`` (its distance from
    the interpolant: how far the run is from zero temperature), and the prior's references
    (NNGP kernel alignment, class-explained variance of prior features).
    """
    post = read_posterior(path)
    cfg = post.config
    d = post.data
    x_tr, l_tr, x_te, l_te = d["x_train"], d["labels_train"], d["x_test"], d["labels_test"]
    m = post.n_classes
    nl, gamma = cfg["nonlinearity"], SCALINGS[cfg["scaling"]]
    y = one_hot(l_tr, m)
    layers_by_chain = [post.layers(k, x_tr) for k in range(len(post.chains))]
    layers = layer_measures(layers_by_chain, l_tr, m, RANGES[nl])
    depth = len(layers)
    last = np.concatenate([chain[-1] for chain in layers_by_chain])
    readout = np.concatenate([ch["readout"] for ch in post.chains])
    responses = class_responses(last, l_tr, m)
    codes = neuron_codes(responses, threshold)
    top = layers[-1]
    outliers = outlier_measures(readout, last, responses, y, gamma, threshold)
    per_class = outliers.pop("outliers_per_class")
    branches = readout_branches(readout)
    eta2 = top["_eta2"]
    mask = outlier_mask(readout)
    burn = cfg["sampler"]["burn_in"]
    summary, diag_rows = convergence(post.chains, burn, threshold)
    kept = [ch["trace_step"] > burn for ch in post.chains]
    trace = {name: np.stack([ch[f"trace_{name}"][k] for ch, k in zip(post.chains, kept)]) for name in ("mse",)}
    # generalisation: every posterior sample's test outputs
    test_out = np.concatenate([post.outputs(k, x_te) for k in range(len(post.chains))])
    y_te = one_hot(l_te, m)
    mean_out = test_out.mean(0)
    sigma_w2 = cfg["prior"]["sigma_w2"]
    k_prior = nngp_kernel(x_tr, x_tr, nl, depth, sigma_w2)
    k_test = nngp_kernel(x_te, x_tr, nl, depth, sigma_w2)
    gp_out = gp_interpolate(k_prior, k_test, y)
    ridge = 1.0 / (cfg["sampler"]["beta"] * cfg["prior"]["sigma_a2"])  # the lazy GP at this beta
    gp_ridge = gp_interpolate(k_prior, k_test, y, jitter=ridge / float(np.mean(np.diag(k_prior))))
    for row, l in zip(layers, range(1, depth + 1)):
        row["kernel_alignment_gp"] = kernel_alignment(nngp_kernel(x_tr, x_tr, nl, l, sigma_w2), l_tr, m)
    eta2_prior, eta2_prior_sd = prior_eta2(cfg, x_tr, l_tr, m)
    row = {
        "task": cfg["task"], "nonlinearity": nl, "scaling": cfg["scaling"], "width": cfg["width"],
        "task_kind": cfg["task_spec"]["kind"], "depth": depth, "n_train": len(l_tr),
        "n_test": len(l_te), "n_chains": len(post.chains), "n_samples_per_chain": len(post.chains[0]["readout"]),
        "n_steps": cfg["sampler"]["n_steps"], "burn_in": burn, "thin": cfg["sampler"]["thin"],
        "beta": cfg["sampler"]["beta"], "sigma_a2_effective": post.sigma_a2, "n_classes": m,
        **summary,
        **readout_statistics(readout), "n_branches": branches["n_branches"],
        "min_branch_share": float(min(branches["branch_shares"])),
        "branch_shares": ";".join(f"{v:.3f}" for v in branches["branch_shares"]),
        **outliers, "outliers_per_class": ";".join(f"{v:.2f}" for v in per_class),
        "eta2_outliers": float(np.nanmean(eta2[mask])) if mask.any() else float("nan"),
        **pattern_measures(codes),
        "eta2_population": top["eta2_population"], "eta2_mean": top["eta2_mean"],
        "eta2_prior": eta2_prior, "eta2_prior_sd": eta2_prior_sd,
        "binary_fraction": top["binary_fraction"],
        "normalised_binary_fraction": normalised_binary_fraction(responses, BINARY_TOLERANCE),
        "kernel_alignment": top["kernel_alignment"], "kernel_alignment_gp": top["kernel_alignment_gp"],
        "drift": top["drift"], "kernel_chain_rel_diff": top["kernel_chain_rel_diff"],
        "train_mse": float(trace["mse"].mean()), "train_mse_max_chain": float(trace["mse"].mean(1).max()),
        "test_mse": float(((test_out - y_te) ** 2).mean()),
        "test_bias2": float(((mean_out - y_te) ** 2).mean()),
        "test_variance": float(((test_out - mean_out) ** 2).mean()),
        "test_error": float(np.mean(mean_out.argmax(1) != l_te)),
        "test_error_gp": float(np.mean(gp_out.argmax(1) != l_te)),
        "test_mse_gp": float(((gp_out - y_te) ** 2).mean()),
        "predictor_rel_l2_to_gp": float(np.linalg.norm(mean_out - gp_out) / np.linalg.norm(gp_out)),
        "gp_ridge": ridge,
        "gp_ridge_rel_l2_to_interpolant": float(np.linalg.norm(gp_ridge - gp_out) / np.linalg.norm(gp_out)),
    }
    layer_rows = [{**{k: row[k] for k in KEYS}, **{k: v for k, v in lr.items() if not k.startswith("_")},
                   "converged": row["converged"], "convergence_reason": row["convergence_reason"],
                   "plateau_step": row["plateau_step"]} for lr in layers]
    gen = _per_class_rows(cfg, l_te, m, {"network": (mean_out, test_out), "gp_lazy": (gp_out, None)})
    freq = _code_frequency_rows(cfg, responses, threshold)
    diagnostics = pd.DataFrame([{**{k: row[k] for k in KEYS}, "burn_in": burn, **r} for r in diag_rows])
    return row, layer_rows, gen, freq, diagnostics


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


def _loglog_slope(widths, values) -> float:
    """Least-squares slope of ``log value`` against ``log N``; NaN with fewer than two widths or a
    value that is not positive."""
    widths, values = np.asarray(widths, float), np.asarray(values, float)
    if len(np.unique(widths)) < 2 or not (values > 0).all():
        return float("nan")
    return float(np.polyfit(np.log(widths), np.log(values), 1)[0])


WIDTH_COLUMNS = ("n_outliers", "outliers_per_class", "outlier_single_class_fraction", "max_readout_over_sqrt_n",
                 "outlier_activity_over_sqrt_n", "outlier_output_share", "bulk_code_fraction", "n_patterns",
                 "pattern_multiplicity", "kernel_alignment", "kernel_alignment_gp", "plateau_step", "burn_in",
                 "n_steps", "converged", "convergence_reason")


def add_width_comparison(table: pd.DataFrame) -> pd.DataFrame:
    """For runs measured at several widths (same task x nonlinearity x scaling): the log-log slopes
    against N of the outlier count (``outlier_count_slope``) and of the number of distinct code
    patterns (``pattern_count_slope``), the ratio of the kernel alignment's distance from the NNGP prior's
    at the largest width to that at the smallest (``alignment_excess_ratio``), ``width_ratio``
    and ``outlier_count_ratio`` (to the smallest width); NaN where a run has a single width.
    ``n_widths`` and ``widths_converged`` (every width's chains converged) on every row."""
    table = table.copy()
    for column in ("width_ratio", "outlier_count_ratio", "outlier_count_slope", "pattern_count_slope",
                   "alignment_excess_ratio"):
        table[column] = np.nan
    table["n_widths"] = 1
    table["widths_converged"] = table["converged"].astype(bool)
    for _, group in table.groupby(["task", "nonlinearity", "scaling"]):
        table.loc[group.index, "n_widths"] = group["width"].nunique()
        table.loc[group.index, "widths_converged"] = bool(group["converged"].astype(bool).all())
        if group["width"].nunique() < 2:
            continue
        base = group.loc[group["width"].idxmin()]
        wide = group.loc[group["width"].idxmax()]
        table.loc[group.index, "width_ratio"] = group["width"] / base["width"]
        with np.errstate(divide="ignore", invalid="ignore"):
            table.loc[group.index, "outlier_count_ratio"] = group["n_outliers"] / base["n_outliers"]
            excess = abs(wide["kernel_alignment"] - wide["kernel_alignment_gp"]) / abs(
                base["kernel_alignment"] - base["kernel_alignment_gp"])
        table.loc[group.index, "outlier_count_slope"] = _loglog_slope(group["width"], group["n_outliers"])
        table.loc[group.index, "pattern_count_slope"] = _loglog_slope(group["width"], group["n_patterns"])
        table.loc[group.index, "alignment_excess_ratio"] = excess
    return table


def width_table(table: pd.DataFrame) -> pd.DataFrame:
    """The width scans: one row per run of every task x nonlinearity x scaling measured at more
    than one width (outliers per class, max|a|/sqrt(N), plateau step, convergence ...)."""
    scans = table[table["n_widths"] > 1]
    keys = [*KEYS]
    return scans[keys + [c for c in WIDTH_COLUMNS if c in scans] + ["outlier_count_slope", "pattern_count_slope"]
                 ].sort_values(keys).reset_index(drop=True)


def coding_tables(paths, tables: dict, threshold: float = 0.5) -> pd.DataFrame:
    """Write the study's tables, ``tables`` name -> path: ``schemes`` (one row per task x
    nonlinearity x scaling x width: the last hidden layer, its readout, convergence and the
    generalisation error), ``layers`` (one row per run x hidden layer, with the run's
    convergence), ``generalisation`` (per class), ``codes`` (one row per run x code: the fraction
    of neurons, pooled over posterior samples and chains, carrying it; code 0 = no code),
    ``diagnostics`` (one row per run x convergence statistic) and ``widths`` (the width scans);
    returns the first."""
    from layerinfo.progress import progress
    from layerinfo.tables import write_csv

    rows, layers, per_class, codes, diagnostics = [], [], [], [], []
    for path in progress(list(paths), "coding measures"):
        row, layer_rows, gen, freq, diag = run_measures(path, threshold)
        rows.append(row)
        layers.extend(layer_rows)
        per_class.append(gen)
        codes.append(freq)
        diagnostics.append(diag)
        log.info("%s %s %s N=%d: converged %s %s", row["task"], row["nonlinearity"], row["scaling"], row["width"],
                 row["converged"], row["convergence_reason"])
    table = add_width_comparison(pd.DataFrame(rows))
    write_csv(table, tables["schemes"])
    write_csv(pd.DataFrame(layers), tables["layers"])
    write_csv(pd.concat(per_class, ignore_index=True), tables["generalisation"])
    write_csv(pd.concat(codes, ignore_index=True), tables["codes"])
    write_csv(pd.concat(diagnostics, ignore_index=True), tables["diagnostics"])
    write_csv(width_table(table), tables["widths"])
    return table
