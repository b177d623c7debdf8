"""The coding-scheme study's published findings, each beside its measurement and a verdict.

van Meegen & Sompolinsky (2025), arXiv:2406.16689: at zero temperature (zero training error),
wide networks in the feature-learning scaling form codes in their hidden layers: a linear
network an analog code (Gaussian readouts; its mean predictor is that of the lazy Gaussian
process), a sigmoidal one a redundant code (a few discrete readout branches, units on or off),
a ReLU one a sparse code (O(1) outlier neurons, not more as N grows); in the lazy scaling the
features stay random and there is no code.

Statistics come from ``results/tables/coding_schemes.csv`` (one row per task x nonlinearity x
scaling x width; the last hidden layer and its readout). Criteria, fixed before the runs (the
issue that set up this version of the study lists them):

* zero training error: largest chain-mean training MSE over feature-learning runs < 1e-3;
* lazy: every lazy run is labelled ``none``;
* toy task (kind ``orthonormal``), smallest width: kernel–target alignment of the last hidden
  layer > 0.9 for every nonlinearity in feature learning (smallest of them) and < 0.2 in the
  lazy scaling (largest); mean class-explained variance eta2 > 0.9 in feature learning
  (smallest over nonlinearities; for ReLU over the outlier, i.e. coding, neurons);
* linear: |readout excess kurtosis| < 0.5; posterior-mean predictor within 5 % (relative L2 on
  the test inputs) of the interpolating lazy GP's;
* sigmoid: 2 to 7 readout branches, each holding >= 5 % of the neurons; > 90 % of class-mean
  responses within 0.1 of 0 or 1;
* ReLU: 1 to 2m coding (outlier) neurons (m classes), and at width 4N fewer than twice the
  count at N;
* every task: the classifier's label of each feature-learning run is the paper's scheme.
"""

from __future__ import annotations

import math

import pandas as pd

from layerinfo.claims import Claim, boolean_verdict, threshold_verdict, within_verdict

STUDY = "coding"
PAPER_SCHEMES = {"linear": "analog", "sigmoid": "redundant", "relu": "sparse"}
MAX_TRAIN_MSE = 1e-3
MIN_ALIGNMENT_FEATURE, MAX_ALIGNMENT_LAZY = 0.9, 0.2
MIN_ETA2 = 0.9
MAX_LINEAR_KURTOSIS, MAX_LINEAR_GP_DISTANCE = 0.5, 0.05
SIGMOID_BRANCHES, MIN_BRANCH_SHARE, MIN_BINARY_FRACTION = (2, 7), 0.05, 0.9
MAX_OUTLIERS_PER_CLASS, MAX_OUTLIER_GROWTH, WIDTH_FACTOR = 2, 2.0, 4
NAN = math.nan


def _figure(task: str, name: str) -> str:
    return f"figures/coding/{task}/{name}.png"


def _base(rows: pd.DataFrame) -> pd.DataFrame:
    """The runs at the smallest width of each task x nonlinearity x scaling."""
    if rows.empty:
        return rows
    return rows[rows["width"] == rows.groupby(["task", "nonlinearity", "scaling"])["width"].transform("min")]


def _values(frame: pd.DataFrame, column: str) -> str:
    return ", ".join(f"{nl} {v:.3g}" for nl, v in zip(frame["nonlinearity"], frame[column]))


def general_claims(table: pd.DataFrame) -> list[Claim]:
    """Zero training error and no code in the lazy scaling, over every task."""
    claims = []
    feature = table[table["scaling"] == "feature"]
    if not feature.empty:
        worst = float(feature["train_mse_max_chain"].max())
        claims.append(Claim(
            STUDY, "s4_zero_training_error",
            "The posterior is taken in the zero-temperature limit: zero training error.",
            "largest chain-mean training MSE (per sample and output, after burn-in) over the feature-learning runs",
            worst, NAN, NAN, f"value < {MAX_TRAIN_MSE}", threshold_verdict(worst, below=MAX_TRAIN_MSE),
            len(feature), _figure(feature["task"].iloc[0], "traces")))
    lazy = table[table["scaling"] == "lazy"]
    if not lazy.empty:
        share = float((lazy["scheme"] == "none").mean())
        claims.append(Claim(
            STUDY, "s4_lazy_no_code", "In the lazy regime the features stay random: there is no code.",
            f"fraction of lazy runs labelled 'none' (labels: {', '.join(lazy['scheme'])})",
            share, NAN, NAN, "value == 1", boolean_verdict(share == 1.0), len(lazy),
            _figure(lazy["task"].iloc[0], "activation_maps")))
    return claims


