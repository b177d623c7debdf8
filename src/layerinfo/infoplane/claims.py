"""The information-plane study's published findings, each measured and judged (DESIGN §6).

Chelombiev, Houghton & O'Donnell (ICLR 2019): with adaptive estimators, (1) compression occurs
in networks whose activations do not saturate (the ReLU family); (2) how much depends on the
activation; (3) it varies a lot across initialisations; (4) L2 regularisation increases it;
(5) only the compression of the last layer correlates with generalisation.

Every statistic is computed from the per-run compression table
(``results/tables/information_plane_compression.csv``: one row per run x layer x estimator with
``compression_bits`` = max - final I(X;T), ``I_XT_max_bits``, ``test_acc``). The criteria below
were fixed when the claims were written, before any run they judge:

* compression: relative compression of the last hidden layer, ``compression_bits /
  I_XT_max_bits``, mean over the ReLU-family runs, must exceed 5% with its whole 95% interval
  (the score is >= 0 by construction, so "> 0" would hold by noise alone);
* differences between activations: Kruskal–Wallis test of the last hidden layer's compression
  across activations, p < 0.05;
* spread across initialisations: median over activation x initialisation cells of the
  coefficient of variation across seeds > 0.5 (the s.d. is at least half the mean);
* L2: compression (last hidden layer) with L2 minus without, paired by activation x
  initialisation x estimator, mean over pairs with a normal 95% interval from the cells'
  standard errors, interval above 0;
* generalisation: Pearson r across seeds between a layer's compression and test accuracy,
  pooled over activation x initialisation cells by Fisher z; the output layer and the last
  hidden layer must have their interval above 0, the earlier hidden layers below 0.3.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from layerinfo.claims import (
    INCONCLUSIVE,
    Claim,
    mean_interval,
    pooled_correlation,
    threshold_verdict,
)

STUDY = "information_plane"
# Activations that do not saturate on both sides: the paper's "ReLU family" (and the smooth
# variants that share it).
RELU_FAMILY = ("relu", "elu", "prelu", "softplus", "softplus_centred", "swish")
# Estimators the paper calls adaptive: entropy-based adaptive binning and the adaptive KDE.
ADAPTIVE_METHODS = ("ebab", "akde")
MIN_COMPRESSION_FRACTION = 0.05
MAX_P_ACTIVATIONS = 0.05
MIN_SEED_CV = 0.5
MAX_EARLIER_R = 0.3


def _last_hidden(rows: pd.DataFrame) -> pd.DataFrame:
    hidden = rows[rows["layer_name"] != "output"]
    last = hidden.groupby(["experiment", "run", "estimator"])["layer"].transform("max")
    return hidden[hidden["layer"] == last]


def _experiment_l2(section: dict) -> dict[str, float]:
    base = float(section.get("training", {}).get("l2", 0.0))
    return {name: float((exp.get("training") or {}).get("l2", base))
            for name, exp in section.get("experiments", {}).items()}


def _figure(section: dict, experiment: str | None, estimator: str) -> str:
    experiment = experiment or next(iter(section.get("experiments", {})), "main")
    return f"figures/{STUDY}/{experiment}/compression/{estimator}.png"


def _primary_estimator(rows: pd.DataFrame) -> str | None:
    """EBAB if it ran, else the first adaptive estimator, else the first estimator."""
    estimators = list(dict.fromkeys(rows["estimator"]))
    methods = dict(zip(rows["estimator"], rows["method"]))
    for wanted in ("ebab", "akde"):
        for name in estimators:
            if methods[name] == wanted:
                return name
    return estimators[0] if estimators else None


def compression_claims(rows: pd.DataFrame, section: dict) -> list[Claim]:
    """Claims (1) per adaptive estimator: compression without saturation."""
    out = []
    base = _last_hidden(rows[rows["activation"].isin(RELU_FAMILY)])
    for estimator in dict.fromkeys(rows.loc[rows["method"].isin(ADAPTIVE_METHODS), "estimator"]):
        sel = base[base["estimator"] == estimator]
        with np.errstate(divide="ignore", invalid="ignore"):
            fraction = (sel["compression_bits"] / sel["I_XT_max_bits"]).to_numpy()
        value, low, high, n = mean_interval(fraction)
        out.append(Claim(
            STUDY, f"s2_compression_without_saturation_{estimator}",
            "Networks whose activations do not saturate (ReLU family) compress: I(X;T) falls after "
            "its peak.",
            f"{estimator}: (max - final) / max of I(X;T) of the last hidden layer, mean over "
            f"ReLU-family runs ({', '.join(sorted(set(sel['activation'])))})",
            value, low, high, f"ci_low > {MIN_COMPRESSION_FRACTION}",
            threshold_verdict(value, low, high, above=MIN_COMPRESSION_FRACTION, n=n, min_n=2), n,
            _figure(section, None, estimator)))
    return out


def activation_claim(rows: pd.DataFrame, section: dict, estimator: str) -> Claim:
    """Claim (2): compression differs between activations (Kruskal–Wallis)."""
    sel = _last_hidden(rows[rows["estimator"] == estimator])
    groups = [g["compression_bits"].to_numpy() for _, g in sel.groupby("activation")]
    groups = [g for g in groups if len(g) >= 2]
    p, n = math.nan, int(sum(len(g) for g in groups))
    if len(groups) >= 2 and np.ptp(np.concatenate(groups)) > 0:
        p = float(stats.kruskal(*groups).pvalue)
    verdict = threshold_verdict(p, below=MAX_P_ACTIVATIONS) if len(groups) >= 2 else INCONCLUSIVE
    return Claim(STUDY, "s2_compression_differs_between_activations",
                 "How much a network compresses depends on its activation function.",
                 f"{estimator}: Kruskal-Wallis p value of the last hidden layer's compression (bits) "
                 f"across {len(groups)} activations", p, math.nan, math.nan, f"value < {MAX_P_ACTIVATIONS}",
                 verdict, n, _figure(section, None, estimator))


def spread_claim(rows: pd.DataFrame, section: dict, estimator: str) -> Claim:
    """Claim (3): compression varies a lot across initialisations."""
    sel = _last_hidden(rows[rows["estimator"] == estimator])
    cvs = []
    for _, g in sel.groupby(["experiment", "activation", "initialisation"]):
        x = g["compression_bits"].to_numpy()
        if len(x) >= 3 and x.mean() > 0:
            cvs.append(float(x.std(ddof=1) / x.mean()))
    value = float(np.median(cvs)) if cvs else math.nan
    return Claim(STUDY, "s2_spread_across_initialisations",
                 "Compression varies strongly from one initialisation to another.",
                 f"{estimator}: median over activation x initialisation cells of the coefficient of "
                 f"variation across seeds of the last hidden layer's compression ({len(cvs)} cells "
                 "with >= 3 seeds)", value, math.nan, math.nan, f"value > {MIN_SEED_CV}",
                 threshold_verdict(value, above=MIN_SEED_CV, n=len(cvs), min_n=1), len(cvs),
                 _figure(section, None, estimator))


def l2_claim(rows: pd.DataFrame, section: dict) -> Claim:
    """Claim (4): L2 increases compression, paired by activation x initialisation x estimator."""
    l2 = _experiment_l2(section)
    sel = _last_hidden(rows)
    sel = sel.assign(l2=sel["experiment"].map(l2).fillna(0.0))
    cells = sel.groupby(["activation", "initialisation", "estimator", "l2"])["compression_bits"]
    stats_ = cells.agg(["mean", "std", "count"]).reset_index()
    diffs, variances, n = [], [], 0
    for key, g in stats_.groupby(["activation", "initialisation", "estimator"]):
        off, on = g[g["l2"] == 0], g[g["l2"] > 0]
        if off.empty or on.empty:
            continue
        off, on = off.iloc[0], on.sort_values("l2").iloc[-1]
        diffs.append(on["mean"] - off["mean"])
        variances.append((on["std"] ** 2 / on["count"] if on["count"] > 1 else math.nan)
                         + (off["std"] ** 2 / off["count"] if off["count"] > 1 else math.nan))
        n += int(on["count"] + off["count"])
    value = low = high = math.nan
    if diffs:
        value = float(np.mean(diffs))
        var = np.asarray(variances, float)
        if np.all(np.isfinite(var)):
            half = 1.959963984540054 * math.sqrt(var.sum()) / len(diffs)
            low, high = value - half, value + half
    with_l2 = sorted(e for e, v in l2.items() if v > 0)
    return Claim(STUDY, "s2_l2_increases_compression",
                 "L2 regularisation increases compression.",
                 "compression (bits) of the last hidden layer with L2 minus without, mean over "
                 f"{len(diffs)} activation x initialisation x estimator pairs"
                 + ("" if with_l2 else " (no experiment with l2 > 0 in this config)"),
                 value, low, high, "ci_low > 0", threshold_verdict(value, low, high, above=0.0, n=len(diffs)),
                 n, _figure(section, with_l2[0] if with_l2 else None, _primary_estimator(rows) or ""))


def _layer_correlation(rows: pd.DataFrame, estimator: str, which: str):
    sel = rows[rows["estimator"] == estimator]
    hidden = sel["layer_name"] != "output"
    last = sel[hidden].groupby(["experiment", "run"])["layer"].transform("max")
    is_last = pd.Series(False, index=sel.index)
    is_last[last.index] = sel.loc[last.index, "layer"] == last
    pick = {"output": sel["layer_name"] == "output", "last_hidden": is_last,
            "earlier": hidden & ~is_last}[which]
    part = sel[pick]
    # one group per cell and layer: the correlation is across the seeds of one setting
    groups = [(g["compression_bits"].to_numpy(), g["test_acc"].to_numpy())
              for _, g in part.groupby(["experiment", "activation", "initialisation", "layer"])]
    return pooled_correlation(groups)


def generalisation_claims(rows: pd.DataFrame, section: dict, estimator: str) -> list[Claim]:
    """Claim (5): only the last layer's compression correlates with generalisation."""
    out = []
    statement = "Only the compression of the last layer correlates (positively) with generalisation."
    for which, claim, description in (
            ("output", "s2_output_layer_compression_correlates", "the softmax output layer"),
            ("last_hidden", "s2_last_hidden_compression_correlates", "the last hidden layer")):
        r, low, high, n = _layer_correlation(rows, estimator, which)
        out.append(Claim(STUDY, claim, statement,
                         f"{estimator}: Pearson r across seeds between {description}'s compression and "
                         "test accuracy, pooled over cells (Fisher z)", r, low, high, "ci_low > 0",
                         threshold_verdict(r, low, high, above=0.0, n=n, min_n=4), n,
                         _figure(section, None, estimator)))
    r, low, high, n = _layer_correlation(rows, estimator, "earlier")
    out.append(Claim(STUDY, "s2_earlier_layers_compression_uncorrelated", statement,
                     f"{estimator}: the same r for the earlier hidden layers, pooled over cells and layers",
                     r, low, high, f"ci_high < {MAX_EARLIER_R}",
                     threshold_verdict(r, low, high, below=MAX_EARLIER_R, n=n, min_n=4), n,
                     _figure(section, None, estimator)))
    return out


def information_plane_claims(rows: pd.DataFrame, section: dict) -> list[Claim]:
    """Every claim of the study from the per-run compression table and the study's config
    section (``config["information_plane"]``)."""
    estimator = _primary_estimator(rows)
    if estimator is None:
        raise ValueError("the compression table is empty: no estimates to judge the claims on")
    return [*compression_claims(rows, section), activation_claim(rows, section, estimator),
            spread_claim(rows, section, estimator), l2_claim(rows, section),
            *generalisation_claims(rows, section, estimator)]
