"""Restricted Boltzmann machines and deep belief networks (greedily stacked RBMs).

An RBM with binary visible units v (data in [0, 1] are used as probabilities) and binary
hidden units h has the energy E(v, h) = -b·v - c·h - hᵀ W v and the free energy

    F(v) = -b·v - sum_j softplus(c_j + W_j·v),    p(v) = exp(-F(v)) / Z.

It is trained by persistent contrastive divergence (PCD-1, Tieleman 2008): the positive
statistics use p(h=1|v) on a minibatch of data, the negative statistics the same on a set of
persistent Gibbs chains advanced by one step per update. A deep belief network stacks RBMs
greedily (Hinton, Osindero & Teh 2006): RBM l is trained on the deterministic sigmoid
up-pass p(h=1|v) of the layer below. This is the set-up of Song, Marsili & Jo 2018
(arXiv:1710.11324): PCD with one Gibbs step, learning rate 0.1, momentum 0.5 -> 0, L2 1e-4.
The paper does not state its initialisation; we follow Hinton's practical guide (2010, §8):
W ~ N(0, 0.01²), hidden biases 0, visible biases ln(p / (1 - p)) of the data means.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from layerinfo.progress import progress


class RBM(nn.Module):
    """Binary-binary restricted Boltzmann machine.

    Parameters
    ----------
    n_visible, n_hidden : int
        Numbers of visible and hidden units (>= 1).

    Attributes
    ----------
    W : Tensor of shape (n_hidden, n_visible)
    b : Tensor of shape (n_visible,), visible biases
    c : Tensor of shape (n_hidden,), hidden biases
    """

    def __init__(self, n_visible: int, n_hidden: int):
        super().__init__()
        if n_visible < 1 or n_hidden < 1:
            raise ValueError(f"n_visible and n_hidden must be >= 1, got {n_visible}, {n_hidden}")
        self.W = nn.Parameter(torch.zeros(n_hidden, n_visible, dtype=torch.float64), requires_grad=False)
        self.b = nn.Parameter(torch.zeros(n_visible, dtype=torch.float64), requires_grad=False)
        self.c = nn.Parameter(torch.zeros(n_hidden, dtype=torch.float64), requires_grad=False)

    @property
    def n_visible(self) -> int:
        return self.W.shape[1]

    @property
    def n_hidden(self) -> int:
        return self.W.shape[0]

    def initialise(self, data: torch.Tensor, generator: torch.Generator, weight_std: float = 0.01) -> None:
        """Hinton's (2010) initialisation: W ~ N(0, weight_std²), c = 0, b = logit of the data means.

        Means are clipped to [1e-3, 1 - 1e-3] so that always-off pixels get a finite bias.
        """
        with torch.no_grad():
            self.W.copy_(weight_std * torch.randn(self.W.shape, generator=generator, dtype=self.W.dtype))
            self.c.zero_()
            p = data.to(self.b.dtype).mean(0).clamp(1e-3, 1 - 1e-3)
            self.b.copy_(torch.log(p / (1 - p)))

    def hidden_probability(self, v: torch.Tensor) -> torch.Tensor:
        """p(h_j = 1 | v) = sigmoid(c_j + W_j·v); ``v`` of shape (n, n_visible) -> (n, n_hidden)."""
        return torch.sigmoid(v @ self.W.T + self.c)

    def visible_probability(self, h: torch.Tensor) -> torch.Tensor:
        """p(v_i = 1 | h) = sigmoid(b_i + W_{:,i}·h); ``h`` of shape (n, n_hidden) -> (n, n_visible)."""
        return torch.sigmoid(h @ self.W + self.b)

    def free_energy(self, v: torch.Tensor) -> torch.Tensor:
        """F(v) = -b·v - sum_j softplus(c_j + W_j·v), in nats; shape (n,)."""
        return -(v @ self.b) - nn.functional.softplus(v @ self.W.T + self.c).sum(-1)

    def energy(self, v: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """E(v, h) = -b·v - c·h - hᵀ W v; shape (n,)."""
        return -(v @ self.b) - (h @ self.c) - ((h @ self.W) * v).sum(-1)

    def gibbs_step(self, v: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """One step v -> h ~ p(h|v) -> v' ~ p(v|h) of block Gibbs sampling; returns binary v'."""
        h = torch.bernoulli(self.hidden_probability(v), generator=generator)
        return torch.bernoulli(self.visible_probability(h), generator=generator)

    def gradient(self, v_data: torch.Tensor, v_model: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Stochastic gradient of the mean log-likelihood: -d<F>_data + d<F>_model.

        dW = <p(h|v) vᵀ>_data - <p(h|v) vᵀ>_model, db = <v>_data - <v>_model,
        dc = <p(h|v)>_data - <p(h|v)>_model (the model averages over the persistent chains).
        """
        h_data = self.hidden_probability(v_data)
        h_model = self.hidden_probability(v_model)
        dW = h_data.T @ v_data / len(v_data) - h_model.T @ v_model / len(v_model)
        db = v_data.mean(0) - v_model.mean(0)
        dc = h_data.mean(0) - h_model.mean(0)
        return dW, db, dc

    def reconstruction_error(self, v: torch.Tensor) -> float:
        """Mean squared error of the mean-field reconstruction p(v | p(h|v)), per unit."""
        recon = self.visible_probability(self.hidden_probability(v))
        return float(((recon - v) ** 2).mean())