def toy_claims(table: pd.DataFrame, task: str) -> list[Claim]:
    """Alignment and class-driven responses on the toy task (smallest width)."""
    rows = _base(table[table["task"] == task])
    feature = rows[rows["scaling"] == "feature"]
    lazy = rows[rows["scaling"] == "lazy"]
    claims = []
    if not feature.empty:
        low = float(feature["kernel_alignment"].min())
        claims.append(Claim(
            STUDY, f"s4_feature_kernel_aligned_{task}",
            "In feature learning the last hidden layer's kernel aligns with the labels.",
            f"{task}: smallest kernel-target alignment of the last hidden layer over nonlinearities "
            f"({_values(feature, 'kernel_alignment')})", low, NAN, NAN, f"value > {MIN_ALIGNMENT_FEATURE}",
            threshold_verdict(low, above=MIN_ALIGNMENT_FEATURE), len(feature), _figure(task, "kernels")))
        eta2 = feature.apply(lambda r: r["eta2_outliers"] if r["nonlinearity"] == "relu" else r["eta2_mean"], axis=1)
        low = float(eta2.min()) if eta2.notna().all() else NAN
        listed = ", ".join(f"{nl} {v:.3g}" for nl, v in zip(feature["nonlinearity"], eta2))
        claims.append(Claim(
            STUDY, f"s4_feature_class_driven_{task}",
            "In feature learning the neurons' responses are driven by the class (for ReLU, the coding neurons').",
            f"{task}: smallest mean class-explained variance eta2 of the last hidden layer over nonlinearities "
            f"(ReLU: outlier neurons; {listed})", low, NAN, NAN, f"value > {MIN_ETA2}",
            threshold_verdict(low, above=MIN_ETA2), len(feature), _figure(task, "activation_maps")))
    if not lazy.empty:
        high = float(lazy["kernel_alignment"].max())
        claims.append(Claim(
            STUDY, f"s4_lazy_kernel_random_{task}", "In the lazy regime the kernel stays close to the random one.",
            f"{task}: largest kernel-target alignment of the last hidden layer over lazy runs "
            f"({_values(lazy, 'kernel_alignment')})", high, NAN, NAN, f"value < {MAX_ALIGNMENT_LAZY}",
            threshold_verdict(high, below=MAX_ALIGNMENT_LAZY), len(lazy), _figure(task, "kernels")))
    return claims + signature_claims(table[table["task"] == task], task)


