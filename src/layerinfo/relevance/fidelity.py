"""Fidelity and coverage of generated samples: improved precision and recall, and a bootstrap of
which generator ranks first.

Kynkäänniemi, Karras, Laine, Lehtinen & Aila (2019), "Improved precision and recall metric for
assessing generative models" (NeurIPS, arXiv:1904.06991), §2: the manifold of a set of points is
the union of balls around each point with radius the distance to its k-th nearest neighbour in
the set (k = 3 in the paper); precision is the share of generated samples inside the real
manifold, recall the share of real samples inside the generated manifold. Here in pixel space
(pixels in [0, 1]); the paper uses a fixed feature space (VGG-16) for photographs.

A generator that collapses onto a few clean digits keeps its precision and loses its recall;
one that scatters noise loses its precision. Our reading of "generates best": the highest
harmonic mean of the two, F = 2PR / (P + R), which is low when either is low.
"""

from __future__ import annotations

import numpy as np

K_PAPER = 3  # Kynkäänniemi et al. 2019, §2 and their Fig. 3: k = 3


def pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances ``(len(a), len(b))`` between the rows of ``a`` and ``b`` (float64)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"point sets must be 2-d with equal widths, got {a.shape} and {b.shape}")
    d2 = (a ** 2).sum(1)[:, None] + (b ** 2).sum(1)[None, :] - 2.0 * (a @ b.T)
    return np.sqrt(np.clip(d2, 0.0, None))


def knn_radii(within: np.ndarray, k: int = K_PAPER) -> np.ndarray:
    """Distance of each point to its k-th nearest *other* point, from the set's own distance matrix.

    Parameters
    ----------
    within : ndarray of shape (n, n)
        Distances among the points of one set (diagonal ignored).
    k : int
        1 <= k < n.
    """
    n = len(within)
    if not 1 <= k < n:
        raise ValueError(f"k must lie in 1..{n - 1} (the set has {n} points), got {k}")
    d = np.array(within, dtype=np.float64)
    np.fill_diagonal(d, np.inf)
    return np.partition(d, k - 1, axis=1)[:, k - 1]


def inside_share(cross: np.ndarray, radii: np.ndarray) -> float:
    """Share of query points (rows) within the radius of at least one support point (columns).

    ``cross[i, j]`` is the distance from query i to support point j, ``radii[j]`` its radius:
    query i is inside the manifold when ``cross[i, j] <= radii[j]`` for some j.
    """
    return float((cross <= radii[None, :]).any(1).mean())


def precision_recall(real: np.ndarray, generated: np.ndarray, k: int = K_PAPER) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) of ``generated`` against ``real``.

    Parameters
    ----------
    real, generated : ndarray of shape (n_real, n_features), (n_generated, n_features)
    k : int
        Neighbour defining each point's radius (3 in the paper).

    Returns
    -------
    precision, recall : float in [0, 1]
    """
    cross = pairwise_distances(generated, real)
    return _precision_recall(pairwise_distances(real, real), pairwise_distances(generated, generated), cross, k)


def _precision_recall(real_real, gen_gen, gen_real, k):
    precision = inside_share(gen_real, knn_radii(real_real, k))
    recall = inside_share(gen_real.T, knn_radii(gen_gen, k))
    return precision, recall


def harmonic_mean(precision, recall):
    """F = 2PR / (P + R), 0 where both are 0 (our combination rule: see the module docstring)."""
    p, r = np.asarray(precision, dtype=np.float64), np.asarray(recall, dtype=np.float64)
    total = p + r
    return np.where(total > 0, 2.0 * p * r / np.where(total > 0, total, 1.0), 0.0)


def _distinct(indices: np.ndarray) -> np.ndarray:
    # A bootstrap draw repeats points; a copy at distance 0 would shrink every k-NN radius, so
    # each drawn point counts once (the manifold of the distinct points drawn).
    return np.unique(indices)


def bootstrap_first(real: np.ndarray, generated: dict, k: int = K_PAPER, n_bootstrap: int = 200,
                    rng: np.random.Generator | None = None) -> dict:
    """Precision, recall, F of every generator and how often each ranks first by F in resamples.

    Each resample draws the real samples and every generator's samples with replacement (each
    set independently; a point drawn several times counts once, see :func:`_distinct`) and
    ranks the generators by F; a generator ranks first when its F is strictly the largest (a tie
    at the top credits no one).

    Parameters
    ----------
    real : ndarray of shape (n_real, n_features)
    generated : dict name -> ndarray of shape (n_generated, n_features)
    k, n_bootstrap : int
    rng : numpy Generator

    Returns
    -------
    dict name -> {"precision", "recall", "f": on the full sets; "first_support": share of
    resamples in which the generator ranks first; "f_low", "f_high": 2.5 and 97.5 percentiles
    of its F over the resamples}
    """
    if n_bootstrap < 1:
        raise ValueError(f"n_bootstrap must be >= 1, got {n_bootstrap}")
    if not generated:
        raise ValueError("no generated sample sets to rank")
    rng = rng if rng is not None else np.random.default_rng(0)
    names = list(generated)
    rr = pairwise_distances(real, real)
    dists = {name: (pairwise_distances(g, g), pairwise_distances(g, real)) for name, g in generated.items()}
    out = {}
    for name in names:
        p, r = _precision_recall(rr, *dists[name], k)
        out[name] = {"precision": p, "recall": r, "f": float(harmonic_mean(p, r))}
    fs = np.zeros((n_bootstrap, len(names)))
    for b in range(n_bootstrap):
        ri = _distinct(rng.integers(0, len(real), len(real)))
        rr_b = rr[np.ix_(ri, ri)]
        for j, name in enumerate(names):
            gg, gr = dists[name]
            gi = _distinct(rng.integers(0, len(gg), len(gg)))
            p, r = _precision_recall(rr_b, gg[np.ix_(gi, gi)], gr[np.ix_(gi, ri)], k)
            fs[b, j] = harmonic_mean(p, r)
    top = fs.max(1, keepdims=True)
    unique_first = (fs == top) & ((fs == top).sum(1, keepdims=True) == 1)
    for j, name in enumerate(names):
        out[name]["first_support"] = float(unique_first[:, j].mean())
        out[name]["f_low"], out[name]["f_high"] = (float(v) for v in np.percentile(fs[:, j], [2.5, 97.5]))
    return out
