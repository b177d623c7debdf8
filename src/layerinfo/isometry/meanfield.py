"""Mean-field signal propagation in deep random networks, by Gauss–Legendre quadrature.

A fully connected net with weights W_ij ~ N(0, sigma_w^2 / N) and biases b_i ~ N(0, sigma_b^2)
maps the pre-activation length q^l = (1/N) sum_i (h_i^l)^2 and the correlation c^l of two
inputs layer by layer (Poole et al. 2016, Schoenholz et al. 2017):

    q^{l+1} = sigma_w^2 E_z[phi(sqrt(q^l) z)^2] + sigma_b^2                      (length map)
    c^{l+1} = (sigma_w^2 E[phi(u1) phi(u2)] + sigma_b^2) / q*,  u1 = sqrt(q*) z1,
              u2 = sqrt(q*) (c z1 + sqrt(1 - c^2) z2)                              (correlation map)
    chi_1 = sigma_w^2 E_z[phi'(sqrt(q*) z)^2]

with z, z1, z2 independent standard normals. chi_1 < 1 is the ordered phase, chi_1 > 1 the
chaotic one; chi_1 = 1 is the critical line. Every expectation is a Gaussian quadrature (no
sampling): Gauss–Legendre pieces against the normal density, split where phi' jumps or
varies (:func:`normal_nodes`; 1e-12 against closed forms in one dimension, see the tests).
The two-dimensional correlation map uses the product of those rules, whose pieces do not
follow the kinks in the rotated coordinate (about 1e-4 for ReLU and hard tanh).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.special import erf

# |chi - 1| below this counts as critical (the quadratures are accurate to ~1e-12).
CRITICAL_TOL = 1e-9


@dataclass(frozen=True)
class Nonlinearity:
    """phi and phi' on numpy arrays; ``homogeneous``: phi(a x) = a phi(x) for a > 0;
    ``breaks``: pre-activations where phi' jumps or changes on its own scale; quadratures
    split their range there, so a narrow phi' at large q is not missed."""

    name: str
    phi: Callable[[np.ndarray], np.ndarray]
    dphi: Callable[[np.ndarray], np.ndarray]
    homogeneous: bool = False
    breaks: tuple[float, ...] = ()


NONLINEARITIES: dict[str, Nonlinearity] = {
    n.name: n
    for n in [
        Nonlinearity("tanh", np.tanh, lambda x: 1.0 - np.tanh(x) ** 2, breaks=(-4.0, -1.5, 0.0, 1.5, 4.0)),
        Nonlinearity("hard_tanh", lambda x: np.clip(x, -1.0, 1.0), lambda x: (np.abs(x) < 1.0).astype(float),
                     breaks=(-1.0, 1.0)),
        Nonlinearity("erf", erf, lambda x: 2.0 / math.sqrt(math.pi) * np.exp(-(x**2)), breaks=(-3.0, -1.0, 0.0, 1.0, 3.0)),
        Nonlinearity("linear", lambda x: x, np.ones_like, homogeneous=True),
        Nonlinearity("relu", lambda x: np.maximum(x, 0.0), lambda x: (x > 0).astype(float), homogeneous=True,
                     breaks=(0.0,)),
    ]
}


def get_nonlinearity(name: str) -> Nonlinearity:
    """Look up a nonlinearity; unknown names raise ``ValueError`` listing the allowed ones."""
    if name not in NONLINEARITIES:
        raise ValueError(f"unknown nonlinearity {name!r}; allowed: {', '.join(NONLINEARITIES)}")
    return NONLINEARITIES[name]