def signature_claims(rows: pd.DataFrame, task: str) -> list[Claim]:
    """The structure of each scheme (feature learning, one task)."""
    feature = rows[rows["scaling"] == "feature"]
    base = _base(feature).set_index("nonlinearity")
    claims = []
    if "linear" in base.index:
        r = base.loc["linear"]
        k = float(r["readout_excess_kurtosis"])
        claims.append(Claim(
            STUDY, f"s4_linear_gaussian_readout_{task}", "A linear network's readout weights are Gaussian (analog code).",
            f"{task}: excess kurtosis of the readout weights across neurons", k, NAN, NAN,
            f"|value| < {MAX_LINEAR_KURTOSIS}", within_verdict(k, low=-MAX_LINEAR_KURTOSIS, high=MAX_LINEAR_KURTOSIS),
            int(r["n_chains"]), _figure(task, "readout_weights")))
        dist = float(r["predictor_rel_l2_to_gp"])
        claims.append(Claim(
            STUDY, f"s4_linear_predictor_is_lazy_{task}",
            "A linear network's posterior-mean predictor equals the lazy Gaussian process's.",
            f"{task}: |f_mean - f_GP| / |f_GP| on {int(r['n_test'])} test inputs (interpolating GP)", dist, NAN, NAN,
            f"value < {MAX_LINEAR_GP_DISTANCE}", threshold_verdict(dist, below=MAX_LINEAR_GP_DISTANCE),
            int(r["n_chains"]), _figure(task, "generalisation")))
    if "sigmoid" in base.index:
        r = base.loc["sigmoid"]
        n, share = float(r["n_branches"]), float(r["min_branch_share"])
        lo, hi = SIGMOID_BRANCHES
        claims.append(Claim(
            STUDY, f"s4_sigmoid_readout_branches_{task}",
            "A sigmoidal network's readout vectors fall into a few discrete branches, each shared by many neurons.",
            f"{task}: readout branches (Gaussian mixture, BIC; smallest share {share:.3f})", n, NAN, NAN,
            f"{lo} <= value <= {hi} and smallest share >= {MIN_BRANCH_SHARE}",
            boolean_verdict(bool(lo <= n <= hi and share >= MIN_BRANCH_SHARE)), int(r["n_chains"]),
            _figure(task, "readout_weights")))
        b = float(r["binary_fraction"])
        claims.append(Claim(
            STUDY, f"s4_sigmoid_on_off_{task}", "A sigmoidal network's units are on or off for each class.",
            f"{task}: fraction of class-mean responses within 0.1 of 0 or 1", b, NAN, NAN,
            f"value > {MIN_BINARY_FRACTION}", threshold_verdict(b, above=MIN_BINARY_FRACTION), int(r["n_chains"]),
            _figure(task, "activation_maps")))
    if "relu" in base.index:
        r = base.loc["relu"]
        n, m = float(r["n_outliers"]), int(r["n_classes"])
        claims.append(Claim(
            STUDY, f"s4_relu_few_coding_neurons_{task}", "A ReLU network's code is carried by O(1) outlier neurons.",
            f"{task}: outlier (coding) neurons per posterior sample, width {int(r['width'])} "
            f"(output share {float(r['outlier_output_share']):.2f})", n, NAN, NAN,
            f"1 <= value <= {MAX_OUTLIERS_PER_CLASS} x {m} classes",
            boolean_verdict(bool(1 <= n <= MAX_OUTLIERS_PER_CLASS * m)), int(r["n_chains"]),
            _figure(task, "readout_weights")))
        relu = feature[feature["nonlinearity"] == "relu"]
        wide = relu[relu["width"] == WIDTH_FACTOR * int(r["width"])]
        if not wide.empty:
            ratio = float(wide["outlier_count_ratio"].iloc[0]) if n > 0 else NAN
            claims.append(Claim(
                STUDY, f"s4_relu_coding_count_width_{task}",
                "The number of a ReLU network's coding neurons does not grow with the width.",
                f"{task}: outliers at width {int(wide['width'].iloc[0])} over those at {int(r['width'])} "
                f"({float(wide['n_outliers'].iloc[0]):.2f} / {n:.2f})", ratio, NAN, NAN,
                f"value < {MAX_OUTLIER_GROWTH}", threshold_verdict(ratio, below=MAX_OUTLIER_GROWTH),
                int(r["n_chains"]), "figures/coding/widths.png"))
    for nonlinearity, scheme in PAPER_SCHEMES.items():
        if nonlinearity not in base.index:
            continue
        r = base.loc[nonlinearity]
        claims.append(Claim(
            STUDY, f"s4_{nonlinearity}_{scheme}_{task}", f"In feature learning, {nonlinearity} networks form a {scheme} code.",
            f"{task}: classifier label '{r['scheme']}' (per chain: {r['scheme_per_chain']}); value: 1 if '{scheme}'",
            float(r["scheme"] == scheme), NAN, NAN, f"label == '{scheme}'", boolean_verdict(r["scheme"] == scheme),
            int(r["n_chains"]), _figure(task, "activation_maps")))
    return claims


def coding_claims(table: pd.DataFrame) -> list[Claim]:
    """Every claim of the study from the schemes table: the general ones, then per task (the
    toy-task claims for tasks of kind ``orthonormal``, the scheme signatures for the others)."""
    claims = general_claims(table)
    for task in dict.fromkeys(table["task"]):
        rows = table[table["task"] == task]
        kind = rows["task_kind"].iloc[0] if "task_kind" in rows else "orthonormal"
        claims += toy_claims(table, task) if kind == "orthonormal" else signature_claims(rows, task)
    return claims
