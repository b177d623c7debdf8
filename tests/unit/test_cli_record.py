"""layerinfo record / layers: the recorder's traps and malformed inputs (models in cli_models.py)."""

from pathlib import Path

import numpy as np
import pytest
import torch

from layerinfo.cli.main import main
from layerinfo.h5io import open_activations

MODELS = Path(__file__).with_name("cli_models.py")


def model(name: str) -> str:
    return f"{MODELS}:{name}"


@pytest.fixture
def probe(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(10, 4)).astype(np.float32)
    y = np.arange(10) % 3
    path = tmp_path / "probe.npz"
    np.savez(path, x_train=x[:7], y_train=y[:7], x_test=x[7:], y_test=y[7:])
    return path, x, y


def run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, *needles):
    lines = err.strip().splitlines()
    assert code == 2
    assert len(lines) == 1 and lines[0].startswith("layerinfo record: error: "), err
    for needle in needles:
        assert needle in lines[0], lines[0]


def assert_nothing_written(directory: Path, name: str = "acts.h5"):
    assert not (directory / name).exists()
    assert not [p.name for p in directory.iterdir() if p.name.startswith(f".{name}")]


def test_record_equals_forward_pass_with_splits_and_memory_line(tmp_path, probe, capsys):
    path, x, y = probe
    out = tmp_path / "acts.h5"
    code, _, err = run(["record", "--model", model("mlp"), "--data", str(path), "-o", str(out),
                        "--batch-size", "3"], capsys)
    assert code == 0, err
    assert "3 layers, 10 samples x 8 values x 1 epoch(s) = 320 B on disk" in err
    net = torch.nn.Sequential(*list(__import__("cli_models").mlp()))
    with torch.inference_mode():
        h0 = net[0](torch.from_numpy(x))
        expected = [h0, net[1](h0), net[2](net[1](h0))]
    with open_activations(out) as f:
        assert [s["name"] for s in f.layers] == ["0", "1", "2"]
        assert [s["activation"] for s in f.layers] == ["linear", "tanh", "linear"]
        np.testing.assert_array_equal(f.labels, y)
        np.testing.assert_array_equal(f.train_mask, np.arange(10) < 7)
        np.testing.assert_array_equal(f.epochs, [0])
        for l, e in enumerate(expected):
            np.testing.assert_array_equal(f.activations(0, l), e.numpy())  # bit for bit


def test_tuple_and_dict_outputs_need_a_selector(tmp_path, probe, capsys):
    path, x, _ = probe
    out = tmp_path / "acts.h5"
    code, _, err = run(["record", "--model", model("tuple_output"), "--data", str(path), "-o", str(out)], capsys)
    assert_one_line_error(code, err, "'inner' returns a tuple (keys: 0, 1)", "--select inner=KEY")
    code, _, err = run(["record", "--model", model("dict_output"), "--data", str(path), "-o", str(out),
                        "--layers", "inner"], capsys)
    assert_one_line_error(code, err, "(keys: same, negated)")
    assert_nothing_written(tmp_path)
    code, _, err = run(["record", "--model", model("dict_output"), "--data", str(path), "-o", str(out),
                        "--layers", "inner", "--select", "inner=bogus"], capsys)
    assert_one_line_error(code, err, "'bogus' is not a key", "allowed: same, negated")
    code, _, err = run(["record", "--model", model("tuple_output"), "--data", str(path), "-o", str(out),
                        "--layers", "inner", "--select", "inner=1"], capsys)
    assert code == 0, err
    with open_activations(out) as f:
        np.testing.assert_array_equal(f.activations(0, 0), 2 * x)
        assert f.layers[0]["selector"] == "1"


