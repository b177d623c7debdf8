"""Spectrum of J J^T of a deep random network from free probability (the corrected mean field).

The input-output Jacobian of a deep net is a product J = W^L D^{L-1} W^{L-1} ... D^1 W^1 (with
D^L in front when the post-activation is observed), D^l = diag(phi'(h^l)). At large width the
factors are asymptotically free, so the S-transform of J J^T is the product of theirs
(Pennington, Schoenholz & Ganguli 2017, "Resurrecting the sigmoid in deep learning through
dynamical isometry", NeurIPS; 2018, "The emergence of spectral universality in deep networks",
AISTATS):

    S_{J J^T}(z) = prod_l S_{D_l^2}(z) * prod_l S_{W_l^T W_l}(z),

with S_{W^T W}(z) = sigma_w^{-2} / (1 + z) for Gaussian weights (Marchenko–Pastur, aspect
ratio 1) and sigma_w^{-2} for orthogonal ones. Conventions: for a positive spectral law rho,
psi(x) = int x t / (1 - x t) rho(t) dt is the moment generating function, chi = psi^{-1} on
(-1, 0) and S(z) = chi(z) (1 + z) / z.

Expanding S(z) = (1 / m_1) (1 - v z + O(z^2)) with v = m_2 / m_1^2 - 1 the normalised variance
of a factor, the product's mean and normalised variance are

    m_1(J J^T) = prod of the factors' means = sigma_w^{2 n_W} prod_l mu_1(q^l),
    kappa      = var(lambda) / m_1^2 = sum_l (mu_2(q^l) / mu_1(q^l)^2 - 1) + n_W s_W,

mu_k(q) = E[phi'(sqrt(q) z)^{2k}], s_W = 1 (Gaussian) or 0 (orthogonal). The classic mean field
keeps only m_1 (every squared singular value equal to prod chi_1); kappa is what it misses.

The information of a linear Gaussian channel with that spectrum is obtained without the
density itself: since d/da E[ln(1 + a lambda)] = -psi(-a) / a,

    E[ln(1 + snr lambda)] = int_{-inf}^{ln snr} -psi(-e^u) du,

and psi(-s) solves the real equation chi(psi) = -s on (-1, 0), i.e.
ln s = ln(-z) - ln(1 + z) + ln S(z) at z = psi(-s). Tabulating z on a grid gives the
integral by the trapezoidal rule (plus the tail m_1 s below the grid). Where the spectrum is
narrow, the second-order expansion E ln(1 + a lambda) ~ ln(1 + a m_1) - kappa (a m_1)^2 /
(2 (1 + a m_1)^2) is used instead (:func:`expected_log1p`).

Only nonlinearities with phi' > 0 everywhere (tanh, erf, linear) are supported: a D^2 with an
atom at zero (ReLU, hard tanh) has S-transforms on a shorter interval; those give NaN.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy.special import expit

from layerinfo.isometry.meanfield import gaussian_expectation_many, get_nonlinearity, normal_nodes_many

INITS = ("gaussian", "orthogonal")
# s_W: normalised variance of the spectrum of W^T W / sigma_w^2 (Marchenko–Pastur: 1; Haar: 0).
WEIGHT_VARIANCE = {"gaussian": 1.0, "orthogonal": 0.0}


def _log_d2(phi: str, h: np.ndarray) -> np.ndarray:
    """ln phi'(h)^2, computed without underflow (tanh: phi' = 4 / (e^h + e^-h)^2)."""
    if phi == "tanh":
        a = np.abs(h)
        return 2.0 * (2.0 * math.log(2.0) - 2.0 * a - 2.0 * np.log1p(np.exp(-2.0 * a)))
    if phi == "erf":
        return 2.0 * (math.log(2.0 / math.sqrt(math.pi)) - h**2)
    if phi == "linear":
        return np.zeros_like(h)
    raise ValueError(f"free-probability spectra need phi' > 0 everywhere; allowed: tanh, erf, linear, got {phi!r}")


def supported(phi: str) -> bool:
    """Whether :func:`expected_log1p` can treat ``phi`` (phi' > 0 everywhere)."""
    return phi in ("tanh", "erf", "linear")


def d2_moments(phi: str, q, points: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """mu_1(q) = E[phi'(sqrt(q) z)^2] and mu_2(q) = E[phi'(sqrt(q) z)^4] (z ~ N(0, 1)), arrays."""
    f = get_nonlinearity(phi)
    q = np.atleast_1d(np.asarray(q, dtype=np.float64))
    mu1 = gaussian_expectation_many(lambda u: f.dphi(u) ** 2, q, phi, points)
    mu2 = gaussian_expectation_many(lambda u: f.dphi(u) ** 4, q, phi, points)
    return mu1, mu2


def _check_init(init: str) -> None:
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; allowed: {', '.join(INITS)}")


def spectral_moments(phi: str, sigma_w: float, init: str, d_lengths, n_weights: int,
                     points: int = 40) -> tuple[float, float]:
    """Mean m_1 and normalised variance kappa of the spectrum of J J^T (module docstring).

    Parameters
    ----------
    phi : nonlinearity name
    sigma_w : weight scale
    init : {"gaussian", "orthogonal"}
    d_lengths : sequence of float
        Pre-activation length q^l of every D factor of J (one per D, in any order).
    n_weights : int
        Number of weight factors W in J.

    Returns
    -------
    (m_1, kappa) : mean squared singular value prod chi_1, and var(s^2) / m_1^2.
    """
    _check_init(init)
    q = np.asarray(list(d_lengths), dtype=np.float64)
    m1 = sigma_w ** (2 * n_weights)
    kappa = n_weights * WEIGHT_VARIANCE[init]
    if q.size:
        mu1, mu2 = d2_moments(phi, q, points)
        m1 *= float(np.prod(mu1))
        kappa += float(np.sum(mu2 / mu1**2 - 1.0))
    return float(m1), float(kappa)


@lru_cache(maxsize=256)
def _d2_chi_table(phi: str, q: float, points: int) -> tuple[np.ndarray, np.ndarray]:
    """(logit(-z), ln S_{D^2}(z)) along a grid of t = ln(-chi), for D^2 = phi'(sqrt(q) g)^2.

    With x = chi(z) = -e^t, psi(x) = -E[expit(t + ln d)]; so t -> z is explicit, and
    ln S = t + ln(1 + z) - ln(-z). Cached: every layer at the same length shares it.
    """
    z_nodes, w = normal_nodes_many(phi, np.array([q]), points)
    log_d = _log_d2(phi, math.sqrt(max(q, 0.0)) * z_nodes[0])
    t = np.linspace(-80.0, 600.0, 3401)
    arg = t[:, None] + log_d[None, :]  # (T, nodes)
    minus_z = expit(arg) @ w[0]
    one_plus_z = expit(-arg) @ w[0]  # 1 + z = E[expit(-(t + ln d))], accurate where z is near -1
    keep = (minus_z > 0) & (one_plus_z > 0)
    logit = np.log(minus_z[keep]) - np.log(one_plus_z[keep])
    log_s = t[keep] + np.log(one_plus_z[keep]) - np.log(minus_z[keep])
    logit.setflags(write=False)
    log_s.setflags(write=False)
    return logit, log_s


def _d2_log_s_on(phi: str, q: float, logit_grid: np.ndarray, points: int) -> np.ndarray:
    """ln S_{D^2}(z) at z = -expit(logit_grid) (NaN outside the tabulated range)."""
    logit, log_s = _d2_chi_table(phi, float(q), int(points))
    return np.interp(logit_grid, logit, log_s, left=np.nan, right=np.nan)


def expected_log1p(snr: float, phi: str, sigma_w: float, init: str, d_lengths, n_weights: int,
                   points: int = 40, method: str = "auto") -> float:
    """E[ln(1 + snr lambda)] in nats over the free-probability spectrum of J J^T.

    Parameters
    ----------
    snr : float > 0
    phi, sigma_w, init, d_lengths, n_weights : as :func:`spectral_moments`
    method : {"auto", "exact", "expansion"}
        ``"exact"``: the S-transform integral of the module docstring; ``"expansion"``:
        ln(1 + a m_1) - kappa (a m_1)^2 / (2 (1 + a m_1)^2); ``"auto"``: the expansion where
        its correction term is below 1e-4 nats (the spectrum too narrow for the rest to
        matter), else exact.

    Returns
    -------
    float, nats per dimension; NaN for unsupported phi.
    """
    if method not in ("auto", "exact", "expansion"):
        raise ValueError(f"method must be one of auto, exact, expansion, got {method!r}")
    if not snr > 0:
        raise ValueError(f"snr must be > 0, got {snr}")
    _check_init(init)
    if not supported(phi):
        return math.nan
    m1, kappa = spectral_moments(phi, sigma_w, init, d_lengths, n_weights, points)
    a = snr * m1
    frac = a / (1.0 + a)
    correction = 0.5 * kappa * frac**2
    if method == "expansion" or (method == "auto" and correction < 1e-4):
        return math.log1p(a) - correction
    # Common grid in v = logit(-z), z in (-1, 0).
    v = np.linspace(-30.0, 60.0, 9001)
    minus_z = expit(v)
    log_s = np.log(minus_z) - np.log(expit(-v)) - 2 * n_weights * math.log(sigma_w)
    if init == "gaussian":
        log_s -= n_weights * np.log(expit(-v))  # S_W = sigma_w^-2 / (1 + z)
    q = np.round(np.asarray(list(d_lengths), dtype=np.float64), 12)
    values, counts = np.unique(q, return_counts=True)
    for value, count in zip(values, counts):
        log_s = log_s + count * _d2_log_s_on(phi, float(value), v, points)
    ok = np.isfinite(log_s)
    v, minus_z, log_s = v[ok], minus_z[ok], log_s[ok]
    target = math.log(snr)
    if not (log_s[0] < target) or np.any(np.diff(log_s) <= 0):
        return math.nan
    # Tail below the grid: -psi(-s) ~ m_1 s, whose integral in u = ln s is m_1 s_min ~ -z_min.
    total = minus_z[0]
    if target <= log_s[-1]:
        end = np.searchsorted(log_s, target)
        z_end = np.interp(target, log_s[end - 1:end + 1], minus_z[end - 1:end + 1])
        us = np.concatenate([log_s[:end], [target]])
        zs = np.concatenate([minus_z[:end], [z_end]])
    else:  # beyond the grid -psi -> 1: the rest of the integral is its length
        us, zs = log_s, minus_z
        total += target - log_s[-1]
    return float(total + np.trapezoid(zs, us))


def corrected_bits(snr: float, width: int, phi: str, sigma_w: float, init: str, d_lengths, n_weights: int,
                   points: int = 40, method: str = "auto") -> float:
    """Corrected mean-field information (width / 2) E[log2(1 + snr lambda)] in bits."""
    return width * 0.5 * expected_log1p(snr, phi, sigma_w, init, d_lengths, n_weights, points, method) / math.log(2.0)


def classic_bits(snr: float, width: int, m1: float) -> float:
    """Classic mean-field information (width / 2) log2(1 + snr m_1): every s_i^2 = m_1 = prod chi_1."""
    return width * 0.5 * math.log1p(snr * m1) / math.log(2.0)
