"""The noisy channel of study S3 and estimators of the information it carries.

Channel modes (config ``isometry.networks.information.noise``):

``per_layer_relative`` (the study's channel, our reading of Weng et al. 2022)
    Noise enters every layer in proportion to that layer's signal power, a fixed
    signal-to-noise ratio per layer:

        h^l = W^l a^{l-1} + b^l + xi^l,  xi^l ~ N(0, epsilon q^l I),  a^l = phi(h^l),

    q^l the layer's mean-field length including its noise
    (:func:`~layerinfo.isometry.meanfield.noisy_length_trajectory`); the observed signal
    is h^L.
``output_fixed`` (control)
    The network is deterministic and the last layer is observed through fixed noise,
    y = a^L + xi, xi ~ N(0, noise_std^2 I). The information then measures how far the
    outputs spread relative to a fixed scale, which expanding (chaotic) maps win.

X is uniform over n inputs x_1 .. x_n; each is sent M times. Estimators of I(X; Y), in bits:

``decoding``
    Barber–Agakov lower bound I(X; Y) >= H(X) + E log q(X | Y) for any decoder q (Barber &
    Agakov 2003). q is the Gaussian classifier with class means and one pooled covariance
    fitted on M_fit draws per input, scored on M_eval fresh draws:
    log2 n + mean log2 q(i | y). At most log2 n; near or below 0 when nothing passes.
``kt_upper`` / ``kt_lower``
    Kolchinsky–Tracey pairwise bounds (Entropy 19, 2017, 361) of the Gaussian mixture
    (1/n) sum_i N(mu_i, Sigma) with the fitted means and pooled noise covariance, on the
    noise-whitened means Sigma^{-1/2} mu_i (unit kernel variance); the project's
    :func:`layerinfo.information.kde.kernel_information`. They bound the information of
    that Gaussian surrogate of the channel, not of the channel itself.

Each estimator's *floor* is its value on the same draws with the inputs' labels permuted
(no information passes, the same noise and sample sizes): the bias of the estimator at
this sample size, reported beside each value.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from layerinfo.information.kde import kernel_information
from layerinfo.isometry.networks import torch_nonlinearity

NOISE_MODES = ("per_layer_relative", "output_fixed")
ESTIMATORS = ("decoding", "kt_upper", "kt_lower")


def check_noise_mode(mode: str) -> None:
    """``ValueError`` naming the allowed channel modes unless ``mode`` is one."""
    if mode not in NOISE_MODES:
        raise ValueError(f"unknown noise mode {mode!r}; allowed: {', '.join(NOISE_MODES)}")


def channel_draws(layers, phi: str, x: torch.Tensor, depths, mode: str, draws: int, generator: torch.Generator,
                  noise_variances=None, noise_std: float | None = None) -> dict[int, torch.Tensor]:
    """Noisy observations Y of every input at every depth in ``depths``.

    Parameters
    ----------
    layers : list of (W, b) from :func:`~layerinfo.isometry.networks.random_layers`
    phi : nonlinearity name
    x : tensor of shape (n_inputs, width)
    depths : iterable of int
    mode : {"per_layer_relative", "output_fixed"}
    draws : int >= 1, noisy draws per input
    generator : torch.Generator (CPU), source of all noise (standard normals drawn in float32,
        which is 5 times faster, and used in float64)
    noise_variances : sequence of float, (max depth,)
        Per-layer noise variance epsilon q^l (``per_layer_relative``).
    noise_std : float
        Output noise standard deviation (``output_fixed``).

    Returns
    -------
    dict depth -> tensor of shape (n_inputs, draws, width): h^L (``per_layer_relative``) or
    a^L + noise (``output_fixed``).
    """
    check_noise_mode(mode)
    if not (isinstance(draws, (int, np.integer)) and draws >= 1):
        raise ValueError(f"draws must be an integer >= 1, got {draws!r}")
    fn, _ = torch_nonlinearity(phi)
    wanted = sorted({int(d) for d in depths})
    if wanted[-1] > len(layers):
        raise ValueError(f"depth {wanted[-1]} exceeds the network's {len(layers)} layers")
    n, width = x.shape
    device, out = x.device, {}

    def noise(shape, std):
        # Standard normals drawn in float32 (5 times faster than float64 on a CPU), used in float64.
        return std * torch.randn(*shape, generator=generator, dtype=torch.float32).to(device, torch.float64)

    if mode == "per_layer_relative":
        if noise_variances is None or len(noise_variances) < wanted[-1]:
            raise ValueError("per_layer_relative needs one noise variance per layer")
        a = x.repeat_interleave(draws, dim=0)
        for depth, (w, b) in enumerate(layers[: wanted[-1]], start=1):
            h = a @ w.T + b + noise(a.shape, math.sqrt(float(noise_variances[depth - 1])))
            if depth in wanted:
                out[depth] = h.reshape(n, draws, width)
            a = fn(h)
        return out
    if noise_std is None or not noise_std > 0:
        raise ValueError(f"output_fixed needs noise_std > 0, got {noise_std!r}")
    a = x
    for depth, (w, b) in enumerate(layers[: wanted[-1]], start=1):
        a = fn(a @ w.T + b)
        if depth in wanted:
            out[depth] = a[:, None, :] + noise((n, draws, width), noise_std)
    return out


def _pooled_whitener(y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Class means (n, d) of ``y`` (n, M, d) and the inverse Cholesky factor of the pooled
    within-class covariance (d, d), with a 1e-12 relative ridge."""
    n, m, d = y.shape
    mu = y.mean(dim=1)
    r = (y - mu[:, None, :]).reshape(-1, d)
    cov = r.T @ r / max(n * (m - 1), 1)
    cov = cov + (1e-12 * torch.trace(cov) / d + 1e-300) * torch.eye(d, dtype=y.dtype, device=y.device)
    chol = torch.linalg.cholesky(cov)
    inv = torch.linalg.solve_triangular(chol, torch.eye(d, dtype=y.dtype, device=y.device), upper=False)
    return mu, inv


