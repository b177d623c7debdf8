"""Study S1: resolution and relevance of the layers of a deep belief network, Zipf's law, and
which layer generates best (Song, Marsili & Jo 2018, arXiv:1710.11324); plus the same measures
on every network of the information-plane study (S2) at every snapshot.

Files of the study (written here, read here and by :mod:`layerinfo.relevance.plots`):

* model ``.pt``: ``{"widths": LongTensor, **DBN.state_dict()}`` (load with ``weights_only=True``);
* states ``.npz``: ``epochs``, ``l{l}_e{epoch}`` (uint8, (n_train, units)) for every layer l
  (0 = the pixels thresholded at 1/2) and snapshot epoch on the training inputs, the same as
  ``test_l{l}_e{epoch}`` on the held-out inputs when there are any, ``errors_l{l}``
  (reconstruction error per epoch), ``n_train`` and ``schedule`` (the resolved training
  schedule as JSON);
* generated ``.npz``: ``layer_{l}`` (float, (n_samples, n_pixels)) samples generated from layer l.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os

import numpy as np
import pandas as pd
import torch

from layerinfo.datasets import read_dataset
from layerinfo.h5io import atomic_path, open_activations
from layerinfo.information.relevance import (
    binarise,
    layer_zipf,
    local_slopes,
    resolution_relevance,
    state_counts,
)
from layerinfo.progress import progress
from layerinfo.relevance.fidelity import bootstrap_first, precision_recall
from layerinfo.relevance.rbm import DBN, PCDSchedule, generate, train_dbn
from layerinfo.training import snapshot_epochs

log = logging.getLogger("layerinfo.relevance")

NETWORK = "dbn"
TABLE_COLUMNS = [
    "network", "split", "layer", "units", "epoch", "n_samples", "n_states", "H_s_norm", "H_k_norm", "H_s_nats",
    "H_k_nats", "slope_Hk_Hs", "zipf_exponent", "zipf_ci_low", "zipf_ci_high", "zipf_k_min", "zipf_n_tail",
    "zipf_ks_distance", "zipf_lr_R", "zipf_lr_normalised", "zipf_lr_p", "zipf_lognormal_mu", "zipf_lognormal_sigma",
    "zipf_status", "generation_precision", "generation_recall", "generation_f", "generation_f_low", "generation_f_high",
    "generation_first_support", "generation_score", "generation_score_se", "generation_nn_rms",
    "generation_class_entropy_bits",
]
GENERATION_COLUMNS = [c for c in TABLE_COLUMNS if c.startswith("generation_")]
TRAJECTORY_COLUMNS = [
    "study", "experiment", "run", "activation", "initialisation", "seed", "epoch", "layer", "layer_name", "units",
    "binarisation", "n_samples", "n_states", "H_s_norm", "H_k_norm", "slope_Hk_Hs",
]


def schedule_from_config(training: dict) -> PCDSchedule:
    """The :class:`~layerinfo.relevance.rbm.PCDSchedule` of the config section ``relevance.training``.

    ``protocol`` (``authors`` | ``hinton``, default ``hinton``) gives every key of
    :data:`~layerinfo.relevance.rbm.PROTOCOLS`; keys given in the section override it.
    """
    keys = {k: v for k, v in training.items() if k != "protocol"}
    return PCDSchedule.from_protocol(training.get("protocol", "hinton"), **keys)


def split_rows(section: dict, n_samples: int) -> int:
    """Number of training rows: ``train_samples`` of the section (the first rows), or all of them.

    The MNIST file holds the 60000 training images first, then the 10000 test images, so
    ``train_samples: 60000`` trains on (and measures the states of) the training images and
    keeps the test images apart.
    """
    n_train = section.get("train_samples")
    if n_train is None:
        return n_samples
    if not 2 <= int(n_train) <= n_samples:
        raise ValueError(f"relevance.train_samples must lie in 2..{n_samples} (the dataset's rows), got {n_train}")
    return int(n_train)


def _save_npz(arrays: dict, path) -> None:
    with atomic_path(path, ".npz") as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, **arrays)


def train_study(dataset_path, section: dict, model_out, states_out) -> None:
    """Train the DBN of the ``relevance`` config section and write its model and layer states.

    Layer 0 is the data thresholded at 1/2 (the visible layer's states); layers 1..L are the
    hidden layers, recorded at ``snapshot_epochs(epochs, snapshots.count)`` of their own training.
    The DBN trains on the first ``train_samples`` rows (:func:`split_rows`); the states of the
    remaining rows are recorded apart (``test_`` keys).
    """
    data = read_dataset(dataset_path)
    schedule = schedule_from_config(section["training"])
    log.info("training schedule: %s", json.dumps(dataclasses.asdict(schedule)))
    n_train = split_rows(section, len(data.inputs))
    epochs = snapshot_epochs(schedule.epochs, section["snapshots"]["count"])
    inputs = np.asarray(data.inputs)
    dbn, states, errors = train_dbn(inputs[:n_train], section["hidden_widths"], schedule, section["seed"], epochs,
                                    measure=inputs)
    arrays = {"epochs": epochs, "n_train": np.array(n_train),
              "schedule": np.array(json.dumps(dataclasses.asdict(schedule)))}
    visible = (inputs > 0.5).astype(np.uint8)
    prefixes = [("", slice(0, n_train))] + ([("test_", slice(n_train, None))] if n_train < len(inputs) else [])
    for prefix, rows in prefixes:
        for e in epochs:
            arrays[f"{prefix}l0_e{e}"] = visible[rows]
        for (layer, epoch), s in states.items():
            arrays[f"{prefix}l{layer}_e{epoch}"] = s[rows]
    for layer, err in errors.items():
        arrays[f"errors_l{layer}"] = np.asarray(err)
        log.info("RBM %d: reconstruction error %.4f -> %.4f per pixel", layer, err[0], err[-1])
    _save_npz(arrays, states_out)
    with atomic_path(model_out, ".pt") as tmp:
        torch.save({"widths": torch.tensor(dbn.widths), **dbn.state_dict()}, tmp)


def load_dbn(path) -> DBN:
    """Read a DBN written by :func:`train_study` (tensors only: ``weights_only=True``)."""
    state = torch.load(path, weights_only=True)
    dbn = DBN(state.pop("widths").tolist())
    dbn.load_state_dict(state)
    return dbn


def measure_states(states_path, n_bootstrap: int, seed: int) -> pd.DataFrame:
    """Resolution, relevance, Zipf fit and local slope of every layer at every snapshot.

    One row per split (``train``: the inputs the DBN was trained on; ``test``: the held-out
    inputs, when the states file has them), layer and snapshot epoch. The Zipf fit carries the
    likelihood-ratio test of the power law against a lognormal
    (:func:`~layerinfo.information.relevance.power_law_vs_lognormal`). The local slope
    dH[k]/dH[s] (:func:`~layerinfo.information.relevance.local_slopes`) is taken across the
    layers of one split and snapshot epoch.
    """
    rng = np.random.default_rng(seed)
    rows = []
    with np.load(states_path, allow_pickle=False) as f:
        epochs = f["epochs"].tolist()
        layers = sorted({int(k.split("_")[0][1:]) for k in f.files if k.startswith("l")})
        splits = [("train", "")] + ([("test", "test_")] if any(k.startswith("test_") for k in f.files) else [])
        for split, prefix in splits:
            for epoch in progress(epochs, desc=f"relevance measures ({split})"):
                for layer in layers:
                    s = f[f"{prefix}l{layer}_e{epoch}"]
                    counts = state_counts(s)
                    rr = resolution_relevance(s)
                    z = layer_zipf(counts, n_bootstrap=n_bootstrap, rng=rng)
                    rows.append({
                        "network": NETWORK, "split": split, "layer": layer, "units": s.shape[1],
                        "epoch": int(epoch), "n_samples": rr["n_samples"], "n_states": rr["n_states"],
                        "H_s_norm": rr["H_s_norm"], "H_k_norm": rr["H_k_norm"],
                        "H_s_nats": rr["H_s_nats"], "H_k_nats": rr["H_k_nats"],
                        "zipf_exponent": z["zipf_exponent"], "zipf_ci_low": z["zipf_ci_low"],
                        "zipf_ci_high": z["zipf_ci_high"], "zipf_k_min": z["k_min"], "zipf_n_tail": z["n_tail"],
                        "zipf_ks_distance": z["ks_distance"], "zipf_lr_R": z["lr_R"],
                        "zipf_lr_normalised": z["lr_normalised"], "zipf_lr_p": z["lr_p"],
                        "zipf_lognormal_mu": z["lognormal_mu"], "zipf_lognormal_sigma": z["lognormal_sigma"],
                        "zipf_status": z["zipf_status"],
                    })
    table = pd.DataFrame(rows)
    table["slope_Hk_Hs"] = np.nan
    for idx in table.groupby(["split", "epoch"]).groups.values():
        sub = table.loc[idx]
        table.loc[idx, "slope_Hk_Hs"] = local_slopes(sub["H_s_norm"].to_numpy(), sub["H_k_norm"].to_numpy())
    return table


def train_split(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``relevance.csv`` measured on the training inputs (all rows of older tables)."""
    return table[table["split"] == "train"] if "split" in table.columns else table


def nearest_rms(samples: np.ndarray, data: np.ndarray, exclude_self: bool = False,
                block_rows: int = 4096) -> np.ndarray:
    """RMS distance per pixel from each sample to its nearest data point, in blocks of data rows.

    sqrt(min_j ||x_i - d_j||² / n_pixels), with ||x - d||² = ||x||² + ||d||² - 2 x·d evaluated
    for ``block_rows`` data rows at a time, so memory is O(n_samples * block_rows) rather than
    O(n_samples * n_data) (a 2000 x 60000 float64 matrix would take 0.96 GB, 3.4 GB at the
    peak of the full expression).

    Parameters
    ----------
    samples : ndarray of shape (n_samples, n_pixels)
    data : ndarray of shape (n_data, n_pixels)
    exclude_self : bool
        Skip pair (i, i) (``samples`` are the first rows of ``data``: the nearest *other* point).
    block_rows : int
        Data rows per block (>= 1).

    Returns
    -------
    ndarray of shape (n_samples,), in pixel units (pixels in [0, 1]).
    """
    if block_rows < 1:
        raise ValueError(f"block_rows must be >= 1, got {block_rows}")
    samples = np.asarray(samples, dtype=np.float64)
    data = np.asarray(data)
    if samples.ndim != 2 or data.ndim != 2 or samples.shape[1] != data.shape[1]:
        raise ValueError(f"samples and data must be 2-d with equal widths, got {samples.shape} and {data.shape}")
    s2 = (samples ** 2).sum(1)
    best = np.full(len(samples), np.inf)
    for lo in range(0, len(data), block_rows):
        block = np.asarray(data[lo:lo + block_rows], dtype=np.float64)
        d2 = s2[:, None] + (block ** 2).sum(1)[None, :] - 2.0 * (samples @ block.T)
        if exclude_self:
            i = np.arange(max(lo, 0), min(lo + len(block), len(samples)))
            d2[i, i - lo] = np.inf
        np.minimum(best, d2.min(1), out=best)
    return np.sqrt(np.clip(best, 0.0, None) / data.shape[1])


def generation_scores(samples: np.ndarray, data: np.ndarray, classifier, confidence: float,
                      exclude_self: bool = False) -> dict[str, float]:
    """How well ``samples`` reproduce the training ``data``.

    * ``generation_score``: fraction of samples that the classifier trained on the data
      assigns to one class with probability > ``confidence`` (a recognisable digit), and
      ``generation_score_se``, its binomial standard error sqrt(p (1 - p) / n);
    * ``generation_nn_rms``: mean over samples of the RMS per-pixel distance to the nearest
      training sample (pixels in [0, 1]; lower is closer to the data);
    * ``generation_class_entropy_bits``: entropy of the predicted classes (log2(10) = 3.32 bits
      when every class is generated equally; low values flag a generator stuck on few digits).
    """
    samples = np.asarray(samples, dtype=np.float64)
    proba = classifier.predict_proba(samples)
    labels = proba.argmax(1)
    p = np.bincount(labels, minlength=proba.shape[1]) / len(labels)
    p = p[p > 0]
    score = float((proba.max(1) > confidence).mean())
    return {
        "generation_score": score,
        "generation_score_se": math.sqrt(score * (1 - score) / len(samples)),
        "generation_nn_rms": float(nearest_rms(samples, data, exclude_self).mean()),
        "generation_class_entropy_bits": float(-(p * np.log2(p)).sum()) + 0.0,
    }


def train_classifier(inputs: np.ndarray, labels: np.ndarray):
    """Multinomial logistic regression on the training data (the judge of generated samples)."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=2000, C=1.0).fit(np.asarray(inputs, dtype=np.float64), labels)


def generation_visible(section: dict) -> str:
    """``sample`` or ``mean_field``: ``generation.visible``, else the training's ``negative_visible``."""
    visible = section["generation"].get("visible") or schedule_from_config(section["training"]).negative_visible
    if visible not in ("sample", "mean_field"):
        raise ValueError(f"relevance.generation.visible: {visible!r} is not allowed; allowed values: sample, mean_field")
    return visible


def real_references(n_rows: int, n_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the real sample that generated samples are compared with, and a disjoint second one.

    Both hold ``min(n_samples, n_rows // 2)`` training rows drawn without replacement: as many
    real as generated samples (Kynkäänniemi et al. 2019 compare equal numbers; k-NN radii shrink
    as a set grows). The second set, scored like a generator, is the ceiling of precision and
    recall that real data reaches against real data.
    """
    n = min(int(n_samples), n_rows // 2)
    order = np.random.default_rng(seed).permutation(n_rows)
    return np.sort(order[:n]), np.sort(order[n:2 * n])


def generation_study(model_path, dataset_path, section: dict, samples_out) -> pd.DataFrame:
    """Run every layer's RBM as a generator and score its samples.

    The chains' visible units are sampled or mean-field as ``generation.visible`` says (by
    default as the training's negative chains were: :func:`generation_visible`). The decisive
    score is fidelity and coverage: improved precision and recall in pixel space against a real
    sample of training rows (:func:`real_references`; k = ``generation.k``), their harmonic mean
    F, and the share of ``generation.n_bootstrap`` resamples in which each hidden layer ranks
    first by F (:func:`~layerinfo.relevance.fidelity.bootstrap_first`). The earlier classifier
    score (:func:`generation_scores`) stays as a secondary column. Also scores two references:
    the training data itself (a disjoint real sample; nearest *other* sample) and a generator of
    independent pixels with the data's means. Writes the samples to ``samples_out`` and returns
    one row per source. The paper judges generated images by eye.
    """
    gen = section["generation"]
    dbn = load_dbn(model_path)
    data = read_dataset(dataset_path)
    n_train = split_rows(section, len(data.inputs))
    x = np.asarray(data.inputs[:n_train], dtype=np.float64)
    classifier = train_classifier(x, data.labels[:n_train])
    mean_field = generation_visible(section) == "mean_field"
    generator = torch.Generator().manual_seed(int(section["seed"]) + 1)
    rows, arrays = [], {}
    k = int(gen.get("k", 3))
    real_rows, second_rows = real_references(len(x), gen["n_samples"], int(section["seed"]) + 3)
    real = x[real_rows]

    def fidelity(samples):
        p, r = precision_recall(real, samples, k)
        return {"generation_precision": p, "generation_recall": r,
                "generation_f": 2 * p * r / (p + r) if p + r > 0 else 0.0}

    ref = x[: min(len(x), gen["n_samples"])]
    rows.append({"source": "data", "layer": -1, **fidelity(x[second_rows]),
                 **generation_scores(ref, x, classifier, gen["confidence"], True)})
    rng = np.random.default_rng(int(section["seed"]) + 2)
    independent = (rng.random((gen["n_samples"], x.shape[1])) < x.mean(0)).astype(np.float64)
    rows.append({"source": "independent_pixels", "layer": -1, **fidelity(independent),
                 **generation_scores(independent, x, classifier, gen["confidence"])})
    for layer in progress(range(1, len(dbn.rbms) + 1), desc="generate"):
        samples = generate(dbn, layer, gen["n_samples"], gen["gibbs_steps"], generator, mean_field)
        arrays[f"layer_{layer}"] = samples
        rows.append({"source": "layer", "layer": layer,
                     **generation_scores(samples, x, classifier, gen["confidence"])})
    ranked = bootstrap_first(real, {row["layer"]: arrays[f"layer_{row['layer']}"] for row in rows[2:]}, k,
                             int(gen.get("n_bootstrap", 200)), np.random.default_rng(int(section["seed"]) + 4))
    for row in rows[2:]:
        r = ranked[row["layer"]]
        row.update({"generation_precision": r["precision"], "generation_recall": r["recall"],
                    "generation_f": r["f"], "generation_f_low": r["f_low"], "generation_f_high": r["f_high"],
                    "generation_first_support": r["first_support"]})
        log.info("layer %d: precision %.3f recall %.3f F %.3f [%.3f, %.3f], first in %.1f%% of resamples",
                 row["layer"], r["precision"], r["recall"], r["f"], r["f_low"], r["f_high"], 100 * r["first_support"])
    _save_npz(arrays, samples_out)
    return pd.DataFrame(rows)


def relevance_table(measures: pd.DataFrame, generation: pd.DataFrame) -> pd.DataFrame:
    """``results/tables/relevance.csv``: measures, with the generation scores on the last snapshot."""
    table = measures.copy()
    if "split" not in table.columns:
        table["split"] = "train"
    gen = generation[generation["source"] == "layer"].set_index("layer")
    last = (table["epoch"] == table["epoch"].max()) & (table["split"] == "train")
    for column in GENERATION_COLUMNS:
        if column in gen.columns:
            table[column] = np.where(last, table["layer"].map(gen[column]), np.nan)
    for column in TABLE_COLUMNS:
        if column not in table.columns:
            table[column] = np.nan
    return table[TABLE_COLUMNS]


def relevance_summary(table: pd.DataFrame, generation: pd.DataFrame) -> pd.DataFrame:
    """One row per criterion: the Zipf layer (slope closest to -1; exponent closest to 1), the
    maximum of H[k], and the best generators, on the trained DBN (last snapshot).

    Only hidden layers are candidates; the visible layer (0) is a point of the curve, so it
    shapes the slope of the first hidden layer, but it is the data, not a representation.
    Measured on the training inputs (``split == "train"``).
    """
    table = train_split(table)
    final = table[table["epoch"] == table["epoch"].max()].set_index("layer")
    hidden = final[final.index > 0]
    rows = []

    def add(criterion, layer, value, comment=""):
        rows.append({"criterion": criterion, "layer": int(layer), "units": int(final.loc[layer, "units"]),
                     "value": float(value), "H_s_norm": final.loc[layer, "H_s_norm"],
                     "H_k_norm": final.loc[layer, "H_k_norm"], "comment": comment})

    slopes = hidden["slope_Hk_Hs"].dropna()
    if not slopes.empty:
        layer = (slopes + 1).abs().idxmin()
        far = abs(slopes[layer] + 1) > 0.5
        add("zipf_layer_slope_closest_to_-1", layer, slopes[layer],
            "no hidden layer has a local slope within 0.5 of -1" if far else "")
    exps = hidden["zipf_exponent"].dropna()
    if not exps.empty:
        layer = (exps - 1).abs().idxmin()
        inside = final.loc[layer, "zipf_ci_low"] <= 1 <= final.loc[layer, "zipf_ci_high"]
        lr = (f"; power law vs lognormal: R = {final.loc[layer, 'zipf_lr_R']:.3g}, p = {final.loc[layer, 'zipf_lr_p']:.3g}"
              if "zipf_lr_p" in final.columns else "")
        add("zipf_exponent_closest_to_1", layer, exps[layer],
            f"95% interval [{final.loc[layer, 'zipf_ci_low']:.3g}, {final.loc[layer, 'zipf_ci_high']:.3g}] "
            f"{'contains' if inside else 'excludes'} 1{lr}")
    add("max_relevance_H_k", hidden["H_k_norm"].idxmax(), hidden["H_k_norm"].max())
    gen = generation[generation["source"] == "layer"].set_index("layer")
    if not gen.empty and not hidden.empty:
        if "generation_f" in gen.columns:
            best = gen["generation_f"].idxmax()
            add("best_generator_f", best, gen.loc[best, "generation_f"],
                f"precision {gen.loc[best, 'generation_precision']:.3g}, recall {gen.loc[best, 'generation_recall']:.3g}, "
                f"first by F in {gen.loc[best, 'generation_first_support']:.0%} of bootstrap resamples")
        best = gen["generation_score"].idxmax()
        add("best_generator_score", best, gen.loc[best, "generation_score"])
        nearest = gen["generation_nn_rms"].idxmin()
        add("best_generator_nn_rms", nearest, gen.loc[nearest, "generation_nn_rms"])
    for source in ("data", "independent_pixels"):
        ref = generation[generation["source"] == source]
        if not ref.empty:
            rows.append({"criterion": f"reference_{source}_score", "layer": -1, "units": 0,
                         "value": float(ref["generation_score"].iloc[0]), "H_s_norm": np.nan, "H_k_norm": np.nan,
                         "comment": "the score of the training data itself" if source == "data"
                         else "independent pixels with the data's means"})
    return pd.DataFrame(rows)


def trajectories(paths) -> pd.DataFrame:
    """Resolution and relevance of every layer of every S2 run at every snapshot.

    States are the layer's activations binarised by
    :func:`~layerinfo.information.relevance.binarise` (unit on when t > phi(0), i.e. when its
    pre-activation is positive; the softmax output: above 1/n_classes). The slope
    dH[k]/dH[s] is taken across the layers of one snapshot.
    """
    frames = []
    for path in progress(list(paths), desc="relevance trajectories"):
        with open_activations(path) as f:
            cfg = f.config
            run = {"study": cfg.get("study", ""), "experiment": cfg.get("experiment", ""),
                   "run": cfg.get("run", os.path.basename(os.path.dirname(str(path)))),
                   "activation": cfg.get("activation", ""),
                   "initialisation": cfg.get("initialisation", {}).get("name", ""),
                   "seed": int(f.attrs.get("seed", -1))}
            rows = []
            for e, epoch in enumerate(f.epochs):
                for layer, spec in enumerate(f.layers):
                    t = f.activations(e, layer)
                    rr = resolution_relevance(binarise(t, spec["activation"]))
                    rows.append({**run, "epoch": int(epoch), "layer": layer, "layer_name": spec["name"],
                                 "units": spec["units"], "binarisation": f"t > {spec['activation']}(0)",
                                 "n_samples": rr["n_samples"], "n_states": rr["n_states"],
                                 "H_s_norm": rr["H_s_norm"], "H_k_norm": rr["H_k_norm"]})
            frame = pd.DataFrame(rows)
            frame["slope_Hk_Hs"] = np.nan
            for idx in frame.groupby("epoch").groups.values():
                sub = frame.loc[idx]
                frame.loc[idx, "slope_Hk_Hs"] = local_slopes(sub["H_s_norm"].to_numpy(), sub["H_k_norm"].to_numpy())
            frames.append(frame)
    return pd.concat(frames, ignore_index=True)[TRAJECTORY_COLUMNS]


def measure_study(states_path, generation_path, section: dict, table_out, summary_out) -> None:
    """Rule ``relevance_table``: the measures table and its summary."""
    from layerinfo.tables import write_csv

    generation = pd.read_csv(generation_path)
    table = relevance_table(measure_states(states_path, section["zipf"]["n_bootstrap"], section["seed"]), generation)
    summary = relevance_summary(table, generation)
    for row in summary.itertuples():
        log.info("%s: layer %d (%d units) value %.4g", row.criterion, row.layer, row.units, row.value)
    write_csv(table, table_out)
    write_csv(summary, summary_out)

