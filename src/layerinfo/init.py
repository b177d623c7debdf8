"""Weight initialisations: the reference code's truncated normal, Gaussian (sigma_w, sigma_b)
and orthogonal (isometric) with a gain.

All schemes draw from an explicit ``torch.Generator``; nothing touches the global seed.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from layerinfo.options import resolve_options

SCHEMES: dict[str, dict[str, float]] = {
    # name -> parameters with their defaults
    "truncated_normal": {"gain": 1.0, "bias": 0.0},
    "gaussian": {"sigma_w": 1.0, "sigma_b": 0.0},
    "orthogonal": {"gain": 1.0, "sigma_b": 0.0},
}


# std = gain / sqrt(fan_in) in the information-plane reference code (IDNNs / adaptive_estimators,
# networks/model.py): 2 for ReLU, softplus, ELU, PReLU and swish, 1 for tanh and abs. Our reading
# for the activations it does not have: 2 for the centred softplus (a shifted softplus), 1 for the
# bounded or linear ones.
REFERENCE_GAINS = {"relu": 2.0, "softplus": 2.0, "softplus_centred": 2.0, "elu": 2.0, "prelu": 2.0,
                   "swish": 2.0, "tanh": 1.0, "abs": 1.0, "sigmoid": 1.0, "softsign": 1.0, "linear": 1.0}


def reference_gain(activation: str) -> float:
    """The reference code's ``gain`` of the truncated normal for ``activation``."""
    if activation not in REFERENCE_GAINS:
        raise ValueError(f"no reference gain for activation {activation!r}; "
                         f"allowed: {', '.join(REFERENCE_GAINS)} (or give gain as a number)")
    return REFERENCE_GAINS[activation]


def resolve_gain(params: dict, activation: str) -> dict:
    """``params`` with ``gain: reference`` replaced by the activation's reference gain."""
    if params.get("gain") == "reference":
        return {**params, "gain": reference_gain(activation)}
    return params


def check_scheme(scheme: str, params: dict) -> dict[str, float]:
    """Validate a scheme name and its parameters; return the parameters with defaults filled."""
    return resolve_options("initialisation scheme", scheme, SCHEMES, params)


@torch.no_grad()
def init_linear(linear: nn.Linear, scheme: str, generator: torch.Generator, **params: float) -> None:
    """Initialise one ``nn.Linear`` in place.

    Parameters
    ----------
    linear : nn.Linear
        Layer with weight of shape ``(fan_out, fan_in)``.
    scheme : {"truncated_normal", "gaussian", "orthogonal"}
        ``truncated_normal``: W ~ N(0, (gain/sqrt(fan_in))^2) truncated at two standard
        deviations (TensorFlow's ``truncated_normal`` as used by the information-plane
        reference code), constant bias ``bias``.
        ``gaussian``: W_ij ~ N(0, sigma_w^2 / fan_in), b_i ~ N(0, sigma_b^2) (mean-field convention).
        ``orthogonal``: W = gain * Q with Q (semi-)orthogonal, Haar distributed, so
        W W^T = gain^2 I when fan_out <= fan_in (or W^T W = gain^2 I otherwise);
        b_i ~ N(0, sigma_b^2).
    generator : torch.Generator
        Source of randomness.
    """
    params = check_scheme(scheme, params)
    weight, bias = linear.weight, linear.bias
    fan_in = weight.shape[1]
    if scheme == "truncated_normal":
        std = params["gain"] / math.sqrt(fan_in)
        nn.init.trunc_normal_(weight, mean=0.0, std=std, a=-2 * std, b=2 * std, generator=generator)
        if bias is not None:
            bias.fill_(params["bias"])
        return
    if scheme == "gaussian":
        weight.normal_(0.0, params["sigma_w"] / math.sqrt(fan_in), generator=generator)
    else:
        nn.init.orthogonal_(weight, gain=params["gain"], generator=generator)
    if bias is not None:
        sigma_b = params["sigma_b"]
        if sigma_b > 0:
            bias.normal_(0.0, sigma_b, generator=generator)
        else:
            bias.zero_()


def init_network(linears: list[nn.Linear], scheme: str, seed: int, **params: float) -> None:
    """Initialise every layer of a network from one seed, layer by layer in order."""
    generator = torch.Generator().manual_seed(int(seed))
    for linear in linears:
        init_linear(linear, scheme, generator, **params)