@dataclass(frozen=True)
class PCDSchedule:
    """Hyper-parameters of persistent contrastive divergence.

    The learning rate is ``learning_rate`` until epoch ``t0 = round(decay_start * epochs)``
    and ``learning_rate * t0 / t`` at epoch t >= t0 afterwards (a late 1/t decay; epochs
    counted from 1). The momentum falls linearly from ``momentum_start`` at the first epoch to
    ``momentum_end`` at the last. ``l2`` is the weight decay on W (not on the biases).
    """

    epochs: int = 30
    batch_size: int = 50
    learning_rate: float = 0.1
    decay_start: float = 0.5
    momentum_start: float = 0.5
    momentum_end: float = 0.0
    l2: float = 1e-4
    gibbs_steps: int = 1
    weight_std: float = 0.01

    def __post_init__(self):
        for name in ("epochs", "batch_size", "gibbs_steps"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("learning_rate", "weight_std"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("momentum_start", "momentum_end"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must lie in [0, 1), got {getattr(self, name)}")
        if not 0 <= self.decay_start <= 1:
            raise ValueError(f"decay_start must lie in [0, 1], got {self.decay_start}")
        if self.l2 < 0:
            raise ValueError(f"l2 must be >= 0, got {self.l2}")

    def rate(self, epoch: int) -> float:
        """Learning rate of epoch ``epoch`` (1-based)."""
        t0 = max(1, round(self.decay_start * self.epochs))
        return self.learning_rate if epoch <= t0 else self.learning_rate * t0 / epoch

    def momentum(self, epoch: int) -> float:
        """Momentum of epoch ``epoch`` (1-based): linear from momentum_start to momentum_end."""
        frac = 0.0 if self.epochs == 1 else (epoch - 1) / (self.epochs - 1)
        return self.momentum_start + frac * (self.momentum_end - self.momentum_start)


def train_rbm(
    rbm: RBM,
    data: torch.Tensor,
    schedule: PCDSchedule,
    generator: torch.Generator,
    snapshots=(),
    on_snapshot=None,
    desc: str = "rbm",
) -> list[float]:
    """Train ``rbm`` on ``data`` (shape (n_samples, n_visible), values in [0, 1]) by PCD.

    Initialises the RBM (:meth:`RBM.initialise`), then runs ``schedule.epochs`` epochs of
    shuffled minibatches. The persistent chains (one per minibatch sample) start from
    Bernoulli samples of a random minibatch and advance ``schedule.gibbs_steps`` Gibbs steps per
    update. ``on_snapshot(epoch, rbm)`` is called after each epoch listed in ``snapshots``
    (0 = after initialisation).

    Returns
    -------
    list of float
        Reconstruction error (:meth:`RBM.reconstruction_error`) after each epoch.
    """
    data = data.to(rbm.W.dtype)
    if data.ndim != 2 or data.shape[1] != rbm.n_visible:
        raise ValueError(f"data must have shape (n_samples, {rbm.n_visible}), got {tuple(data.shape)}")
    if data.min() < 0 or data.max() > 1:
        raise ValueError("data must lie in [0, 1] (probabilities of the visible units)")
    snapshots = {int(s) for s in snapshots}
    n = len(data)
    batch = min(schedule.batch_size, n)
    rbm.initialise(data, generator, schedule.weight_std)
    if 0 in snapshots and on_snapshot is not None:
        on_snapshot(0, rbm)
    start = torch.randint(n, (batch,), generator=generator)
    chains = torch.bernoulli(data[start], generator=generator)
    velocity = [torch.zeros_like(p) for p in (rbm.W, rbm.b, rbm.c)]
    errors = []
    for epoch in progress(range(1, schedule.epochs + 1), desc=desc, total=schedule.epochs, lines=3):
        lr, mom = schedule.rate(epoch), schedule.momentum(epoch)
        order = torch.randperm(n, generator=generator)
        for i in range(0, n - batch + 1, batch):
            v = data[order[i:i + batch]]
            for _ in range(schedule.gibbs_steps):
                chains = rbm.gibbs_step(chains, generator)
            dW, db, dc = rbm.gradient(v, chains)
            dW = dW - schedule.l2 * rbm.W
            with torch.no_grad():
                for p, vel, g in zip((rbm.W, rbm.b, rbm.c), velocity, (dW, db, dc)):
                    vel.mul_(mom).add_(g, alpha=lr)
                    p.add_(vel)
        errors.append(rbm.reconstruction_error(data))
        if not math.isfinite(errors[-1]):
            raise RuntimeError(f"{desc}: training diverged at epoch {epoch} (reconstruction error {errors[-1]})")
        if epoch in snapshots and on_snapshot is not None:
            on_snapshot(epoch, rbm)
    return errors


class DBN(nn.Module):
    """A stack of RBMs, widths ``(n_visible, h_1, ..., h_L)``; RBM l maps layer l-1 to layer l."""

    def __init__(self, widths: list[int]):
        super().__init__()
        widths = [int(w) for w in widths]
        if len(widths) < 2 or min(widths) < 1:
            raise ValueError(f"widths must list >= 2 positive layer sizes, got {widths}")
        self.widths = widths
        self.rbms = nn.ModuleList(RBM(a, b) for a, b in itertools.pairwise(widths))

    def up(self, v: torch.Tensor, layers: int | None = None) -> list[torch.Tensor]:
        """Deterministic sigmoid up-pass: p(h=1|·) of layers 1..``layers`` (default all)."""
        out, x = [], v.to(torch.float64)
        for rbm in self.rbms[: len(self.rbms) if layers is None else layers]:
            x = rbm.hidden_probability(x)
            out.append(x)
        return out

    def down(self, h: torch.Tensor, layer: int) -> torch.Tensor:
        """Deterministic down-pass from layer ``layer`` (1-based) to the visible units (probabilities)."""
        x = h.to(torch.float64)
        for rbm in reversed(self.rbms[:layer]):
            x = rbm.visible_probability(x)
        return x


def layer_states(probabilities: torch.Tensor | np.ndarray) -> np.ndarray:
    """Binary states of a layer: unit on when p(h=1|v) > 1/2 (Song, Marsili & Jo 2018); uint8."""
    p = probabilities.numpy() if isinstance(probabilities, torch.Tensor) else np.asarray(probabilities)
    return (p > 0.5).astype(np.uint8)


def train_dbn(
    data: np.ndarray,
    hidden_widths: list[int],
    schedule: PCDSchedule,
    seed: int,
    snapshots=(),
) -> tuple[DBN, dict[tuple[int, int], np.ndarray], dict[int, list[float]]]:
    """Greedy layer-wise training of a DBN by PCD, recording the states of each layer.

    Parameters
    ----------
    data : ndarray of shape (n_samples, n_visible), values in [0, 1]
    hidden_widths : list of int
        Widths of the hidden layers, bottom to top.
    schedule : PCDSchedule
    seed : int
        Seed of the ``torch.Generator`` driving initialisation, minibatches and Gibbs sampling.
    snapshots : iterable of int
        Epochs (0 = initialisation) after which each layer's states on ``data`` are recorded.

    Returns
    -------
    dbn : DBN
    states : dict (layer, epoch) -> uint8 array of shape (n_samples, units)
        Layer l (1-based) thresholded at p > 1/2, computed through the trained layers below.
    errors : dict layer -> reconstruction error after each epoch
    """
    x = torch.as_tensor(np.asarray(data), dtype=torch.float64)
    generator = torch.Generator().manual_seed(int(seed))
    dbn = DBN([x.shape[1], *hidden_widths])
    states, errors = {}, {}
    for l, rbm in enumerate(dbn.rbms, 1):
        def record(epoch, model, layer=l, below=x):
            states[(layer, epoch)] = layer_states(model.hidden_probability(below))

        errors[l] = train_rbm(rbm, x, schedule, generator, snapshots, record, desc=f"RBM {l} ({rbm.n_visible}-{rbm.n_hidden})")
        x = rbm.hidden_probability(x)
    return dbn, states, errors


def generate(dbn: DBN, layer: int, n_samples: int, gibbs_steps: int, generator: torch.Generator) -> np.ndarray:
    """Samples of the visible units generated from layer ``layer``'s RBM.

    Chains start from uniformly random binary hidden states of layer ``layer`` (1-based), run
    ``gibbs_steps`` block Gibbs steps h -> v -> h in RBM ``layer``; the last p(v|h) of that RBM
    (layer ``layer - 1``) is then projected down deterministically through the lower RBMs'
    p(v|h) (Song, Marsili & Jo 2018).

    Returns
    -------
    ndarray of shape (n_samples, n_visible), pixel probabilities in [0, 1]
    """
    if not 1 <= layer <= len(dbn.rbms):
        raise ValueError(f"layer must lie in 1..{len(dbn.rbms)}, got {layer}")
    if n_samples < 1 or gibbs_steps < 0:
        raise ValueError(f"n_samples must be >= 1 and gibbs_steps >= 0, got {n_samples}, {gibbs_steps}")
    rbm = dbn.rbms[layer - 1]
    h = torch.bernoulli(torch.full((n_samples, rbm.n_hidden), 0.5, dtype=torch.float64), generator=generator)
    for _ in range(gibbs_steps):
        v = torch.bernoulli(rbm.visible_probability(h), generator=generator)
        h = torch.bernoulli(rbm.hidden_probability(v), generator=generator)
    v = rbm.visible_probability(h)
    return dbn.down(v, layer - 1).numpy()
