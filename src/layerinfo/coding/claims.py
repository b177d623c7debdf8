"""The coding-scheme study's published findings, each beside its measurement and a verdict.

van Meegen & Sompolinsky (2025), arXiv:2406.16689: at zero temperature (zero training error),
wide networks in the feature-learning scaling form codes in their hidden layers: a linear
network an analog code, a sigmoidal one a redundant code, a ReLU one a sparse code; in the lazy
scaling the features stay random and there is no code. The schemes are defined by the authors'
single-neuron posteriors (their poster, Bernstein 2025, AlexVanMeegen.github.io):

* linear: ``P(a) = N(0, U)``; ``z^L`` Gaussian with covariance ``K_{L-1}`` around a
  class-determined mean (graded, noisy responses to every class: the analog code itself);
* sigmoidal: ``P(a) = sum_gamma P_gamma delta(a - a_gamma)``, n branches -> n codes, units on or off;
* ReLU: bulk ``P(a) = delta(a - a0)`` (learned, O(1), one readout for all bulk neurons, so the
  bulk carries no class code); outliers ``a_i = sqrt(N) abar_i``, ``z_i = sqrt(N) zbar_i``.

This module is the only place where measures are judged. Measures come from
``results/tables/coding_schemes.csv`` (:mod:`layerinfo.coding.study`, one row per task x
nonlinearity x scaling x width), criteria are the constants below, fixed before the runs, each
with what it rests on. Two rules hold for every claim:

* a claim rests on the runs it reads; if any of them failed its convergence diagnostics
  (:mod:`layerinfo.coding.diagnostics`, column ``converged``) the verdict is ``inconclusive``
  and the statistic says "chains not converged" and why, never ``not reproduced``;
* every claim's statistic text ends with the diagnostics of its runs (largest R-hat against its
  threshold, latest plateau step against the burn-in).

Claims whose subject is the growth with N read every width of a width scan (``n_widths > 1``);
the others read the smallest width of each task x nonlinearity x scaling.
"""

from __future__ import annotations

import math

import pandas as pd

from layerinfo.claims import INCONCLUSIVE, Claim, boolean_verdict, threshold_verdict, within_verdict

STUDY = "coding"
NAN = math.nan

#: zero temperature (DESIGN S4: "zero-temperature limit (zero training error)"); 1e-3 of the
#: targets' unit scale is our reading of "zero"
MAX_TRAIN_MSE = 1e-3
#: zero temperature: the GP at the likelihood's ridge 1 / (beta sigma_a^2) lies within 5 % of the
#: interpolant on the test inputs (our reading of beta -> infinity: the ridge must not move the
#: predictor; the issue measured 48 % on digits at beta = 1e4, 1.2 % at 1e6)
MAX_GP_RIDGE_DISTANCE = 0.05
#: feature learning aligns the kernel with the labels (paper, kernel figures); "aligned" read as
#: a centred alignment above 0.9 (our reading: close to the class kernel's 1)
MIN_ALIGNMENT_FEATURE = 0.9
#: the coding neurons' responses are class-driven (sigmoid: every neuron; ReLU: the outliers);
#: linear networks are left out: their graded, noisy responses are the analog code (poster)
MIN_ETA2 = 0.9
#: linear readouts Gaussian: P(a) = N(0, U) (poster); |excess kurtosis| < 0.5 our reading
MAX_LINEAR_KURTOSIS = 0.5
#: linear networks' posterior-mean predictor equals the lazy GP's (paper: the linear network's
#: mean predictor is that of the GP); 5 % relative L2 our reading of "equals" at finite N
MAX_LINEAR_GP_DISTANCE = 0.05
#: graded responses (poster: z^L Gaussian around a class mean, i.e. not on/off): under half of
#: the normalised class responses within 0.1 of 0 or 1 (our reading: an on/off code has nearly all)
MAX_LINEAR_BINARY_FRACTION = 0.5
#: units on or off for each class (poster: discrete branches; DESIGN "units on or off"); 90 % of
#: the class-mean responses within 0.1 of the unit's range ends (our reading)
MIN_BINARY_FRACTION = 0.9
#: every code shared by many neurons (paper: redundant code): on average at least two coding
#: neurons per distinct on/off pattern, and no more patterns than min(2^m - 1, N/2) (the number of
#: non-empty on/off patterns over m classes, the toy task's 7 for m = 3, capped so that the average
#: pattern holds two neurons); our reading of "many", the minimal one
MIN_PATTERN_MULTIPLICITY = 2.0
#: O(1) codes as N grows: the number of distinct patterns (redundant) or of outliers (sparse)
#: grows with N more slowly than N^0.5 (log-log slope over the width scan; our reading of O(1)
#: that a finite scan can test: halfway between constant and the sqrt(N) of a bulk effect)
MAX_COUNT_SLOPE = 0.5
#: sparse: at most c x m outliers with c = 2 (our reading: the issue measured 3-5 outliers, one
#: per class, at N = 400 with m = 3; c = 2 allows one spare per class), at least one
MAX_OUTLIERS_PER_CLASS = 2
#: sparse: each outlier codes one class (paper: outliers carry the codes; the poster's outliers
#: zbar_i per class); 90 % of them with a single-class code (our reading)
MIN_SINGLE_CLASS_FRACTION = 0.9
#: sparse: the bulk carries no class code (poster: one readout a0 for all bulk neurons); at most
#: 10 % of the bulk neurons pass the code threshold (our reading)
MAX_BULK_CODE_FRACTION = 0.1
#: lazy, no code: the lazy network's class-explained variance above that of features drawn from
#: the prior on the same inputs is under a fifth of the feature-learning network's excess (same
#: task, nonlinearity and width); our reading of "random features", replacing a fixed eta2
MAX_LAZY_ETA2_EXCESS_FRACTION = 0.2
#: lazy kernel random: the alignment's excess over the NNGP prior kernel's (same inputs) falls as N
#: grows at fixed P (paper: "predominantly random features almost orthogonal to the readout"; the
#: excess vanishes as N -> infinity): excess at the largest width / excess at the smallest < 1
MAX_LAZY_ALIGNMENT_EXCESS_RATIO = 1.0
NOT_CONVERGED = "chains not converged"


