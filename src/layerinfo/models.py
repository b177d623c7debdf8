"""Network architectures: fully connected nets with a registry of activation functions."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn


@dataclass(frozen=True)
class Activation:
    """A pointwise nonlinearity and the range of its values.

    ``lower``/``upper`` are the infimum/supremum of the function over the reals
    (``-inf``/``inf`` when unbounded); estimators use ``lower`` as the natural first
    bin edge (e.g. 0 for ReLU) and plots use the range for axes.
    """

    name: str
    fn: Callable[[torch.Tensor], torch.Tensor] | None
    lower: float
    upper: float
    learnable: bool = False


# Minimum of swish x*sigmoid(x), reached at x ~ -1.2785 (root of 1 + x(1 - sigmoid(x)) = 0).
_SWISH_MIN = -0.27846454276107380
_LN2 = math.log(2.0)

ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in [
        Activation("tanh", torch.tanh, -1.0, 1.0),
        Activation("relu", torch.relu, 0.0, math.inf),
        Activation("elu", nn.functional.elu, -1.0, math.inf),
        Activation("softplus", nn.functional.softplus, 0.0, math.inf),
        # Softplus shifted so that it passes through the origin (Chelombiev et al. 2019).
        Activation("softplus_centred", lambda x: nn.functional.softplus(x) - _LN2, -_LN2, math.inf),
        Activation("swish", nn.functional.silu, _SWISH_MIN, math.inf),
        Activation("abs", torch.abs, 0.0, math.inf),
        Activation("sigmoid", torch.sigmoid, 0.0, 1.0),
        Activation("softsign", nn.functional.softsign, -1.0, 1.0),
        Activation("linear", None, -math.inf, math.inf),
        Activation("hard_tanh", nn.functional.hardtanh, -1.0, 1.0),
        Activation("erf", torch.erf, -1.0, 1.0),
        # Leaky ReLU with one learnable slope per layer, initialised at 0.25 (He et al. 2015).
        Activation("prelu", None, -math.inf, math.inf, learnable=True),
    ]
}


def get_activation(name: str) -> Activation:
    """Look up an activation by name; unknown names raise ``ValueError`` listing the allowed ones."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; allowed: {', '.join(ACTIVATIONS)}"
        ) from None


class _Pointwise(nn.Module):
    def __init__(self, activation: Activation):
        super().__init__()
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.activation.fn is None else self.activation.fn(x)

    def extra_repr(self) -> str:
        return self.activation.name


PRELU_INIT = 0.25  # torch's default initial slope; the information-plane reference code starts at 0


def make_nonlinearity(name: str, prelu_init: float = PRELU_INIT) -> nn.Module:
    """A module applying the named activation (a fresh ``nn.PReLU`` with initial slope
    ``prelu_init`` for ``prelu``)."""
    activation = get_activation(name)
    if activation.name == "prelu":
        return nn.PReLU(num_parameters=1, init=prelu_init)
    return _Pointwise(activation)


