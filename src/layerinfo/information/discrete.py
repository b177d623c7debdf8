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


def _mixed_radix_keys(codes: np.ndarray) -> np.ndarray | None:
    """One int64 per row that is equal exactly for equal rows, or None if it would overflow.

    Each column is shifted to start at 0 and the columns become digits of a mixed-radix
    number; sorting int64 keys is several times faster than sorting rows as bytes.
    """
    low = codes.min(axis=0).astype(np.int64)
    radix = codes.max(axis=0).astype(np.int64) - low + 1
    # summed in log2: the product of hundreds of columns' radixes overflows even float64
    if float(np.sum(np.log2(radix.astype(np.float64)))) >= 62.0:
        return None
    strides = np.concatenate([[1], np.cumprod(radix[:-1])]).astype(np.int64)
    return (codes.astype(np.int64) - low) @ strides


def row_symbols(codes: np.ndarray) -> np.ndarray:
    """Map each row of an array ``(n_samples, n_units)`` to one symbol id in ``0..S-1``.

    Equal rows get equal ids. Integer codes are combined into one int64 key per row when
    they fit; other rows are compared as raw bytes (so for floats, -0.0 and 0.0 differ).
    """
    codes = np.ascontiguousarray(codes)
    if codes.shape[1] == 0:
        return np.zeros(codes.shape[0], dtype=np.int64)
    keys = _mixed_radix_keys(codes) if np.issubdtype(codes.dtype, np.integer) else None
    if keys is None:
        keys = codes.view(np.dtype((np.void, codes.dtype.itemsize * codes.shape[1]))).ravel()
    _, inverse = np.unique(keys, return_inverse=True)
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
    _, t_ids = np.unique(np.asarray(symbols, dtype=np.int64), return_inverse=True)
    _, y_ids = np.unique(np.asarray(labels, dtype=np.int64), return_inverse=True)
    t_ids, y_ids = t_ids.ravel(), y_ids.ravel()
    n_classes = int(y_ids.max()) + 1
    h_t = entropy_bits(np.bincount(t_ids))
    i_ty = h_t + entropy_bits(np.bincount(y_ids)) - entropy_bits(np.bincount(t_ids * n_classes + y_ids))
    return {"I_XT": h_t, "I_TY": max(i_ty, 0.0)}