def decoding_bound(y_fit: torch.Tensor, y_eval: torch.Tensor) -> float:
    """Barber–Agakov lower bound on I(X; Y) in bits with a shared-covariance Gaussian decoder.

    Parameters
    ----------
    y_fit : tensor of shape (n_inputs, m_fit, dim), draws the decoder is fitted on (m_fit >= 2)
    y_eval : tensor of shape (n_inputs, m_eval, dim), fresh draws it is scored on

    Returns
    -------
    float: log2 n + mean_{i, m} log2 q(i | y_{i m}),
    q(i | y) = softmax_j(-||Sigma^{-1/2} (y - mu_j)||^2 / 2), mu_j and Sigma the class means
    and pooled covariance of ``y_fit``. At most log2 n.
    """
    n, m_fit, d = y_fit.shape
    if n < 2 or m_fit < 2 or y_eval.shape[1] < 1:
        raise ValueError(f"need at least 2 inputs and 2 fitting draws, got {n} and {m_fit}")
    mu, inv = _pooled_whitener(y_fit)
    centres = mu @ inv.T  # (n, d) whitened means
    u = y_eval.reshape(-1, d) @ inv.T  # (n m_eval, d)
    score = u @ centres.T - 0.5 * (centres * centres).sum(dim=1)[None, :]  # -D/2 up to a row constant
    log_q = score - torch.logsumexp(score, dim=1, keepdim=True)
    truth = torch.arange(n, device=y_eval.device).repeat_interleave(y_eval.shape[1])
    mean_log_q = log_q[torch.arange(len(truth), device=y_eval.device), truth].mean().item()
    return (math.log(n) + mean_log_q) / math.log(2.0)


def kt_bounds(y: torch.Tensor) -> tuple[float, float]:
    """Kolchinsky–Tracey (upper, lower) bounds in bits on the Gaussian mixture of ``y``'s classes.

    ``y`` has shape (n_inputs, draws, dim) with draws >= 2; the mixture is (1/n) sum_i
    N(mu_i, Sigma), mu_i the class means and Sigma the pooled within-class covariance.
    After whitening, D_ij = ||mu~_i - mu~_j||^2 and (module kde) upper:
    log2 n - mean_i log2 sum_j exp(-D_ij / 2) / ... (kernel 2 s2, s2 = 1), lower: 8 s2.
    """
    n, m, _ = y.shape
    if n < 2 or m < 2:
        raise ValueError(f"need at least 2 inputs and 2 draws, got {n} and {m}")
    mu, inv = _pooled_whitener(y)
    white = (mu @ inv.T).cpu().numpy()
    upper, lower = kernel_information(white, np.zeros(n, dtype=np.int64), [2.0, 8.0], "cpu")
    return upper["I_XT"], lower["I_XT"]


