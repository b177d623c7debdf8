"""The 12-bit icosahedron task: layout, geometry, symmetry, and equality with the published file."""

import os
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from layerinfo.datasets.tishby import (ANTIPODE, NEIGHBOUR, SECOND, input_vertices, make_tishby,
                                       pair_counts, pair_relations)


def _reference_path() -> Path:
    shared = os.environ.get("LAYERINFO_SHARED_DATA")
    base = Path(shared) if shared else Path(__file__).resolve().parents[3] / "shared" / "data"
    return base / "var_u.mat"


@pytest.fixture(scope="module")
def reference():
    path = _reference_path()
    if not path.is_file():
        pytest.skip("reference file var_u.mat not available")
    mat = scipy.io.loadmat(path)
    return mat["F"], mat["y"]


def _rotation(axis, angle):
    """Rotation matrix about ``axis`` by ``angle`` (Rodrigues' formula)."""
    k = np.asarray(axis, dtype=float) / np.linalg.norm(axis)
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(angle) * kx + (1 - np.cos(angle)) * kx @ kx


def _as_permutation(matrix):
    """Input permutation ``p`` with ``matrix @ v[i] == v[p[i]]`` for the input vertices ``v``."""
    v = input_vertices()
    moved = v @ matrix.T
    dist = np.linalg.norm(moved[:, None, :] - v[None, :, :], axis=2)
    perm = dist.argmin(axis=1)
    assert np.allclose(dist[np.arange(12), perm], 0.0, atol=1e-9), "not a symmetry of the vertex set"
    assert sorted(perm) == list(range(12))
    return perm


def _symmetries():
    v = input_vertices()
    rel = pair_relations()
    nb = np.flatnonzero(rel[0] == NEIGHBOUR)
    face = v[0] + v[nb[0]] + v[[j for j in nb if rel[nb[0], j] == NEIGHBOUR][0]]
    edge = v[0] + v[nb[0]]
    return {
        "vertex axis, order 5": _rotation(v[0], 2 * np.pi / 5),
        "face axis, order 3": _rotation(face, 2 * np.pi / 3),
        "edge axis, order 2": _rotation(edge, np.pi),
        "central inversion": -np.eye(3),
    }


SYMMETRIES = _symmetries()


# --- layout -------------------------------------------------------------------------------

def test_shape_dtype_and_label_count():
    inputs, labels = make_tishby()
    assert inputs.shape == (4096, 12) and inputs.dtype == np.uint8
    assert labels.shape == (4096,) and labels.dtype == np.uint8
    assert set(np.unique(inputs)) == {0, 1} and set(np.unique(labels)) == {0, 1}
    assert int(labels.sum()) == 2118


def test_counting_order_msb_first():
    inputs, _ = make_tishby()
    powers = 2 ** np.arange(11, -1, -1)
    np.testing.assert_array_equal(inputs.astype(np.int64) @ powers, np.arange(4096))
    np.testing.assert_array_equal(inputs[1], [0] * 11 + [1])


def test_labels_fixed_for_few_or_many_active_inputs():
    inputs, labels = make_tishby()
    n_active = inputs.sum(axis=1)
    assert labels[n_active <= 4].sum() == 0
    assert labels[n_active >= 8].all()


def test_pair_counts_hand_cases():
    rel = pair_relations()
    i = 0
    j_nb = int(np.flatnonzero(rel[i] == NEIGHBOUR)[0])
    j_2nd = int(np.flatnonzero(rel[i] == SECOND)[0])
    j_anti = int(np.flatnonzero(rel[i] == ANTIPODE)[0])
    x = np.zeros((5, 12), dtype=np.uint8)
    x[1, i] = 1
    x[2, [i, j_nb]] = 1
    x[3, [i, j_2nd]] = 1
    x[4, [i, j_anti]] = 1
    expected = [[0, 0, 0, 0], [1, 0, 0, 0], [2, 1, 0, 0], [2, 0, 1, 0], [2, 0, 0, 1]]
    np.testing.assert_array_equal(pair_counts(x), expected)
    np.testing.assert_array_equal(pair_counts(np.ones((1, 12), dtype=np.uint8)), [[12, 30, 30, 6]])


def test_pair_counts_rejects_wrong_width():
    with pytest.raises(ValueError):
        pair_counts(np.zeros((3, 11)))


