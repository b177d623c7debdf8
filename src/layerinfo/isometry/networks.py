"""Deep random networks at initialisation: input-output Jacobians and the noisy channel.

The channel (the noise model of the study): inputs x ~ N(0, input_std^2 I) and the signal
at layer L observed as a^L(x) + xi with xi ~ N(0, noise_std^2 I), the network itself
deterministic.

Layer l maps a^{l-1} (width N; a^0 = x) to a^l = phi(W^l a^{l-1} + b^l), with
``gaussian`` weights W_ij ~ N(0, sigma_w^2 / N) or ``orthogonal`` weights sigma_w Q
(Q Haar-distributed orthogonal), and biases b_i ~ N(0, sigma_b^2): both give the same
mean-field length map, so they differ only beyond mean field (Pennington et al. 2017).
The input-output Jacobian is J = D^L W^L ... D^1 W^1 with D^l = diag(phi'(h^l)).
Everything runs in float64 on the given torch device.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from layerinfo.isometry.meanfield import get_nonlinearity

INITS = ("gaussian", "orthogonal")

_PHI = {
    "tanh": (torch.tanh, lambda h: 1.0 - torch.tanh(h) ** 2),
    "hard_tanh": (lambda h: h.clamp(-1.0, 1.0), lambda h: (h.abs() < 1.0).to(h.dtype)),
    "erf": (torch.erf, lambda h: 2.0 / math.sqrt(math.pi) * torch.exp(-(h**2))),
    "linear": (lambda h: h, torch.ones_like),
    "relu": (torch.relu, lambda h: (h > 0).to(h.dtype)),
}


def torch_nonlinearity(phi: str):
    """(phi, phi') acting on tensors; unknown names raise ``ValueError``."""
    get_nonlinearity(phi)
    return _PHI[phi]


def random_layers(depth: int, width: int, init: str, sigma_w: float, sigma_b: float,
                  generator: torch.Generator, device: str | torch.device = "cpu") -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``depth`` square layers (W of shape (width, width), b of shape (width,)), drawn in order."""
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; allowed: {', '.join(INITS)}")
    if not (isinstance(depth, (int, np.integer)) and depth >= 1):
        raise ValueError(f"depth must be an integer >= 1, got {depth!r}")
    if not (isinstance(width, (int, np.integer)) and width >= 1):
        raise ValueError(f"width must be an integer >= 1, got {width!r}")
    if not (sigma_w > 0 and sigma_b >= 0):
        raise ValueError(f"need sigma_w > 0 and sigma_b >= 0, got sigma_w={sigma_w}, sigma_b={sigma_b}")
    layers = []
    for _ in range(depth):
        g = torch.randn(width, width, generator=generator, dtype=torch.float64)
        if init == "gaussian":
            w = g * (sigma_w / math.sqrt(width))
        else:
            q, r = torch.linalg.qr(g)
            w = sigma_w * q * torch.sign(torch.diagonal(r))  # sign fix: Haar measure
        b = sigma_b * torch.randn(width, generator=generator, dtype=torch.float64)
        layers.append((w.to(device), b.to(device)))
    return layers


def jacobian_singular_values(layers, phi: str, x: torch.Tensor, depths) -> dict[int, torch.Tensor]:
    """Singular values of d a^L / d x at input ``x`` (shape (width,)) for every L in ``depths``.

    One pass through the layers, multiplying layer Jacobians D^l W^l; returns
    ``{L: tensor of shape (width,)}``, descending.
    """
    fn, dfn = torch_nonlinearity(phi)
    wanted = {int(d) for d in depths}
    if max(wanted) > len(layers):
        raise ValueError(f"depth {max(wanted)} exceeds the network's {len(layers)} layers")
    a, jac, out = x, None, {}
    for depth, (w, b) in enumerate(layers, start=1):
        h = w @ a + b
        layer_jac = dfn(h)[:, None] * w
        jac = layer_jac if jac is None else layer_jac @ jac
        a = fn(h)
        if depth in wanted:
            out[depth] = torch.linalg.svdvals(jac)
        if depth == max(wanted):
            break
    return out


def spectrum_statistics(singular_values) -> dict[str, float]:
    """Summary of a Jacobian spectrum: mean and variance of s^2, max, min, max/min, median."""
    s = np.asarray(singular_values, dtype=np.float64)
    s2 = s**2
    return {
        "mean_sq_singular": float(s2.mean()),
        "var_sq_singular": float(s2.var()),
        "max_singular": float(s.max()),
        "min_singular": float(s.min()),
        "condition_number": float(s.max() / s.min()) if s.min() > 0 else math.inf,
        "median_singular": float(np.median(s)),
    }


def layer_outputs(layers, phi: str, x: torch.Tensor, depths) -> dict[int, torch.Tensor]:
    """a^L for every L in ``depths``; ``x`` has shape (n, width), each output (n, width)."""
    fn, _ = torch_nonlinearity(phi)
    wanted = {int(d) for d in depths}
    a, out = x, {}
    for depth, (w, b) in enumerate(layers, start=1):
        a = fn(a @ w.T + b)
        if depth in wanted:
            out[depth] = a
        if depth == max(wanted):
            break
    return out


def linearised_information(layers, phi: str, x0: torch.Tensor, input_std: float, noise_std: float,
                           depths) -> dict[int, float]:
    """Mutual information in bits of the channel x -> a^L(x) + noise, linearised at ``x0``.

    For Gaussian inputs with covariance input_std^2 I around x0 and Gaussian noise of
    covariance noise_std^2 I added to the layer's output, a^L ~ a^L(x0) + J (x - x0) and

        I(x; a^L + noise) = 1/2 log det(I + (input_std^2 / noise_std^2) J J^T).
    """
    ratio = input_std**2 / noise_std**2
    spectra = jacobian_singular_values(layers, phi, x0, depths)
    return {depth: gaussian_channel_bits(s, ratio) for depth, s in spectra.items()}


def gaussian_channel_bits(singular_values, snr: float) -> float:
    """1/2 log2 det(I + snr J J^T) = 1/2 sum_i log2(1 + snr s_i^2), from J's singular values s_i."""
    s = torch.as_tensor(singular_values, dtype=torch.float64)
    return float(0.5 * torch.log1p(snr * s**2).sum() / math.log(2.0))
