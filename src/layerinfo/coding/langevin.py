"""Posterior sampling of wide fully connected networks: readouts integrated out, Langevin on the rest.

The network (van Meegen & Sompolinsky 2025, arXiv:2406.16689) with ``L`` hidden layers of
width ``N`` on inputs of dimension ``N0``::

    z^1 = W^1 x / sqrt(N0),   z^l = W^l phi(z^{l-1}) / sqrt(N),   f(x) = a^T phi(z^L) / N^gamma

``gamma = 1`` is the feature-learning (mean-field, "non-lazy") scaling and ``gamma = 1/2`` the
lazy (Gaussian-process) scaling. The posterior over the weights is

    p(W, a) ∝ exp(-(beta N^(2 gamma - 1) / 2) sum_mu ||f(x_mu) - y_mu||^2)
              × N(W; 0, sigma_w^2) × N(a; 0, sigma_a^2),

and the study works at large ``beta`` (the zero-temperature limit of the paper: the data are
fitted exactly and the weights keep only the freedom the prior leaves them). The factor
``N^(2 gamma - 1)`` (``N`` in the mean-field case) is the temperature scaling ``T -> T / N`` of
mean-field analyses; at ``beta -> infinity`` it no longer matters.

Readout prior. In the feature-learning scaling ``sigma_a^2 = sigma_a0^2 / P`` (P training
samples): the scaling of the prior readout variance with the size of the data set is what
van Meegen & Sompolinsky single out as an important detail of their set-up (their poster on
the paper). With it, the data term below and the first layer's prior both grow like ``N P``,
so that the learned features neither vanish nor swamp the prior as P changes (see
:func:`readout_prior_variance`; ``readout_scale_with_p: false`` in the configuration turns it off).

Sampler. Given the hidden weights, the readouts are Gaussian, so they are integrated out
exactly: with ``Phi`` the ``(P, N)`` last-layer activity, ``K = Phi Phi^T / N`` and
``A = sigma_a^2 K + I / beta``, the marginal of the targets is ``N(0, N^(1 - 2 gamma) A)`` per
output and the hidden weights have the potential

    U(W) = sum_l ||W^l||^2 / (2 sigma_w^2) + (N^(2 gamma - 1) / 2) tr(Y^T A^-1 Y)
           + (m / 2) log det A                                     (m outputs; constants dropped).

``U`` is sampled by full-batch Langevin dynamics (Euler–Maruyama,
``W <- W - eta grad U + sqrt(2 eta) xi``, stationary law ``exp(-U)`` up to an O(eta) bias) and
at every kept sample the readouts are drawn exactly from their Gaussian conditional
(:func:`sample_readout`). Integrating the readouts out removes the stiff direction of the
likelihood (curvature ~ beta): ``beta`` can be raised to the zero-temperature limit without
lowering the step size. The step ``eta`` only has to resolve the hidden weights' potential,
whose curvature is of order one.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import torch

from layerinfo.coding.units import NONLINEARITIES, SCALINGS, SQRT_PI_HALF, check_nonlinearity
from layerinfo.progress import progress

log = logging.getLogger(__name__)


class SamplerDivergedError(RuntimeError):
    """The Langevin chain produced NaN or infinite values (step size too large)."""


def phi(name: str, z: torch.Tensor) -> torch.Tensor:
    """The neuron nonlinearity.

    ``linear``: ``z``; ``sigmoid``: ``(1 + erf(sqrt(pi) z / 2)) / 2``, from 0 to 1 with slope
    1/2 at 0 (the study's sigmoidal unit, whose codes are on/off patterns); ``relu``:
    ``max(z, 0)``; ``erf``: ``erf(z)``, the odd sigmoid from -1 to 1 (an extra).
    """
    if name == "linear":
        return z
    if name == "sigmoid":
        return 0.5 * (1.0 + torch.erf(SQRT_PI_HALF * z))
    if name == "relu":
        return torch.relu(z)
    if name == "erf":
        return torch.erf(z)
    raise ValueError(f"nonlinearity must be one of {', '.join(NONLINEARITIES)}, got {name!r}")


def readout_prior_variance(sigma_a2: float, n_train: int, scaling: str, scale_with_p: bool = True) -> float:
    """Prior variance of the readout weights: ``sigma_a2 / P`` in the feature-learning scaling
    (when ``scale_with_p``; module docstring), ``sigma_a2`` in the lazy one."""
    if scaling not in SCALINGS:
        raise ValueError(f"scaling must be one of {', '.join(SCALINGS)}, got {scaling!r}")
    return float(sigma_a2) / (n_train if (scaling == "feature" and scale_with_p) else 1.0)


@dataclass
class Network:
    """Weights of one network: ``hidden[l]`` of shape ``(N, fan_in)``, ``readout`` ``(N, C)``."""

    hidden: list[torch.Tensor]
    readout: torch.Tensor | None

    def parameters(self) -> list[torch.Tensor]:
        return [*self.hidden, self.readout]


def hidden_activity(net: Network, x: torch.Tensor, nonlinearity: str) -> list[torch.Tensor]:
    """``phi(z^l)`` of every hidden layer for inputs ``x`` ``(P, N0)``: a list of ``(P, N)``."""
    out, h = [], x
    for w in net.hidden:
        h = phi(nonlinearity, h @ w.T / math.sqrt(w.shape[1]))
        out.append(h)
    return out


def network_output(net: Network, x: torch.Tensor, nonlinearity: str, gamma: float) -> torch.Tensor:
    """``f(x) = a^T phi(z^L) / N^gamma``, shape ``(P, C)``."""
    h = hidden_activity(net, x, nonlinearity)[-1]
    return h @ net.readout / h.shape[1] ** gamma


def phi_prime(name: str, z: torch.Tensor) -> torch.Tensor:
    """Derivative of :func:`phi`: 1, ``exp(-pi z^2 / 4) / 2``, ``1[z > 0]``, ``2 exp(-z^2) / sqrt(pi)``."""
    if name == "linear":
        return torch.ones_like(z)
    if name == "sigmoid":
        return 0.5 * torch.exp(-math.pi * z ** 2 / 4)
    if name == "relu":
        return (z > 0).to(z.dtype)
    if name == "erf":
        return (2 / math.sqrt(math.pi)) * torch.exp(-z ** 2)
    raise ValueError(f"nonlinearity must be one of {', '.join(NONLINEARITIES)}, got {name!r}")


def marginal_potential(hidden: list[torch.Tensor], x: torch.Tensor, y: torch.Tensor, *, nonlinearity: str,
                       gamma: float, beta: float, sigma_w2: float, sigma_a2: float) -> torch.Tensor:
    """``U(W)``, the hidden weights' negative log posterior with the readouts integrated out
    (module docstring); ``x`` ``(P, N0)``, ``y`` ``(P, m)``. Scalar tensor (differentiable
    with autograd; the sampler uses the hand-written gradient of :func:`marginal_potential_grad`)."""
    h = hidden_activity(Network(hidden, None), x, nonlinearity)[-1]
    n = h.shape[1]
    a = sigma_a2 * (h @ h.T) / n + torch.eye(len(h), dtype=h.dtype) / beta
    chol = torch.linalg.cholesky(a)
    alpha = torch.cholesky_solve(y, chol)
    data = 0.5 * n ** (2 * gamma - 1) * (y * alpha).sum() + y.shape[1] * torch.log(torch.diagonal(chol)).sum()
    return sum((w ** 2).sum() for w in hidden) / (2 * sigma_w2) + data


def marginal_potential_grad(hidden: list[torch.Tensor], x: torch.Tensor, y: torch.Tensor, *, nonlinearity: str,
                            gamma: float, beta: float, sigma_w2: float,
                            sigma_a2: float) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """:func:`marginal_potential` and its gradient with respect to every hidden weight matrix.

    With ``c = N^(2 gamma - 1)``, ``alpha = A^-1 Y``: ``dU/dK = sigma_a^2 (-(c/2) alpha alpha^T
    + (m/2) A^-1)`` (symmetric), ``dU/dPhi = (2/N) (dU/dK) Phi``, then back through the layers,
    ``dU/dz = dU/dphi * phi'(z)``, ``dU/dW = dU/dz^T h_in / sqrt(fan_in)``, plus ``W / sigma_w^2``.
    About five times faster than autograd through the Cholesky factorisation.
    """
    zs, ins, h = [], [], x
    for w in hidden:
        ins.append(h)
        z = h @ w.T / math.sqrt(w.shape[1])
        zs.append(z)
        h = phi(nonlinearity, z)
    n, m = h.shape[1], y.shape[1]
    c = n ** (2 * gamma - 1)
    a = sigma_a2 * (h @ h.T) / n + torch.eye(len(h), dtype=h.dtype) / beta
    chol = torch.linalg.cholesky(a)
    alpha = torch.cholesky_solve(y, chol)
    u = (sum((w ** 2).sum() for w in hidden) / (2 * sigma_w2) + 0.5 * c * (y * alpha).sum()
         + m * torch.log(torch.diagonal(chol)).sum())
    g_k = sigma_a2 * (-0.5 * c * alpha @ alpha.T + 0.5 * m * torch.cholesky_inverse(chol))
    g_h = (2.0 / n) * g_k @ h
    grads = [None] * len(hidden)
    for l in range(len(hidden) - 1, -1, -1):
        w = hidden[l]
        g_z = g_h * phi_prime(nonlinearity, zs[l])
        grads[l] = g_z.T @ ins[l] / math.sqrt(w.shape[1]) + w / sigma_w2
        if l:
            g_h = g_z @ w / math.sqrt(w.shape[1])
    return u, grads


def sample_readout(h: torch.Tensor, y: torch.Tensor, *, gamma: float, beta: float, sigma_a2: float,
                   generator: torch.Generator) -> torch.Tensor:
    """An exact draw of the readouts ``(N, m)`` from their Gaussian conditional given the
    last-layer activity ``h`` ``(P, N)``.

    With ``G = h / N^gamma``, noise variance ``v = 1 / (beta N^(2 gamma - 1))`` and a prior draw
    ``a0 ~ N(0, sigma_a^2)``, ``eps ~ N(0, v)``:
    ``a = a0 + sigma_a^2 G^T (sigma_a^2 G G^T + v I)^-1 (y - G a0 - eps)`` (Matheron's rule;
    only a ``(P, P)`` system is solved).
    """
    n = h.shape[1]
    g = h / n ** gamma
    v = 1.0 / (beta * n ** (2 * gamma - 1))
    a0 = torch.randn(n, y.shape[1], generator=generator, dtype=h.dtype) * math.sqrt(sigma_a2)
    eps = torch.randn(y.shape, generator=generator, dtype=h.dtype) * math.sqrt(v)
    c = sigma_a2 * g @ g.T + v * torch.eye(len(g), dtype=h.dtype)
    return a0 + sigma_a2 * g.T @ torch.linalg.solve(c, y - g @ a0 - eps)


def sample_prior(n_in: int, width: int, depth: int, n_out: int, sigma_w2: float, sigma_a2: float,
                 generator: torch.Generator) -> Network:
    """Weights drawn from the Gaussian prior (the chain's starting point)."""
    hidden, fan_in = [], n_in
    for _ in range(depth):
        hidden.append(torch.randn(width, fan_in, generator=generator, dtype=torch.float64) * math.sqrt(sigma_w2))
        fan_in = width
    readout = torch.randn(width, n_out, generator=generator, dtype=torch.float64) * math.sqrt(sigma_a2)
    return Network(hidden, readout)


@dataclass
class Chain:
    """Thinned samples of one chain.

    ``hidden[l]``: ``(S, N, fan_in)``, ``readout``: ``(S, N, C)`` (drawn from their conditional
    at each kept sample); ``trace_step``, ``trace_mse`` (training mean squared error per sample
    and output of a readout drawn at that step), ``trace_alignment`` (kernel–target alignment
    of the last hidden layer) and ``trace_weight2`` (mean squared hidden weight), every ``thin``
    steps, burn-in included. The per-neuron traces, also every ``thin`` steps, feed the
    permutation-invariant convergence statistics (:mod:`layerinfo.coding.diagnostics`), which
    must be seen during burn-in too, where the hidden weights are not kept:
    ``trace_readout`` ``(T, N, C)`` (the readout drawn at that step), ``trace_response``
    ``(T, N, C)`` (class-mean activity of the last hidden layer) and ``trace_zmax`` ``(T, N)``
    (largest |pre-activation| of each last-layer neuron over the training inputs).
    """

    hidden: list[np.ndarray]
    readout: np.ndarray
    trace_step: np.ndarray
    trace_mse: np.ndarray
    trace_alignment: np.ndarray
    trace_weight2: np.ndarray
    trace_readout: np.ndarray
    trace_response: np.ndarray
    trace_zmax: np.ndarray


def _alignment(h: torch.Tensor, y: torch.Tensor) -> float:
    """Centred kernel–target alignment of ``K = h h^T`` with ``y y^T`` (torch, for traces)."""
    hc = h - h.mean(0)
    yc = y - y.mean(0)
    num = ((hc.T @ yc) ** 2).sum()
    den = torch.linalg.norm(hc @ hc.T) * torch.linalg.norm(yc @ yc.T)
    return float(num / den) if float(den) > 0 else float("nan")


def langevin_sample(x: np.ndarray, y: np.ndarray, *, nonlinearity: str, scaling: str, width: int,
                    depth: int = 1, beta: float = 1e4, sigma_w2: float = 1.0, sigma_a2: float = 1.0,
                    step_size: float = 1e-2, n_steps: int = 4000, burn_in: int = 2000, thin: int = 100,
                    generator: torch.Generator | None = None, desc: str = "langevin") -> Chain:
    """Sample network weights from the posterior (module docstring): Langevin dynamics on the
    hidden weights with the readouts integrated out, readouts drawn exactly at each kept sample.

    Parameters
    ----------
    x : ndarray, shape (n_samples, n_inputs)
        Training inputs.
    y : ndarray, shape (n_samples, n_outputs)
        Training targets (one-hot 0/1 class coding in this study).
    nonlinearity : {'linear', 'sigmoid', 'relu', 'erf'}
    scaling : {'feature', 'lazy'}
        Readout ``1/N`` (feature learning, mean field) or ``1/sqrt(N)`` (lazy).
    width, depth : int
        Hidden width ``N`` and number of hidden layers (1 to 3).
    beta : float
        Inverse noise variance of the likelihood (times ``N^(2 gamma - 1)``); large for the
        zero-temperature limit.
    sigma_w2, sigma_a2 : float
        Prior variances of the hidden weights (per weight; ``z = W h / sqrt(fan_in)``) and of the
        readout weights (already scaled, see :func:`readout_prior_variance`).
    step_size, n_steps, burn_in, thin : step ``eta``, total steps, discarded steps, and
        the interval between kept samples.
    generator : torch.Generator
        Source of the initial weights, the Langevin noise and the readout draws.

    Returns
    -------
    Chain

    References
    ----------
    van Meegen & Sompolinsky 2025, arXiv:2406.16689; Welling & Teh 2011 (Langevin sampling).
    """
    check_nonlinearity(nonlinearity)
    if scaling not in SCALINGS:
        raise ValueError(f"scaling must be one of {', '.join(SCALINGS)}, got {scaling!r}")
    if not 1 <= depth <= 3:
        raise ValueError(f"depth must be 1, 2 or 3, got {depth}")
    for name, value in (("width", width), ("n_steps", n_steps), ("thin", thin)):
        if int(value) < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    for name, value in (("beta", beta), ("sigma_w2", sigma_w2), ("sigma_a2", sigma_a2), ("step_size", step_size)):
        if not value > 0:
            raise ValueError(f"{name} must be > 0, got {value}")
    if not 0 <= burn_in < n_steps:
        raise ValueError(f"burn_in must lie in [0, n_steps), got {burn_in} with n_steps={n_steps}")
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    gamma = SCALINGS[scaling]
    xt = torch.as_tensor(x, dtype=torch.float64)
    yt = torch.as_tensor(y, dtype=torch.float64)
    hidden = sample_prior(xt.shape[1], width, depth, yt.shape[1], sigma_w2, sigma_a2, generator).hidden
    steps, mses, aligns, w2s, readouts = [], [], [], [], []
    t_readout, t_response, t_zmax = [], [], []
    class_mean = (yt / yt.sum(0).clamp(min=1)).T  # (C, P): averages over each class's inputs

    def energy(params):
        return marginal_potential_grad(params, xt, yt, nonlinearity=nonlinearity, gamma=gamma, beta=beta,
                                       sigma_w2=sigma_w2, sigma_a2=sigma_a2)

    def record(step, params):
        with torch.no_grad():
            h_in = hidden_activity(Network(params[:-1], None), xt, nonlinearity)[-1] if depth > 1 else xt
            z = h_in @ params[-1].T / math.sqrt(params[-1].shape[1])
            h = phi(nonlinearity, z)
            a = sample_readout(h, yt, gamma=gamma, beta=beta, sigma_a2=sigma_a2, generator=generator)
            mse = float(((h @ a / h.shape[1] ** gamma - yt) ** 2).mean())
        if not math.isfinite(mse):
            raise SamplerDivergedError(f"{desc}: the chain diverged at step {step}; lower step_size (now {step_size})")
        steps.append(step)
        mses.append(mse)
        aligns.append(_alignment(h, yt))
        w2s.append(float(sum((w ** 2).sum() for w in params) / sum(w.numel() for w in params)))
        t_readout.append(a.numpy().astype(np.float32))
        t_response.append((class_mean @ h).T.numpy().astype(np.float32))
        t_zmax.append(z.abs().amax(0).numpy().astype(np.float32))
        if step > burn_in:
            readouts.append(a.numpy().copy())

    draws = langevin_chain(energy, hidden, step_size=step_size, temperature=1.0, n_steps=n_steps,
                           burn_in=burn_in, thin=thin, generator=generator, on_thin=record, desc=desc)
    return Chain([np.stack([d[l] for d in draws]) for l in range(depth)], np.stack(readouts), np.asarray(steps),
                 np.asarray(mses), np.asarray(aligns), np.asarray(w2s), np.stack(t_readout), np.stack(t_response),
                 np.stack(t_zmax))


def autograd_potential(potential_fn):
    """Wrap a differentiable ``potential_fn(params) -> U`` into ``params -> (U, grads)`` for
    :func:`langevin_chain`."""
    def wrapped(params):
        ps = [p.detach().requires_grad_(True) for p in params]
        u = potential_fn(ps)
        return u.detach(), list(torch.autograd.grad(u, ps))

    return wrapped


def langevin_chain(potential_and_grad, params: list[torch.Tensor], *, step_size: float, temperature: float,
                   n_steps: int, burn_in: int, thin: int, generator: torch.Generator, on_thin=None,
                   tamed: bool = True, desc: str = "langevin") -> list[list[np.ndarray]]:
    """Full-batch Langevin dynamics ``theta <- theta - eta d(grad U) + sqrt(2 eta T) xi``.

    ``potential_and_grad(params) -> (U, [dU/dtheta])`` (see :func:`autograd_potential`);
    ``params`` (tensors, updated in place) start the chain. The drift is tamed coordinate-wise,
    ``d(g) = g / (1 + eta |g|)`` (the tamed unadjusted Langevin algorithm of Brosse, Durmus,
    Moulines & Sabanis 2019, Stoch. Proc. Appl. 129, 3638): identical to the plain step where
    ``eta |g| << 1`` (the stationary regime of this study, where it changes the drift by < 1 %)
    and bounded where a chain starts far from equilibrium (the prior draw, whose kernel fits
    the labels badly). ``tamed=False`` gives the plain Euler–Maruyama step. Every ``thin`` steps
    ``on_thin(step, params)`` is called (after that step's update), and after ``burn_in``
    steps a copy of the parameters is kept. A non-finite potential or a singular kernel stops
    the chain with :class:`SamplerDivergedError`. Returns the kept samples, each a list of
    arrays in the order of ``params``.
    """
    if not burn_in < n_steps or burn_in < 0:
        raise ValueError(f"burn_in must lie in [0, n_steps), got {burn_in} with n_steps={n_steps}")
    if thin < 1 or step_size <= 0 or temperature <= 0:
        raise ValueError(f"thin must be >= 1 and step_size, temperature > 0; got {thin}, {step_size}, {temperature}")
    params = [p.detach() for p in params]
    noise_scale = math.sqrt(2.0 * step_size * temperature)
    kept = []
    for step in progress(range(1, n_steps + 1), desc):
        try:
            u, grads = potential_and_grad(params)
        except torch.linalg.LinAlgError as err:
            raise SamplerDivergedError(f"{desc}: singular kernel at step {step} ({err}); "
                                       f"lower step_size (now {step_size})") from None
        if not torch.isfinite(u):
            raise SamplerDivergedError(f"{desc}: the chain diverged at step {step}; lower step_size (now {step_size})")
        with torch.no_grad():
            for p, g in zip(params, grads):
                if tamed:
                    g = g / (1.0 + step_size * g.abs())
                p.add_(g, alpha=-step_size)
                # float32 draws: five times faster than float64 ones, which were half the cost of
                # a step; their 1e-7 rounding is far below the step's O(eta) discretisation bias.
                p.add_(torch.randn(p.shape, generator=generator, dtype=torch.float32), alpha=noise_scale)
        if step % thin == 0:
            if on_thin is not None:
                on_thin(step, params)
            if step > burn_in:
                kept.append([p.numpy().copy() for p in params])
    if not kept:
        raise ValueError(f"no sample kept: thin={thin} is larger than n_steps - burn_in={n_steps - burn_in}")
    return kept
