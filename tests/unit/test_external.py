"""The workflow's `external` target in parts: config -> the command's arguments and inputs,
config errors, and the fitting and compression claims on hand-made estimate tables."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from layerinfo.cli.claims import MIN_COMPRESSION_FRACTION, external_claims
from layerinfo.cli.main import build_parser
from layerinfo.workflow import config as lconfig
from layerinfo.workflow import external

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "schemas" / "config.schema.yaml"


# --- config -> arguments --------------------------------------------------------------------

def test_a_model_entry_becomes_the_record_command_with_every_key():
    entry = {"model": "nets.py:build", "data": "probe.npz", "weights": "ckpt/epoch_*.pt",
             "layers": ["conv*", "act:1"], "split": ["train", "test"], "select": {"pair": 0, "dict": "same"},
             "reduce": "gap", "max_units": 16, "seed": 3, "batch_size": 64}
    argv = external.activations_argv("cnn", entry, "out/activations.h5", "cpu")
    assert argv == ["record", "--model", "nets.py:build", "--data", "probe.npz", "--device", "cpu",
                    "--weights", "ckpt/epoch_*.pt", "--layers", "conv*", "act:1", "--split", "train,test",
                    "--select", "pair=0", "--select", "dict=same", "--reduce", "gap", "--max-units", "16",
                    "--seed", "3", "--batch-size", "64", "--run", "cnn", "-o", "out/activations.h5"]
    args = build_parser().parse_args(argv)  # the command accepts what the workflow builds
    assert (args.layers, args.select, args.max_units, args.run) == (["conv*", "act:1"], ["pair=0", "dict=same"], 16, "cnn")


def test_keys_left_out_are_left_to_the_commands_defaults():
    record = external.activations_argv("m", {"model": "a.b:c", "data": "p.npz"}, "o.h5", "cuda")
    assert record == ["record", "--model", "a.b:c", "--data", "p.npz", "--device", "cuda", "--run", "m", "-o", "o.h5"]
    defaults = build_parser().parse_args(record)
    assert (defaults.reduce, defaults.max_units, defaults.seed, defaults.batch_size) == ("flatten", None, 0, 256)
    imported = external.activations_argv("t", {"activations": "acts.npz"}, "o.h5")
    assert imported == ["import", "acts.npz", "--run", "t", "-o", "o.h5"]


def test_an_activations_entry_becomes_the_import_command():
    entry = {"activations": "acts", "labels": "y.npy", "epoch_axis": "yes", "epochs": [0, 10, 20], "activation": "relu"}
    argv = external.activations_argv("theirs", entry, "o.h5")
    assert argv == ["import", "acts", "--labels", "y.npy", "--epoch-axis", "yes", "--epochs", "0,10,20",
                    "--activation", "relu", "--run", "theirs", "-o", "o.h5"]
    assert build_parser().parse_args(argv).epochs == "0,10,20"


def test_inputs_are_the_probe_the_model_source_and_every_checkpoint(tmp_path):
    (tmp_path / "probe.npz").write_bytes(b"")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "nets.py").write_text("")
    (tmp_path / "ckpt").mkdir()
    for e in (10, 2, 1):
        (tmp_path / "ckpt" / f"epoch_{e}.pt").write_bytes(b"")
    entry = {"model": "pkg.nets:build", "data": "probe.npz", "weights": "ckpt/epoch_*.pt"}
    assert external.inputs("cnn", entry, tmp_path) == [
        "probe.npz", "pkg/nets.py", "ckpt/epoch_1.pt", "ckpt/epoch_10.pt", "ckpt/epoch_2.pt"]
    # an installed module has no file here: nothing to watch
    assert external.inputs("lin", {"model": "torch.nn:Linear", "data": "probe.npz"}, tmp_path) == ["probe.npz"]
    assert external.model_file("nets.py:build") == "nets.py"


@pytest.mark.parametrize("entry, key, problem", [
    ({"model": "nets.py:build", "data": "missing.npz"}, "data", "missing.npz does not exist"),
    ({"model": "gone.py:build", "data": "probe.npz"}, "model", "gone.py does not exist"),
    ({"model": "torch.nn:Linear", "data": "probe.npz", "weights": "ckpt/*.pt"}, "weights", "matches no file"),
    ({"activations": "acts.npz"}, "activations", "acts.npz does not exist"),
    ({"activations": "probe.npz", "labels": "y.npy"}, "labels", "y.npy does not exist"),
])
def test_a_missing_file_names_its_key(tmp_path, entry, key, problem):
    (tmp_path / "probe.npz").write_bytes(b"")
    with pytest.raises(lconfig.ConfigError) as err:
        external.inputs("net", entry, tmp_path)
    message = str(err.value)
    assert f"'external.networks.net.{key}'" in message and problem in message and "\n" not in message


def test_command_errors_are_named_by_the_config_key_that_set_the_option():
    assert external.in_config_terms("--weights: w/epoch_1.pt does not fit the model: missing keys fc.bias", "cnn",
                                    "activations") == ("network cnn: config key 'external.networks.cnn.weights': "
                                                       "w/epoch_1.pt does not fit the model: missing keys fc.bias")
    assert external.in_config_terms("import: acts.npz holds labels but no layer arrays", "t", "activations") == (
        "network t: config key 'external.networks.t.activations': acts.npz holds labels but no layer arrays")
    assert external.in_config_terms("--subsample: subsample size m = 3 must satisfy 2 <= m < n = 3 (split 'test')",
                                    "t", "estimate").startswith("network t: config key 'external.subsample': ")
    assert external.in_config_terms("--device: cuda requested", "t", "estimate").startswith(
        "network t: config key 'runtime.device.estimate': ")
    # a message that names no option keeps its text
    assert external.in_config_terms("acts.h5: layer fc has NaN values", "t", "estimate") == (
        "network t: acts.h5: layer fc has NaN values")


# --- config errors --------------------------------------------------------------------------

def _validate(section):
    config = {"external": section}
    lconfig.validate_config(config, str(SCHEMA))
    return config


def test_defaults_fill_the_section_and_a_network_alone_is_a_config():
    config = _validate({"networks": {"net": {"activations": "acts.npz"}}})
    section = config["external"]
    assert section["splits"] == ["all"] and section["interval"] == 0.95 and section["repeats"] == 50
    assert section["estimators"] == {"ebab": {"method": "ebab"}, "kde_upper": {"method": "kde_upper"}}
    # no defaults inside the two kinds of entry: the command's own apply
    assert section["networks"]["net"] == {"activations": "acts.npz"}


@pytest.mark.parametrize("networks, message", [
    ({"n": {"model": "nets", "data": "p.npz"}}, "'external.networks.n.model'"),
    ({"n": {"model": "nets.py:build"}}, "'external.networks.n': missing required key(s): data"),
    ({"n": {"model": "nets.py:build", "data": "p.npz", "activations": "a.npz"}},
     "'external.networks.n': unknown key(s) 'activations'"),
    ({"n": {"activations": "a.npz", "activation": "foo"}}, "'external.networks.n.activation'"),
    ({"n": {"activations": "a.npz", "epoch_axis": "maybe"}}, "'external.networks.n.epoch_axis'"),
    ({"n": {"weights": "w.pt"}}, "a torch model recorded with layerinfo record (model and data required) or "
                                 "activations you already have"),
    ({"bad-name": {"activations": "a.npz"}}, "'external.networks'"),
    ({}, "'external.networks'"),
])
def test_a_wrong_entry_names_its_key(networks, message):
    with pytest.raises(lconfig.ConfigError) as err:
        _validate({"networks": networks})
    assert message in str(err.value), str(err.value)


@pytest.mark.parametrize("key, value, message", [
    ("subsample", 2.5, "neither a fraction in (0, 1) nor a whole number of rows"),
    ("interval", 1.0, "'external.interval'"),
    ("splits", ["every"], "allowed values: all, train, test"),
    ("repeats", 1, "'external.repeats'"),
])
def test_wrong_estimate_settings_name_their_key(key, value, message):
    with pytest.raises(lconfig.ConfigError) as err:
        _validate({"networks": {"n": {"activations": "a.npz"}}, key: value})
    assert message in str(err.value), str(err.value)


# --- claims ---------------------------------------------------------------------------------

def _table(layer_values, interval=0.05):
    """An estimate table of one layer: (epoch, I_XT, I_TY) triples, each with +-interval."""
    rows = []
    for epoch, ixt, ity in layer_values:
        rows.append({"split": "all", "epoch": epoch, "layer": 0, "layer_name": "fc", "estimator": "ebab",
                     "I_XT_bits": ixt, "I_TY_bits": ity,
                     "I_XT_ci_low": ixt - interval, "I_XT_ci_high": ixt + interval,
                     "I_TY_ci_low": ity - interval, "I_TY_ci_high": ity + interval})
    return pd.DataFrame(rows)


def _by_name(claims):
    return {c.claim.rsplit("_", 1)[1]: c for c in claims}


def test_fitting_and_compression_reproduced_with_hand_computed_intervals():
    claims = _by_name(external_claims({"net": _table([(0, 2.0, 0.1), (5, 4.0, 0.6), (9, 2.0, 0.9)])}))
    fit, comp = claims["fitting"], claims["compression"]
    # I(T;Y) 0.9 - 0.1, interval [0.85 - 0.15, 0.95 - 0.05]
    assert (fit.value, fit.ci_low, fit.ci_high) == pytest.approx((0.8, 0.7, 0.9))
    assert fit.verdict == "reproduced" and fit.n == 3
    # peak 4.0 at epoch 5, last 2.0: (4 - 2) / 4, interval [(3.95 - 2.05) / 4, (4.05 - 1.95) / 4]
    assert (comp.value, comp.ci_low, comp.ci_high) == pytest.approx((0.5, 0.475, 0.525))
    assert comp.verdict == "reproduced"
    assert comp.claim == "external_net_all_fc_ebab_compression"
    assert comp.figure == "figures/external/net/infoplane_net_all_ebab.png"
    assert "peak at epoch 5, last epoch 9" in comp.statistic


def test_falling_label_information_and_a_final_peak_are_not_reproduced():
    claims = _by_name(external_claims({"net": _table([(0, 1.0, 0.9), (1, 1.5, 0.5), (2, 2.0, 0.2)], 0.01)}))
    assert claims["fitting"].verdict == "not reproduced"
    comp = claims["compression"]
    # the last snapshot is the peak: 0, interval [-0.02 / 2, 0.02 / 2], all below the threshold
    assert (comp.value, comp.ci_low, comp.ci_high) == pytest.approx((0.0, -0.01, 0.01))
    assert comp.ci_high < MIN_COMPRESSION_FRACTION and comp.verdict == "not reproduced"


def test_overlapping_intervals_are_inconclusive():
    claims = _by_name(external_claims({"net": _table([(0, 2.0, 0.50), (1, 2.05, 0.52), (2, 1.95, 0.55)], 0.1)}))
    assert claims["fitting"].verdict == "inconclusive"
    assert claims["compression"].verdict == "inconclusive"


def test_without_intervals_the_point_value_decides():
    table = _table([(0, 2.0, 0.1), (1, 4.0, 0.5), (2, 3.0, 0.6)]).drop(
        columns=["I_XT_ci_low", "I_XT_ci_high", "I_TY_ci_low", "I_TY_ci_high"])
    claims = _by_name(external_claims({"net": table}))
    assert math.isnan(claims["fitting"].ci_low) and claims["fitting"].verdict == "reproduced"
    assert claims["compression"].value == pytest.approx(0.25) and claims["compression"].verdict == "reproduced"


def test_snapshots_needed_one_none_two_fitting_only():
    assert external_claims({"net": _table([(0, 1.0, 0.5)])}) == []
    two = external_claims({"net": _table([(0, 1.0, 0.5), (3, 1.0, 0.9)])})
    assert [c.claim for c in two] == ["external_net_all_fc_ebab_fitting"]


def test_one_pair_of_claims_per_split_layer_and_estimator():
    table = pd.concat([_table([(0, 2.0, 0.1), (1, 3.0, 0.5), (2, 2.5, 0.9)]).assign(layer=l, layer_name=f"l{l}",
                                                                                     estimator=e, split=s)
                       for l in range(2) for e in ("ebab", "kde_upper") for s in ("all", "test")])
    claims = external_claims({"net": table})
    assert len(claims) == 2 * 2 * 2 * 2 and len({c.claim for c in claims}) == len(claims)
    assert all(c.study == "external" for c in claims)
    assert np.all([c.verdict in ("reproduced", "not reproduced", "inconclusive") for c in claims])


def test_compression_at_log2_n_is_inconclusive_not_a_verdict():
    """Every sample in its own bin at the peak and the last snapshot: nothing can compress."""
    n = 256
    table = _table([(0, 6.0, 0.1), (1, 8.0, 0.5), (2, 8.0, 0.9)], 0.0).assign(n=n)
    comp = _by_name(external_claims({"net": table}))["compression"]
    assert comp.value == 0.0 and comp.verdict == "inconclusive" and "log2 N" in comp.statistic
    # the same numbers on a larger probe set (log2 N = 10) are a measured absence of compression
    comp = _by_name(external_claims({"net": table.assign(n=1024)}))["compression"]
    assert comp.verdict == "not reproduced"