def test_data_parallel_prefix_in_model_and_checkpoint(tmp_path, probe, capsys):
    path, x, _ = probe
    wrapped = __import__("cli_models").data_parallel()
    with torch.no_grad():
        for p in wrapped.parameters():
            p.add_(1.0)
    torch.save({"state_dict": wrapped.state_dict(), "epoch": 7}, tmp_path / "last.pt")  # keys module.0.weight, ...
    out = tmp_path / "acts.h5"
    code, _, err = run(["record", "--model", model("data_parallel"), "--weights", str(tmp_path / "*.pt"),
                        "--data", str(path), "-o", str(out)], capsys)
    assert code == 0, err
    with open_activations(out) as f:
        assert [s["name"] for s in f.layers] == ["0", "1", "2"]
        np.testing.assert_array_equal(f.epochs, [7])  # the checkpoint's own epoch key
        with torch.inference_mode():
            np.testing.assert_array_equal(f.activations(0, 2), wrapped.module(torch.from_numpy(x)).numpy())


def test_convolutional_maps_pooled_or_subsampled(tmp_path, capsys):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(6, 1, 4, 4)).astype(np.float32)
    np.savez(tmp_path / "probe.npz", x=x, y=np.arange(6) % 2)
    net = __import__("cli_models").conv()
    with torch.inference_mode():
        maps = net[0](torch.from_numpy(x)).numpy()
    for extra, expected, stated in [
        (["--reduce", "gap"], maps.mean(axis=(2, 3)), "global average pool over 4x4"),
        (["--max-units", "5", "--seed", "3"],
         maps.reshape(6, -1)[:, np.sort(np.random.default_rng(3).choice(48, 5, replace=False))],
         "choice(48, 5, replace=False)"),
    ]:
        out = tmp_path / f"acts{len(extra)}{extra[0]}.h5"
        code, _, err = run(["record", "--model", model("conv"), "--data", str(tmp_path / "probe.npz"),
                            "--layers", "0", "-o", str(out), *extra], capsys)
        assert code == 0, err
        with open_activations(out) as f:
            assert f.layers[0]["units"] == expected.shape[1]
            assert stated in f.layers[0]["reduction"]
            np.testing.assert_allclose(f.activations(0, 0), expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name, needle", [
    ("sticky_training", "stay in training mode after eval()"),
    ("batch_statistics", "buffer(s) 1.running_mean, 1.running_var change"),
    ("random_in_eval", "two passes over the same batch differ at 1"),
])
def test_training_mode_and_randomness_refused(tmp_path, probe, capsys, name, needle):
    path, _, _ = probe
    code, _, err = run(["record", "--model", model(name), "--data", str(path), "-o", str(tmp_path / "acts.h5")], capsys)
    assert_one_line_error(code, err, needle)
    assert_nothing_written(tmp_path)


def _probe_variants(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(10, 4)).astype(np.float32)
    np.savez(tmp_path / "no_y.npz", x=x)
    np.savez(tmp_path / "no_x.npz", y=np.zeros(10, int))
    np.savez(tmp_path / "short.npz", x=x, y=np.zeros(9, int))
    np.savez(tmp_path / "ok.npz", x=x, y=np.zeros(10, int))
    torch.save({"0.weight": torch.zeros(5, 4)}, tmp_path / "bad_epoch_1.pt")


@pytest.mark.parametrize("args, needles", [
    (["--model", "cli_models_without_colon"], ["--model: expected MODULE:CALLABLE"]),
    (["--model", "no_such_module_xyz:build"], ["--model: cannot import 'no_such_module_xyz'", "ModuleNotFoundError"]),
    (["--model", "MODELS:nope"], ["has no callable 'nope'", "callables there:", "mlp"]),
    (["--model", "MODELS:not_a_module"], ["returned int, not a torch.nn.Module"]),
    (["--layers", "conv*"], ["--layers: 'conv*' matches no layer; recordable layers: 0, 1, 2"]),
    (["--data", "DIR/no_y.npz"], ["has no array 'y' (keys: x)"]),
    (["--data", "DIR/no_x.npz"], ["has no array 'x' (keys: y)"]),
    (["--data", "DIR/short.npz"], ["x has 10 samples but y has 9"]),
    (["--data", "DIR/missing.npz"], ["--data: file", "does not exist"]),
    (["--weights", "DIR/bad_*.pt"], ["bad_epoch_1.pt does not fit the model", "missing keys 0.bias, 2.weight",
                                     "wrong shapes 0.weight (5, 4) vs (3, 4)"]),
    (["--weights", "DIR/none_*.pt"], ["--weights: no file matches"]),
    (["--split", "train"], ["--split:", "holds one set of samples (x, y); --split takes only 'all' here"]),
    (["-o", "DIR/acts.txt"], ["-o: the activation file must end in .h5"]),
])
def test_malformed_inputs_end_in_one_line_and_no_file(tmp_path, capsys, args, needles):
    _probe_variants(tmp_path)
    base = {"--model": model("mlp"), "--data": str(tmp_path / "ok.npz"), "-o": str(tmp_path / "acts.h5")}
    args = [a.replace("MODELS", str(MODELS)).replace("DIR", str(tmp_path)) for a in args]
    for key, value in base.items():
        if key not in args:
            args += [key, value]
    code, _, err = run(["record", *args], capsys)
    assert_one_line_error(code, err, *needles)
    assert_nothing_written(tmp_path)