# --- geometry -----------------------------------------------------------------------------

def test_vertices_form_regular_icosahedron():
    v = input_vertices()
    norms = np.linalg.norm(v, axis=1)
    assert np.allclose(norms, norms[0])
    rel = pair_relations()
    dist = np.linalg.norm(v[:, None] - v[None, :], axis=2)
    for code in (NEIGHBOUR, SECOND, ANTIPODE):
        d = dist[rel == code]
        assert np.allclose(d, d[0]), "each relation is one distance"
    assert dist[rel == NEIGHBOUR].max() < dist[rel == SECOND].min() < dist[rel == ANTIPODE].min()


def test_relation_counts_per_vertex():
    rel = pair_relations()
    np.testing.assert_array_equal(rel, rel.T)
    assert (np.diag(rel) == 0).all()
    for code, count in ((NEIGHBOUR, 5), (SECOND, 5), (ANTIPODE, 1)):
        np.testing.assert_array_equal((rel == code).sum(axis=1), np.full(12, count))


def test_neighbourhoods_are_five_cycles():
    adj = pair_relations() == NEIGHBOUR
    for vertex in range(12):
        ring = np.flatnonzero(adj[vertex])
        sub = adj[np.ix_(ring, ring)]
        assert (sub.sum(axis=1) == 2).all()
        # Walk the ring: a single cycle visits all five before returning.
        seen, prev, cur = [0], -1, 0
        for _ in range(5):
            nxt = next(u for u in np.flatnonzero(sub[cur]) if u != prev)
            prev, cur = cur, nxt
            seen.append(cur)
        assert cur == 0 and len(set(seen)) == 5


def test_second_neighbours_and_antipodes_follow_from_edges():
    adj = (pair_relations() == NEIGHBOUR).astype(int)
    rel = pair_relations()
    two_steps = (adj @ adj > 0) & ~adj.astype(bool) & ~np.eye(12, dtype=bool)
    np.testing.assert_array_equal(two_steps, rel == SECOND)
    antipode = np.argmax(rel == ANTIPODE, axis=1)
    np.testing.assert_array_equal(antipode[antipode], np.arange(12))
    # Inversion maps v's neighbours onto its antipode's neighbours, which are v's second ring.
    for v in range(12):
        assert set(np.flatnonzero(adj[antipode[v]])) == set(np.flatnonzero(rel[v] == SECOND))


# --- symmetry -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(SYMMETRIES))
def test_symmetry_preserves_relations(name):
    perm = _as_permutation(SYMMETRIES[name])
    rel = pair_relations()
    np.testing.assert_array_equal(rel[np.ix_(perm, perm)], rel)


@pytest.mark.parametrize("name", sorted(SYMMETRIES))
def test_labels_invariant_under_symmetry(name):
    perm = _as_permutation(SYMMETRIES[name])
    inputs, labels = make_tishby()
    moved = np.empty_like(inputs)
    moved[:, perm] = inputs  # the active input i moves to perm[i]
    index = moved.astype(np.int64) @ (2 ** np.arange(11, -1, -1))
    np.testing.assert_array_equal(labels[index], labels)


def test_vertex_rotation_has_order_five():
    perm = _as_permutation(SYMMETRIES["vertex axis, order 5"])
    p = np.arange(12)
    for step in range(1, 6):
        p = perm[p]
        assert (p == np.arange(12)).all() == (step == 5)


# --- published file -----------------------------------------------------------------------

def test_equals_published_file_bit_for_bit(reference):
    ref_inputs, ref_labels = reference
    inputs, labels = make_tishby()
    assert ref_inputs.shape == (4096, 12) and ref_labels.shape == (1, 4096)
    np.testing.assert_array_equal(inputs, ref_inputs)
    np.testing.assert_array_equal(labels, ref_labels.ravel())


@pytest.mark.parametrize("name", sorted(SYMMETRIES))
def test_published_labels_invariant_under_symmetry(reference, name):
    """Independent of the fitted rule: the file itself respects the assumed geometry."""
    ref_inputs, ref_labels = reference
    y = ref_labels.ravel()
    perm = _as_permutation(SYMMETRIES[name])
    moved = np.empty_like(ref_inputs)
    moved[:, perm] = ref_inputs
    index = moved.astype(np.int64) @ (2 ** np.arange(11, -1, -1))
    np.testing.assert_array_equal(y[index], y)
