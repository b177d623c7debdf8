"""Plug-in entropies and mutual information of discrete (binned) layer states, in bits."""

from __future__ import annotations

import numpy as np


def check_samples(activations: np.ndarray, labels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Validate ``activations`` of shape ``(n_samples, n_units)`` and integer ``labels`` ``(n_samples,)``."""
    t = np.asarray(activations)
    if t.ndim != 2:
        raise ValueError(f"activations must have shape (n_samples, n_units), got {t.shape}")
    if t.shape[0] == 0:
        raise ValueError("activations must contain at least one sample")
    if not np.isfinite(t).all():
        bad = int((~np.isfinite(t)).any(axis=1).sum())
        raise ValueError(f"activations contain NaN or infinite values in {bad} of {t.shape[0]} samples")
    if labels is None:
        return t, None
    y = np.asarray(labels)
    if y.shape != (t.shape[0],):
        raise ValueError(f"labels must have shape ({t.shape[0]},) to match activations, got {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be integers, got dtype {y.dtype}")
    return t, y


def entropy_bits(counts: np.ndarray) -> float:
    """Plug-in entropy ``-sum p log2 p`` of a histogram of counts (zeros ignored)."""
    counts = np.asarray(counts, dtype=np.float64)
    counts = counts[counts > 0]
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def row_symbols(codes: np.ndarray) -> np.ndarray:
    """Map each row of an integer array ``(n_samples, n_units)`` to one symbol id ``(n_samples,)``.

    Rows are compared as raw bytes (one pass of sorting), so equal rows get equal ids.
    """
    codes = np.ascontiguousarray(codes)
    if codes.shape[1] == 0:
        return np.zeros(codes.shape[0], dtype=np.int64)
    rows = codes.view(np.dtype((np.void, codes.dtype.itemsize * codes.shape[1]))).ravel()
    _, inverse = np.unique(rows, return_inverse=True)
    return inverse.ravel().astype(np.int64)


def discrete_information(symbols: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """I(X;T) and I(T;Y) in bits for a deterministic map from distinct inputs to ``symbols``.

    Each sample is one equiprobable input x, so I(X;T) = H(T); and
    I(T;Y) = H(T) + H(Y) - H(T, Y), all plug-in estimates over the samples.

    Parameters
    ----------
    symbols : ndarray of shape (n_samples,)
        Integer id of each sample's discrete layer state.
    labels : ndarray of shape (n_samples,)
        Integer class of each sample.
    """
    symbols = np.asarray(symbols, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    _, t_counts = np.unique(symbols, return_counts=True)
    _, y_counts = np.unique(labels, return_counts=True)
    joint = np.stack([symbols, labels], axis=1)
    _, ty_counts = np.unique(joint, axis=0, return_counts=True)
    h_t = entropy_bits(t_counts)
    i_ty = h_t + entropy_bits(y_counts) - entropy_bits(ty_counts)
    return {"I_XT": h_t, "I_TY": max(i_ty, 0.0)}