def _figure(task: str, name: str) -> str:
    return f"figures/coding/{task}/{name}.png"


def _base(rows: pd.DataFrame) -> pd.DataFrame:
    """The runs at the smallest width of each task x nonlinearity x scaling."""
    if rows.empty:
        return rows
    return rows[rows["width"] == rows.groupby(["task", "nonlinearity", "scaling"])["width"].transform("min")]


def _values(frame: pd.DataFrame, column: str) -> str:
    return ", ".join(f"{nl} {v:.3g}" for nl, v in zip(frame["nonlinearity"], frame[column]))


def _run(r) -> str:
    return f"{r['task']} {r['nonlinearity']}-{r['scaling']}-w{int(r['width'])}"


def _claim(claim_id: str, statement: str, statistic: str, value: float, criterion: str, verdict: str,
           runs: pd.DataFrame, figure: str) -> Claim:
    """A claim on ``runs``: ``inconclusive`` ("chains not converged") when any of them failed its
    diagnostics, the statistic text followed by the runs' diagnostics."""
    runs = runs if isinstance(runs, pd.DataFrame) else pd.DataFrame([runs])
    bad = runs[~runs["converged"].astype(bool)]
    if not bad.empty:
        why = "; ".join(f"{_run(r)}: {r['convergence_reason']}" for _, r in bad.iterrows())
        diag = f"{NOT_CONVERGED} ({why})"
        verdict = INCONCLUSIVE
    else:
        diag = (f"diagnostics: converged, R-hat <= {runs['rhat_max'].max():.3g} (thresholds "
                f"{runs['rhat_threshold'].min():.3g}-{runs['rhat_threshold'].max():.3g}), plateau steps "
                + ", ".join(f"{r['plateau_step']:.0f}/{int(r['burn_in'])}" for _, r in runs.iterrows())
                + " (plateau/burn-in)")
    return Claim(STUDY, claim_id, statement, f"{statistic} | {diag}", value, NAN, NAN, criterion, verdict,
                 len(runs), figure)


