"""The shortcuts of the fast estimators leave every value unchanged.

Skipped far kernel blocks, kernels derived by squaring, the exponent floor, integer row keys,
integer EBAB codes and parallel estimation are each checked against the direct definition.
"""

import math

import numpy as np
import pandas as pd
import pytest
from scipy.special import logsumexp

from layerinfo.infoplane.estimate import estimate_run, parallel_workers
from layerinfo.h5io import ActivationWriter
from layerinfo.information import information_plane
from layerinfo.information import kde
from layerinfo.information.binning import codes_ebab, ebab_indices
from layerinfo.information.discrete import row_symbols


def _direct(t, y, a):
    """I(X;T), I(T;Y) in bits from the full N x N matrix with log-sum-exp."""
    d = ((t[:, None, :] - t[None, :, :]) ** 2).sum(-1)
    h = -np.mean(logsumexp(-d / a, axis=1) - np.log(len(t)))
    h_cond = sum((y == c).mean() * -np.mean(logsumexp(-d[y == c][:, y == c] / a, axis=1) - np.log((y == c).sum()))
                 for c in np.unique(y))
    return h / np.log(2), (h - h_cond) / np.log(2)


def _clusters(seed=0):
    """Four tight clusters in a row, 3 apart, with labels mixed inside each cluster."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0, 0, 0], [3, 0, 0], [6, 0, 0], [9, 0, 0]], dtype=float)
    t = np.concatenate([c + 0.05 * rng.normal(size=(150, 3)) for c in centres])
    return t, rng.integers(0, 2, size=len(t))


def test_far_blocks_are_skipped_and_the_sums_are_unchanged():
    t, y = _clusters()
    widths = [0.8, 0.2, 0.02, 0.002]
    # blocks of distinct clusters are at least (3 - 0.5)^2 apart: the narrow kernels skip them
    rows, blocks = kde._tree_blocks(t - t.mean(axis=0), 64)
    gaps, _ = kde._block_distances((t - t.mean(axis=0))[rows], blocks)
    cut = kde._NEGLIGIBLE_EXPONENT + math.log(len(t))
    assert (gaps > cut * 0.02).sum() == 12 * 16  # 16 blocks, 4 per cluster
    assert not (gaps > cut * 0.8).any()  # the widest kernel needs every block
    got = kde.kernel_information(t, y, widths, block=64)
    for a, value in zip(widths, got):
        ref = _direct(t, y, a)
        assert value["I_XT"] == pytest.approx(ref[0], rel=1e-12)
        assert value["I_TY"] == pytest.approx(ref[1], rel=1e-9, abs=1e-12)


def test_box_bounds_hold_every_pair_and_the_floor_is_applied_where_needed():
    # 640 points spread over [0, 100] in blocks of at most 64: neighbouring blocks touch
    # (blocks of 40 after halving) but span up to 12.5, so with a = 0.1 exponents reach -1500,
    # below the floor of -700
    rng = np.random.default_rng(3)
    t = np.sort(rng.uniform(0, 100, size=(640, 1)), axis=0)
    y = rng.integers(0, 2, size=640)
    x = t - t.mean(axis=0)
    rows, blocks = kde._tree_blocks(x, 64)
    nearest, farthest = kde._block_distances(x[rows], blocks)
    d = (x[rows] - x[rows].T) ** 2
    for i, (i0, i1) in enumerate(blocks):
        for j, (j0, j1) in enumerate(blocks):
            pair = d[i0:i1, j0:j1]
            assert nearest[i, j] <= pair.min() + 1e-12 and pair.max() <= farthest[i, j] + 1e-12
    assert ((farthest > 700 * 0.1) & (nearest < 1.0)).any()  # floored pairs that are evaluated
    for a, value in zip([8.0, 0.1], kde.kernel_information(t, y, [8.0, 0.1], block=64)):
        ref = _direct(t, y, a)
        assert value["I_XT"] == pytest.approx(ref[0], rel=1e-12)
        assert value["I_TY"] == pytest.approx(ref[1], rel=1e-9, abs=1e-12)


def test_tree_blocks_are_a_permutation_in_bounded_blocks():
    x = np.random.default_rng(1).normal(size=(1000, 4))
    rows, blocks = kde._tree_blocks(x, 100)
    assert sorted(rows.tolist()) == list(range(1000))
    assert blocks[0][0] == 0 and blocks[-1][1] == 1000
    assert all(0 < i1 - i0 <= 100 for i0, i1 in blocks)
    assert all(b[1] == c[0] for b, c in zip(blocks, blocks[1:]))


def test_squared_kernels_equal_their_own_exponentials():
    assert kde._shared_exponentials([0.8, 0.2, 0.1, 0.1, 0.03]) == [-1, 2, 1, 0, -1]
    rng = np.random.default_rng(2)
    t, y = np.tanh(rng.normal(size=(700, 5))), rng.integers(0, 3, size=700)
    widths = [0.2, 0.8, 0.3, 0.1, 0.05, 0.8]  # 0.8 -> 0.2 -> 0.1 -> 0.05 by squaring
    together = kde.kernel_information(t, y, widths)
    for a, value in zip(widths, together):
        alone = kde.kernel_information(t, y, [a])[0]
        assert value["I_XT"] == pytest.approx(alone["I_XT"], rel=1e-13)
        assert value["I_TY"] == pytest.approx(alone["I_TY"], rel=1e-11, abs=1e-13)


def test_exponent_floor_leaves_far_points_exactly_apart():
    # neighbours at D / a = 720 and beyond: exp() would underflow, the floor gives 1e-304
    n = 64
    t = np.arange(n, dtype=float)[:, None] * math.sqrt(720 * 0.2)
    y = np.arange(n) % 2
    got = information_plane(t, y, "kde_upper", noise_variance=0.1)
    assert got["I_XT"] == pytest.approx(math.log2(n), abs=1e-12)
    assert got["I_TY"] == pytest.approx(1.0, abs=1e-12)


def _same_partition(a, b):
    pairs = np.unique(np.stack([a, b], axis=1), axis=0)
    return len(pairs) == len(np.unique(a)) == len(np.unique(b))


@pytest.mark.parametrize("lower", [None, 0.0, -1.000001])
def test_integer_ebab_codes_partition_like_the_edge_values(lower):
    rng = np.random.default_rng(3)
    t = np.round(np.tanh(rng.normal(size=(500, 4))), 2).astype(np.float32)  # many repeated values
    t[:20] = 0.0
    t[20:40] = -0.0
    if lower == 0.0:
        t = np.abs(t)
    for n_bins in (2, 30, 400):  # 400 > distinct values: repeated edges
        a = row_symbols(codes_ebab(t, n_bins, lower))
        b = row_symbols(ebab_indices(t, n_bins, lower))
        assert _same_partition(a, b)


def test_row_keys_that_would_overflow_fall_back_to_bytes():
    rng = np.random.default_rng(4)
    codes = rng.integers(-(2**40), 2**40, size=(300, 3))
    codes[100:200] = codes[:100]
    ids = row_symbols(codes)
    _, ref = np.unique(codes, axis=0, return_inverse=True)
    assert _same_partition(ids, ref.ravel()) and len(np.unique(ids)) == 200
    small = rng.integers(0, 30, size=(300, 10))
    _, ref = np.unique(small, axis=0, return_inverse=True)
    assert _same_partition(row_symbols(small), ref.ravel())


def _activation_file(path, snapshots=6, n=400):
    rng = np.random.default_rng(5)
    layers = [{"name": "hidden1", "activation": "tanh", "units": 4}, {"name": "output", "activation": "softmax", "units": 2}]
    with ActivationWriter(path, epochs=np.arange(snapshots), layers=layers, probe_indices=np.arange(n),
                          probe_labels=np.arange(n) % 2, probe_train_mask=np.arange(n) < 300,
                          attrs={"config": {"run": "r", "activation": "tanh"}, "seed": 0}) as w:
        for i in range(snapshots):
            h = np.tanh((1 + i) * rng.normal(size=(n, 4))).astype(np.float32)
            p = np.exp(h[:, :2]) / np.exp(h[:, :2]).sum(1, keepdims=True)
            w.write_snapshot(i, [h, p.astype(np.float32)])
        w.write_history({"epoch": np.arange(3), **{k: np.zeros(3) for k in
                                                    ("train_loss", "train_acc", "test_loss", "test_acc")}})
    return path


@pytest.mark.skipif(parallel_workers(2, "cpu") == 1, reason="parallel estimation needs Linux")
def test_parallel_estimation_gives_the_same_table(tmp_path):
    path = _activation_file(tmp_path / "activations.h5")
    estimators = {"bins": {"method": "bins_fixed"}, "ebab": {"method": "ebab"},
                  "upper": {"method": "kde_upper"}, "lower": {"method": "kde_lower"},
                  "akde_code": {"method": "akde", "variant": "code"}}
    serial = estimate_run(path, estimators, workers=1)
    parallel = estimate_run(path, estimators, workers=2)
    assert len(serial) == 6 * 2 * 5
    pd.testing.assert_frame_equal(serial, parallel, check_exact=True)


def test_parallel_workers_only_on_the_cpu():
    assert parallel_workers(1, "cpu") == 1
    assert parallel_workers(4, "cuda") == 1
    assert parallel_workers(0, "cpu") == 1
