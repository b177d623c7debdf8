"""Compression scores and their correlation with generalisation, on hand-made tables."""

import math

import numpy as np
import pandas as pd
import pytest

from layerinfo.infoplane.compression import compression_generalisation, compression_scores, generalisation, pearson_interval


def _rows(seed, curve, layer=0, name="hidden1"):
    return [{"study": "s", "experiment": "e", "activation": "tanh", "initialisation": "i", "seed": seed,
             "run": f"r{seed}", "estimator": "ebab", "method": "ebab", "layer": layer, "layer_name": name,
             "units": 3, "epoch": epoch, "I_XT_bits": value} for epoch, value in zip([0, 1, 3, 7], curve)]


def test_compression_is_the_drop_after_the_maximum():
    rows = pd.DataFrame(_rows(0, [1.0, 4.0, 3.5, 2.5]) + _rows(1, [1.0, 2.0, 3.0, 3.0]))
    scores = compression_scores(rows).set_index("run")
    assert scores.loc["r0", "compression_bits"] == pytest.approx(1.5)
    assert scores.loc["r0", "epoch_of_max"] == 1 and scores.loc["r0", "I_XT_final_bits"] == 2.5
    assert scores.loc["r1", "compression_bits"] == 0.0  # ends at its maximum


def test_generalisation_takes_the_last_epoch():
    history = pd.DataFrame({"experiment": "e", "run": ["r0", "r0"], "epoch": [1, 0],
                            "train_acc": [0.9, 0.5], "test_acc": [0.8, 0.5]})
    g = generalisation(history)
    assert len(g) == 1 and g.loc[0, "test_acc"] == 0.8
    assert g.loc[0, "generalisation_gap"] == pytest.approx(0.1)


def test_correlation_and_interval_by_hand():
    # compression 0, 1, 2, 3, 4 bits; test accuracy exactly linear in it -> r = 1
    curves = [[c, c, 0.0, 0.0] for c in range(5)]
    rows = pd.DataFrame([r for s, c in enumerate(curves) for r in _rows(s, c)])
    history = pd.DataFrame({"experiment": "e", "run": [f"r{s}" for s in range(5)], "epoch": 7,
                            "train_acc": 1.0, "test_acc": [0.5 + 0.1 * s for s in range(5)]})
    cells = compression_generalisation(compression_scores(rows), generalisation(history))
    row = cells.iloc[0]
    assert row["n_runs"] == 5 and row["compression_bits_mean"] == pytest.approx(2.0)
    assert row["compression_bits_sem"] == pytest.approx(np.std(range(5), ddof=1) / math.sqrt(5))
    assert row["r_test_acc"] == pytest.approx(1.0) and row["r_generalisation_gap"] == pytest.approx(-1.0)
    assert bool(row["last_hidden"])
    # Fisher z: r = 0.5, n = 28 -> atanh(0.5) +- 1.96 / 5
    low, high = pearson_interval(0.5, 28)
    z = math.atanh(0.5)
    assert low == pytest.approx(math.tanh(z - 1.959964 / 5), rel=1e-6)
    assert high == pytest.approx(math.tanh(z + 1.959964 / 5), rel=1e-6)
    assert all(math.isnan(v) for v in pearson_interval(0.5, 3))
