"""Compression of each layer during training and its relation to generalisation (study S2).

Compression score of one run, layer and estimator: the drop of I(X;T) from its maximum over
the snapshots to its value at the last snapshot, in bits (0 when I(X;T) ends at its maximum);
it is taken after the maximum, so the rise of the early fitting phase does not count.
Generalisation of a run: its final test accuracy and its train-test accuracy gap.
Across the initialisations (seeds) of one activation x initialisation scheme, each layer's
compression is correlated with each generalisation measure (Pearson r with a Fisher-z 95%
interval, and Spearman's rho); Chelombiev et al. (2019) report that only the last layer's
compression correlates with generalisation. "The last layer" is the softmax output: the
reference code applies the softmax to the final layer before estimating its information
(ivansche/adaptive_estimators, ``idnns/networks/network.py`` lines 80-81). The table flags the
output layer (``output``) and, for the figures, the last hidden layer (``last_hidden``); the
claims (:mod:`layerinfo.infoplane.claims`) judge every layer on its own.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from layerinfo.claims import fisher_interval as pearson_interval

RUN_KEYS = ["study", "experiment", "activation", "initialisation", "seed", "run"]
CELL_KEYS = ["study", "experiment", "activation", "initialisation", "estimator", "method", "layer", "layer_name"]


def compression_scores(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per run x layer x estimator: ``I_XT_max_bits``, ``I_XT_final_bits``,
    ``compression_bits`` (max - final) and ``epoch_of_max``.

    ``rows`` is the per-run estimates table (``results/tables/information_plane_runs.csv``).
    """
    keys = [*RUN_KEYS, "estimator", "method", "layer", "layer_name", "units"]
    out = []
    for key, group in rows.groupby(keys, sort=True, dropna=False):
        group = group.sort_values("epoch")
        values = group["I_XT_bits"].to_numpy()
        peak = int(np.argmax(values))
        out.append({**dict(zip(keys, key)), "I_XT_max_bits": float(values[peak]),
                    "I_XT_final_bits": float(values[-1]),
                    "compression_bits": float(values[peak] - values[-1]),
                    "epoch_of_max": int(group["epoch"].iloc[peak]),
                    "final_epoch": int(group["epoch"].iloc[-1])})
    return pd.DataFrame(out)


def generalisation(history: pd.DataFrame) -> pd.DataFrame:
    """Final test accuracy, train accuracy and train - test gap of every run (last epoch)."""
    last = history.sort_values("epoch").groupby(["experiment", "run"], sort=True).tail(1)
    out = last[["experiment", "run", "test_acc", "train_acc"]].copy()
    out["generalisation_gap"] = out["train_acc"] - out["test_acc"]
    return out.reset_index(drop=True)


def _correlate(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    n = len(x)
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return {"r": math.nan, "r_low": math.nan, "r_high": math.nan, "r_p": math.nan, "spearman": math.nan}
    r, p = stats.pearsonr(x, y)
    low, high = pearson_interval(float(r), n)
    return {"r": float(r), "r_low": low, "r_high": high, "r_p": float(p),
            "spearman": float(stats.spearmanr(x, y).statistic)}


def compression_generalisation(scores: pd.DataFrame, general: pd.DataFrame) -> pd.DataFrame:
    """Per activation x initialisation x estimator x layer: mean compression over seeds (with
    standard error) and its correlation with test accuracy and with the generalisation gap."""
    merged = scores.merge(general, on=["experiment", "run"], how="inner", validate="many_to_one")
    out = []
    for key, group in merged.groupby(CELL_KEYS, sort=True, dropna=False):
        x = group["compression_bits"].to_numpy()
        n = len(x)
        row = {**dict(zip(CELL_KEYS, key)), "n_runs": n, "compression_bits_mean": float(x.mean()),
               "compression_bits_sem": float(x.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan,
               "test_acc_mean": float(group["test_acc"].mean()),
               "generalisation_gap_mean": float(group["generalisation_gap"].mean())}
        for target in ("test_acc", "generalisation_gap"):
            for name, value in _correlate(x, group[target].to_numpy()).items():
                row[f"{name}_{target}" if name != "r" else f"r_{target}"] = value
        out.append(row)
    frame = pd.DataFrame(out)
    # the last hidden layer of each run (the output layer is excluded), shown in the compression figure
    hidden = frame[frame["layer_name"] != "output"]
    last = hidden.groupby(["experiment", "activation", "initialisation", "estimator"])["layer"].transform("max")
    frame["last_hidden"] = False
    frame.loc[hidden.index, "last_hidden"] = hidden["layer"] == last
    # the softmax output layer: "the last layer" of the paper's abstract, where the claim is tested
    frame["output"] = frame["layer_name"] == "output"
    return frame
