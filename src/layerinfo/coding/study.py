"""Coding schemes of Bayesian feature-learning networks (study S4).

van Meegen & Sompolinsky 2025, "Coding schemes in neural networks learning classification
tasks", Nat. Commun. 16, 3354, arXiv:2406.16689. Wide one- to three-hidden-layer networks are
sampled from their weight posterior; their population code of the last hidden layer is measured,
classified as analog, redundant or sparse, and compared with the lazy Gaussian-process limit.

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

This module turns posterior files into the study's tables; the pieces live beside it:
:mod:`~layerinfo.coding.tasks`, :mod:`~layerinfo.coding.langevin`, :mod:`~layerinfo.coding.kernels`,
:mod:`~layerinfo.coding.schemes`, :mod:`~layerinfo.coding.posterior`, :mod:`~layerinfo.coding.plots`.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import pandas as pd

from layerinfo.coding.kernels import gp_expected_train_mse, gp_predict, kernel_alignment, nngp_kernel
from layerinfo.coding.posterior import read_posterior
from layerinfo.coding.schemes import (
    class_responses,
    classify_scheme,
    code_frequencies,
    code_label,
    gelman_rubin,
    neuron_codes,
    population_measures,
)
from layerinfo.coding.tasks import one_hot

log = logging.getLogger(__name__)


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
    chains = [_chain_measures(post, k, x_tr, l_tr, x_te, threshold, criteria) for k in range(len(post.chains))]
    readouts, responses, kernels, test_out, labels = (list(v) for v in zip(*chains))
    measures = population_measures(np.concatenate(readouts), np.concatenate(responses), c, threshold)
    scheme = classify_scheme(measures, criteria)
    kernel = np.mean(kernels, 0)
    rel = max((np.linalg.norm(a - b) / np.linalg.norm(kernel)
               for i, a in enumerate(kernels) for b in kernels[i + 1:]), default=float("nan"))
    burn = cfg["sampler"]["burn_in"]
    traces = np.stack([ch["trace_mse"][ch["trace_step"] > burn] for ch in post.chains])
    depth = cfg["task_spec"]["depth"]
    k_prior, gp_out, gp_train_mse = _lazy_baseline(cfg, x_tr, l_tr, x_te, c)
    net_out = np.mean(test_out, 0)
    row = {
        "task": cfg["task"], "nonlinearity": cfg["nonlinearity"], "scaling": cfg["scaling"],
        "scheme": scheme, "scheme_per_chain": ";".join(labels),
        "width": cfg["width"], "depth": depth, "n_train": len(l_tr), "n_classes": c,
        "n_chains": len(post.chains), "n_samples_per_chain": len(post.chains[0]["readout"]),
        "sigma_a2_effective": post.sigma_a2,
        **measures,
        "train_mse": float(traces.mean()), "train_mse_rhat": gelman_rubin(traces),
        "train_mse_gp_expected": gp_train_mse,
        "kernel_chain_rel_diff": float(rel),
        "kernel_alignment": kernel_alignment(kernel, l_tr, c),
        "kernel_alignment_gp": kernel_alignment(k_prior, l_tr, c),
        "test_error": float(np.mean(net_out.argmax(1) != l_te)),
        "test_error_gp": float(np.mean(gp_out.argmax(1) != l_te)),
        "test_mse": float(np.mean((net_out - one_hot(l_te, c)) ** 2)),
        "test_mse_gp": float(np.mean((gp_out - one_hot(l_te, c)) ** 2)),
    }
    per_class = _per_class_rows(cfg, l_te, c, {"network": net_out, "gp_lazy": gp_out})
    freq = _code_frequency_rows(cfg, np.concatenate(responses), threshold)
    return row, per_class, freq


def _chain_measures(post, k: int, x_tr, l_tr, x_te, threshold: float, criteria: dict | None):
    """One chain's readouts ``(S, N, R)``, class responses ``(S, N, C)``, posterior-averaged
    kernel ``(P, P)``, mean test output ``(P_test, R)`` and its own scheme label."""
    c = post.n_classes
    act = post.activity(k, x_tr)
    responses = class_responses(act, l_tr, c)
    readout = post.chains[k]["readout"]
    kernel = np.einsum("sin,sjn->ij", act, act) / (act.shape[0] * act.shape[2])
    test_out = post.outputs(k, x_te).mean(0)
    label = classify_scheme(population_measures(readout, responses, c, threshold, branches=False), criteria)
    return readout, responses, kernel, test_out, label


def _lazy_baseline(cfg: dict, x_tr, l_tr, x_te, n_classes: int):
    """The lazy GP limit of the run: prior kernel on the training inputs, test predictions and
    the expected training MSE."""
    depth, sigma_w2 = cfg["task_spec"]["depth"], cfg["prior"]["sigma_w2"]
    k_prior = nngp_kernel(x_tr, x_tr, cfg["nonlinearity"], depth, sigma_w2)
    k_test = nngp_kernel(x_te, x_tr, cfg["nonlinearity"], depth, sigma_w2)
    noise = cfg["sampler"]["temperature"] / cfg["sampler"]["beta"]
    y = one_hot(l_tr, n_classes)
    gp_out = gp_predict(k_prior, k_test, y, cfg["prior"]["sigma_a2"], noise)
    return k_prior, gp_out, gp_expected_train_mse(k_prior, y, cfg["prior"]["sigma_a2"], noise)


def _per_class_rows(cfg: dict, l_te, n_classes: int, outputs: dict) -> pd.DataFrame:
    """Test error and MSE per class for each model's test outputs."""
    rows = []
    for cls in range(n_classes):
        sel = l_te == cls
        if not sel.any():
            continue
        for model, out in outputs.items():
            rows.append({"task": cfg["task"], "nonlinearity": cfg["nonlinearity"], "scaling": cfg["scaling"],
                         "model": model, "class": cls, "n_test": int(sel.sum()),
                         "test_error": float(np.mean(out[sel].argmax(1) != cls)),
                         "test_mse": float(np.mean((out[sel] - one_hot(l_te[sel], n_classes)) ** 2))})
    return pd.DataFrame(rows)


def _code_frequency_rows(cfg: dict, responses, threshold: float) -> pd.DataFrame:
    """Fraction of neurons carrying each code, pooled over samples and chains."""
    freq = code_frequencies(neuron_codes(responses, threshold))
    freq.insert(1, "classes", [code_label(code) for code in freq["code"]])
    freq.insert(2, "n_classes_in_code", [bin(int(code)).count("1") for code in freq["code"]])
    for k, key in enumerate(("task", "nonlinearity", "scaling")):
        freq.insert(k, key, cfg[key])
    return freq.rename(columns={"fraction": "neuron_fraction"})


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
