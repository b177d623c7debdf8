"""The resolution-and-relevance study's published findings, each measured and judged (DESIGN §6).

Song, Marsili & Jo (2018): across the layers of a trained deep belief network, relevance H[k]
against resolution H[s] has a maximum inside the network; the layer where the curve's slope is
-1 has Zipf-distributed state frequencies (rank-frequency exponent 1); and that layer is the one
that best generates training-like patterns.

Statistics come from ``results/tables/relevance.csv`` (the DBN's layers at the last snapshot,
measured on the training inputs) and ``relevance_generation.csv``. Criteria, fixed when the
claims were written (the Zipf layer's second condition added with the likelihood-ratio test,
before any table carrying it was seen):

* interior maximum: H[k] of the best interior hidden layer above the larger of H[k] at the two
  ends of the hidden stack (the first and the last hidden layer), in units of ln M. The pixel
  (visible) layer does not count: it is the data, not a representation, and the authors'
  driver (the stack ``structure=[500, ..., 2]``) computes H[s] and H[k] of the hidden layers
  only. Restricted to the hidden layers before the first run on MNIST images (earlier runs
  counted the pixel layer as one end);
* Zipf layer: the hidden layer whose local slope dH[k]/dH[s] is closest to -1 has a fitted
  exponent whose 95% bootstrap interval (k_min re-chosen in every resample) contains 1, AND the
  likelihood-ratio test against a lognormal (Clauset et al. 2009, §5) does not reject the power
  law: not rejected when p >= 0.1 or R >= 0, rejected when R < 0 and p < 0.1. ``reproduced``
  when both hold; ``not reproduced`` when the interval excludes 1 or the test rejects the power
  law; ``inconclusive`` when the layer has no fit, interval or test;
* best generator (fixed before the first run on MNIST images, replacing a classifier-confidence
  score that ignored diversity): each hidden layer's samples are judged for fidelity and
  coverage by improved precision and recall (Kynkäänniemi et al. 2019, NeurIPS,
  arXiv:1904.06991, §2: k-NN manifolds with k = 3; here in pixel space against as many training
  images as samples), combined as their harmonic mean F (our reading of "best": a layer must
  be both faithful and diverse, and the harmonic mean is low when either is low). Generated
  and real samples are resampled (bootstrap) and the layers ranked by F in each resample.
  ``reproduced`` when the Zipf layer ranks first in at least 95% of the resamples; ``not
  reproduced`` when another hidden layer does; ``inconclusive`` otherwise (no layer has that
  support, or the table has no bootstrap).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from layerinfo.claims import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, Claim, contains_verdict, threshold_verdict
from layerinfo.information.relevance import power_law_rejected

STUDY = "relevance"
LR_LEVEL = 0.1  # p below which (with R < 0) the lognormal rejects the power law
SUPPORT = 0.95  # bootstrap share of resamples in which a layer must rank first


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


def generator_verdict(support: pd.Series, layer: int | None) -> str:
    """Verdict of "layer ``layer`` generates best" from each hidden layer's bootstrap share of
    resamples in which it ranks first (index: layer)."""
    support = support.dropna()
    if layer is None or layer not in support.index:
        return INCONCLUSIVE
    if support[layer] >= SUPPORT:
        return REPRODUCED
    if (support.drop(index=layer) >= SUPPORT).any():
        return NOT_REPRODUCED
    return INCONCLUSIVE


def relevance_claims(table: pd.DataFrame, generation: pd.DataFrame) -> list[Claim]:
    """Every claim of the study from the relevance and generation tables."""
    final = _final_dbn(table)
    hidden = final[final.index > 0]
    value = math.nan
    interior = hidden.iloc[1:-1]
    if not interior.empty:
        ends = [hidden.index.min(), hidden.index.max()]
        value = float(interior["H_k_norm"].max() - hidden.loc[ends, "H_k_norm"].max())
    claims = [Claim(
        STUDY, "s1_relevance_interior_maximum",
        "Relevance H[k] against resolution H[s] across the layers has a maximum inside the network.",
        "max H[k]/ln M over the interior hidden layers minus the larger H[k]/ln M of the first and last "
        "hidden layer (the pixel layer does not count: the authors' driver computes hidden layers only)",
        value, math.nan, math.nan, "value > 0", threshold_verdict(value, above=0.0, n=len(interior)),
        len(hidden), "figures/relevance/relevance_curve.png")]

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
    support = gen["generation_first_support"] if "generation_first_support" in gen else pd.Series(dtype=float)
    value, leader, lead = math.nan, None, math.nan
    if not support.dropna().empty:
        leader = int(support.idxmax())
        lead = float(support[leader])
        if layer is not None and layer in support.index:
            value = float(support[layer])
    f = (lambda l: float(gen.loc[l, "generation_f"]) if l in gen.index and "generation_f" in gen else math.nan)
    claims.append(Claim(
        STUDY, "s1_zipf_layer_best_generator",
        "The Zipf layer is the layer whose RBM best generates training-like patterns.",
        f"share of bootstrap resamples in which layer {layer} (F = {f(layer):.3g}) ranks first among the hidden "
        "layers by F, the harmonic mean of improved precision and recall (Kynkäänniemi et al. 2019, k = 3, "
        f"pixel space; combination rule our reading); most often first: layer {leader} (share {lead:.3g}, "
        f"F = {f(leader):.3g})",
        value, math.nan, math.nan,
        f"reproduced: Zipf layer first in >= {SUPPORT:.0%} of resamples; not reproduced: another layer is; "
        "else inconclusive",
        generator_verdict(support, layer), len(gen), "figures/relevance/generated.png"))
    return claims