def general_claims(table: pd.DataFrame) -> list[Claim]:
    """Zero temperature over the feature-learning runs; no code in the lazy scaling."""
    claims = []
    feature = table[table["scaling"] == "feature"]
    if not feature.empty:
        worst = float(feature["train_mse_max_chain"].max())
        claims.append(_claim(
            "s4_zero_training_error", "The posterior is taken in the zero-temperature limit: zero training error.",
            "largest chain-mean training MSE (per sample and output, after burn-in) over the feature-learning runs",
            worst, f"value < {MAX_TRAIN_MSE}", threshold_verdict(worst, below=MAX_TRAIN_MSE), feature,
            _figure(feature["task"].iloc[0], "traces")))
        ridge = float(table["gp_ridge_rel_l2_to_interpolant"].max())
        claims.append(_claim(
            "s4_zero_temperature_gp", "At zero temperature the likelihood's noise does not move the predictor.",
            "largest |f_GP(ridge 1/(beta sigma_a^2)) - f_GP(interpolant)| / |f_GP(interpolant)| on the test inputs "
            f"over runs ({', '.join(f'{t} {v:.3g}' for t, v in table.groupby('task')['gp_ridge_rel_l2_to_interpolant'].max().items())})",
            ridge, f"value < {MAX_GP_RIDGE_DISTANCE}", threshold_verdict(ridge, below=MAX_GP_RIDGE_DISTANCE), table,
            _figure(table["task"].iloc[0], "generalisation")))
    lazy = _base(table[table["scaling"] == "lazy"])
    keys = ["task", "nonlinearity", "width"]
    pairs = lazy.merge(table[table["scaling"] == "feature"][keys + ["eta2_population"]], on=keys,
                       suffixes=("", "_feature"))
    if not pairs.empty:
        excess = ((pairs["eta2_population"] - pairs["eta2_prior"])
                  / (pairs["eta2_population_feature"] - pairs["eta2_prior"]))
        worst = float(excess.max()) if excess.notna().all() else NAN
        listed = ", ".join(f"{t} {nl} {v:.3g} (lazy {a:.3g}, prior {p:.3g}, feature {f:.3g})" for t, nl, v, a, p, f in
                           zip(pairs["task"], pairs["nonlinearity"], excess, pairs["eta2_population"],
                               pairs["eta2_prior"], pairs["eta2_population_feature"]))
        claims.append(_claim(
            "s4_lazy_no_code", "In the lazy regime the features stay random: there is no code.",
            "largest (eta2_lazy - eta2_prior) / (eta2_feature - eta2_prior) over lazy runs, population "
            f"class-explained variance of the last hidden layer, prior = features drawn from the prior on the same "
            f"inputs ({listed})", worst, f"value < {MAX_LAZY_ETA2_EXCESS_FRACTION}",
            threshold_verdict(worst, below=MAX_LAZY_ETA2_EXCESS_FRACTION), pairs,
            _figure(lazy["task"].iloc[0], "activation_maps")))
    return claims


def toy_claims(table: pd.DataFrame, task: str) -> list[Claim]:
    """Alignment and class-driven responses on the toy task (smallest width), and the lazy
    kernel against the prior's over the width scan."""
    rows = table[table["task"] == task]
    base = _base(rows)
    feature = base[base["scaling"] == "feature"]
    claims = []
    if not feature.empty:
        low = float(feature["kernel_alignment"].min())
        claims.append(_claim(
            f"s4_feature_kernel_aligned_{task}",
            "In feature learning the last hidden layer's kernel aligns with the labels.",
            f"{task}: smallest kernel-target alignment of the last hidden layer over nonlinearities "
            f"({_values(feature, 'kernel_alignment')})", low, f"value > {MIN_ALIGNMENT_FEATURE}",
            threshold_verdict(low, above=MIN_ALIGNMENT_FEATURE), feature, _figure(task, "kernels")))
        coding = feature[feature["nonlinearity"].isin(["sigmoid", "relu"])]
        if not coding.empty:
            eta2 = coding.apply(lambda r: r["eta2_outliers"] if r["nonlinearity"] == "relu" else r["eta2_mean"],
                                axis=1)
            low = float(eta2.min()) if eta2.notna().all() else NAN
            listed = ", ".join(f"{nl} {v:.3g}" for nl, v in zip(coding["nonlinearity"], eta2))
            claims.append(_claim(
                f"s4_feature_class_driven_{task}",
                "In feature learning the coding neurons' responses are driven by the class.",
                f"{task}: smallest mean class-explained variance eta2 of the coding neurons (sigmoid: all, ReLU: "
                f"outliers; {listed})", low, f"value > {MIN_ETA2}", threshold_verdict(low, above=MIN_ETA2), coding,
                _figure(task, "activation_maps")))
    lazy = rows[rows["scaling"] == "lazy"]
    if not lazy.empty:
        scans = lazy[lazy["n_widths"] > 1]
        ratios = scans.groupby("nonlinearity")["alignment_excess_ratio"].first().abs()
        worst = float(ratios.max()) if len(ratios) and ratios.notna().all() else NAN
        listed = "; ".join(f"{nl} " + ", ".join(f"N={int(w)} {a:.3g} (prior {g:.3g})" for w, a, g in
                                              zip(g_["width"], g_["kernel_alignment"], g_["kernel_alignment_gp"]))
                           for nl, g_ in scans.groupby("nonlinearity")) or "no lazy width scan"
        claims.append(_claim(
            f"s4_lazy_kernel_random_{task}", "In the lazy regime the kernel approaches the random (prior) one as the "
            "width grows.",
            f"{task}: largest |alignment - NNGP prior alignment| at the largest width over that at the smallest, over "
            f"the lazy width scans ({listed})", worst, f"value < {MAX_LAZY_ALIGNMENT_EXCESS_RATIO}",
            threshold_verdict(worst, below=MAX_LAZY_ALIGNMENT_EXCESS_RATIO), scans if not scans.empty else _base(lazy),
            _figure(task, "kernels")))
    return claims + signature_claims(rows, task)


