"""Tidy tables: atomic CSV writing, aggregation over initialisations, training histories."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from layerinfo.h5io import atomic_path, open_activations

GROUP_COLUMNS = ["study", "experiment", "activation", "initialisation", "epoch", "layer", "layer_name",
                 "units", "estimator", "method", "params"]
VALUE_COLUMNS = ["I_XT_bits", "I_TY_bits"]
HISTORY_COLUMNS = ["train_loss", "train_acc", "test_loss", "test_acc"]


def write_csv(frame: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write a table as CSV under a temporary name, then rename it into place."""
    with atomic_path(path, ".csv") as tmp:
        frame.to_csv(tmp, index=False, float_format="%.10g")


def read_csvs(paths) -> pd.DataFrame:
    frames = [pd.read_csv(p) for p in paths]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def aggregate_over_seeds(rows: pd.DataFrame, values=VALUE_COLUMNS, by=GROUP_COLUMNS) -> pd.DataFrame:
    """Mean, standard error (ddof=1; NaN for a single seed) and count of ``values`` over seeds.

    Output columns: ``by``, then ``{value}_mean``, ``{value}_sem`` for each value, ``n_seeds``, and
    ``device`` (the devices of the group's rows, comma-separated) when ``rows`` has that column.
    """
    grouped = rows.groupby(list(by), sort=True, dropna=False)
    out = grouped[list(values)].agg(["mean", "std", "count"])
    result = out.index.to_frame(index=False)
    n = out[(values[0], "count")].to_numpy()
    for value in values:
        result[f"{value}_mean"] = out[(value, "mean")].to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            result[f"{value}_sem"] = out[(value, "std")].to_numpy() / np.sqrt(n)
    result["n_seeds"] = n
    if "device" in rows.columns:
        # where the seeds were computed (several if they ran on different devices)
        result["device"] = grouped["device"].agg(lambda d: ",".join(sorted(set(map(str, d))))).to_numpy()
    return result


def histories(paths) -> pd.DataFrame:
    """Training histories of several activation files: one row per run x epoch."""
    frames = []
    for path in paths:
        with open_activations(path) as f:
            hist = f.history()
            cfg = f.config
            frame = pd.DataFrame({k: hist[k] for k in ("epoch", *HISTORY_COLUMNS)})
            frame["device"] = str(f.attrs.get("device", ""))
            # uniform, unrecorded (older files) or "resumed on different arithmetic; not bit-identical"
            frame["arithmetic"] = f.arithmetic
            frame.insert(0, "seed", int(f.attrs.get("seed", -1)))
            frame.insert(0, "initialisation", cfg.get("initialisation", {}).get("name", ""))
            frame.insert(0, "activation", cfg.get("activation", ""))
            frame.insert(0, "run", cfg.get("run", ""))
            frame.insert(0, "experiment", cfg.get("experiment", ""))
            frames.append(frame)
    return pd.concat(frames, ignore_index=True)