def test_usage_error_is_one_line_with_allowed_values(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["record", "--model", "m:f", "--data", "p.npz", "-o", "a.h5", "--reduce", "max"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    line, = err.strip().splitlines()
    assert line.startswith("layerinfo record: error: argument --reduce: invalid choice: 'max' (choose from ")
    assert "flatten" in line and "gap" in line


def test_layers_lists_calls_shapes_and_in_place(tmp_path, probe, capsys):
    path, _, _ = probe
    code, out, err = run(["layers", "--model", model("tuple_output"), "--data", str(path)], capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["layer", "module", "calls", "output", "shape", "units", "note"]
    assert lines[1].split() == ["inner", "Pair", "1", "{0:", "4,", "1:", "4}", "-", "tuple/dict:", "--select"]
    assert lines[2].split() == ["out", "Linear", "1", "2", "2"]


def test_epochs_from_file_names_or_the_epoch_key(tmp_path, probe, capsys):
    path, _, _ = probe
    state = __import__("cli_models").mlp().state_dict()
    for name in ("net_e10.pt", "net_e2.pt"):
        torch.save(state, tmp_path / name)
    torch.save({"model_state_dict": state, "epoch": 30}, tmp_path / "net_final.pt")
    out = tmp_path / "acts.h5"
    code, _, err = run(["record", "--model", model("mlp"), "--weights", str(tmp_path / "net_*.pt"),
                        "--data", str(path), "-o", str(out)], capsys)
    assert code == 0, err
    with open_activations(out) as f:
        np.testing.assert_array_equal(f.epochs, [2, 10, 30])
    torch.save({"state_dict": state, "epoch": 2}, tmp_path / "net_x.pt")
    code, _, err = run(["record", "--model", model("mlp"), "--weights", str(tmp_path / "net_*.pt"),
                        "--data", str(path), "-o", str(tmp_path / "b.h5")], capsys)
    assert_one_line_error(code, err, "--weights: several checkpoints claim epoch(s) [2]")
    (tmp_path / "net_x.pt").write_bytes(b"not a checkpoint")
    code, _, err = run(["record", "--model", model("mlp"), "--weights", str(tmp_path / "net_x.pt"),
                        "--data", str(path), "-o", str(tmp_path / "b.h5")], capsys)
    assert_one_line_error(code, err, "net_x.pt is not a state dict loadable with weights_only=True")
    assert not (tmp_path / "b.h5").exists()


def test_output_overwritten_by_a_functional_in_place_op_is_said_and_kept_as_returned(tmp_path, probe, capsys):
    path, x, _ = probe
    out = tmp_path / "acts.h5"
    code, _, err = run(["record", "--model", model("in_place_after"), "--data", str(path), "-o", str(out)], capsys)
    assert code == 0, err
    assert ("record: warning: the output of first is overwritten in place later in the forward pass; "
            "the file holds each value as its module returned it") in err
    net = __import__("cli_models").in_place_after()
    with torch.inference_mode(), open_activations(out) as f:
        first = net.first(torch.from_numpy(x))
        np.testing.assert_array_equal(f.activations(0, 0), first.numpy())  # before relu_
        assert (first < 0).any()
        np.testing.assert_array_equal(f.activations(0, 1), net.second(first.relu()).numpy())
