"""Restricted Boltzmann machines and deep belief networks (greedily stacked RBMs).

An RBM with binary visible units v (data in [0, 1] are used as probabilities) and binary
hidden units h has the energy E(v, h) = -b·v - c·h - hᵀ W v and the free energy

    F(v) = -b·v - sum_j softplus(c_j + W_j·v),    p(v) = exp(-F(v)) / Z.

It is trained by persistent contrastive divergence (PCD, Tieleman 2008): the positive
statistics use p(h=1|v) on a minibatch of data, the negative statistics the same on a set of
persistent Gibbs chains. A deep belief network stacks RBMs greedily (Hinton, Osindero & Teh
2006): RBM l is trained on the deterministic sigmoid up-pass p(h=1|v) of the layer below. Song,
Marsili & Jo 2018 (arXiv:1710.11324) state PCD with learning rate 0.1, momentum 0.5 -> 0 and L2
1e-4, but not the initialisation, the schedules or the chains. Two protocols fill the gaps
(:data:`PROTOCOLS`, every item overridable):

* ``authors``: the choices of public code that very probably belongs to the authors (a
  ``dbn_functions.py`` with ``CalHKHS``, ``trainRBM`` and ``generation``): W = 4 sqrt(6 /
  (n_v + n_h)) N(0, 1) and zero biases; lr 0.1, divided by (t - t0) over the last 10% of the
  epochs; momentum 0.5, 0.4, ..., 0.1 over the first 5 epochs and 0 after, entering as
  dw = lr (grad + alpha dw); 25 persistent particles read 4 times per update (100 negatives),
  two Gibbs steps between readings, visible units mean-field; batches of 100 in data order.
* ``hinton``: Hinton's practical guide (2010): W ~ N(0, 0.01²), hidden biases 0, visible
  biases ln(p / (1 - p)) of the data means; lr constant for half the epochs, then lr t0 / t;
  momentum falling linearly over all epochs; one persistent chain per minibatch sample, one
  Gibbs step per update, binary visible samples; shuffled minibatches of 50.
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

    def initialise(self, data: torch.Tensor, generator: torch.Generator, weight_std: float = 0.01,
                   scheme: str = "hinton") -> None:
        """Initial parameters.

        * ``"hinton"`` (Hinton 2010, §8): W ~ N(0, weight_std²), c = 0, b = logit of the data
          means (clipped to [1e-3, 1 - 1e-3] so that always-off pixels get a finite bias);
        * ``"glorot_sigmoid"`` (the authors' code): W = 4 sqrt(6 / (n_visible + n_hidden)) N(0, 1),
          b = c = 0 (the Glorot–Bengio sigmoid bound used as a standard deviation: 0.273 for
          784 x 500); ``weight_std`` is not used.
        """
        if scheme not in INIT_SCHEMES:
            raise ValueError(f"init: unknown scheme {scheme!r}; allowed values: {', '.join(INIT_SCHEMES)}")
        with torch.no_grad():
            noise = torch.randn(self.W.shape, generator=generator, dtype=self.W.dtype)
            self.c.zero_()
            if scheme == "hinton":
                self.W.copy_(weight_std * noise)
                p = data.to(self.b.dtype).mean(0).clamp(1e-3, 1 - 1e-3)
                self.b.copy_(torch.log(p / (1 - p)))
            else:
                self.W.copy_(glorot_sigmoid_std(self.n_visible, self.n_hidden) * noise)
                self.b.zero_()

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

    def gibbs_step(self, v: torch.Tensor, generator: torch.Generator, mean_field: bool = False) -> torch.Tensor:
        """One step v -> h ~ p(h|v) -> v' of block Gibbs sampling.

        v' ~ p(v|h) (binary) by default; with ``mean_field`` v' = p(v=1|h), the visible
        probabilities themselves (the authors' chains).
        """
        h = torch.bernoulli(self.hidden_probability(v), generator=generator)
        p = self.visible_probability(h)
        return p if mean_field else torch.bernoulli(p, generator=generator)

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


INIT_SCHEMES = ("hinton", "glorot_sigmoid")
DECAYS = ("t0_over_t", "shifted_inverse")
MOMENTUM_UPDATES = ("velocity", "scaled")
NEGATIVE_VISIBLE = ("sample", "mean_field")
CHAIN_INITS = ("data", "uniform")
BATCH_ORDERS = ("shuffled", "fixed")


def glorot_sigmoid_std(n_visible: int, n_hidden: int) -> float:
    """4 sqrt(6 / (n_visible + n_hidden)): the authors' initial weight scale (0.2734 for 784 x 500)."""
    return 4.0 * math.sqrt(6.0 / (n_visible + n_hidden))


#: Training protocols of the RBMs: every field of :class:`PCDSchedule` that the two differ in.
#: ``authors``: the authors' public code (attribution probable, see the module docstring);
#: ``hinton``: Hinton's practical guide, this project's choice before that code was found.
PROTOCOLS = {
    "hinton": {
        "batch_size": 50, "decay": "t0_over_t", "decay_start": 0.5, "momentum_epochs": None,
        "momentum_update": "velocity", "init": "hinton", "weight_std": 0.01, "n_chains": None,
        "negative_reads": 1, "gibbs_steps": 1, "negative_visible": "sample", "chain_init": "data",
        "batch_order": "shuffled",
    },
    "authors": {
        "batch_size": 100, "decay": "shifted_inverse", "decay_start": 0.9, "momentum_epochs": 5,
        "momentum_update": "scaled", "init": "glorot_sigmoid", "weight_std": 0.01, "n_chains": 25,
        "negative_reads": 4, "gibbs_steps": 2, "negative_visible": "mean_field", "chain_init": "uniform",
        "batch_order": "fixed",
    },
}


@dataclass(frozen=True)
class PCDSchedule:
    """Hyper-parameters of persistent contrastive divergence (defaults: the ``hinton`` protocol).

    Epochs t are counted from 1 (the authors' code counts e = t - 1 from 0).

    * Learning rate (:meth:`rate`), with t0 = round(decay_start * epochs): ``learning_rate``
      for t <= t0, then ``learning_rate * t0 / t`` (``decay="t0_over_t"``) or
      ``learning_rate / (t - t0)`` (``decay="shifted_inverse"``; the authors: t0 = 180 of 200,
      0.1 / 20 at the last epoch).
    * Momentum (:meth:`momentum`): linear from ``momentum_start`` at t = 1 to ``momentum_end``
      at t = 1 + n and constant after, n = ``momentum_epochs`` (None: epochs - 1, i.e. over the
      whole training). With ``momentum_update="velocity"`` the step is dw <- alpha dw + lr g,
      with ``"scaled"`` dw <- lr (g + alpha dw) (the authors'); g includes -l2 W for W.
    * Chains: ``n_chains`` persistent particles (None: batch_size), started from Bernoulli
      samples of random data rows (``chain_init="data"``) or uniform visible probabilities
      (``"uniform"``). Per update they are read ``negative_reads`` times, ``gibbs_steps`` Gibbs
      steps apart, and every reading joins the negative statistics (n_chains * negative_reads
      negatives). ``negative_visible="mean_field"`` keeps p(v|h) as the chains' visible state
      instead of a binary sample.
    * ``init``: ``"hinton"`` (W ~ N(0, weight_std²), visible biases logit of the data means) or
      ``"glorot_sigmoid"`` (:meth:`RBM.initialise`). ``batch_order``: ``"shuffled"`` each epoch
      or ``"fixed"`` (data order). ``l2``: weight decay on W (not on the biases).
    """

    epochs: int = 30
    batch_size: int = 50
    learning_rate: float = 0.1
    decay: str = "t0_over_t"
    decay_start: float = 0.5
    momentum_start: float = 0.5
    momentum_end: float = 0.0
    momentum_epochs: int | None = None
    momentum_update: str = "velocity"
    l2: float = 1e-4
    init: str = "hinton"
    weight_std: float = 0.01
    n_chains: int | None = None
    negative_reads: int = 1
    gibbs_steps: int = 1
    negative_visible: str = "sample"
    chain_init: str = "data"
    batch_order: str = "shuffled"

    def __post_init__(self):
        for name in ("epochs", "batch_size", "gibbs_steps", "negative_reads"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("n_chains", "momentum_epochs"):
            value = getattr(self, name)
            if value is not None and int(value) < (1 if name == "n_chains" else 0):
                raise ValueError(f"{name} must be None or >= {1 if name == 'n_chains' else 0}, got {value}")
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
        for name, allowed in (("decay", DECAYS), ("momentum_update", MOMENTUM_UPDATES), ("init", INIT_SCHEMES),
                              ("negative_visible", NEGATIVE_VISIBLE), ("chain_init", CHAIN_INITS),
                              ("batch_order", BATCH_ORDERS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name}: {getattr(self, name)!r} is not allowed; allowed values: {', '.join(allowed)}")

    @classmethod
    def from_protocol(cls, protocol: str = "hinton", **overrides) -> "PCDSchedule":
        """The schedule of a protocol of :data:`PROTOCOLS`, with any field overridden."""
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol: unknown protocol {protocol!r}; allowed values: {', '.join(PROTOCOLS)}")
        unknown = sorted(set(overrides) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"unknown schedule key(s) {', '.join(unknown)}; allowed: {', '.join(cls.__dataclass_fields__)}")
        return cls(**{**PROTOCOLS[protocol], **overrides})

    def rate(self, epoch: int) -> float:
        """Learning rate of epoch ``epoch`` (1-based)."""
        t0 = round(self.decay_start * self.epochs)
        if epoch <= t0 or (self.decay == "t0_over_t" and t0 < 1):
            return self.learning_rate
        return self.learning_rate * t0 / epoch if self.decay == "t0_over_t" else self.learning_rate / (epoch - t0)

    def momentum(self, epoch: int) -> float:
        """Momentum of epoch ``epoch`` (1-based): linear from momentum_start over ``momentum_epochs``."""
        n = self.epochs - 1 if self.momentum_epochs is None else int(self.momentum_epochs)
        frac = 1.0 if n == 0 else min(epoch - 1, n) / n
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

    Initialises the RBM (:meth:`RBM.initialise` with ``schedule.init``), then runs
    ``schedule.epochs`` epochs of minibatches (:class:`PCDSchedule` for the learning rate,
    momentum, chains and batch order; a last incomplete batch is dropped). ``on_snapshot(epoch,
    rbm)`` is called after each epoch listed in ``snapshots`` (0 = after initialisation).

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
    n_chains = batch if schedule.n_chains is None else int(schedule.n_chains)
    mean_field = schedule.negative_visible == "mean_field"
    rbm.initialise(data, generator, schedule.weight_std, schedule.init)
    if 0 in snapshots and on_snapshot is not None:
        on_snapshot(0, rbm)
    if schedule.chain_init == "data":
        start = data[torch.randint(n, (n_chains,), generator=generator)]
    else:
        start = torch.rand((n_chains, rbm.n_visible), generator=generator, dtype=rbm.W.dtype)
    chains = start if mean_field else torch.bernoulli(start, generator=generator)
    velocity = [torch.zeros_like(p) for p in (rbm.W, rbm.b, rbm.c)]
    scaled = schedule.momentum_update == "scaled"
    errors = []
    for epoch in progress(range(1, schedule.epochs + 1), desc=desc, total=schedule.epochs, lines=3):
        lr, mom = schedule.rate(epoch), schedule.momentum(epoch)
        order = torch.arange(n) if schedule.batch_order == "fixed" else torch.randperm(n, generator=generator)
        for i in range(0, n - batch + 1, batch):
            v = data[order[i:i + batch]]
            readings = []
            for _ in range(schedule.negative_reads):
                for _ in range(schedule.gibbs_steps):
                    chains = rbm.gibbs_step(chains, generator, mean_field)
                readings.append(chains)
            dW, db, dc = rbm.gradient(v, readings[0] if len(readings) == 1 else torch.cat(readings))
            dW = dW - schedule.l2 * rbm.W
            with torch.no_grad():
                for p, vel, g in zip((rbm.W, rbm.b, rbm.c), velocity, (dW, db, dc)):
                    if scaled:  # dw <- lr (g + alpha dw)
                        vel.mul_(mom).add_(g).mul_(lr)
                    else:  # dw <- alpha dw + lr g
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
    measure: np.ndarray | None = None,
) -> tuple[DBN, dict[tuple[int, int], np.ndarray], dict[int, list[float]]]:
    """Greedy layer-wise training of a DBN by PCD, recording the states of each layer.

    Parameters
    ----------
    data : ndarray of shape (n_samples, n_visible), values in [0, 1]
        The training inputs.
    hidden_widths : list of int
        Widths of the hidden layers, bottom to top.
    schedule : PCDSchedule
    seed : int
        Seed of the ``torch.Generator`` driving initialisation, minibatches and Gibbs sampling.
    snapshots : iterable of int
        Epochs (0 = initialisation) after which each layer's states are recorded.
    measure : ndarray of shape (n_measure, n_visible), optional
        The inputs whose states are recorded (default ``data``; e.g. training then test images).

    Returns
    -------
    dbn : DBN
    states : dict (layer, epoch) -> uint8 array of shape (n_measure, units)
        Layer l (1-based) thresholded at p > 1/2, computed through the trained layers below.
    errors : dict layer -> reconstruction error after each epoch
    """
    x = torch.as_tensor(np.asarray(data), dtype=torch.float64)
    probe = x if measure is None else torch.as_tensor(np.asarray(measure), dtype=torch.float64)
    generator = torch.Generator().manual_seed(int(seed))
    dbn = DBN([x.shape[1], *hidden_widths])
    states, errors = {}, {}
    for l, rbm in enumerate(dbn.rbms, 1):
        def record(epoch, model, layer=l, below=probe):
            states[(layer, epoch)] = layer_states(model.hidden_probability(below))

        errors[l] = train_rbm(rbm, x, schedule, generator, snapshots, record, desc=f"RBM {l} ({rbm.n_visible}-{rbm.n_hidden})")
        x = rbm.hidden_probability(x)
        probe = x if measure is None else rbm.hidden_probability(probe)
    return dbn, states, errors


def generate(dbn: DBN, layer: int, n_samples: int, gibbs_steps: int, generator: torch.Generator,
             mean_field: bool = False) -> np.ndarray:
    """Samples of the visible units generated from layer ``layer``'s RBM.

    Chains start from uniformly random binary hidden states of layer ``layer`` (1-based) and run
    ``gibbs_steps`` block Gibbs steps h -> v -> h in RBM ``layer``, the hidden units sampled and
    the visible ones sampled (default) or kept at p(v|h) (``mean_field``, the authors' chains);
    the last p(v|h) of that RBM (layer ``layer - 1``) is then projected down deterministically
    through the lower RBMs' p(v|h) (Song, Marsili & Jo 2018).

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
        p = rbm.visible_probability(h)
        v = p if mean_field else torch.bernoulli(p, generator=generator)
        h = torch.bernoulli(rbm.hidden_probability(v), generator=generator)
    v = rbm.visible_probability(h)
    return dbn.down(v, layer - 1).numpy()
