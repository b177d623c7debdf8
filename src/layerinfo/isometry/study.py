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

from layerinfo.isometry import freeprob as fp
from layerinfo.isometry import meanfield as mf
from layerinfo.isometry.networks import (
    gaussian_channel_bits,
    jacobian_singular_values,
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


def free_probability_moments(phi: str, init: str, sigma_w: float, sigma_b: float, variance: float,
                             depths, points: int = 40) -> dict[int, dict[str, float]]:
    """Predicted mean, variance and normalised variance kappa of the squared singular values of
    J = d a^L / d x = D^L W^L ... D^1 W^1 for inputs of per-unit ``variance``, per depth.

    The D^l sit at the noise-free lengths q^l (length map from q^1 = sigma_w^2 variance +
    sigma_b^2); m_1 = sigma_w^{2L} prod_l mu_1(q^l), var = m_1^2 kappa with
    kappa = sum_l (mu_2 / mu_1^2 - 1) + L s_W (:func:`~layerinfo.isometry.freeprob.spectral_moments`;
    Pennington, Schoenholz & Ganguli 2017).
    """
    q = mf.length_trajectory(phi, sigma_w, sigma_b, sigma_w**2 * variance + sigma_b**2, max(depths), points=points)
    out = {}
    for depth in depths:
        if not np.all(np.isfinite(q[:depth])):
            out[int(depth)] = {"mean_sq_predicted": math.nan, "var_sq_predicted": math.nan, "kappa_predicted": math.nan}
            continue
        m1, kappa = fp.spectral_moments(phi, sigma_w, init, q[:depth], int(depth), points)
        out[int(depth)] = {"mean_sq_predicted": m1, "var_sq_predicted": m1**2 * kappa, "kappa_predicted": kappa}
    return out


def jacobian_table(section: dict, device: str = "cpu") -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Spectrum statistics per init x sigma_w x depth x seed x input point, and the spectra.

    Inputs are drawn with per-unit variance ``input_variance``; ``"fixed_point"`` puts the
    first pre-activations at the length fixed point q* (input variance (q* - sigma_b^2) /
    sigma_w^2, as in Pennington et al. 2017), so that every layer sits at q*. The spectra
    dictionary maps ``"{init}/{sigma_w:.6g}/{depth}"`` to all singular values pooled over
    seeds and inputs. ``device`` (``"cpu"`` or ``"cuda"``) is where the networks run; it is
    recorded in the ``device`` column. Columns ``mean_sq_predicted``, ``var_sq_predicted`` and
    ``kappa_predicted`` are the free-probability moments (:func:`free_probability_moments`).
    """
    phi, sigma_b = section["nonlinearity"], float(section["sigma_b"])
    spec = section["networks"]["jacobian"]
    width, depths = int(spec["width"]), sorted(int(d) for d in spec["depths"])
    cells = list(_network_cells(section))
    rows, spectra, predicted = [], {}, {}
    for init, sigma_w, critical, seed in progress(cells, desc="Jacobian spectra", total=len(cells)):
        generator = torch.Generator().manual_seed(seed)
        layers = random_layers(max(depths), width, init, sigma_w, sigma_b, generator, device)
        variance = input_variance(spec["input_variance"], phi, sigma_w, sigma_b)
        if (init, sigma_w) not in predicted:
            predicted[(init, sigma_w)] = free_probability_moments(phi, init, sigma_w, sigma_b, variance, depths)
        for point in range(int(spec["inputs"])):
            x = math.sqrt(variance) * torch.randn(width, generator=generator, dtype=torch.float64)
            for depth, s in jacobian_singular_values(layers, phi, x.to(device), depths).items():
                s = s.cpu().numpy()
                key = f"{init}/{sigma_w:.6g}/{depth}"
                spectra[key] = np.concatenate([spectra.get(key, np.empty(0)), s])
                rows.append({"init": init, "nonlinearity": phi, "sigma_w": sigma_w, "critical": critical,
                             "sigma_b": sigma_b, "depth": depth, "width": width, "seed": seed, "input": point,
                             **spectrum_statistics(s), **predicted[(init, sigma_w)][depth],
                             "device": str(torch.device(device))})
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


def channel_cell(phi: str, sigma_w: float, sigma_b: float, epsilon: float, depth: int,
                 points: int = 40) -> dict:
    """Mean-field description of the channel at one (sigma_w, sigma_b) up to ``depth`` layers.

    Inputs sit at the fixed point q* of the noise-free length map: per-unit variance
    v_x = (q* - sigma_b^2) / sigma_w^2, so that every noise-free layer has length q^l_0 = q*.
    Returned: ``q_star``, ``chi_1`` (= sigma_w^2 E[phi'^2] at q*), ``input_variance``,
    ``q0`` (noise-free lengths, (depth,)), ``q_noisy`` (lengths with noise a fraction epsilon
    of each layer, :func:`~layerinfo.isometry.meanfield.noisy_length_trajectory`),
    ``noise_variances`` = epsilon q_noisy, and ``chi`` = chi_1(q^l_0) per layer.
    """
    q_star = mf.fixed_point_q(phi, sigma_w, sigma_b)
    v_x = input_variance("fixed_point", phi, sigma_w, sigma_b)
    s1 = sigma_w**2 * v_x + sigma_b**2
    q0 = mf.length_trajectory(phi, sigma_w, sigma_b, s1, depth, points=points)
    q_noisy = mf.noisy_length_trajectory(phi, sigma_w, sigma_b, s1, depth, epsilon, points) if epsilon > 0 else q0
    return {"q_star": q_star, "chi_1": mf.chi_1(phi, sigma_w, q_star, points), "input_variance": v_x,
            "q0": q0, "q_noisy": q_noisy, "noise_variances": epsilon * q_noisy,
            "chi": mf.chi_1_many(phi, sigma_w, q0, points)}


def mean_field_snr(cell: dict, mode: str, depth: int, sigma_w: float, noise_std: float | None = None) -> dict:
    """The mean-field scalar channel at ``depth``: snr, m_1 and the factors of J.

    ``per_layer_relative``: J = d h^L / d x (L weight factors, D at q^1_0 .. q^{L-1}_0) with
    mean squared singular value m_1 = sigma_w^2 prod_{l<L} chi^l, and the noise of layer l,
    variance epsilon q^l, reaches h^L with gain G_l = prod_{l <= k < L} chi^k, so the output
    noise power per unit is N_L = sum_l epsilon q^l G_l and snr = v_x / N_L.
    ``output_fixed``: J = d a^L / d x (D at q^1_0 .. q^L_0), m_1 = prod_{l <= L} chi^l and
    snr = v_x / noise_std^2.
    Either way the linearised channel carries 1/2 sum_i log2(1 + snr s_i^2) bits.
    """
    from layerinfo.isometry.channel import check_noise_mode

    check_noise_mode(mode)
    chi, v_x = cell["chi"][:depth], cell["input_variance"]
    if mode == "per_layer_relative":
        gains = np.append(np.cumprod(chi[1:depth][::-1])[::-1], 1.0) if depth > 1 else np.ones(1)
        noise = float(np.sum(cell["noise_variances"][:depth] * gains))
        # no noise at all (q* = 0: tanh with sigma_b = 0 in the ordered phase): no scalar channel
        return {"snr": v_x / noise if noise > 0 else math.nan, "m1": sigma_w**2 * float(np.prod(chi[: depth - 1])),
                "d_lengths": cell["q0"][: depth - 1], "n_weights": depth}
    return {"snr": v_x / noise_std**2, "m1": float(np.prod(chi[:depth])), "d_lengths": cell["q0"][:depth],
            "n_weights": depth}


def theory_bits(phi: str, sigma_w: float, init: str, width: int, channel: dict, points: int = 40) -> dict[str, float]:
    """Classic and corrected mean-field information (bits) of a mean-field channel (:func:`mean_field_snr`)."""
    snr = channel["snr"]
    if not (np.isfinite(snr) and snr > 0 and np.isfinite(channel["m1"])):
        return {"mean_field_classic": math.nan, "mean_field_corrected": math.nan}
    return {
        "mean_field_classic": fp.classic_bits(snr, width, channel["m1"]),
        "mean_field_corrected": fp.corrected_bits(snr, width, phi, sigma_w, init, channel["d_lengths"],
                                                  channel["n_weights"], points),
    }


def _information_cells(section: dict):
    nets, spec = section["networks"], section["networks"]["information"]
    phi = section["nonlinearity"]
    for sigma_b in spec["sigma_b"]:
        for sigma_w, critical in sigma_w_values(spec["sigma_w"], phi, float(sigma_b)):
            for init in nets["inits"]:
                for seed in nets["seeds"]:
                    yield float(sigma_b), sigma_w, critical, init, int(seed)


def information_table(section: dict, device: str = "cpu") -> pd.DataFrame:
    """I(X; Y) in bits per channel x sigma_b x sigma_w x init x seed x depth x method.

    X is uniform over ``inputs`` inputs at the fixed-point length (:func:`channel_cell`), each
    sent ``draws.fit + draws.eval`` times through the channel ``noise`` (and each of
    ``controls``; :mod:`layerinfo.isometry.channel`). Methods: ``decoding``, ``kt_upper``,
    ``kt_lower`` (measured; column ``floor_bits`` their value with the inputs' labels
    permuted), ``linearised`` (1/2 sum_i log2(1 + snr s_i^2) with the network's own J at
    ``linearisation_points`` inputs, averaged, snr of :func:`mean_field_snr`),
    ``linearised_exact`` (1/2 log2 det(I + v_x C^{-1} J J^T) with the noises propagated
    through the linearised network), ``mean_field_classic`` (every s_i^2 = m_1) and
    ``mean_field_corrected`` (free-probability spectrum, :mod:`layerinfo.isometry.freeprob`).
    Column ``chi_1`` is the classic chi_1 at the noise-free q*; ``I_max_bits`` = log2 inputs.
    """
    from layerinfo.isometry.channel import (
        channel_draws,
        channel_jacobian,
        check_noise_mode,
        estimate_all,
        exact_linearised_bits,
    )

    phi = section["nonlinearity"]
    spec = section["networks"]["information"]
    width, depths = int(spec["width"]), sorted(int(d) for d in spec["depths"])
    n, m_fit, m_eval = int(spec["inputs"]), int(spec["draws"]["fit"]), int(spec["draws"]["eval"])
    epsilon, noise_std = float(spec["epsilon"]), float(spec["noise_std"])
    channels = list(dict.fromkeys([spec["noise"], *spec.get("controls", [])]))
    for mode in channels:
        check_noise_mode(mode)
    points_lin = int(spec["linearisation_points"])
    cells = list(_information_cells(section))
    base = {"nonlinearity": phi, "width": width, "inputs": n, "draws_fit": m_fit, "draws_eval": m_eval,
            "epsilon": epsilon, "noise_std": noise_std, "I_max_bits": math.log2(n), "device": str(torch.device(device))}
    rows, meanfield, theory = [], {}, {}
    for sigma_b, sigma_w, critical, init, seed in progress(cells, desc="channel information", total=len(cells)):
        key = (sigma_b, sigma_w)
        if key not in meanfield:
            meanfield[key] = channel_cell(phi, sigma_w, sigma_b, epsilon, max(depths))
        cell = meanfield[key]
        generator = torch.Generator().manual_seed(seed)
        layers = random_layers(max(depths), width, init, sigma_w, sigma_b, generator, device)
        x = (math.sqrt(cell["input_variance"]) * torch.randn(n, width, generator=generator, dtype=torch.float64)).to(device)
        common = {"sigma_b": sigma_b, "sigma_w": sigma_w, "critical": critical, "chi_1": cell["chi_1"],
                  "q_star": cell["q_star"], "init": init, "seed": seed, **base}
        for mode in channels:
            draws = channel_draws(layers, phi, x, depths, mode, m_fit + m_eval, generator,
                                  noise_variances=cell["noise_variances"], noise_std=noise_std)
            lin = [channel_jacobian(layers, phi, x[k], depths, mode, cell["noise_variances"])
                   for k in range(min(points_lin, n))]
            for depth in depths:
                row = {"channel": mode, **common, "depth": depth}
                for method, (value, floor) in estimate_all(draws[depth], m_fit, generator).items():
                    rows.append({**row, "method": method, "I_bits": value, "floor_bits": floor})
                channel = mean_field_snr(cell, mode, depth, sigma_w, noise_std)
                value = float(np.mean([gaussian_channel_bits(p[depth][0].cpu(), channel["snr"]) for p in lin]))
                rows.append({**row, "method": "linearised", "I_bits": value, "floor_bits": 0.0})
                exact = float(np.mean([exact_linearised_bits(p[depth][2], p[depth][1], cell["input_variance"], noise_std)
                                       for p in lin]))
                rows.append({**row, "method": "linearised_exact", "I_bits": exact, "floor_bits": 0.0})
                tkey = (mode, sigma_b, sigma_w, init, depth)
                if tkey not in theory:
                    theory[tkey] = theory_bits(phi, sigma_w, init, width, channel)
                for method, value in theory[tkey].items():
                    rows.append({**row, "method": method, "I_bits": value, "floor_bits": 0.0})
    return pd.DataFrame(rows)


def channel_theory_table(section: dict, device: str = "cpu") -> pd.DataFrame:
    """Linearised, classic and corrected mean-field information of the study's channel on the
    (wider) networks of the Jacobian spectra, per init x sigma_w x depth x seed x input point.

    The channel is ``per_layer_relative`` with ``networks.information.epsilon``; the
    linearised value uses the network's own J = d h^L / d x at each input, the mean-field
    rows its m_1 (classic) or free-probability spectrum (corrected), all with the snr of
    :func:`mean_field_snr`. Columns also hold the network's own mean and variance of s_i^2
    and the classic value fed that mean (``classic_own_mean_bits``, which Jensen's
    inequality puts above the linearised value, equal only for a flat spectrum).
    """
    from layerinfo.isometry.channel import channel_jacobian

    phi, sigma_b = section["nonlinearity"], float(section["sigma_b"])
    spec = section["networks"]["jacobian"]
    epsilon = float(section["networks"]["information"]["epsilon"])
    width, depths = int(spec["width"]), sorted(int(d) for d in spec["depths"])
    mode = "per_layer_relative"
    rows, meanfield, theory = [], {}, {}
    cells = list(_network_cells(section))
    for init, sigma_w, critical, seed in progress(cells, desc="channel theory", total=len(cells)):
        if sigma_w not in meanfield:
            meanfield[sigma_w] = channel_cell(phi, sigma_w, sigma_b, epsilon, max(depths))
        cell = meanfield[sigma_w]
        generator = torch.Generator().manual_seed(seed)
        layers = random_layers(max(depths), width, init, sigma_w, sigma_b, generator, device)
        for point in range(int(spec["inputs"])):
            x = math.sqrt(cell["input_variance"]) * torch.randn(width, generator=generator, dtype=torch.float64)
            lin = channel_jacobian(layers, phi, x.to(device), depths, mode, cell["noise_variances"])
            for depth in depths:
                channel = mean_field_snr(cell, mode, depth, sigma_w)
                s2 = (lin[depth][0].cpu().numpy()) ** 2
                key = (init, sigma_w, depth)
                if key not in theory:
                    theory[key] = theory_bits(phi, sigma_w, init, width, channel)
                rows.append({
                    "init": init, "nonlinearity": phi, "sigma_w": sigma_w, "critical": critical, "sigma_b": sigma_b,
                    "chi_1": cell["chi_1"], "depth": depth, "width": width, "seed": seed, "input": point,
                    "epsilon": epsilon, "snr": channel["snr"],
                    "linearised_bits": gaussian_channel_bits(np.sqrt(s2), channel["snr"]),
                    "mean_field_classic_bits": theory[key]["mean_field_classic"],
                    "mean_field_corrected_bits": theory[key]["mean_field_corrected"],
                    "classic_own_mean_bits": fp.classic_bits(channel["snr"], width, float(s2.mean())),
                    "mean_sq_singular": float(s2.mean()), "var_sq_singular": float(s2.var()),
                    "device": str(torch.device(device)),
                })
    return pd.DataFrame(rows)


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
