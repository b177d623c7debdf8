"""The resolution-and-relevance study's published findings, each measured and judged (DESIGN §6).

Song, Marsili & Jo (2018): across the layers of a trained deep belief network, relevance H[k]
against resolution H[s] has a maximum inside the network; the layer where the curve's slope is
-1 has Zipf-distributed state frequencies (rank-frequency exponent 1); and that layer is the one
that best generates training-like patterns.

Statistics come from ``results/tables/relevance.csv`` (the DBN's layers at the last snapshot,
measured on the training inputs) and ``relevance_generation.csv``. Criteria, fixed when the
claims were written (the Zipf layer's second condition added with the likelihood-ratio test,
before any table carrying it was seen):

* interior maximum: H[k] of the best hidden layer above the larger of H[k] at the two ends of
  the stack (the visible layer and the last hidden layer), in units of ln M;
* Zipf layer: the hidden layer whose local slope dH[k]/dH[s] is closest to -1 has a fitted
  exponent whose 95% bootstrap interval (k_min re-chosen in every resample) contains 1, AND the
  likelihood-ratio test against a lognormal (Clauset et al. 2009, §5) does not reject the power
  law: not rejected when p >= 0.1 or R >= 0, rejected when R < 0 and p < 0.1. ``reproduced``
  when both hold; ``not reproduced`` when the interval excludes 1 or the test rejects the power
  law; ``inconclusive`` when the layer has no fit, interval or test;
* best generator: that layer's generation score minus the best score of the other hidden
  layers, with a normal 95% interval from the binomial standard errors, above 0 (the
  generation score is this project's own measure; the paper judges samples by eye).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from layerinfo.claims import INCONCLUSIVE, NOT_REPRODUCED, Claim, contains_verdict, threshold_verdict
from layerinfo.information.relevance import power_law_rejected

STUDY = "relevance"
Z95 = 1.959963984540054
LR_LEVEL = 0.1  # p below which (with R < 0) the lognormal rejects the power law


def _final_dbn(table: pd.DataFrame) -> pd.DataFrame:
    dbn = table[table["network"] == "dbn"] if "network" in table.columns else table
    if "split" in dbn.columns:
        dbn = dbn[dbn["split"] == "train"]
    return dbn[dbn["epoch"] == dbn["epoch"].max()].set_index("layer").sort_index()


def zipf_layer(final: pd.DataFrame) -> int | None:
    """The hidden layer whose local slope of H[k] against H[s] is closest to -1."""
    slopes = final.loc[final.index > 0, "slope_Hk_Hs"].dropna()
    return None if slopes.empty else int((slopes + 1).abs().idxmin())


def zipf_verdict(exponent: float, low: float, high: float, lr_R: float, lr_p: float) -> str:
    """Verdict of the Zipf-layer claim: interval contains 1 AND the power law is not rejected.

    ``not reproduced`` as soon as either condition fails on a finite statistic;
    ``inconclusive`` when a statistic is missing and nothing has failed.
    """
    interval = contains_verdict(exponent, low, high, target=1.0)
    tested = np.isfinite(lr_R) and np.isfinite(lr_p)
    if interval == NOT_REPRODUCED or (tested and power_law_rejected(lr_R, lr_p, LR_LEVEL)):
        return NOT_REPRODUCED
    if interval == INCONCLUSIVE or not tested:
        return INCONCLUSIVE
    return interval


def relevance_claims(table: pd.DataFrame, generation: pd.DataFrame) -> list[Claim]:
    """Every claim of the study from the relevance and generation tables."""
    final = _final_dbn(table)
    hidden = final[final.index > 0]
    n_layers = len(final)
    ends = [final.index.min(), final.index.max()]
    interior = hidden.drop(index=[i for i in ends if i in hidden.index])
    value = math.nan
    if not interior.empty:
        value = float(interior["H_k_norm"].max() - final.loc[ends, "H_k_norm"].max())
    claims = [Claim(
        STUDY, "s1_relevance_interior_maximum",
        "Relevance H[k] against resolution H[s] across the layers has a maximum inside the network.",
        "max H[k]/ln M over interior layers minus the larger H[k]/ln M of the first and last layer",
        value, math.nan, math.nan, "value > 0", threshold_verdict(value, above=0.0, n=len(interior)),
        n_layers, "figures/relevance/relevance_curve.png")]

    layer = zipf_layer(final)
    exponent = low = high = lr_R = lr_p = math.nan
    if layer is not None:
        exponent, low, high = (float(final.loc[layer, c]) for c in ("zipf_exponent", "zipf_ci_low", "zipf_ci_high"))
        if {"zipf_lr_R", "zipf_lr_p"} <= set(final.columns):
            lr_R, lr_p = float(final.loc[layer, "zipf_lr_R"]), float(final.loc[layer, "zipf_lr_p"])
    slope = float(final.loc[layer, "slope_Hk_Hs"]) if layer is not None else math.nan
    claims.append(Claim(
        STUDY, "s1_zipf_layer_exponent",
        "The layer where the H[k]-H[s] curve has slope -1 shows Zipf's law: frequency ∝ 1/rank.",
        f"rank-frequency exponent of layer {layer} (slope {slope:.3g}, closest to -1), 95% bootstrap interval; "
        f"power law vs lognormal log-likelihood ratio R = {lr_R:.3g} nats, p = {lr_p:.3g}",
        exponent, low, high, f"ci_low <= 1 <= ci_high and not (R < 0 and p < {LR_LEVEL})",
        zipf_verdict(exponent, low, high, lr_R, lr_p),
        int(final.loc[layer, "zipf_n_tail"]) if layer is not None and "zipf_n_tail" in final else 0,
        "figures/relevance/rank_frequency.png"))

    gen = generation[generation["source"] == "layer"].set_index("layer")
    diff = low = high = math.nan
    if layer is not None and layer in gen.index and len(gen) > 1:
        others = gen.drop(index=layer)
        best = others["generation_score"].idxmax()
        diff = float(gen.loc[layer, "generation_score"] - others.loc[best, "generation_score"])
        se = math.hypot(gen.loc[layer, "generation_score_se"], others.loc[best, "generation_score_se"])
        if np.isfinite(se):
            low, high = diff - Z95 * se, diff + Z95 * se
    claims.append(Claim(
        STUDY, "s1_zipf_layer_best_generator",
        "The Zipf layer is the layer whose RBM best generates training-like patterns.",
        f"generation score of layer {layer} minus the best other hidden layer's (fraction of samples "
        "a digit classifier assigns with p > 0.9; our measure)",
        diff, low, high, "ci_low > 0", threshold_verdict(diff, low, high, above=0.0, n=len(gen), min_n=2),
        len(gen), "figures/relevance/generated.png"))
    return claims
