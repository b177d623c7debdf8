"""The coding-scheme study's published findings, as far as the current code can test them.

van Meegen & Sompolinsky (2025): in the feature-learning regime a linear network forms an analog
code, a sigmoidal one a redundant code and a ReLU one a sparse code; in the lazy regime the
features stay random and there is no code; the posterior is sampled in the zero-temperature
limit (zero training error); the posterior-averaged kernel of feature learning aligns with the
task, the lazy one does not.

Statistics come from ``results/tables/coding_schemes.csv`` (one row per task x nonlinearity x
scaling). Criteria, fixed when the claims were written:

* scheme per nonlinearity (feature learning): the classifier's label of the pooled population
  equals the paper's scheme (our ``erf`` is odd, from -1 to 1, not the paper's 0-to-1 sigmoid);
* lazy: every lazy run is labelled ``none`` (the classifier has no such label yet, so this claim
  cannot come out until it does);
* zero temperature: the largest training MSE of the feature-learning runs is below 1e-3;
* alignment: kernel-target alignment of feature learning minus that of the lazy run, smallest
  over nonlinearities, above 0.
"""

from __future__ import annotations

import math

import pandas as pd

from layerinfo.claims import Claim, boolean_verdict, threshold_verdict

STUDY = "coding"
PAPER_SCHEMES = {"linear": "analog", "erf": "redundant", "sigmoid": "redundant", "relu": "sparse"}
MAX_TRAIN_MSE = 1e-3


def _figure(task: str, name: str) -> str:
    return f"figures/coding/{task}/{name}.png"


def task_claims(table: pd.DataFrame, task: str) -> list[Claim]:
    """The claims of one task."""
    rows = table[table["task"] == task]
    feature = rows[rows["scaling"] == "feature"].set_index("nonlinearity")
    lazy = rows[rows["scaling"] == "lazy"].set_index("nonlinearity")
    claims = []
    for nonlinearity, scheme in PAPER_SCHEMES.items():
        if nonlinearity not in feature.index:
            continue
        row = feature.loc[nonlinearity]
        caveat = " (our erf runs from -1 to 1; the paper's sigmoid from 0 to 1)" if nonlinearity == "erf" else ""
        claims.append(Claim(
            STUDY, f"s4_{nonlinearity}_{scheme}_{task}",
            f"In feature learning, {nonlinearity} networks form a {scheme} code{caveat}.",
            f"{task}: readout excess kurtosis of the pooled posterior (label: {row['scheme']}, "
            f"per chain: {row['scheme_per_chain']})",
            float(row["readout_excess_kurtosis"]), math.nan, math.nan, f"scheme == '{scheme}'",
            boolean_verdict(row["scheme"] == scheme), int(row["n_chains"]), _figure(task, "readout_weights")))
    if not lazy.empty:
        none = float((lazy["scheme"] == "none").mean())
        claims.append(Claim(
            STUDY, f"s4_lazy_no_code_{task}", "In the lazy regime the features are random: there is no code.",
            f"{task}: fraction of lazy runs labelled 'none' (labels: {', '.join(lazy['scheme'])})",
            none, math.nan, math.nan, "value == 1", boolean_verdict(none == 1.0), len(lazy),
            _figure(task, "activation_maps")))
    if not feature.empty:
        worst = float(feature["train_mse"].max())
        claims.append(Claim(
            STUDY, f"s4_zero_training_error_{task}",
            "The posterior is taken in the zero-temperature limit: zero training error.",
            f"{task}: largest training MSE after burn-in over feature-learning runs",
            worst, math.nan, math.nan, f"value < {MAX_TRAIN_MSE}",
            threshold_verdict(worst, below=MAX_TRAIN_MSE), len(feature), _figure(task, "traces")))
    both = feature.index.intersection(lazy.index)
    if len(both):
        gain = float((feature.loc[both, "kernel_alignment"] - lazy.loc[both, "kernel_alignment"]).min())
        claims.append(Claim(
            STUDY, f"s4_feature_kernel_aligns_{task}",
            "Feature learning aligns the posterior-averaged kernel with the task; the lazy kernel does not.",
            f"{task}: kernel-target alignment, feature learning minus lazy, smallest over "
            f"{len(both)} nonlinearities", gain, math.nan, math.nan, "value > 0",
            threshold_verdict(gain, above=0.0), len(both), _figure(task, "kernels")))
    return claims


def coding_claims(table: pd.DataFrame) -> list[Claim]:
    """Every claim of the study, task by task, from the schemes table."""
    return [claim for task in dict.fromkeys(table["task"]) for claim in task_claims(table, task)]