def _linear_claims(r, task: str) -> list[Claim]:
    k = float(r["readout_excess_kurtosis"])
    dist = float(r["predictor_rel_l2_to_gp"])
    binary = float(r["normalised_binary_fraction"])
    align, prior = float(r["kernel_alignment"]), float(r["kernel_alignment_gp"])
    gaussian = abs(k) < MAX_LINEAR_KURTOSIS
    graded = binary < MAX_LINEAR_BINARY_FRACTION
    aligned = align > prior
    parts = (f"|excess kurtosis| {abs(k):.3g} < {MAX_LINEAR_KURTOSIS}: {gaussian}; normalised binary fraction "
             f"{binary:.3g} < {MAX_LINEAR_BINARY_FRACTION}: {graded}; alignment {align:.3g} > prior {prior:.3g}: "
             f"{aligned}")
    finite = all(map(math.isfinite, (k, binary, align, prior)))
    return [
        _claim(f"s4_linear_gaussian_readout_{task}", "A linear network's readout weights are Gaussian (analog code).",
               f"{task}: excess kurtosis of the readout weights across neurons", k, f"|value| < {MAX_LINEAR_KURTOSIS}",
               within_verdict(k, low=-MAX_LINEAR_KURTOSIS, high=MAX_LINEAR_KURTOSIS), r,
               _figure(task, "readout_weights")),
        _claim(f"s4_linear_predictor_is_lazy_{task}",
               "A linear network's posterior-mean predictor equals the lazy Gaussian process's.",
               f"{task}: |f_mean - f_GP| / |f_GP| on {int(r['n_test'])} test inputs (interpolating GP)", dist,
               f"value < {MAX_LINEAR_GP_DISTANCE}", threshold_verdict(dist, below=MAX_LINEAR_GP_DISTANCE), r,
               _figure(task, "generalisation")),
        _claim(f"s4_linear_analog_{task}",
               "In feature learning, linear networks form an analog code: every neuron responds to every class with "
               "graded strength, Gaussian readouts, a kernel aligned with the labels.",
               f"{task}: {parts}; value: 1 if all hold", float(gaussian and graded and aligned) if finite else NAN,
               "all three hold", boolean_verdict(gaussian and graded and aligned if finite else None), r,
               _figure(task, "activation_maps")),
    ]


def _sigmoid_claims(rows: pd.DataFrame, task: str) -> list[Claim]:
    r = rows.loc[rows["width"].idxmin()]
    b = float(r["binary_fraction"])
    n, m = int(r["width"]), int(r["n_classes"])
    cap = min(2 ** m - 1, n / 2)
    mult, patterns = float(r["pattern_multiplicity"]), float(r["n_patterns"])
    slope = float(r["pattern_count_slope"]) if "pattern_count_slope" in r else NAN
    scanned = int(r.get("n_widths", 1)) > 1
    shared = mult >= MIN_PATTERN_MULTIPLICITY and patterns <= cap
    bounded = slope < MAX_COUNT_SLOPE if scanned else True
    parts = (f"on/off fraction {b:.3g} >= {MIN_BINARY_FRACTION}: {b >= MIN_BINARY_FRACTION}; "
             f"neurons per pattern {mult:.3g} >= {MIN_PATTERN_MULTIPLICITY} and patterns {patterns:.3g} <= {cap:g}: "
             f"{shared}; " + (f"pattern-count slope against N {slope:.3g} < {MAX_COUNT_SLOPE}: {bounded}"
                              if scanned else "no width scan: growth with N not measured"))
    finite = all(map(math.isfinite, (b, mult, patterns))) and (math.isfinite(slope) or not scanned)
    holds = b >= MIN_BINARY_FRACTION and shared and bounded
    return [
        _claim(f"s4_sigmoid_on_off_{task}", "A sigmoidal network's units are on or off for each class.",
               f"{task}: fraction of class-mean responses within 0.1 of 0 or 1, width {n}", b,
               f"value >= {MIN_BINARY_FRACTION}", boolean_verdict(b >= MIN_BINARY_FRACTION if math.isfinite(b)
                                                                   else None), r, _figure(task, "activation_maps")),
        _claim(f"s4_sigmoid_redundant_{task}",
               "In feature learning, sigmoidal networks form a redundant code: a few on/off codes, each shared by "
               "many neurons.", f"{task}: {parts}; value: 1 if all hold", float(holds) if finite else NAN,
               "all hold", boolean_verdict(holds if finite else None), rows if scanned else r,
               _figure(task, "activation_maps")),
    ]


