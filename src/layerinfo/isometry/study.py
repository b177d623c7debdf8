"""The tables of study S3 from the ``isometry`` config section.

``meanfield_table``: the phase diagram; ``critical_line``: sigma_w with chi_1 = 1 per sigma_b;
``jacobian_table``: Jacobian spectra of random deep nets; ``information_table``: mutual
information between the inputs and each layer (measured, linearised, mean field);
``training_runs``: run configurations of the networks trained from each initialisation.
"""

from __future__ import annotations

import copy
import logging
import math

import numpy as np
import pandas as pd
import torch

from layerinfo.information.kde import kernel_information
from layerinfo.isometry import meanfield as mf
from layerinfo.isometry.networks import (
    gaussian_channel_bits,
    jacobian_singular_values,
    layer_outputs,
    linearised_information,
    random_layers,
    spectrum_statistics,
)
from layerinfo.progress import progress

log = logging.getLogger(__name__)

STUDY = "isometry"
CRITICAL = "critical"


def sigma_w_values(values, phi: str, sigma_b: float, q0: float = 1.0) -> list[tuple[float, bool]]:
    """Numbers stay; ``"critical"`` becomes the sigma_w with chi_1 = 1. Returns (sigma_w, is_critical)."""
    out = []
    critical = None
    for v in values:
        if v == CRITICAL:
            if critical is None:
                critical = mf.critical_sigma_w(phi, sigma_b, q0)
                if not math.isfinite(critical):
                    raise ValueError(f"{phi} with sigma_b={sigma_b} has no critical sigma_w in (0.05, 20)")
            out.append((critical, True))
        else:
            out.append((float(v), False))
    return out


def _grid(spec: dict) -> np.ndarray:
    return np.linspace(spec["min"], spec["max"], int(spec["count"]))


def meanfield_table(section: dict) -> pd.DataFrame:
    """One row per nonlinearity x sigma_b x sigma_w with q*, c*, chi_1, chi_q, chi_c, xi_q, xi_c, phase."""
    spec = section["meanfield"]
    points, q0 = int(spec["quadrature_points"]), float(spec["input_length"])
    cells = [(phi, sb, sw) for phi in spec["nonlinearities"] for sb in spec["sigma_b"] for sw in _grid(spec["sigma_w"])]
    rows = []
    for phi, sb, sw in progress(cells, desc="mean-field phase diagram", total=len(cells)):
        rows.append({"nonlinearity": phi, "sigma_w": float(sw), "sigma_b": float(sb),
                     **mf.phase_point(phi, float(sw), float(sb), q0, points)})
    return pd.DataFrame(rows)


def critical_line(section: dict) -> pd.DataFrame:
    """sigma_w on chi_1 = 1 for each nonlinearity and a fine grid of sigma_b, with q* there
    (:func:`~layerinfo.isometry.meanfield.critical_line_many`, all sigma_b at once)."""
    spec = section["meanfield"]
    points, q0 = int(spec["quadrature_points"]), float(spec["input_length"])
    sigma_bs = np.linspace(0.0, max(spec["sigma_b"]), 11)
    rows = []
    for phi in spec["nonlinearities"]:
        sigma_w, q_star = mf.critical_line_many(phi, sigma_bs, q0, points)
        rows += [{"nonlinearity": phi, "sigma_b": float(sb), "sigma_w_critical": float(sw), "q_star": float(q)}
                 for sb, sw, q in zip(sigma_bs, sigma_w, q_star)]
    return pd.DataFrame(rows)


def input_variance(value, phi: str, sigma_w: float, sigma_b: float) -> float:
    """A number, or for ``"fixed_point"`` the input variance that puts q^1 at q* (0 if q* is 0 or infinite)."""
    if value != "fixed_point":
        return float(value)
    q = mf.fixed_point_q(phi, sigma_w, sigma_b)
    if not math.isfinite(q):
        return 1.0
    return max(q - sigma_b**2, 0.0) / sigma_w**2