def estimate_all(y: torch.Tensor, m_fit: int, generator: torch.Generator) -> dict[str, tuple[float, float]]:
    """Every estimator and its floor on draws ``y`` (n_inputs, m_fit + m_eval, dim), bits.

    The decoder is fitted on the first ``m_fit`` draws of each input and scored on the rest;
    the KT bounds use all draws. The floor permutes the draws among inputs (separately
    within the fitting and the scoring draws) and estimates again.

    Returns
    -------
    dict estimator -> (value, floor)
    """
    n, m, d = y.shape
    if not 2 <= m_fit < m:
        raise ValueError(f"need 2 <= m_fit < draws, got m_fit={m_fit}, draws={m}")
    fit, ev = y[:, :m_fit], y[:, m_fit:]

    def shuffled(part):
        flat = part.reshape(-1, d)
        order = torch.randperm(flat.shape[0], generator=generator).to(flat.device)
        return flat[order].reshape(part.shape)

    null_fit, null_eval = shuffled(fit), shuffled(ev)
    null_all = torch.cat([null_fit, null_eval], dim=1)
    upper, lower = kt_bounds(y)
    null_upper, null_lower = kt_bounds(null_all)
    return {
        "decoding": (decoding_bound(fit, ev), decoding_bound(null_fit, null_eval)),
        "kt_upper": (upper, null_upper),
        "kt_lower": (lower, null_lower),
    }


def channel_jacobian(layers, phi: str, x0: torch.Tensor, depths, mode: str, noise_variances=None):
    """Linearisation of the channel at input ``x0`` (shape (width,)): per depth, the singular
    values of the signal Jacobian and the exact linearised information's noise covariance.

    ``per_layer_relative``: J = d h^L / d x = W^L D^{L-1} ... D^1 W^1 and the output noise
    covariance C^L of the noises propagated to h^L, C^1 = v_1 I,
    C^l = W^l D^{l-1} C^{l-1} D^{l-1} W^{l T} + v_l I (v_l = ``noise_variances[l-1]``).
    ``output_fixed``: J = d a^L / d x = D^L W^L ... D^1 W^1 and C = None (isotropic noise).

    Returns
    -------
    dict depth -> (singular values (width,), C^L or None, J)
    """
    check_noise_mode(mode)
    fn, dfn = torch_nonlinearity(phi)
    wanted = sorted({int(d) for d in depths})
    a, jac, cov, out = x0, None, None, {}
    eye = torch.eye(x0.shape[0], dtype=x0.dtype, device=x0.device)
    for depth, (w, b) in enumerate(layers[: wanted[-1]], start=1):
        h = w @ a + b
        pre = w if jac is None else w @ jac  # d h^l / d x
        if mode == "per_layer_relative":
            v = float(noise_variances[depth - 1])
            cov = v * eye if cov is None else w @ cov @ w.T + v * eye
            if depth in wanted:
                out[depth] = (torch.linalg.svdvals(pre), cov.clone(), pre)
        d = dfn(h)
        jac = d[:, None] * pre  # d a^l / d x
        if mode == "per_layer_relative":
            cov = d[:, None] * cov * d[None, :]  # noise covariance of a^l (linearised)
        elif depth in wanted:
            out[depth] = (torch.linalg.svdvals(jac), None, jac)
        a = fn(h)
    return out


def exact_linearised_bits(jac: torch.Tensor, cov: torch.Tensor | None, input_variance: float,
                          noise_std: float | None = None) -> float:
    """1/2 log2 det(I + v_x C^{-1} J J^T) for Gaussian inputs of variance v_x per unit.

    ``cov`` None means C = noise_std^2 I. (The eigenvalues of C^{-1/2} J J^T C^{-1/2}.)
    """
    if cov is None:
        white = jac / noise_std
    else:
        chol = torch.linalg.cholesky(cov)
        white = torch.linalg.solve_triangular(chol, jac, upper=False)
    s = torch.linalg.svdvals(white)
    return float(0.5 * torch.log1p(input_variance * s**2).sum() / math.log(2.0))
