"""Closed-form kernels of the lazy, infinite-width limit, the GP predictor, and kernel alignment."""

from __future__ import annotations

import numpy as np

from layerinfo.coding.units import check_nonlinearity
from layerinfo.coding.tasks import one_hot


def nngp_kernel(x1: np.ndarray, x2: np.ndarray, nonlinearity: str, depth: int = 1,
                sigma_w2: float = 1.0) -> np.ndarray:
    """``E[phi(z^L(x)) phi(z^L(x'))]`` over the Gaussian prior at infinite width.

    Pre-activations of layer 1 have covariance ``k = sigma_w2 x.x' / N0``; each further layer has
    ``k' = sigma_w2 E[phi(u) phi(v)]`` with ``(u, v)`` Gaussian of covariance ``k``. Closed forms:
    linear ``E = k12``; erf (Williams 1997) ``E = (2/pi) arcsin(2 k12 / sqrt((1 + 2 k11)(1 + 2 k22)))``;
    sigmoid ``phi = (1 + erf(c z)) / 2`` with ``c^2 = pi / 4``: ``E = 1/4 + (1/(2 pi))
    arcsin(2 c^2 k12 / sqrt((1 + 2 c^2 k11)(1 + 2 c^2 k22)))`` (the erf form with ``k -> c^2 k``,
    the odd parts averaging to zero);
    ReLU (arc-cosine kernel of order 1, Cho & Saul 2009)
    ``E = sqrt(k11 k22) (sin t + (pi - t) cos t) / (2 pi)`` with ``cos t = k12 / sqrt(k11 k22)``.

    Returns
    -------
    ndarray, shape (n1, n2)
    """
    check_nonlinearity(nonlinearity)
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    x1, x2 = np.asarray(x1, float), np.asarray(x2, float)
    n0 = x1.shape[1]
    k12 = sigma_w2 * x1 @ x2.T / n0
    k11 = sigma_w2 * np.sum(x1 ** 2, 1) / n0
    k22 = sigma_w2 * np.sum(x2 ** 2, 1) / n0
    for layer in range(depth):
        e12, e11, e22 = _expect(nonlinearity, k12, k11, k22)
        if layer == depth - 1:
            return e12
        k12, k11, k22 = sigma_w2 * e12, sigma_w2 * e11, sigma_w2 * e22
    raise AssertionError  # pragma: no cover


def _erf_moment(k12, k11, k22):
    """``E[erf(u) erf(v)]`` for centred Gaussians of covariance ``[[k11, k12], [k12, k22]]``."""
    return (2 / np.pi) * np.arcsin(np.clip(2 * k12 / np.sqrt((1 + 2 * k11) * (1 + 2 * k22)), -1, 1))


def _expect(nonlinearity, k12, k11, k22):
    if nonlinearity == "linear":
        return k12, k11, k22
    if nonlinearity in ("erf", "sigmoid"):
        s = 1.0 if nonlinearity == "erf" else np.pi / 4
        e = [_erf_moment(s * k12, s * k11[:, None], s * k22[None, :]), _erf_moment(s * k11, s * k11, s * k11),
             _erf_moment(s * k22, s * k22, s * k22)]
        return tuple(v if nonlinearity == "erf" else 0.25 + v / 4 for v in e)
    norm = np.sqrt(np.outer(k11, k22))
    cos = np.clip(np.divide(k12, norm, out=np.zeros_like(k12), where=norm > 0), -1, 1)
    t = np.arccos(cos)
    return norm * (np.sin(t) + (np.pi - t) * cos) / (2 * np.pi), k11 / 2, k22 / 2


def gp_expected_train_mse(k_train: np.ndarray, y_train: np.ndarray, sigma_a2: float, noise_variance: float) -> float:
    """Posterior expectation of the training mean squared error of the lazy network's Gaussian
    process: ``(|m - Y|_F^2 + R tr(Sigma)) / (P R)`` with posterior mean ``m`` and covariance
    ``Sigma = sigma_a2 K - sigma_a2^2 K (sigma_a2 K + noise_variance I)^-1 K`` on the training inputs
    (``R`` outputs). The target a lazy chain's training error should reach."""
    k = sigma_a2 * k_train
    a = k + noise_variance * np.eye(len(k))
    mean = k @ np.linalg.solve(a, y_train)
    cov = k - k @ np.linalg.solve(a, k)
    p, r = y_train.shape
    return float((((mean - y_train) ** 2).sum() + r * np.trace(cov)) / (p * r))


def gp_predict(k_train: np.ndarray, k_test_train: np.ndarray, y_train: np.ndarray, sigma_a2: float,
               noise_variance: float) -> np.ndarray:
    """Posterior mean of the lazy network's Gaussian process on test inputs.

    ``f* = sigma_a2 K*^T (sigma_a2 K + noise_variance I)^-1 Y`` (noise variance ``T / beta``).
    """
    if noise_variance < 0:
        raise ValueError(f"noise_variance must be >= 0, got {noise_variance}")
    a = sigma_a2 * k_train + noise_variance * np.eye(len(k_train))
    return sigma_a2 * k_test_train @ np.linalg.solve(a, y_train)


def gp_interpolate(k_train: np.ndarray, k_test_train: np.ndarray, y_train: np.ndarray,
                   jitter: float = 1e-8) -> np.ndarray:
    """The interpolating Gaussian-process predictor ``k*^T K^-1 Y`` (the lazy network at zero
    temperature), with only a ``jitter * mean(diag K)`` ridge for numerical stability.

    Parameters
    ----------
    k_train : ndarray, shape (P, P)
    k_test_train : ndarray, shape (P_test, P)
    y_train : ndarray, shape (P, m)

    Returns
    -------
    ndarray, shape (P_test, m)
    """
    if jitter < 0:
        raise ValueError(f"jitter must be >= 0, got {jitter}")
    ridge = jitter * float(np.mean(np.diag(k_train)))
    return k_test_train @ np.linalg.solve(k_train + ridge * np.eye(len(k_train)), y_train)


def sampled_kernel(activity: np.ndarray) -> np.ndarray:
    """Kernel ``(1/(S N)) sum_s sum_i phi_i(x) phi_i(x')`` of a layer's posterior samples,
    ``activity`` of shape ``(S, P, N)``: the posterior average of the layer's kernel."""
    return np.einsum("sin,sjn->ij", activity, activity) / (activity.shape[0] * activity.shape[2])


def kernel_alignment(kernel: np.ndarray, labels: np.ndarray, n_classes: int) -> float:
    """Centred kernel-target alignment ``<HKH, HYY^TH>_F / (|HKH|_F |HYY^TH|_F)`` (1 = the kernel is
    the class-membership kernel up to scale; Cortes, Mohri & Rostamizadeh 2012)."""
    y = one_hot(labels, n_classes)
    n = len(labels)
    h = np.eye(n) - 1.0 / n
    kc, yc = h @ kernel @ h, h @ (y @ y.T) @ h
    denom = np.linalg.norm(kc) * np.linalg.norm(yc)
    return float((kc * yc).sum() / denom) if denom > 0 else float("nan")