class MLP(nn.Module):
    """Fully connected network ``n_inputs -> hidden_widths... -> n_outputs``.

    Hidden layers apply ``activation``; the output layer is linear and its softmax
    is reported as the last recorded layer. :meth:`forward_layers` returns every
    layer's values so that activations can be recorded without hooks.
    """

    def __init__(self, n_inputs: int, hidden_widths: list[int], n_outputs: int, activation: str,
                 prelu_init: float = PRELU_INIT):
        super().__init__()
        widths = [n_inputs, *hidden_widths, n_outputs]
        self.activation_name = get_activation(activation).name
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.nonlinearities = nn.ModuleList(make_nonlinearity(activation, prelu_init) for _ in hidden_widths)

    @property
    def hidden_linears(self) -> list[nn.Linear]:
        return list(self.linears[:-1])

    def layer_specs(self) -> list[dict]:
        """Name, activation and width of each recorded layer (hidden layers, then the softmax output)."""
        specs = [
            {"name": f"hidden{i + 1}", "activation": self.activation_name, "units": lin.out_features}
            for i, lin in enumerate(self.hidden_linears)
        ]
        specs.append({"name": "output", "activation": "softmax", "units": self.linears[-1].out_features})
        return specs

    def forward_layers(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Return ``(logits, layers)``: layers are the hidden activations and the output softmax."""
        layers = []
        for linear, nonlinearity in zip(self.hidden_linears, self.nonlinearities):
            x = nonlinearity(linear(x))
            layers.append(x)
        logits = self.linears[-1](x)
        layers.append(torch.softmax(logits, dim=1))
        return logits, layers

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for linear, nonlinearity in zip(self.hidden_linears, self.nonlinearities):
            x = nonlinearity(linear(x))
        return self.linears[-1](x)


class MLPEnsemble(nn.Module):
    """M networks of one architecture trained side by side with batched matrix products.

    Built from initialised :class:`MLP` members, whose parameters are stacked along a
    leading member axis. Everything is feature-major, samples last: layer l holds
    ``weights[l] (M, out, in)`` (each member's ``nn.Linear.weight``) and ``biases[l]
    (M, out, 1)``, and its values are ``(M, units, N)``, so a layer is one
    ``baddbmm(bias, W, h)`` whose bias broadcasts along the long sample axis (adding it over
    a short innermost axis instead made the product three times slower). With ``prelu``,
    ``slopes[l] (M, 1, 1)`` holds each member's learnable slope.

    Members never interact: the gradient of the summed per-member losses with respect to one
    member's parameters is that member's own gradient, and Adam and SGD act element by
    element, so a member trains as it would alone, up to the rounding of the batched
    products (see :func:`layerinfo.training.train_runs`).
    """

    def __init__(self, members: list[MLP]):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        first = members[0]
        shapes = [tuple(lin.weight.shape) for lin in first.linears]
        for m in members[1:]:
            if [tuple(lin.weight.shape) for lin in m.linears] != shapes or m.activation_name != first.activation_name:
                raise ValueError("ensemble members must share architecture and activation")
        self.activation_name = first.activation_name
        self._specs = first.layer_specs()
        n_layers = len(first.linears)
        self.weights = nn.ParameterList(
            nn.Parameter(torch.stack([m.linears[l].weight.detach() for m in members]).contiguous())
            for l in range(n_layers)
        )
        self.biases = nn.ParameterList(
            nn.Parameter(torch.stack([m.linears[l].bias.detach()[:, None] for m in members]).contiguous())
            for l in range(n_layers)
        )
        if self.activation_name == "prelu":
            self.slopes = nn.ParameterList(
                nn.Parameter(torch.stack([m.nonlinearities[l].weight.detach().reshape(1, 1) for m in members]))
                for l in range(n_layers - 1)
            )
        self._fn = get_activation(self.activation_name).fn

    @property
    def n_members(self) -> int:
        return self.weights[0].shape[0]

    def layer_specs(self) -> list[dict]:
        return self._specs

    def hidden_weights(self) -> list[torch.Tensor]:
        return list(self.weights[:-1])

    def _affine(self, l: int, h: torch.Tensor) -> torch.Tensor:
        w, b = self.weights[l], self.biases[l]
        if h.dim() == 2:  # one input shared by all members: a single product
            m, out, n_in = w.shape
            return torch.addmm(b.reshape(m * out, 1), w.reshape(m * out, n_in), h).view(m, out, -1)
        return torch.baddbmm(b, w, h)

    def _hidden(self, l: int, h: torch.Tensor) -> torch.Tensor:
        z = self._affine(l, h)
        if self.activation_name == "prelu":
            # = where(z >= 0, z, a z) exactly, but torch.where is ~10x slower on the CPU here
            return torch.relu(z) - self.slopes[l] * torch.relu(-z)
        return z if self._fn is None else self._fn(z)

    def forward_layers(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Logits ``(M, classes, N)`` and every recorded layer ``(M, units, N)`` (softmax output last).

        ``x`` is ``(M, in, N)``, each member's own samples as columns, or ``(in, N)`` for
        samples shared by all members. Member k's layer in the usual sample-major layout
        is ``layers[l][k].T``.
        """
        layers = []
        for l in range(len(self.weights) - 1):
            x = self._hidden(l, x)
            layers.append(x)
        logits = self._affine(len(self.weights) - 1, x)
        layers.append(torch.softmax(logits, dim=1))
        return logits, layers

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(M, classes, N)`` of ``x (M, in, N)`` or shared ``x (in, N)``."""
        for l in range(len(self.weights) - 1):
            x = self._hidden(l, x)
        return self._affine(len(self.weights) - 1, x)
