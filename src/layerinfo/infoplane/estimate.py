"""Run the configured estimators over every snapshot and layer of an activation file."""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing
import os
import sys

import numpy as np
import pandas as pd
import torch

from layerinfo.h5io import open_activations
from layerinfo.information import check_method, information_plane_many
from layerinfo.information.binning import activation_lower_edge
from layerinfo.progress import progress

log = logging.getLogger(__name__)

RUN_COLUMNS = ["study", "experiment", "run", "activation", "initialisation", "seed"]
ROW_COLUMNS = [*RUN_COLUMNS, "epoch", "layer", "layer_name", "units", "estimator", "method", "params",
               "I_XT_bits", "I_TY_bits", "device"]


def estimator_params(spec: dict, layer_activation: str) -> tuple[str, dict]:
    """Method and full parameters of one configured estimator for one layer.

    EBAB's ``lower: null`` means the layer activation's natural lower edge
    (:func:`layerinfo.information.binning.ebab_lower_edge`).
    """
    method = spec["method"]
    params = check_method(method, {k: v for k, v in spec.items() if k != "method"})
    if method == "ebab":
        # the layer's own activation sets the edge; recorded as ``lower`` in the table's params
        activation = params.pop("activation") or layer_activation
        if params["lower"] is None:
            params["lower"] = activation_lower_edge(activation)
    return method, params


def _snapshot_values(f, e: int, requests: list[dict], device: str) -> list[dict]:
    """Every requested estimator on every layer of snapshot ``e`` of an open activation file."""
    values = []
    for layer, (spec, request) in enumerate(zip(f.layers, requests)):
        t = f.activations(e, layer)
        if not np.isfinite(t).all():
            raise ValueError(
                f"{f.path}: layer {layer} ({spec['name']}) has NaN or infinite activations at epoch "
                f"{int(f.epochs[e])}; the training run diverged"
            )
        values.append(information_plane_many(t, f.labels, request, device))
    return values


# Each worker process opens the activation file once, read-only, after the fork.
_worker: dict = {}


def _worker_start(path: str, requests: list[dict]) -> None:
    torch.set_num_threads(1)
    stack = contextlib.ExitStack()
    _worker.update(stack=stack, file=stack.enter_context(open_activations(path)), requests=requests)


def _worker_snapshot(e: int) -> list[dict]:
    return _snapshot_values(_worker["file"], e, _worker["requests"], "cpu")


def parallel_workers(workers: int, device: str) -> int:
    """How many processes :func:`estimate_run` can use: forked workers need Linux and the CPU.

    Forking is safe here because the parent holds no open HDF5 file and no torch thread
    pool at that point; other start methods would re-run a Snakemake script's top level.
    """
    if workers <= 1 or torch.device(device).type != "cpu":
        return 1
    if sys.platform != "linux" or "fork" not in multiprocessing.get_all_start_methods():
        log.info("estimating in one process: parallel workers need Linux (fork)")
        return 1
    return workers


def estimate_run(path: str | os.PathLike, estimators: dict[str, dict], device: str = "cpu",
                 workers: int = 1) -> pd.DataFrame:
    """One row per snapshot epoch x layer x estimator, with I(X;T) and I(T;Y) in bits.

    ``device`` (``"cpu"`` or ``"cuda"``) runs the KDE-family estimators there; it is recorded
    in the ``device`` column. On the CPU (Linux), ``workers`` processes estimate snapshots
    in parallel, each with one torch thread; the values do not depend on ``workers``.

    Snapshots are read one (epoch, layer) slab at a time, so memory does not grow with the
    number of epochs.
    """
    with open_activations(path) as f:
        cfg = f.config
        run = {
            "study": cfg.get("study", ""),
            "experiment": cfg.get("experiment", ""),
            "run": cfg.get("run", os.path.basename(os.path.dirname(path))),
            "activation": cfg.get("activation", ""),
            "initialisation": cfg.get("initialisation", {}).get("name", ""),
            "seed": int(f.attrs.get("seed", -1)),
        }
        layers, epochs = f.layers, f.epochs
    # Parameters depend on the layer's activation only: resolve them once per layer.
    requests = [{name: estimator_params(est, spec["activation"]) for name, est in estimators.items()}
                for spec in layers]
    params_json = [{name: json.dumps(p, sort_keys=True) for name, (_, p) in r.items()} for r in requests]
    device_name = str(torch.device(device))
    rows = []
    with contextlib.ExitStack() as stack:
        n = parallel_workers(int(workers), device)
        if n > 1:
            pool = stack.enter_context(multiprocessing.get_context("fork").Pool(
                n, initializer=_worker_start, initargs=(str(path), requests)))
            results = pool.imap(_worker_snapshot, range(len(epochs)))
        else:
            f = stack.enter_context(open_activations(path))
            results = (_snapshot_values(f, e, requests, device) for e in range(len(epochs)))
        for e, values in enumerate(progress(results, desc=f"estimate {run['run']}", total=len(epochs))):
            for layer, spec in enumerate(layers):
                for name, (method, _) in requests[layer].items():
                    rows.append({
                        **run, "epoch": int(epochs[e]), "layer": layer, "layer_name": spec["name"],
                        "units": spec["units"], "estimator": name, "method": method,
                        "params": params_json[layer][name],
                        "I_XT_bits": values[layer][name]["I_XT"], "I_TY_bits": values[layer][name]["I_TY"],
                        "device": device_name,
                    })
    return pd.DataFrame(rows, columns=ROW_COLUMNS)
