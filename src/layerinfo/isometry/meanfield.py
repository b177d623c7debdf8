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
from functools import lru_cache

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
    x, v = _legendre(int(points))
    z = np.concatenate([(b - a) / 2 * x + (a + b) / 2 for a, b in zip(cuts, cuts[1:])])
    w = np.concatenate([(b - a) / 2 * v for a, b in zip(cuts, cuts[1:])])
    return z, w * np.exp(-(z**2) / 2) / math.sqrt(2.0 * math.pi)


@lru_cache(maxsize=32)
def _legendre(points: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss–Legendre nodes and weights on [-1, 1] (cached: computing them costs more than using them)."""
    x, v = np.polynomial.legendre.leggauss(points)
    x.setflags(write=False)
    v.setflags(write=False)
    return x, v


def normal_nodes_many(phi: str, q, points: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """:func:`normal_nodes` for many lengths at once: z and w of shape (len(q), n_nodes).

    Every length gets the same number of pieces (the breaks clipped to [-12, 12]; a break
    outside leaves a piece of zero length and zero weight), so one array holds them all and
    ``(w * f(sqrt(q)[:, None] * z)).sum(axis=1)`` is each E[f(sqrt(q) z)]. The same rule as the
    scalar one, to rounding.
    """
    if not (isinstance(points, (int, np.integer)) and points >= 2):
        raise ValueError(f"points must be an integer >= 2, got {points!r}")
    f = get_nonlinearity(phi)
    q = np.atleast_1d(np.asarray(q, dtype=np.float64))
    root = np.sqrt(np.clip(q, 0.0, None))
    with np.errstate(divide="ignore"):
        inner = [np.where(root > 0, np.clip(b / np.where(root > 0, root, 1.0), -12.0, 12.0), 12.0)
                 for b in f.breaks]
    fixed = np.broadcast_to(np.array([-12.0, 0.0, 12.0]), (q.size, 3))
    cuts = np.sort(np.column_stack([fixed, *inner]) if inner else fixed, axis=1)
    x, v = _legendre(int(points))
    a, b = cuts[:, :-1, None], cuts[:, 1:, None]
    z = ((b - a) / 2 * x + (a + b) / 2).reshape(q.size, -1)
    w = ((b - a) / 2 * v).reshape(q.size, -1)
    return z, w * np.exp(-(z**2) / 2) / math.sqrt(2.0 * math.pi)


def gaussian_expectation_many(fn, q, phi: str, points: int = 40) -> np.ndarray:
    """E[fn(sqrt(q) z)] for every length in ``q`` (array in, array out), z ~ N(0, 1)."""
    q = np.atleast_1d(np.asarray(q, dtype=np.float64))
    z, w = normal_nodes_many(phi, q, points)
    return (fn(np.sqrt(np.clip(q, 0.0, None))[:, None] * z) * w).sum(axis=1)


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


def critical_line_many(phi: str, sigma_bs, q0: float = 1.0, points: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """sigma_w on the critical line and q* there, for every bias scale in ``sigma_bs`` at once.

    On the critical line the fixed point q* and sigma_w satisfy chi_1(q*) = 1 and the length
    map, so both follow from q* alone (Poole et al. 2016; Schoenholz et al. 2017):

        sigma_w^2(q) = 1 / E[phi'(sqrt(q) z)^2],   sigma_b^2(q) = q - sigma_w^2(q) E[phi(sqrt(q) z)^2].

    The line is tabulated on a log grid of q and, for each target sigma_b, the root of
    sigma_b^2(q) = sigma_b^2 is bracketed on the grid and bisected in log q (all targets
    together, 60 halvings). sigma_b = 0 is the limit q -> 0: sigma_w = 1 / |phi'(0)|. For
    homogeneous phi (linear, ReLU) chi_1 does not depend on q: sigma_w = 1 / sqrt(E[phi'^2])
    for every sigma_b. q* is then taken from :func:`fixed_point_q` from ``q0``; a target whose
    fixed point from q0 is not the critical one (or a line that is not monotone) falls back to
    :func:`critical_sigma_w`. Same values as :func:`critical_sigma_w` to ~1e-9, 50 times faster.
    """
    f = get_nonlinearity(phi)
    sigma_bs = np.atleast_1d(np.asarray(sigma_bs, dtype=np.float64))
    if (sigma_bs < 0).any():
        raise ValueError(f"sigma_b must be >= 0, got {sigma_bs.tolist()}")

    def line(q):
        a = gaussian_expectation_many(lambda u: f.dphi(u) ** 2, q, phi, points)
        b = gaussian_expectation_many(lambda u: f.phi(u) ** 2, q, phi, points)
        return 1.0 / a, q - b / a

    out_w = np.full(sigma_bs.shape, math.nan)
    if f.homogeneous:
        out_w[:] = math.sqrt(line(np.array([1.0]))[0][0])
    else:
        grid = np.geomspace(1e-12, 1e6, 721)
        _, sb2 = line(grid)
        target = sigma_bs**2
        slope = float(f.dphi(np.zeros(1))[0])
        if slope > 0:
            out_w[target == 0.0] = 1.0 / slope
        if np.all(np.diff(sb2) > 0):
            todo = (target > sb2[0]) & (target < sb2[-1])
            idx = np.searchsorted(sb2, target[todo])
            lo, hi = np.log(grid[idx - 1]), np.log(grid[idx])
            for _ in range(60):
                mid = (lo + hi) / 2
                below = line(np.exp(mid))[1] < target[todo]
                lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
            out_w[todo] = np.sqrt(line(np.exp((lo + hi) / 2))[0])
    out_q = np.full(sigma_bs.shape, math.nan)
    for k, (sw, sb) in enumerate(zip(out_w, sigma_bs)):
        if not math.isfinite(sw):
            sw = out_w[k] = critical_sigma_w(phi, float(sb), q0, points)
            if not math.isfinite(sw):
                continue
        q = fixed_point_q(phi, float(sw), float(sb), q0, points)
        if abs(chi_1(phi, float(sw), q, points) - 1.0) > 1e-6 and not (f.homogeneous and math.isinf(q)):
            sw = out_w[k] = critical_sigma_w(phi, float(sb), q0, points)
            q = fixed_point_q(phi, sw, float(sb), q0, points) if math.isfinite(sw) else math.nan
        out_q[k] = q
    return out_w, out_q


def chi_1_many(phi: str, sigma_w, q, points: int = 40) -> np.ndarray:
    """chi_1 = sigma_w^2 E[phi'(sqrt(q) z)^2] for arrays of sigma_w and q (broadcast)."""
    f = get_nonlinearity(phi)
    sigma_w, q = np.broadcast_arrays(np.asarray(sigma_w, dtype=np.float64), np.asarray(q, dtype=np.float64))
    flat = q.ravel().copy()
    if f.homogeneous:
        flat[~np.isfinite(flat)] = 1.0
    ok = np.isfinite(flat)
    value = np.full(flat.shape, math.nan)
    if ok.any():
        value[ok] = gaussian_expectation_many(lambda u: f.dphi(u) ** 2, flat[ok], phi, points)
    return sigma_w**2 * value.reshape(q.shape)


def noisy_length_trajectory(phi: str, sigma_w: float, sigma_b: float, q_signal_1: float, depth: int,
                            epsilon: float, points: int = 40) -> np.ndarray:
    """Pre-activation lengths q^1 .. q^depth of a net with noise a fraction ``epsilon`` of each layer.

    h^l = W^l a^{l-1} + b^l + xi^l with xi^l ~ N(0, epsilon q^l I), q^l the layer's length
    including its noise: q^l = s^l + epsilon q^l, i.e.

        q^l = s^l / (1 - epsilon),   s^l = sigma_w^2 E[phi(sqrt(q^{l-1}) z)^2] + sigma_b^2,

    from the first layer's signal length s^1 = ``q_signal_1``. epsilon = 0 is the ordinary
    length map (:func:`length_trajectory`).
    """
    if not 0.0 <= epsilon < 1.0:
        raise ValueError(f"epsilon must be in [0, 1), got {epsilon}")
    q = np.empty(depth)
    q[0] = q_signal_1 / (1.0 - epsilon)
    for l in range(1, depth):
        q[l] = length_map(q[l - 1], phi, sigma_w, sigma_b, points) / (1.0 - epsilon)
    return q
