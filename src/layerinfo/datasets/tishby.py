"""The 12-bit "sphere" task of Shwartz-Ziv & Tishby (2017), generated in code.

The 12 binary inputs sit on the 12 vertices of a regular icosahedron. The label of an input
pattern depends only on four counts over its active inputs: how many are active, and how many
active pairs are neighbours, second neighbours and antipodes on the icosahedron. The label is a
linear threshold of those counts, so it is invariant under all 120 symmetries of the icosahedron.

The vertex assigned to each input and the threshold rule were fitted once against the published
file (``var_u.mat``); the unit tests check bit-for-bit equality with it when it is available.
"""

from __future__ import annotations

import numpy as np

N_INPUTS = 12

# Pair relations, as codes in the matrix returned by :func:`pair_relations`.
SAME, NEIGHBOUR, SECOND, ANTIPODE = 0, 1, 2, 3

# ``label = 1`` exactly when ``LABEL_WEIGHTS . pair_counts(x) >= LABEL_THRESHOLD``, with the counts
# ordered (active, neighbour pairs, second-neighbour pairs, antipodal pairs). Fitted once against
# the published file; the smallest integer weights found that reproduce it.
# There is no slack on the integer scale: the highest-scoring 0-label pattern scores 98, the
# lowest-scoring 1-label pattern 99.
LABEL_WEIGHTS = (23, 1, -5, -8)
LABEL_THRESHOLD = 99

# Input ``i`` sits on vertex ``_VERTEX_OF_INPUT[i]`` of :func:`icosahedron_vertices`. Any of the
# 120 assignments that differ by a symmetry of the icosahedron gives the same labels; this is one.
_VERTEX_OF_INPUT = (0, 2, 9, 4, 11, 10, 7, 1, 6, 3, 8, 5)

_PHI = (1.0 + np.sqrt(5.0)) / 2.0


def icosahedron_vertices() -> np.ndarray:
    """Vertices of a regular icosahedron in a fixed canonical order.

    Returns
    -------
    numpy.ndarray
        ``(12, 3)`` float array: the cyclic permutations of ``(0, ±1, ±φ)`` with ``φ`` the golden
        ratio, ordered by cyclic shift (0, 1, 2), then by signs ``(+,+), (+,-), (-,+), (-,-)``.
    """
    rows = []
    for shift in range(3):
        for a, b in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
            rows.append(np.roll([0.0, a * 1.0, b * _PHI], shift))
    return np.array(rows)


def input_vertices() -> np.ndarray:
    """Icosahedron vertex of each input bit.

    Returns
    -------
    numpy.ndarray
        ``(12, 3)`` float array; row ``i`` is the position of input ``i`` (column ``i`` of the
        inputs returned by :func:`make_tishby`).
    """
    return icosahedron_vertices()[list(_VERTEX_OF_INPUT)]


def pair_relations() -> np.ndarray:
    """Geometric relation between every pair of inputs.

    Returns
    -------
    numpy.ndarray
        ``(12, 12)`` int8 matrix with entries ``SAME`` (diagonal), ``NEIGHBOUR`` (joined by an
        edge), ``SECOND`` (two edges apart) or ``ANTIPODE`` (opposite vertex).

    Notes
    -----
    With vertices of squared norm ``1 + φ²``, the dot product of two distinct vertices is ``φ``
    for neighbours, ``-φ`` for second neighbours and ``-(1 + φ²)`` for antipodes, so rounding
    the normalised dot product separates the classes without any tolerance tuning.
    """
    v = input_vertices()
    cosine = v @ v.T / (1.0 + _PHI**2)  # 1, ±1/sqrt(5) ~ ±0.447, or -1
    rel = np.full((N_INPUTS, N_INPUTS), SECOND, dtype=np.int8)
    rel[cosine > 0.0] = NEIGHBOUR
    rel[cosine < -0.9] = ANTIPODE
    np.fill_diagonal(rel, SAME)
    return rel


def pair_counts(inputs: np.ndarray) -> np.ndarray:
    """Per-pattern counts that determine the label.

    Parameters
    ----------
    inputs : array_like
        ``(n, 12)`` array of 0/1 values, one input pattern per row.

    Returns
    -------
    numpy.ndarray
        ``(n, 4)`` int64 array with columns: number of active inputs, number of active pairs that
        are neighbours, second neighbours, and antipodes on the icosahedron.
    """
    x = np.asarray(inputs)
    if x.ndim != 2 or x.shape[1] != N_INPUTS:
        raise ValueError(f"inputs must have shape (n, {N_INPUTS}), got {x.shape}")
    x = x.astype(np.int64)
    rel = pair_relations()
    counts = [x.sum(axis=1)]
    for code in (NEIGHBOUR, SECOND, ANTIPODE):
        adjacency = (rel == code).astype(np.int64)
        # x A x^T counts each unordered active pair twice (A is symmetric with zero diagonal).
        counts.append(np.einsum("ni,ij,nj->n", x, adjacency, x) // 2)
    return np.stack(counts, axis=1)


def tishby_labels(inputs: np.ndarray) -> np.ndarray:
    """Label of each input pattern under the threshold rule.

    Parameters
    ----------
    inputs : array_like
        ``(n, 12)`` array of 0/1 values.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` uint8 array of 0/1 labels.
    """
    score = pair_counts(inputs) @ np.asarray(LABEL_WEIGHTS, dtype=np.int64)
    return (score >= LABEL_THRESHOLD).astype(np.uint8)


def make_tishby() -> tuple[np.ndarray, np.ndarray]:
    """All 4096 patterns of the 12-bit task with their labels.

    Returns
    -------
    inputs : numpy.ndarray
        ``(4096, 12)`` uint8 array in counting order: row ``k`` holds the binary digits of ``k``,
        most significant bit first (as in the published file).
    labels : numpy.ndarray
        ``(4096,)`` uint8 array of 0/1 labels (2118 ones).
    """
    k = np.arange(2**N_INPUTS)
    shifts = np.arange(N_INPUTS - 1, -1, -1)  # MSB first
    inputs = ((k[:, None] >> shifts) & 1).astype(np.uint8)
    return inputs, tishby_labels(inputs)