def _network_cells(section: dict):
    phi, sigma_b = section["nonlinearity"], float(section["sigma_b"])
    nets = section["networks"]
    for init in nets["inits"]:
        for sigma_w, critical in sigma_w_values(nets["sigma_w"], phi, sigma_b):
            for seed in nets["seeds"]:
                yield init, sigma_w, critical, int(seed)


def jacobian_table(section: dict, device: str = "cpu") -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Spectrum statistics per init x sigma_w x depth x seed x input point, and the spectra.

    Inputs are drawn with per-unit variance ``input_variance``; ``"fixed_point"`` puts the
    first pre-activations at the length fixed point q* (input variance (q* - sigma_b^2) /
    sigma_w^2, as in Pennington et al. 2017), so that every layer sits at q*. The spectra
    dictionary maps ``"{init}/{sigma_w:.6g}/{depth}"`` to all singular values pooled over
    seeds and inputs. ``device`` (``"cpu"`` or ``"cuda"``) is where the networks run; it is
    recorded in the ``device`` column.
    """
    phi, sigma_b = section["nonlinearity"], float(section["sigma_b"])
    spec = section["networks"]["jacobian"]
    width, depths = int(spec["width"]), sorted(int(d) for d in spec["depths"])
    cells = list(_network_cells(section))
    rows, spectra = [], {}
    for init, sigma_w, critical, seed in progress(cells, desc="Jacobian spectra", total=len(cells)):
        generator = torch.Generator().manual_seed(seed)
        layers = random_layers(max(depths), width, init, sigma_w, sigma_b, generator, device)
        variance = input_variance(spec["input_variance"], phi, sigma_w, sigma_b)
        for point in range(int(spec["inputs"])):
            x = math.sqrt(variance) * torch.randn(width, generator=generator, dtype=torch.float64)
            for depth, s in jacobian_singular_values(layers, phi, x.to(device), depths).items():
                s = s.cpu().numpy()
                key = f"{init}/{sigma_w:.6g}/{depth}"
                spectra[key] = np.concatenate([spectra.get(key, np.empty(0)), s])
                rows.append({"init": init, "nonlinearity": phi, "sigma_w": sigma_w, "critical": critical,
                             "sigma_b": sigma_b, "depth": depth, "width": width, "seed": seed, "input": point,
                             **spectrum_statistics(s), "device": str(torch.device(device))})
    return pd.DataFrame(rows), spectra


def mean_field_information(phi: str, sigma_w: float, sigma_b: float, width: int, input_std: float,
                           noise_std: float, depths, points: int = 40) -> dict[int, float]:
    """The ordinary mean-field prediction of I(x; a^L + noise) in bits.

    Mean field knows one number per layer, chi_1(q^l) = sigma_w^2 E[phi'(sqrt(q^l) z)^2]
    along the length map from q^1 = sigma_w^2 input_std^2 + sigma_b^2; it takes every
    squared singular value of J equal to their mean prod_l chi_1(q^l):
    I = width/2 log2(1 + (input_std^2 / noise_std^2) prod_l chi_1(q^l)).
    It cannot tell Gaussian from orthogonal weights, which have the same mean but not the
    same spread of singular values.
    """
    q = mf.length_trajectory(phi, sigma_w, sigma_b, sigma_w**2 * input_std**2 + sigma_b**2, max(depths),
                             points=points)
    gains = np.cumprod([mf.chi_1(phi, sigma_w, float(ql), points) for ql in q])
    snr = input_std**2 / noise_std**2
    return {int(d): width * 0.5 * math.log2(1.0 + snr * gains[int(d) - 1]) for d in depths}


def information_table(section: dict, device: str = "cpu") -> pd.DataFrame:
    """I(x; a^L + noise) in bits per init x sigma_w x depth x seed x method.

    Methods: ``kde_upper`` / ``kde_lower`` (the project's Kolchinsky–Tracey estimators on
    ``samples`` inputs of the nonlinear network, noise variance noise_std^2: X uniform over
    those inputs, so at most log2(samples) bits), ``linearised`` (closed form of the channel
    linearised at each of the first ``linearisation_points`` inputs, averaged) and
    ``mean_field`` (:func:`mean_field_information`, the same for both inits). ``device``
    (``"cpu"`` or ``"cuda"``) is where the networks and the KDE run; column ``device``.
    """
    phi, sigma_b = section["nonlinearity"], float(section["sigma_b"])
    spec = section["networks"]["information"]
    width, depths = int(spec["width"]), sorted(int(d) for d in spec["depths"])
    input_std, noise_std, n = float(spec["input_std"]), float(spec["noise_std"]), int(spec["samples"])
    cells = list(_network_cells(section))
    rows = []
    base = {"nonlinearity": phi, "sigma_b": sigma_b, "width": width, "input_std": input_std,
            "noise_std": noise_std, "samples": n, "device": str(torch.device(device))}
    mean_field = {}
    for init, sigma_w, critical, seed in progress(cells, desc="channel information", total=len(cells)):
        generator = torch.Generator().manual_seed(seed)
        layers = random_layers(max(depths), width, init, sigma_w, sigma_b, generator, device)
        x = input_std * torch.randn(n, width, generator=generator, dtype=torch.float64).to(device)
        cell = {"init": init, "sigma_w": sigma_w, "critical": critical, "seed": seed}
        labels = np.zeros(n, dtype=np.int64)
        for depth, t in layer_outputs(layers, phi, x, depths).items():
            upper, lower = kernel_information(t.cpu().numpy(), labels, [2 * noise_std**2, 8 * noise_std**2], device)
            rows.append({**cell, "depth": depth, "method": "kde_upper", "I_bits": upper["I_XT"], **base})
            rows.append({**cell, "depth": depth, "method": "kde_lower", "I_bits": lower["I_XT"], **base})
        points = [linearised_information(layers, phi, x[k], input_std, noise_std, depths)
                  for k in range(int(spec["linearisation_points"]))]
        for depth in depths:
            value = float(np.mean([p[depth] for p in points]))
            rows.append({**cell, "depth": depth, "method": "linearised", "I_bits": value, **base})
        if sigma_w not in mean_field:
            mean_field[sigma_w] = mean_field_information(phi, sigma_w, sigma_b, width, input_std, noise_std, depths)
        for depth in depths:
            rows.append({**cell, "depth": depth, "method": "mean_field", "I_bits": mean_field[sigma_w][depth], **base})
    isometric = {d: gaussian_channel_bits(np.ones(width), input_std**2 / noise_std**2) for d in depths}
    frame = pd.DataFrame(rows)
    frame["I_isometric_linear_bits"] = frame["depth"].map(isometric)
    return frame


def training_runs(section: dict) -> list[dict]:
    """Resolved run configurations (as :func:`layerinfo.training.train_runs` takes them), one per init x seed."""
    phi, sigma_b = section["nonlinearity"], float(section["sigma_b"])
    spec = section["training"]
    runs = []
    for name, init in spec["initialisations"].items():
        sigma_w, _ = sigma_w_values([init["sigma_w"]], phi, sigma_b)[0]
        if init["scheme"] == "gaussian":
            resolved = {"name": name, "scheme": "gaussian", "sigma_w": sigma_w, "sigma_b": sigma_b}
        else:
            resolved = {"name": name, "scheme": "orthogonal", "gain": sigma_w, "sigma_b": sigma_b}
        for seed in spec["seeds"]:
            runs.append({
                "study": STUDY,
                "experiment": "trained",
                "run": f"{phi}-{name}-s{int(seed)}",
                "dataset": copy.deepcopy(spec["dataset"]),
                "architecture": {"hidden_widths": [int(spec["width"])] * int(spec["depth"])},
                "activation": phi,
                "initialisation": resolved,
                "seed": int(seed),
                "training": copy.deepcopy(spec["optimisation"]),
                "snapshots": copy.deepcopy(spec["snapshots"]),
            })
    return runs


def write_spectra(spectra: dict[str, np.ndarray], path, device: str = "cpu") -> None:
    """Jacobian spectra as ``.npz`` (one array per init/sigma_w/depth, and the string ``device``
    they were computed on), written atomically."""
    from layerinfo.h5io import atomic_path

    with atomic_path(path, ".npz") as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **spectra, device=np.array(str(torch.device(device))))
