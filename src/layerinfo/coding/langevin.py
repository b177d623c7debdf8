"""Posterior sampling of wide fully connected networks with Langevin dynamics.

The network (van Meegen & Sompolinsky 2025, arXiv:2406.16689) with ``L`` hidden layers of
width ``N`` on inputs of dimension ``N0``::

    z^1 = W^1 x / sqrt(N0),   z^l = W^l phi(z^{l-1}) / sqrt(N),   f(x) = a^T phi(z^L) / N^gamma

``gamma = 1`` is the feature-learning (mean-field, "non-lazy") scaling and ``gamma = 1/2`` the
lazy (Gaussian-process) scaling. The weights are sampled from ``p(theta) ∝ exp(-U(theta) / T)``
with the negative log posterior

    U = (beta N^(2 gamma - 1) / 2) sum_mu ||f(x_mu) - y_mu||^2
        + sum ||W||^2 / (2 sigma_w^2) + ||a||^2 / (2 sigma_a^2).

The factor ``N^(2 gamma - 1)`` (``N`` in the mean-field case, 1 in the lazy case) is the
temperature scaling ``T -> T / N`` of mean-field analyses: it keeps the data's pull on each
single neuron of order one as ``N`` grows, so that the posterior of every neuron's weights is
shaped by the task (feature learning) instead of staying at the prior. In the feature-learning
scaling the readout prior variance shrinks with the number of training samples P,
``sigma_a^2 = sigma_a0^2 / P``: the output's prior fluctuations ``sigma_a^2 K(x, x)`` then
stay small against the targets, so that fitting them requires the neurons themselves to align
with the task, and the data term ``sigma_a^2 beta K`` (whose class modes grow like P) keeps
the same weight as P changes (see :func:`readout_prior_variance`). The exponent of P follows
from this argument; ``readout_scale_with_p: false`` in the configuration turns the scaling off.

Langevin dynamics (full batch, Euler–Maruyama):
``theta <- theta - eta grad U(theta) + sqrt(2 eta T) xi`` with ``xi ~ N(0, 1)``; its stationary
law is ``exp(-U/T)`` up to an O(eta) discretisation bias.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import torch

from layerinfo.progress import progress

log = logging.getLogger(__name__)

NONLINEARITIES = ("linear", "erf", "relu")
SCALINGS = {"feature": 1.0, "lazy": 0.5}


class SamplerDivergedError(RuntimeError):
    """The Langevin chain produced NaN or infinite values (step size too large)."""


def phi(name: str, z: torch.Tensor) -> torch.Tensor:
    """The neuron nonlinearity: ``linear`` (identity), ``erf`` (sigmoidal) or ``relu``."""
    if name == "linear":
        return z
    if name == "erf":
        return torch.erf(z)
    if name == "relu":
        return torch.relu(z)
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
    readout: torch.Tensor

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


def potential(net: Network, x, y, *, nonlinearity: str, gamma: float, beta: float,
              sigma_w2: float, sigma_a2: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Negative log posterior ``U`` (module docstring) and the training sum of squared errors."""
    n = net.readout.shape[0]
    sse = ((network_output(net, x, nonlinearity, gamma) - y) ** 2).sum()
    prior = sum((w ** 2).sum() for w in net.hidden) / (2 * sigma_w2) + (net.readout ** 2).sum() / (2 * sigma_a2)
    return 0.5 * beta * n ** (2 * gamma - 1) * sse + prior, sse


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

    ``hidden[l]``: ``(S, N, fan_in)``, ``readout``: ``(S, N, C)``, ``trace_step``/``trace_mse``:
    the step and the training mean squared error (per sample and output) every ``thin`` steps,
    burn-in included.
    """

    hidden: list[np.ndarray]
    readout: np.ndarray
    trace_step: np.ndarray
    trace_mse: np.ndarray


def langevin_sample(x: np.ndarray, y: np.ndarray, *, nonlinearity: str, scaling: str, width: int,
                    depth: int = 1, beta: float = 1.0, temperature: float = 1.0, sigma_w2: float = 1.0,
                    sigma_a2: float = 1.0, step_size: float = 1e-3, n_steps: int = 10_000,
                    burn_in: int = 5_000, thin: int = 100, generator: torch.Generator | None = None,
                    desc: str = "langevin") -> Chain:
    """Sample network weights from the posterior with full-batch Langevin dynamics.

    Parameters
    ----------
    x : ndarray, shape (n_samples, n_inputs)
        Training inputs.
    y : ndarray, shape (n_samples, n_outputs)
        Training targets (one-hot class coding in this study).
    nonlinearity : {'linear', 'erf', 'relu'}
    scaling : {'feature', 'lazy'}
        Readout ``1/N`` (feature learning, mean field) or ``1/sqrt(N)`` (lazy).
    width, depth : int
        Hidden width ``N`` and number of hidden layers (1 to 3).
    beta, temperature : float
        Inverse noise variance of the likelihood and the sampling temperature ``T``.
    sigma_w2, sigma_a2 : float
        Prior variances of the hidden weights (per weight; ``z = W h / sqrt(fan_in)``) and of the
        readout weights (already scaled, see :func:`readout_prior_variance`).
    step_size, n_steps, burn_in, thin : step ``eta``, total steps, discarded steps, and
        the interval between kept samples.
    generator : torch.Generator
        Source of the initial weights and of the Langevin noise.

    Returns
    -------
    Chain

    References
    ----------
    van Meegen & Sompolinsky 2025, arXiv:2406.16689; Welling & Teh 2011 (Langevin sampling).
    """
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"nonlinearity must be one of {', '.join(NONLINEARITIES)}, got {nonlinearity!r}")
    if scaling not in SCALINGS:
        raise ValueError(f"scaling must be one of {', '.join(SCALINGS)}, got {scaling!r}")
    if not 1 <= depth <= 3:
        raise ValueError(f"depth must be 1, 2 or 3, got {depth}")
    for name, value in (("width", width), ("n_steps", n_steps), ("thin", thin)):
        if int(value) < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    for name, value in (("beta", beta), ("temperature", temperature), ("sigma_w2", sigma_w2),
                        ("sigma_a2", sigma_a2), ("step_size", step_size)):
        if not value > 0:
            raise ValueError(f"{name} must be > 0, got {value}")
    if not 0 <= burn_in < n_steps:
        raise ValueError(f"burn_in must lie in [0, n_steps), got {burn_in} with n_steps={n_steps}")
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    gamma = SCALINGS[scaling]
    xt = torch.as_tensor(x, dtype=torch.float64)
    yt = torch.as_tensor(y, dtype=torch.float64)
    net = sample_prior(xt.shape[1], width, depth, yt.shape[1], sigma_w2, sigma_a2, generator)
    n_values = yt.numel()
    steps, mses = [], []

    def energy(params):
        u, sse = potential(Network(params[:-1], params[-1]), xt, yt, nonlinearity=nonlinearity, gamma=gamma,
                           beta=beta, sigma_w2=sigma_w2, sigma_a2=sigma_a2)
        energy.sse = sse
        return u

    def record(step):
        mse = float(energy.sse.detach()) / n_values
        if not math.isfinite(mse):
            raise SamplerDivergedError(f"{desc}: the chain diverged at step {step}; lower step_size (now {step_size})")
        steps.append(step)
        mses.append(mse)

    draws = langevin_chain(energy, net.parameters(), step_size=step_size, temperature=temperature, n_steps=n_steps,
                           burn_in=burn_in, thin=thin, generator=generator, on_thin=record, desc=desc)
    hidden = [np.stack([d[l] for d in draws]) for l in range(depth)]
    return Chain(hidden, np.stack([d[-1] for d in draws]), np.asarray(steps), np.asarray(mses))


def langevin_chain(potential_fn, params: list[torch.Tensor], *, step_size: float, temperature: float, n_steps: int,
                   burn_in: int, thin: int, generator: torch.Generator, on_thin=None,
                   desc: str = "langevin") -> list[list[np.ndarray]]:
    """Full-batch Langevin dynamics ``theta <- theta - eta grad U + sqrt(2 eta T) xi`` for any
    differentiable ``potential_fn(params) -> U`` (a scalar tensor).

    ``params`` (tensors, updated in place) start the chain; every ``thin`` steps
    ``on_thin(step)`` is called (the potential of the state before that step's update has
    just been evaluated), and after ``burn_in`` steps a copy of the parameters is kept.
    Returns the kept samples, each a list of arrays in the order of ``params``.
    """
    if not burn_in < n_steps or burn_in < 0:
        raise ValueError(f"burn_in must lie in [0, n_steps), got {burn_in} with n_steps={n_steps}")
    if thin < 1 or step_size <= 0 or temperature <= 0:
        raise ValueError(f"thin must be >= 1 and step_size, temperature > 0; got {thin}, {step_size}, {temperature}")
    for p in params:
        p.requires_grad_(True)
    noise_scale = math.sqrt(2.0 * step_size * temperature)
    kept = []
    for step in progress(range(1, n_steps + 1), desc):
        grads = torch.autograd.grad(potential_fn(params), params)
        with torch.no_grad():
            for p, g in zip(params, grads):
                p.add_(g, alpha=-step_size)
                p.add_(torch.randn(p.shape, generator=generator, dtype=p.dtype), alpha=noise_scale)
        if step % thin == 0:
            if on_thin is not None:
                on_thin(step)
            if step > burn_in:
                kept.append([p.detach().numpy().copy() for p in params])
    if not kept:
        raise ValueError(f"no sample kept: thin={thin} is larger than n_steps - burn_in={n_steps - burn_in}")
    return kept
