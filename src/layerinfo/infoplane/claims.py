"""The information-plane study's published findings, each measured and judged (DESIGN §6).

Chelombiev, Houghton & O'Donnell (ICLR 2019), abstract: "With two improved methods of
estimation, firstly, we show that saturation of the activation function is not required for
compression, and the amount of compression varies between different activation functions. We
also find that there is a large amount of variation in compression between different network
initializations. Secondary, we see that L2 regularization leads to significantly increased
compression, while preventing overfitting. Finally, we show that only compression of the last
layer is positively correlated with generalization."

Every statistic comes from the per-run compression table
(``results/tables/information_plane_compression.csv``: one row per run x layer x estimator with
``compression_bits`` = max - final I(X;T), ``I_XT_max_bits``, and the run's final ``test_acc``
and ``train_acc``). The criteria below were fixed before the decisive run they judge.

Estimators. The "two improved methods" are entropy-based adaptive binning (EBAB) and the
adaptive KDE. EBAB decides: it is the reference code's default (ivansche/adaptive_estimators,
``idnns/information/information_process.py`` line 158, ``get_information(..., kde=False, ...,
maxentropy=True)``; its last commit is "maxentropy by default"). The adaptive KDE in the paper's
form (``variant: paper``) gets its own rows, marked secondary. Every estimator-based claim has
one row per estimator (ids end in the estimator's name); where the two rows' verdicts differ,
both criteria end in "estimator-dependent" with the two verdicts. Other estimators (fixed bins,
KDE bounds, the code form of the aKDE) get no rows: the paper's claims are made with the two
adaptive methods.

Rows and rules (95% intervals throughout):

* compression without saturation (per estimator): relative compression of the last hidden layer,
  ``compression_bits / I_XT_max_bits``, mean over the ReLU-family runs; reproduced when the whole
  Student-t interval lies above 5% (our reading: the score is >= 0 by construction, so "> 0"
  would hold by noise alone);
* differences between activations (per estimator): Kruskal-Wallis p < 0.05 of the last hidden
  layer's compression across activations;
* spread across initialisations (per estimator): median over activation x initialisation cells
  of the coefficient of variation across seeds > 0.5 (our reading of "a large amount of
  variation": the s.d. at least half the mean);
* L2 increases compression (per estimator and per hidden layer; the paper: "across network
  layers"): compression with L2 minus without, paired by activation x initialisation, mean over
  pairs with a normal interval from the cells' standard errors, interval above 0;
* L2 prevents overfitting (one row, no estimator): the train - test accuracy gap at the last
  epoch with L2 minus without, paired and intervalled the same way, interval below 0;
* generalisation, the output layer (per estimator): Pearson r across initialisations between the
  softmax output layer's compression and test accuracy, each activation x initialisation cell
  correlated across its seeds and the cells pooled by Fisher z; interval above 0. "The last
  layer" is the softmax output: the reference code applies the softmax to the final layer before
  estimating its information (``idnns/networks/network.py`` lines 80-81). A second row gives the
  raw r of all runs pooled into one correlation (secondary: it mixes differences between cells
  with differences between seeds);
* generalisation, every hidden layer, the last included (per estimator and per layer, each its own
  row, never pooled with other layers of the same networks): the same within-cell r must not be
  positive. Our reading of "only ... the last layer is positively correlated": reproduced when the
  interval reaches 0 or below (no significant positive correlation) and stays below 0.5 (a large
  positive correlation, Cohen's convention, is excluded, so "not positive" is measured rather
  than merely unresolved); not reproduced when the whole interval lies above 0; inconclusive
  otherwise.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
from scipy import stats

from layerinfo.claims import (
    INCONCLUSIVE,
    NOT_REPRODUCED,
    REPRODUCED,
    Claim,
    correlation_interval,
    mean_interval,
    pooled_correlation,
    threshold_verdict,
)

STUDY = "information_plane"
# Activations that do not saturate on both sides: the paper's "ReLU family" (and the smooth
# variants that share it).
RELU_FAMILY = ("relu", "elu", "prelu", "softplus", "softplus_centred", "swish")
MIN_COMPRESSION_FRACTION = 0.05
MAX_P_ACTIVATIONS = 0.05
MIN_SEED_CV = 0.5
# A hidden layer is "not positively correlated" when its interval reaches 0 and excludes this r.
LARGE_R = 0.5
# Fewest runs in one cell for its correlation (pooled_correlation leaves out smaller cells).
MIN_CORRELATION_RUNS = 4
CELL = ["experiment", "activation", "initialisation"]
Z95 = 1.959963984540054

PAPER = "Chelombiev et al. 2019, abstract"
REFERENCE = "ivansche/adaptive_estimators"
SENTENCES = {
    "saturation": "saturation of the activation function is not required for compression",
    "activations": "the amount of compression varies between different activation functions",
    "spread": "there is a large amount of variation in compression between different network "
              "initializations",
    "l2": "L2 regularization leads to significantly increased compression",
    "overfitting": "L2 regularization leads to significantly increased compression, while preventing "
                   "overfitting",
    "generalisation": "only compression of the last layer is positively correlated with generalization",
}


def _statement(key: str) -> str:
    return f'"{SENTENCES[key]}" ({PAPER})'


def _roles(rows: pd.DataFrame, section: dict) -> dict[str, str | None]:
    """The estimator that decides (``primary``: the first EBAB) and the secondary one (the first
    adaptive KDE in the paper's form), or None where the config has none."""
    spec = section.get("estimators", {})
    names = list(dict.fromkeys(rows["estimator"]))
    methods = dict(zip(rows["estimator"], rows["method"]))
    ebab = [n for n in names if methods[n] == "ebab"]
    akde = [n for n in names if methods[n] == "akde" and (spec.get(n) or {}).get("variant") == "paper"]
    return {"primary": ebab[0] if ebab else None, "secondary": akde[0] if akde else None}


ROLE_LABEL = {
    "primary": f"EBAB decides (the reference default, {REFERENCE} idnns/information/information_process.py "
               "line 158)",
    "secondary": "secondary: adaptive KDE, paper form (the abstract's 'two improved methods'); EBAB decides",
}
MISSING = {"primary": "no EBAB estimator in the config", "secondary": "no adaptive KDE (variant paper) in the config"}


def _hidden_layers(rows: pd.DataFrame) -> list[tuple[int, str]]:
    hidden = rows[rows["layer_name"] != "output"]
    return sorted(set(zip(hidden["layer"].astype(int), hidden["layer_name"])))


def _last_hidden(rows: pd.DataFrame) -> pd.DataFrame:
    hidden = rows[rows["layer_name"] != "output"]
    last = hidden.groupby(["experiment", "run", "estimator"])["layer"].transform("max")
    return hidden[hidden["layer"] == last]


def _experiment_l2(section: dict) -> dict[str, float]:
    base = float(section.get("training", {}).get("l2", 0.0))
    return {name: float((exp.get("training") or {}).get("l2", base))
            for name, exp in section.get("experiments", {}).items()}


def _figure(section: dict, experiment: str | None, estimator: str | None) -> str:
    if not estimator:
        return ""
    experiment = experiment or next(iter(section.get("experiments", {})), "main")
    return f"figures/{STUDY}/{experiment}/compression/{estimator}.png"


def _claim(claim_id, statement, estimator, role, statistic, value, low, high, rule, verdict, n, figure,
           label=None):
    """A row of an estimator-based claim: the id ends in the estimator, the criterion names the
    role (or ``label``)."""
    name = estimator or {"primary": "ebab", "secondary": "akde_paper"}[role]
    if estimator is None:
        statistic = f"{statistic} ({MISSING[role]})"
    return Claim(STUDY, f"{claim_id}_{name}", statement, f"{name}: {statistic}", value, low, high,
                 f"{label or ROLE_LABEL[role]}: {rule}", verdict, int(n), figure)


# ------------------------------------------------------------------------------------------
# compression, activations, spread


def compression_claim(rows, section, estimator, role) -> Claim:
    """Compression without saturation: the ReLU family's last hidden layer compresses."""
    sel = _last_hidden(rows[rows["activation"].isin(RELU_FAMILY) & (rows["estimator"] == estimator)])
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = (sel["compression_bits"] / sel["I_XT_max_bits"]).to_numpy()
    value, low, high, n = mean_interval(fraction)
    return _claim(
        "s2_compression_without_saturation", _statement("saturation"), estimator, role,
        "(max - final) / max of I(X;T) of the last hidden layer, mean over ReLU-family runs "
        f"({', '.join(sorted(set(sel['activation']))) or 'none'})",
        value, low, high, f"ci_low > {MIN_COMPRESSION_FRACTION} (our reading: the score is >= 0, "
        "so > 0 would hold by noise alone)",
        threshold_verdict(value, low, high, above=MIN_COMPRESSION_FRACTION, n=n, min_n=2), n,
        _figure(section, None, estimator))


def activation_claim(rows, section, estimator, role) -> Claim:
    """Compression differs between activations (Kruskal-Wallis)."""
    sel = _last_hidden(rows[rows["estimator"] == estimator])
    groups = [g["compression_bits"].to_numpy() for _, g in sel.groupby("activation")]
    groups = [g for g in groups if len(g) >= 2]
    p, n = math.nan, int(sum(len(g) for g in groups))
    if len(groups) >= 2 and np.ptp(np.concatenate(groups)) > 0:
        p = float(stats.kruskal(*groups).pvalue)
    verdict = threshold_verdict(p, below=MAX_P_ACTIVATIONS) if len(groups) >= 2 else INCONCLUSIVE
    return _claim(
        "s2_compression_differs_between_activations", _statement("activations"), estimator, role,
        f"Kruskal-Wallis p value of the last hidden layer's compression (bits) across {len(groups)} "
        "activations", p, math.nan, math.nan, f"value < {MAX_P_ACTIVATIONS} (our reading of 'varies': the "
        "activations' distributions differ at the 5% level)", verdict, n,
        _figure(section, None, estimator))


def spread_claim(rows, section, estimator, role) -> Claim:
    """Compression varies a lot across initialisations."""
    sel = _last_hidden(rows[rows["estimator"] == estimator])
    cvs = []
    for _, g in sel.groupby(CELL):
        x = g["compression_bits"].to_numpy()
        if len(x) >= 3 and x.mean() > 0:
            cvs.append(float(x.std(ddof=1) / x.mean()))
    value = float(np.median(cvs)) if cvs else math.nan
    return _claim(
        "s2_spread_across_initialisations", _statement("spread"), estimator, role,
        "median over activation x initialisation cells of the coefficient of variation across seeds "
        f"of the last hidden layer's compression ({len(cvs)} cells with >= 3 seeds)",
        value, math.nan, math.nan, f"value > {MIN_SEED_CV} (our reading of 'a large amount': the s.d. "
        "at least half the mean)", threshold_verdict(value, above=MIN_SEED_CV, n=len(cvs), min_n=1),
        len(cvs), _figure(section, None, estimator))


# ------------------------------------------------------------------------------------------
# L2


def l2_difference(runs: pd.DataFrame, column: str, section: dict) -> tuple[float, float, float, int, int]:
    """Mean over activation x initialisation pairs of ``column`` with L2 minus without, with a
    normal 95% interval from the cells' standard errors: ``(value, low, high, pairs, runs)``.

    ``runs`` has one row per run (``experiment``, ``activation``, ``initialisation``, ``column``).
    Without L2 is every experiment with l2 = 0; with L2 the largest l2 > 0 of that activation x
    initialisation. The interval is NaN when a cell has fewer than two runs.
    """
    l2 = _experiment_l2(section)
    runs = runs.assign(l2=runs["experiment"].map(l2).fillna(0.0))
    cells = runs.groupby(["activation", "initialisation", "l2"])[column].agg(["mean", "std", "count"]).reset_index()
    diffs, variances, n = [], [], 0
    for _, g in cells.groupby(["activation", "initialisation"]):
        off, on = g[g["l2"] == 0], g[g["l2"] > 0]
        if off.empty or on.empty:
            continue
        off, on = off.iloc[0], on.sort_values("l2").iloc[-1]
        diffs.append(on["mean"] - off["mean"])
        variances.append(sum(c["std"] ** 2 / c["count"] if c["count"] > 1 else math.nan for c in (on, off)))
        n += int(on["count"] + off["count"])
    if not diffs:
        return math.nan, math.nan, math.nan, 0, 0
    value = float(np.mean(diffs))
    var = np.asarray(variances, float)
    if not np.all(np.isfinite(var)):
        return value, math.nan, math.nan, len(diffs), n
    half = Z95 * math.sqrt(var.sum()) / len(diffs)
    return value, value - half, value + half, len(diffs), n


def _interval_verdict(value, low, high, n, **side) -> str:
    """threshold_verdict that needs an interval (a point value alone decides nothing here)."""
    if not (np.isfinite(low) and np.isfinite(high)):
        return INCONCLUSIVE
    return threshold_verdict(value, low, high, n=n, min_n=1, **side)


def _l2_experiment(section: dict) -> str | None:
    with_l2 = sorted(e for e, v in _experiment_l2(section).items() if v > 0)
    return with_l2[0] if with_l2 else None


def l2_claims(rows, section, estimator, role) -> list[Claim]:
    """L2 increases compression: one row per hidden layer."""
    out = []
    experiment = _l2_experiment(section)
    note = "" if experiment else " (no experiment with l2 > 0 in this config)"
    for layer, name in _hidden_layers(rows):
        sel = rows[(rows["estimator"] == estimator) & (rows["layer"] == layer)]
        value, low, high, pairs, n = l2_difference(sel, "compression_bits", section)
        out.append(_claim(
            f"s2_l2_increases_compression_{name}", _statement("l2"), estimator, role,
            f"compression (bits) of layer {name} with L2 minus without, mean over {pairs} activation x "
            f"initialisation pairs{note}", value, low, high, "ci_low > 0 ('significantly': the normal 95% "
            "interval from the cells' standard errors above 0; the paper: 'across network layers')", _interval_verdict(value, low, high, pairs, above=0.0), n,
            _figure(section, experiment, estimator)))
    return out


def overfitting_claim(rows, section) -> Claim:
    """L2 prevents overfitting: the train - test accuracy gap is smaller with L2."""
    runs = rows.drop_duplicates(["experiment", "run"])
    runs = runs.assign(gap=runs["train_acc"] - runs["test_acc"])
    value, low, high, pairs, n = l2_difference(runs, "gap", section)
    experiment = _l2_experiment(section)
    return Claim(
        STUDY, "s2_l2_prevents_overfitting", _statement("overfitting"),
        "train - test accuracy at the last epoch with L2 minus without, mean over "
        f"{pairs} activation x initialisation pairs"
        + ("" if experiment else " (no experiment with l2 > 0 in this config)"),
        value, low, high, "ci_high < 0 (normal interval from the cells' standard errors; overfitting read as "
        f"the train - test gap, both recorded by the reference code, {REFERENCE} idnns/networks/network.py "
        "lines 146-150)", _interval_verdict(value, low, high, pairs, below=0.0), n, "")


# ------------------------------------------------------------------------------------------
# generalisation


def _within_cells(part: pd.DataFrame) -> tuple[float, float, float, int]:
    groups = [(g["compression_bits"].to_numpy(), g["test_acc"].to_numpy()) for _, g in part.groupby(CELL)]
    return pooled_correlation(groups)


def not_positive_verdict(r, low, high, n) -> str:
    """"Not positively correlated": ``reproduced`` when the interval reaches 0 or below and stays
    below ``LARGE_R``; ``not reproduced`` when it lies wholly above 0; ``inconclusive`` when it
    straddles 0 but reaches ``LARGE_R``, or without an interval."""
    if n < MIN_CORRELATION_RUNS or not (np.isfinite(r) and np.isfinite(low) and np.isfinite(high)):
        return INCONCLUSIVE
    if low > 0:
        return NOT_REPRODUCED
    return REPRODUCED if high < LARGE_R else INCONCLUSIVE


def generalisation_claims(rows, section, estimator, role) -> list[Claim]:
    """Only the softmax output layer's compression correlates positively with test accuracy."""
    sel = rows[rows["estimator"] == estimator]
    output = sel[sel["layer_name"] == "output"]
    statement = _statement("generalisation")
    figure = _figure(section, None, estimator)
    softmax = f"the last layer = the softmax output ({REFERENCE} idnns/networks/network.py lines 80-81)"
    r, low, high, n = _within_cells(output)
    out = [_claim(
        "s2_output_compression_correlates", statement, estimator, role,
        "Pearson r across initialisations between the softmax output layer's compression and test "
        "accuracy, within activation x initialisation cells pooled by Fisher z", r, low, high,
        f"ci_low > 0; {softmax}",
        threshold_verdict(r, low, high, above=0.0, n=n, min_n=MIN_CORRELATION_RUNS), n, figure)]
    r, low, high, n = correlation_interval(output["compression_bits"], output["test_acc"])
    out.append(_claim(
        "s2_output_compression_correlates_raw", statement, estimator, role,
        "Pearson r between the softmax output layer's compression and test accuracy, all runs pooled "
        "into one correlation (Fisher-z interval; mixes cells)", r, low, high,
        f"ci_low > 0; {softmax}",
        threshold_verdict(r, low, high, above=0.0, n=n, min_n=MIN_CORRELATION_RUNS), n, figure,
        label="secondary: all runs pooled, the within-cell r decides"))
    for layer, name in _hidden_layers(rows):
        r, low, high, n = _within_cells(sel[sel["layer"] == layer])
        out.append(_claim(
            f"s2_{name}_compression_not_correlated", statement, estimator, role,
            f"Pearson r across initialisations between layer {name}'s compression and test accuracy, "
            "within activation x initialisation cells pooled by Fisher z (this layer only)",
            r, low, high, f"not positive: ci_low <= 0 and ci_high < {LARGE_R} (reproduced), ci_low > 0 "
            "(not reproduced), else inconclusive; our reading of 'only': a hidden layer's positive "
            "correlation counts against the claim",
            not_positive_verdict(r, low, high, n), n, figure))
    return out


# ------------------------------------------------------------------------------------------


def _mark_disagreements(claims: list[Claim], roles: dict[str, str | None]) -> list[Claim]:
    """Where an estimator-based claim has different verdicts under the two estimators, say so in
    both rows' criteria ("estimator-dependent")."""
    primary, secondary = roles["primary"], roles["secondary"]
    if primary is None or secondary is None:
        return claims
    ids = {c.claim: c for c in claims}
    out = []
    for claim in claims:
        for own, other in ((primary, secondary), (secondary, primary)):
            if claim.claim.endswith(f"_{own}"):
                twin = ids.get(claim.claim[: -len(own)] + other)
                if twin is not None and twin.verdict != claim.verdict:
                    verdicts = {own: claim.verdict, other: twin.verdict}
                    claim = dataclasses.replace(
                        claim, criterion=f"{claim.criterion}; estimator-dependent ({primary}: "
                                         f"{verdicts[primary]}, {secondary}: {verdicts[secondary]})")
                break
        out.append(claim)
    return out


def information_plane_claims(rows: pd.DataFrame, section: dict) -> list[Claim]:
    """Every claim of the study from the per-run compression table and the study's config
    section (``config["information_plane"]``)."""
    if rows.empty:
        raise ValueError("the compression table is empty: no estimates to judge the claims on")
    missing = sorted({"train_acc", "test_acc"} - set(rows.columns))
    if missing:
        raise ValueError(f"the compression table lacks columns {missing}: it must carry each run's final "
                         "train and test accuracy (rule compression_generalisation)")
    roles = _roles(rows, section)
    claims = []
    for builder in (compression_claim, activation_claim, spread_claim, l2_claims, generalisation_claims):
        for role, estimator in roles.items():
            got = builder(rows, section, estimator, role)
            claims += got if isinstance(got, list) else [got]
    claims.append(overfitting_claim(rows, section))
    return _mark_disagreements(claims, roles)
