"""Posterior files of the coding-scheme study: one task x nonlinearity x scaling, several chains.

Sampled with :mod:`layerinfo.coding.langevin`, stored in HDF5 with format and version attributes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path

import h5py
import numpy as np

import layerinfo
from layerinfo.coding.tasks import one_hot, task_data
from layerinfo.coding.units import SCALINGS, layer_activities
from layerinfo.h5io import atomic_path, open_checked

log = logging.getLogger(__name__)

POSTERIOR_FORMAT = "layerinfo-posterior"
POSTERIOR_FORMAT_VERSION = 3  # 3: per-neuron traces for the convergence diagnostics


TRACES = ("step", "mse", "alignment", "weight2", "readout", "response", "zmax")


class PosteriorFileError(ValueError):
    """A posterior file is missing, unreadable, foreign, of another version or incomplete."""


def run_name(nonlinearity: str, scaling: str, width: int | None = None) -> str:
    """``relu-feature`` or, with a width, ``relu-feature-w400``."""
    return f"{nonlinearity}-{scaling}" + (f"-w{width}" if width is not None else "")


def sample_run(run: dict, output: str | os.PathLike, dataset_path: str | os.PathLike | None = None) -> Path:
    """Sample one run's posterior (``n_chains`` independent chains) and write its posterior file.

    Layout (``format="layerinfo-posterior"``, ``format_version=3``)::

        /                          attrs: format, format_version, complete, config (JSON), config_hash,
                                          seed, package_version, torch_version, device, created,
                                          sigma_a2_effective (the readout prior variance used)
        data/{x_train,labels_train,x_test,labels_test}
        chains/{k}/hidden/{l}      (S, N, fan_in) float32 posterior samples of layer l's weights
        chains/{k}/readout         (S, N, C) float32
        chains/{k}/trace_{step,mse,alignment,weight2}   every ``thin`` steps: training MSE,
                                   last-layer kernel-target alignment, mean squared hidden weight
        chains/{k}/trace_{readout,response,zmax}  every ``thin`` steps: readout draw (T, N, C),
                                   class-mean last-layer activity (T, N, C), largest |z_i| (T, N)

    Written under a temporary name and renamed when complete.
    """
    import torch  # the sampler's; reading a posterior file does not need it

    from layerinfo.coding.langevin import langevin_sample, readout_prior_variance

    x_tr, l_tr, x_te, l_te, n_classes = task_data(run, dataset_path)
    if run["nonlinearity"] == "linear" and (rank := int(np.linalg.matrix_rank(x_tr))) < len(l_tr):
        log.warning("task %s: a linear network cannot interpolate P = %d training inputs that span only "
                    "%d dimensions (input dimension N0 = %d), so the training error stays above zero: the "
                    "zero-temperature limit needs independent inputs (fewer n_train; for a dataset task, "
                    "normalise: length)", run["task"], len(l_tr), rank, x_tr.shape[1])
    y_tr = one_hot(l_tr, n_classes)
    prior, sampler = run["prior"], run["sampler"]
    sigma_a2 = readout_prior_variance(prior["sigma_a2"], len(l_tr), run["scaling"], prior["readout_scale_with_p"])
    chains = []
    for k in range(sampler["n_chains"]):
        generator = torch.Generator().manual_seed(int(np.random.SeedSequence([run["seed"], 1, k]).generate_state(1)[0]))
        chains.append(langevin_sample(
            x_tr, y_tr, nonlinearity=run["nonlinearity"], scaling=run["scaling"], width=run["width"],
            depth=run["task_spec"]["depth"], beta=sampler["beta"], sigma_w2=prior["sigma_w2"], sigma_a2=sigma_a2, step_size=sampler["step_size"],
            n_steps=sampler["n_steps"], burn_in=sampler["burn_in"], thin=sampler["thin"], generator=generator,
            desc=f"{run['task']} {run_name(run['nonlinearity'], run['scaling'], run['width'])} chain {k}"))
    output = Path(output)
    with atomic_path(output, ".h5") as tmp, h5py.File(tmp, "w") as f:
        f.attrs.update(format=POSTERIOR_FORMAT, format_version=POSTERIOR_FORMAT_VERSION, complete=False,
                       config=json.dumps(run, sort_keys=True), seed=run["seed"],
                       config_hash=hashlib.sha256(json.dumps(run, sort_keys=True).encode()).hexdigest()[:16],
                       package_version=layerinfo.__version__, torch_version=str(torch.__version__), device="cpu",
                       created=datetime.now(UTC).isoformat(timespec="seconds"),
                       sigma_a2_effective=sigma_a2)
        for name, value in (("x_train", x_tr), ("labels_train", l_tr), ("x_test", x_te), ("labels_test", l_te)):
            f.create_dataset(f"data/{name}", data=value)
        for k, chain in enumerate(chains):
            for l, w in enumerate(chain.hidden):
                f.create_dataset(f"chains/{k}/hidden/{l}", data=w.astype(np.float32), compression="gzip")
            f.create_dataset(f"chains/{k}/readout", data=chain.readout.astype(np.float32), compression="gzip")
            for name in TRACES:
                value = getattr(chain, f"trace_{name}")
                f.create_dataset(f"chains/{k}/trace_{name}", data=value, **({"compression": "gzip"} if value.ndim > 1 else {}))
        f.attrs["complete"] = True
    return output


class Posterior:
    """A posterior file in memory: ``config``, data arrays, and per chain ``hidden``/``readout``."""

    def __init__(self, path: Path, handle: h5py.File):
        self.path = path
        self.config = json.loads(handle.attrs["config"])
        self.sigma_a2 = float(handle.attrs["sigma_a2_effective"])
        self.data = {k: handle[f"data/{k}"][()] for k in handle["data"]}
        self.chains = []
        for k in sorted(handle["chains"], key=int):
            g = handle[f"chains/{k}"]
            self.chains.append({
                "hidden": [g[f"hidden/{l}"][()].astype(np.float64) for l in sorted(g["hidden"], key=int)],
                "readout": g["readout"][()].astype(np.float64),
                **{f"trace_{name}": g[f"trace_{name}"][()] for name in TRACES}})

    @property
    def n_classes(self) -> int:
        return self.chains[0]["readout"].shape[2]

    def layers(self, chain: int, x: np.ndarray) -> list[np.ndarray]:
        """Every hidden layer's activity, a list of ``(S, n_inputs, N)``, for one chain."""
        return layer_activities(self.chains[chain]["hidden"], np.asarray(x, dtype=np.float64),
                                self.config["nonlinearity"])

    def activity(self, chain: int, x: np.ndarray) -> np.ndarray:
        """Last hidden layer ``(S, n_inputs, N)`` of every sample of one chain."""
        return self.layers(chain, x)[-1]

    def outputs(self, chain: int, x: np.ndarray) -> np.ndarray:
        """Network outputs ``(S, n_inputs, C)`` of every sample of one chain."""
        h = self.activity(chain, x)
        return h @ self.chains[chain]["readout"] / h.shape[2] ** SCALINGS[self.config["scaling"]]


def read_posterior(path: str | os.PathLike) -> Posterior:
    """Read a posterior file, refusing a missing, foreign, other-version or incomplete one."""
    path = Path(path)
    with open_checked(path, POSTERIOR_FORMAT, POSTERIOR_FORMAT_VERSION, PosteriorFileError, "posterior") as handle:
        try:
            return Posterior(path, handle)
        except (KeyError, OSError, ValueError) as err:
            raise PosteriorFileError(f"{path}: malformed posterior file: {err}") from None
