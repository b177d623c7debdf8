"""Run the configured estimators over every snapshot and layer of an activation file."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import torch

from layerinfo.h5io import open_activations
from layerinfo.information import check_method, information_plane_many
from layerinfo.information.binning import ebab_lower_edge
from layerinfo.models import ACTIVATIONS
from layerinfo.progress import progress

log = logging.getLogger(__name__)

RUN_COLUMNS = ["study", "experiment", "run", "activation", "initialisation", "seed"]
ROW_COLUMNS = [*RUN_COLUMNS, "epoch", "layer", "layer_name", "units", "estimator", "method", "params",
               "I_XT_bits", "I_TY_bits", "device"]


def _natural_lower(layer_activation: str) -> float:
    if layer_activation == "softmax":
        return 0.0
    return ACTIVATIONS[layer_activation].lower


def estimator_params(spec: dict, layer_activation: str) -> tuple[str, dict]:
    """Method and full parameters of one configured estimator for one layer.

    EBAB's ``lower: null`` means the layer activation's natural lower edge
    (:func:`layerinfo.information.binning.ebab_lower_edge`).
    """
    method = spec["method"]
    params = check_method(method, {k: v for k, v in spec.items() if k != "method"})
    if method == "ebab" and params["lower"] is None:
        params["lower"] = ebab_lower_edge(_natural_lower(layer_activation))
    return method, params


@contextlib.contextmanager
def _torch_threads(n: int):
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _snapshot_values(t_layers: list[np.ndarray], labels: np.ndarray, requests: list[dict], device: str) -> list[dict]:
    return [information_plane_many(t, labels, request, device) for t, request in zip(t_layers, requests)]


def estimate_run(path: str | os.PathLike, estimators: dict[str, dict], device: str = "cpu",
                 workers: int = 1) -> pd.DataFrame:
    """One row per snapshot epoch x layer x estimator, with I(X;T) and I(T;Y) in bits.

    ``device`` (``"cpu"`` or ``"cuda"``) runs the KDE-family estimators there; it is recorded
    in the ``device`` column. ``workers`` snapshots are estimated at once, in threads
    (the arithmetic releases the interpreter lock), each with one torch thread; the
    values do not depend on ``workers``.

    Snapshots are read one (epoch, layer) slab at a time and at most ``2 * workers``
    snapshots are held at once, so memory does not grow with the number of epochs.
    """
    workers = max(1, int(workers))
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
        # Parameters depend on the layer's activation only: resolve them once per layer.
        requests = [
            {name: estimator_params(est, spec["activation"]) for name, est in estimators.items()}
            for spec in f.layers
        ]
        params_json = [{name: json.dumps(p, sort_keys=True) for name, (_, p) in r.items()} for r in requests]
        device_name = str(torch.device(device))
        rows = []

        def read(e: int) -> list[np.ndarray]:
            layers = [f.activations(e, layer) for layer in range(len(f.layers))]
            for layer, (t, spec) in enumerate(zip(layers, f.layers)):
                if not np.isfinite(t).all():
                    raise ValueError(
                        f"{path}: layer {layer} ({spec['name']}) has NaN or infinite activations at epoch "
                        f"{int(f.epochs[e])}; the training run diverged"
                    )
            return layers

        def collect(e: int, values: list[dict]) -> None:
            for layer, spec in enumerate(f.layers):
                for name, (method, _) in requests[layer].items():
                    rows.append({
                        **run, "epoch": int(f.epochs[e]), "layer": layer, "layer_name": spec["name"],
                        "units": spec["units"], "estimator": name, "method": method,
                        "params": params_json[layer][name],
                        "I_XT_bits": values[layer][name]["I_XT"], "I_TY_bits": values[layer][name]["I_TY"],
                        "device": device_name,
                    })

        epochs = progress(range(len(f.epochs)), desc=f"estimate {run['run']}")
        if workers == 1:
            for e in epochs:
                collect(e, _snapshot_values(read(e), f.labels, requests, device))
        else:
            # HDF5 reads stay in this thread; the estimates run in the pool, in order.
            with _torch_threads(1), ThreadPoolExecutor(workers) as pool:
                pending: deque = deque()
                for e in epochs:
                    pending.append((e, pool.submit(_snapshot_values, read(e), f.labels, requests, device)))
                    if len(pending) >= 2 * workers:
                        collect(*_result(pending.popleft()))
                while pending:
                    collect(*_result(pending.popleft()))
    return pd.DataFrame(rows, columns=ROW_COLUMNS)


def _result(item: tuple) -> tuple[int, list[dict]]:
    e, future = item
    return e, future.result()
