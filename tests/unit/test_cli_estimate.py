"""layerinfo import / estimate / plot: known answers, intervals, warnings, malformed inputs."""

from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import torch

from layerinfo.cli.main import main
from layerinfo.h5io import open_activations
from layerinfo.information.diagnostics import estimate_warnings
from layerinfo.information.intervals import information_intervals, subsample_size, subsampling_interval


def run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def entropy_bits(values) -> float:
    _, counts = np.unique(values, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def test_copy_of_a_discrete_input_interval_covers_the_exact_value(tmp_path, capsys):
    """T = X for X on 8 values: I(X;T) = H(X) exactly (plug-in), I(T;Y) = H(Y) for Y = X mod 2."""
    rng = np.random.default_rng(0)
    p = np.array([0.3, 0.2, 0.15, 0.1, 0.1, 0.08, 0.05, 0.02])
    x = rng.choice(8, size=600, p=p)
    y = x % 2
    np.savez(tmp_path / "copy.npz", copy=x[:, None].astype(np.float32), y=y)
    code, _, err = run(["import", str(tmp_path / "copy.npz"), "-o", str(tmp_path / "copy.h5")], capsys)
    assert code == 0, err
    code, _, err = run(["estimate", str(tmp_path / "copy.h5"), "--estimators", "bins_width,ebab", "--interval", "0.95",
                        "--repeats", "40", "-o", str(tmp_path / "t.csv")], capsys)
    assert code == 0, err
    table = pd.read_csv(tmp_path / "t.csv")
    assert len(table) == 2
    h_x, h_y = entropy_bits(x), entropy_bits(y)
    for _, row in table.iterrows():
        assert row["I_XT_bits"] == pytest.approx(h_x, abs=1e-9)
        assert row["I_TY_bits"] == pytest.approx(h_y, abs=1e-9)
        assert row["I_XT_ci_low"] <= row["I_XT_bits"] <= row["I_XT_ci_high"]
        assert row["I_TY_ci_low"] <= row["I_TY_bits"] <= row["I_TY_ci_high"]
        assert 0 < row["I_XT_ci_high"] - row["I_XT_ci_low"] < 0.3
        # the labels are a function of T: far above every shuffled-label estimate
        assert row["I_TY_null_bits"] < 0.02 and row["I_TY_null_p"] == pytest.approx(1 / 41)
        assert (row["subsample_m"], row["repeats"], row["seed"], row["interval"]) == (300, 40, 0, 0.95)
        assert pd.isna(row["warnings"])


def test_interval_covers_the_population_entropy_at_about_its_level():
    """Over 40 probe sets of 300 draws from a known distribution, the 95% interval on I(X;T) of
    a copying layer covers H(X) = 2.681 bits in about 95% of them (measured 0.925 over 200
    probe sets of 600 with 40 repeats; sqrt(m/n) without the finite-population factor: 0.82)."""
    p = np.array([0.3, 0.2, 0.15, 0.1, 0.1, 0.08, 0.05, 0.02])
    population = float(-(p * np.log2(p)).sum())
    covered = []
    for seed in range(40):
        x = np.random.default_rng(seed).choice(8, size=300, p=p)
        out = information_intervals(x[:, None].astype(np.float32), x % 2, {"b": ("bins_width", {"bin_width": 0.5})},
                                    repeats=30, seed=seed, null=False)["b"]
        covered.append(out["I_XT_ci_low"] <= population <= out["I_XT_ci_high"])
    assert 0.85 <= np.mean(covered) < 1.0


def test_subsamples_are_drawn_without_replacement():
    """An injective layer: every subsample without replacement has I(X;T) = log2 m exactly, so
    the interval collapses to one point (with replacement, duplicates would spread it)."""
    t = np.arange(64, dtype=np.float32)[:, None]
    out = information_intervals(t, np.arange(64) % 2, {"b": ("bins_width", {"bin_width": 0.5})},
                                subsample=16, repeats=5, null=False)["b"]
    expected = 6.0 - np.sqrt(16 / 48) * (4.0 - 6.0)  # full - sqrt(m/(n-m)) (log2 m - log2 n)
    assert out["I_XT"] == 6.0 and out["I_XT_ci_low"] == out["I_XT_ci_high"] == expected


def test_subsampling_interval_formula_and_sizes():
    # quantiles of sub - full = [-2, 2] at level ~1 -> full -/+ sqrt(m/(n-m)) * 2 = 5 -/+ 1
    assert subsampling_interval(5.0, np.array([3.0, 5.0, 7.0]), n=100, m=20, level=0.999999) == pytest.approx((4.0, 6.0))
    assert subsample_size(100, 0.5) == 50 and subsample_size(100, 30) == 30
    for bad in (1.5, 100, 1, 0.001):
        with pytest.raises(ValueError, match="subsample"):
            subsample_size(100, bad)


def test_warnings_saturation_grid_dimension_negative():
    rng = np.random.default_rng(0)
    t = np.abs(rng.normal(size=(20, 30))) * 3  # ReLU-like, beyond 1, more units than samples
    kinds = [k for k, _ in estimate_warnings(t, "bins_fixed", {"n_bins": 30}, {"I_XT": np.log2(20), "I_TY": -0.2})]
    assert kinds == ["saturated", "grid", "grid", "dimension", "negative"]
    assert estimate_warnings(t[:, :2], "kde_upper", {}, {"I_XT": 1.0, "I_TY": 0.5}) == []


def test_warnings_reach_table_and_terminal(tmp_path, capsys):
    rng = np.random.default_rng(1)
    relu = np.maximum(rng.normal(size=(40, 3)) * 2, 0).astype(np.float32)
    dense = rng.normal(size=(40, 3)).astype(np.float32)
    np.savez(tmp_path / "a.npz", relu=relu, dense=dense, y=np.arange(40) % 2)
    run(["import", str(tmp_path / "a.npz"), "--activation", "relu", "-o", str(tmp_path / "a.h5")], capsys)
    code, _, err = run(["estimate", str(tmp_path / "a.h5"), "--estimators", "bins_fixed,bins_width",
                        "--param", "bins_width.bin_width=0.001", "-o", str(tmp_path / "t.csv")], capsys)
    assert code == 0
    table = pd.read_csv(tmp_path / "t.csv").set_index(["layer_name", "estimator"])
    assert "outside the fixed grid [-1, 1]" in table.loc[("relu", "bins_fixed"), "warnings"]
    assert "non-negative values use only half" in table.loc[("relu", "bins_fixed"), "warnings"]
    assert pd.isna(table.loc[("relu", "bins_width"), "warnings"])  # zeros share a bin: below log2 N
    assert table.loc[("dense", "bins_width"), "warnings"].startswith("I(X;T) at log2 N = 5.32 bits")
    assert table.loc[("dense", "bins_width"), "I_XT_bits"] == pytest.approx(np.log2(40), abs=1e-9)
    assert "warning: bins_width, 1 of 2 rows, e.g. dense, epoch 0, all: I(X;T) at log2 N" in err


def test_import_sources_agree(tmp_path, capsys):
    rng = np.random.default_rng(2)
    a = rng.normal(size=(3, 12, 2, 2)).astype(np.float32)  # epoch axis, 2x2 maps
    b = rng.normal(size=(3, 12, 5)).astype(np.float32)
    y = np.arange(12) % 4
    np.savez(tmp_path / "acts.npz", a=a, b=b, y=y, epochs=np.array([0, 5, 10]))
    (tmp_path / "dir").mkdir()
    np.save(tmp_path / "dir" / "layer10.npy", b)
    np.save(tmp_path / "dir" / "layer2.npy", a)  # natural order: layer2 before layer10
    np.save(tmp_path / "y.npy", y)
    torch.save({"a": torch.from_numpy(a), "b": torch.from_numpy(b)}, tmp_path / "acts.pt")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["g/a"], f["g/b"] = a, b
    sources = [(tmp_path / "acts.npz", []), (tmp_path / "dir", ["--labels", str(tmp_path / "y.npy"), "--epochs", "0,5,10"]),
               (tmp_path / "acts.pt", ["--labels", str(tmp_path / "y.npy"), "--epochs", "0,5,10"]),
               (tmp_path / "other.h5", ["--labels", str(tmp_path / "y.npy"), "--epochs", "0,5,10"])]
    for k, (source, extra) in enumerate(sources):
        code, _, err = run(["import", str(source), *extra, "-o", str(tmp_path / f"out{k}.h5")], capsys)
        assert code == 0, err
        with open_activations(tmp_path / f"out{k}.h5") as f:
            np.testing.assert_array_equal(f.epochs, [0, 5, 10])
            np.testing.assert_array_equal(f.labels, y)
            assert [s["units"] for s in f.layers] == [4, 5]
            np.testing.assert_array_equal(f.activations(1, 0), a[1].reshape(12, 4))
            np.testing.assert_array_equal(f.activations(2, 1), b[2])
    # a layerinfo file imports as itself
    code, _, err = run(["import", str(tmp_path / "out0.h5"), "-o", str(tmp_path / "again.h5")], capsys)
    assert code == 0, err
    with open_activations(tmp_path / "again.h5") as f:
        assert [s["name"] for s in f.layers] == ["a", "b"]
        np.testing.assert_array_equal(f.activations(2, 0), a[2].reshape(12, 4))


@pytest.mark.parametrize("arrays, extra, needle", [
    ({"a": np.zeros((12, 3))}, [], "--labels: not given and the source has no array y or labels"),
    ({"a": np.zeros((11, 3)), "y": np.zeros(12, int)}, [], "layer 'a' has shape (11, 3), but the labels have N = 12"),
    ({"a": np.zeros((12, 12, 3)), "y": np.zeros(12, int)}, [], "both of its first axes have length N = 12; say --epoch-axis"),
    ({"a": np.zeros((12, 3)), "y": np.zeros(12)}, [], "--labels: expected a 1-d integer array, got float64"),
    ({"a": np.zeros((2, 12, 3)), "y": np.zeros(12, int)}, ["--epochs", "1,2,3"], "--epochs: 3 epochs given for arrays with 2"),
    ({"a": np.zeros((12, 3)), "y": np.zeros(12, int)}, ["--activation", "gelu"], "--activation: unknown 'gelu'; allowed: softmax, tanh"),
])
def test_import_malformed(tmp_path, capsys, arrays, extra, needle):
    np.savez(tmp_path / "s.npz", **arrays)
    code, _, err = run(["import", str(tmp_path / "s.npz"), *extra, "-o", str(tmp_path / "o.h5")], capsys)
    line, = err.strip().splitlines()
    assert code == 2 and line.startswith("layerinfo import: error: ") and needle in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.npz"]


@pytest.mark.parametrize("extra, needle", [
    (["--estimators", "ebab,mine"], "--estimators: unknown estimator(s) mine; allowed: bins_fixed, bins_width, ebab"),
    (["--split", "valid"], "--split: unknown split(s) valid; allowed: all, train, test"),
    (["--split", "test"], "has 0 samples in split 'test'"),
    (["--interval", "95"], "--interval: the coverage must be in (0, 1)"),
    (["--interval", "0.9", "--subsample", "12"], "--subsample: subsample size m = 12 must satisfy 2 <= m < n = 12"),
    (["--param", "ebab.width=3"], "--param: ebab has no parameter 'width'; allowed: n_bins, lower, activation"),
    (["--layers", "c*"], "--layers: 'c*' matches no layer"),
    (["FILE=missing.h5"], "missing.h5: activation file does not exist"),
    (["FILE=s.npz"], "s.npz: not a readable HDF5 file"),
])
def test_estimate_malformed(tmp_path, capsys, extra, needle):
    np.savez(tmp_path / "s.npz", a=np.random.default_rng(0).normal(size=(12, 2)), y=np.arange(12) % 2)
    run(["import", str(tmp_path / "s.npz"), "-o", str(tmp_path / "a.h5")], capsys)
    source = str(tmp_path / "a.h5")
    if extra[0].startswith("FILE="):
        source, extra = str(tmp_path / extra[0][5:]), []
    code, _, err = run(["estimate", source, *extra, "-o", str(tmp_path / "t.csv")], capsys)
    line, = err.strip().splitlines()
    assert code == 2 and line.startswith("layerinfo estimate: error: ") and needle in line, line
    assert not (tmp_path / "t.csv").exists()


def test_plot_draws_each_split_and_estimator_and_refuses_foreign_tables(tmp_path, capsys):
    rng = np.random.default_rng(3)
    np.savez(tmp_path / "s.npz", a=rng.normal(size=(2, 30, 2)), b=rng.normal(size=(2, 30, 1)), y=np.arange(30) % 2)
    run(["import", str(tmp_path / "s.npz"), "-o", str(tmp_path / "a.h5")], capsys)
    run(["estimate", str(tmp_path / "a.h5"), "--estimators", "ebab,kde_upper", "--interval", "0.9", "--repeats", "3",
         "-o", str(tmp_path / "t.csv")], capsys)
    code, out, err = run(["plot", str(tmp_path / "t.csv"), "-o", str(tmp_path / "fig")], capsys)
    assert code == 0, err
    assert out.split() == [str(tmp_path / "fig" / f"infoplane_a_all_{e}.png") for e in ("ebab", "kde_upper")]
    assert all((tmp_path / "fig" / f"infoplane_a_all_{e}.png").stat().st_size > 10_000 for e in ("ebab", "kde_upper"))
    pd.DataFrame({"x": [1]}).to_csv(tmp_path / "foreign.csv", index=False)
    code, _, err = run(["plot", str(tmp_path / "foreign.csv"), "-o", str(tmp_path / "fig2")], capsys)
    assert code == 2 and "lacks column(s) run, split, epoch" in err and not (tmp_path / "fig2").exists()