def _relu_claims(rows: pd.DataFrame, task: str) -> list[Claim]:
    r = rows.loc[rows["width"].idxmin()]
    m = int(r["n_classes"])
    scanned = int(r.get("n_widths", 1)) > 1
    counts = rows["n_outliers"].astype(float)
    few = bool(((counts >= 1) & (counts <= MAX_OUTLIERS_PER_CLASS * m)).all())
    listed = ", ".join(f"N={int(w)} {c:.2f} (per class {p}; max|a|/sqrt(N) {a:.3g}; centred output share {s:.2f})"
                       for w, c, p, a, s in zip(rows["width"], counts, rows["outliers_per_class"],
                                                rows["max_readout_over_sqrt_n"], rows["outlier_output_share"]))
    claims = [_claim(
        f"s4_relu_few_coding_neurons_{task}", "A ReLU network's code is carried by a few outlier neurons.",
        f"{task}: outlier neurons (|a_i| > N^(1/4) median |a|) per posterior sample at each width ({listed})",
        float(counts.max()), f"1 <= value <= {MAX_OUTLIERS_PER_CLASS} x {m} classes at every width",
        boolean_verdict(few), rows, _figure(task, "readout_weights"))]
    slope = float(r["outlier_count_slope"]) if scanned else NAN
    if scanned:
        claims.append(_claim(
            f"s4_relu_coding_count_width_{task}", "The number of a ReLU network's coding neurons stays O(1) as N grows.",
            f"{task}: log-log slope of the outlier count against N over widths "
            f"{', '.join(str(int(w)) for w in rows['width'])}", slope, f"value < {MAX_COUNT_SLOPE}",
            threshold_verdict(slope, below=MAX_COUNT_SLOPE), rows, "figures/coding/widths.png"))
    single = rows["outlier_single_class_fraction"].astype(float)
    bulk = rows["bulk_code_fraction"].astype(float)
    one_class = bool((single >= MIN_SINGLE_CLASS_FRACTION).all())
    quiet = bool((bulk <= MAX_BULK_CODE_FRACTION).all())
    bounded = slope < MAX_COUNT_SLOPE if scanned else True
    finite = single.notna().all() and bulk.notna().all() and (math.isfinite(slope) or not scanned)
    holds = few and one_class and quiet and bounded
    parts = (f"1 to {MAX_OUTLIERS_PER_CLASS}m outliers at every width: {few}; single-class fraction "
             f"{single.min():.3g} >= {MIN_SINGLE_CLASS_FRACTION}: {one_class}; bulk code fraction {bulk.max():.3g} <= "
             f"{MAX_BULK_CODE_FRACTION}: {quiet}; " + (f"count slope {slope:.3g} < {MAX_COUNT_SLOPE}: {bounded}"
                                                        if scanned else "no width scan: growth with N not measured"))
    claims.append(_claim(
        f"s4_relu_sparse_{task}",
        "In feature learning, ReLU networks form a sparse code: O(1) outlier neurons, one class each, the bulk "
        "carrying no class code.", f"{task}: {parts}; value: 1 if all hold", float(holds) if finite else NAN,
        "all hold", boolean_verdict(holds if finite else None), rows, _figure(task, "activation_maps")))
    return claims


def signature_claims(rows: pd.DataFrame, task: str) -> list[Claim]:
    """The structure of each scheme (feature learning, one task): the smallest width, or every
    width of a width scan where the claim is about growth with N."""
    feature = rows[rows["scaling"] == "feature"]
    claims = []
    for nl, group in feature.groupby("nonlinearity", sort=False):
        group = group.sort_values("width")
        if nl == "linear":
            claims += _linear_claims(group.iloc[0], task)
        elif nl == "sigmoid":
            claims += _sigmoid_claims(group, task)
        elif nl == "relu":
            claims += _relu_claims(group, task)
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