def normal_nodes(phi: str, q: float, points: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Nodes z and weights w with sum(w f(sqrt(q) z)) ~ E[f(sqrt(q) z)], z ~ N(0, 1).

    Gauss–Legendre with ``points`` nodes on each piece of |z| <= 12 (tail mass 4e-33), the
    pieces split at phi's breaks b / sqrt(q), weighted by the normal density: exact across
    the kinks of ReLU and hard tanh and sharp where phi' is narrow at large q.
    """
    if not (isinstance(points, (int, np.integer)) and points >= 2):
        raise ValueError(f"points must be an integer >= 2, got {points!r}")
    f = get_nonlinearity(phi)
    root = math.sqrt(q) if q > 0 else 0.0
    inner = [b / root for b in f.breaks if root > 0 and abs(b / root) < 12.0]
    cuts = sorted({-12.0, 12.0, 0.0, *inner})
    x, v = np.polynomial.legendre.leggauss(int(points))
    z = np.concatenate([(b - a) / 2 * x + (a + b) / 2 for a, b in zip(cuts, cuts[1:])])
    w = np.concatenate([(b - a) / 2 * v for a, b in zip(cuts, cuts[1:])])
    return z, w * np.exp(-(z**2) / 2) / math.sqrt(2.0 * math.pi)


def gaussian_expectation(fn, q: float, phi: str, points: int = 40) -> float:
    """E[fn(sqrt(q) z)] for z ~ N(0, 1) by Gaussian quadrature (:func:`normal_nodes`)."""
    z, w = normal_nodes(phi, q, points)
    return float(fn(math.sqrt(max(q, 0.0)) * z) @ w)


def _check_scales(sigma_w: float, sigma_b: float) -> None:
    if not sigma_w > 0:
        raise ValueError(f"sigma_w must be > 0, got {sigma_w}")
    if not sigma_b >= 0:
        raise ValueError(f"sigma_b must be >= 0, got {sigma_b}")


def length_map(q: float, phi: str, sigma_w: float, sigma_b: float, points: int = 40) -> float:
    """q^{l+1} as a function of q^l."""
    f = get_nonlinearity(phi)
    return sigma_w**2 * gaussian_expectation(lambda u: f.phi(u) ** 2, q, phi, points) + sigma_b**2


def fixed_point_q(phi: str, sigma_w: float, sigma_b: float, q0: float = 1.0, points: int = 40,
                  q_max: float = 1e6) -> float:
    """The length q* that the length map reaches from ``q0``; ``inf`` if it grows without bound.

    g(q) = length_map(q) - q is scanned on a log grid and its sign changes are solved with
    Brent's method; from q0 the iteration moves up while g > 0 and down while g < 0, so q*
    is the nearest root in that direction (0 if it decays to zero). Where g vanishes
    identically near q0 (a homogeneous phi on its critical line with sigma_b = 0) every q
    is a fixed point and q* = q0.
    """
    _check_scales(sigma_w, sigma_b)
    if not q0 > 0:
        raise ValueError(f"q0 must be > 0, got {q0}")

    def g(q):
        return float(length_map(q, phi, sigma_w, sigma_b, points)) - q

    g0 = g(q0)
    if abs(g0) <= 1e-12 * max(q0, 1.0):
        return float(q0)
    if g0 > 0:
        grid = np.geomspace(q0, q_max, 41)
    else:
        grid = np.concatenate([np.geomspace(q0, 1e-12, 41), [0.0]])
    values = [g(q) for q in grid]
    for (a, ga), (b, gb) in zip(zip(grid, values), zip(grid[1:], values[1:])):
        if gb == 0.0:
            return float(b)
        if np.sign(ga) != np.sign(gb):
            return float(brentq(g, min(a, b), max(a, b), xtol=1e-14, rtol=1e-12))
    return math.inf if g0 > 0 else 0.0


def chi_1(phi: str, sigma_w: float, q: float, points: int = 40) -> float:
    """chi_1 = sigma_w^2 E[phi'(sqrt(q) z)^2]: mean squared singular value of one layer's Jacobian.

    For homogeneous phi (linear, ReLU) it does not depend on q, so an infinite q* is allowed.
    """
    f = get_nonlinearity(phi)
    if not math.isfinite(q):
        if not f.homogeneous:
            return math.nan
        q = 1.0
    return sigma_w**2 * gaussian_expectation(lambda u: f.dphi(u) ** 2, q, phi, points)


def chi_q(phi: str, sigma_w: float, q: float, points: int = 40) -> float:
    """Slope of the length map at q: sigma_w^2 E[phi(u) phi'(u) z] / sqrt(q), u = sqrt(q) z.

    (Stein's lemma turns d/dq E[phi(sqrt(q) z)^2] into this form, so phi'' is never needed.)
    At q = 0 the limit phi'(0)^2 sigma_w^2 is used.
    """
    f = get_nonlinearity(phi)
    if not math.isfinite(q):
        return math.nan
    if q <= 0.0:
        return float(sigma_w**2 * f.dphi(np.zeros(1))[0] ** 2)
    return sigma_w**2 * gaussian_expectation(lambda u: f.phi(u) * f.dphi(u) * u, q, phi, points) / q


def _pair_expectation(fn1, fn2, phi: str, q: float, c: float, points: int) -> float:
    z, w = normal_nodes(phi, q, points)
    u1 = math.sqrt(q) * z[:, None]
    u2 = math.sqrt(q) * (c * z[:, None] + math.sqrt(max(1.0 - c * c, 0.0)) * z[None, :])
    return float(w @ (fn1(u1) * fn2(u2)) @ w)


def correlation_map(c: float, phi: str, sigma_w: float, sigma_b: float, q: float, points: int = 40) -> float:
    """c^{l+1} as a function of c^l at length q (two-dimensional quadrature)."""
    f = get_nonlinearity(phi)
    return (sigma_w**2 * _pair_expectation(f.phi, f.phi, phi, q, c, points) + sigma_b**2) / q


def fixed_point_c(phi: str, sigma_w: float, sigma_b: float, q: float, points: int = 40) -> float:
    """The stable fixed point c* of the correlation map at length q (the fixed point q*).

    c = 1 is always a fixed point and is stable iff chi_1 <= 1 (ordered phase and critical
    line), so there c* = 1. In the chaotic phase the stable c* < 1 is the root of
    c_map(c) - c below 1, found with Brent's method between 0 (or -1) and 1 - 1e-9.
    Defined as 1 when q = 0 (every input collapses to one point), NaN when q is infinite.
    """
    if not math.isfinite(q):
        return math.nan
    if q <= 0.0 or chi_1(phi, sigma_w, q, points) <= 1.0 + CRITICAL_TOL:
        return 1.0

    def h(c: float) -> float:
        return correlation_map(c, phi, sigma_w, sigma_b, q, points) - c

    top = 1.0 - 1e-9
    for low in (0.0, -1.0 + 1e-9):
        h_low = h(low)
        if h_low == 0.0:
            return low
        if h_low > 0.0 > h(top):
            return float(brentq(h, low, top, xtol=1e-13))
    return math.nan


def chi_c(phi: str, sigma_w: float, q: float, c: float, points: int = 40) -> float:
    """Slope of the correlation map at c: sigma_w^2 E[phi'(u1) phi'(u2)]; equals chi_1 at c = 1."""
    f = get_nonlinearity(phi)
    if not (math.isfinite(q) and math.isfinite(c)):
        return math.nan
    if q <= 0.0:
        return float(sigma_w**2 * f.dphi(np.zeros(1))[0] ** 2)
    return sigma_w**2 * _pair_expectation(f.dphi, f.dphi, phi, q, c, points)


def depth_scale(chi: float) -> float:
    """xi = -1 / ln(chi): layers over which a deviation from the fixed point shrinks by e.

    Infinite at chi = 1 (within ``CRITICAL_TOL``); NaN where the fixed point is unstable
    (chi > 1) or undefined.
    """
    if not math.isfinite(chi) or chi <= 0.0 or chi > 1.0 + CRITICAL_TOL:
        return math.nan
    return math.inf if abs(chi - 1.0) <= CRITICAL_TOL else -1.0 / math.log(chi)


def critical_sigma_w(phi: str, sigma_b: float, q0: float = 1.0, points: int = 40,
                     bracket: tuple[float, float] = (0.05, 20.0)) -> float:
    """sigma_w on the critical line chi_1(q*) = 1 for the given sigma_b (NaN if none in ``bracket``)."""

    def excess(sigma_w: float) -> float:
        q = fixed_point_q(phi, sigma_w, sigma_b, q0, points)
        return chi_1(phi, sigma_w, q, points) - 1.0

    lo, hi = bracket
    a, b = excess(lo), excess(hi)
    if not (np.isfinite(a) and np.isfinite(b)) or np.sign(a) == np.sign(b):
        return math.nan
    return float(brentq(excess, lo, hi, xtol=1e-10, rtol=1e-9))


def phase_point(phi: str, sigma_w: float, sigma_b: float, q0: float = 1.0, points: int = 40) -> dict[str, float]:
    """Every mean-field quantity at one (sigma_w, sigma_b): q*, c*, chi_1, chi_q, chi_c and depth scales."""
    q = fixed_point_q(phi, sigma_w, sigma_b, q0, points)
    c = fixed_point_c(phi, sigma_w, sigma_b, q, points)
    x1 = chi_1(phi, sigma_w, q, points)
    xq = chi_q(phi, sigma_w, q, points)
    xc = chi_c(phi, sigma_w, q, c, points)
    return {
        "q_star": q,
        "c_star": c,
        "chi_1": x1,
        "chi_q": xq,
        "chi_c": xc,
        "xi_q": depth_scale(xq),
        "xi_c": depth_scale(xc),
        "phase": "critical" if abs(x1 - 1.0) <= CRITICAL_TOL else ("ordered" if x1 < 1.0 else "chaotic"),
    }


def length_trajectory(phi: str, sigma_w: float, sigma_b: float, q1: float, depth: int,
                      added_variance: float = 0.0, points: int = 40) -> np.ndarray:
    """q^1 .. q^depth from q^1, with ``added_variance`` (e.g. noise) added to every layer's output.

    q^{l+1} = sigma_w^2 (E[phi(sqrt(q^l) z)^2] + added_variance) + sigma_b^2.
    """
    q = np.empty(depth)
    q[0] = q1
    for l in range(1, depth):
        q[l] = length_map(q[l - 1], phi, sigma_w, sigma_b, points) + sigma_w**2 * added_variance
    return q
