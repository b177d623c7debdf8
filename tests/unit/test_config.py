"""Config validation: every bad config is refused with the key named and the allowed values."""

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from layerinfo.workflow.config import ConfigError, run_config, runs, validate_config

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "schemas" / "config.schema.yaml"


def _default():
    return yaml.safe_load((ROOT / "config.yaml").read_text())


def _set(cfg, path, value):
    node = cfg
    for key in path[:-1]:
        node = node[key]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return cfg


_DELETE = object()
IP = "information_plane"

BAD = [
    # (path, value, expected fragments of the message)
    ((IP, "experiments", "main", "activations", 1), "rleu",
     ["information_plane.experiments.main.activations[1]", "'rleu' is not allowed", "tanh, relu, elu"]),
    ((IP, "experiments", "main", "initialisations", 0), "xavier",
     ["information_plane.experiments.main.initialisations[0]", "'xavier' is not defined", "truncnorm, orthogonal"]),
    (("initialisations", "orthogonal", "scheme"), "kaiming",
     ["initialisations.orthogonal.scheme", "allowed values: truncated_normal, gaussian, orthogonal"]),
    ((IP, "training", "epochs"), -5, ["information_plane.training.epochs", "must be >= 1"]),
    ((IP, "training", "epochs"), "many", ["information_plane.training.epochs", "expected integer, got str"]),
    ((IP, "training", "learning_rate"), 0, ["information_plane.training.learning_rate", "must be > 0"]),
    ((IP, "training", "epochz"), 10, ["information_plane.training", "unknown key(s) 'epochz'", "allowed keys: optimizer"]),
    ((IP, "training", "optimizer"), "rmsprop", ["information_plane.training.optimizer", "allowed values: adam, sgd"]),
    ((IP, "seeds"), [], ["information_plane.seeds", "should be non-empty"]),
    ((IP, "seeds"), [0, 0], ["information_plane.seeds", "seeds repeat"]),
    ((IP, "hidden_widths"), [10, 0], ["information_plane.hidden_widths[1]", "must be >= 1"]),
    ((IP, "dataset", "name"), "imagenet", ["information_plane.dataset.name", "allowed values: tishby, digits, mnist"]),
    ((IP, "dataset", "test_fraction"), 1.5, ["information_plane.dataset.test_fraction", "must be < 1"]),
    # a section left out takes its defaults; an experiment must still say what it crosses
    ((IP, "experiments", "main", "activations"), _DELETE,
     ["information_plane.experiments.main", "missing required key(s): activations"]),
    ((IP, "estimators", "kde_upper", "noise_variance"), -0.1, ["information_plane.estimators.kde_upper.noise_variance", "must be > 0"]),
    ((IP, "estimators", "kde_upper", "bandwidth"), 0.1, ["information_plane.estimators.kde_upper", "unknown key(s) 'bandwidth'", "allowed keys: method, noise_variance"]),
    ((IP, "estimators", "ebab", "method"), "ebab2", ["information_plane.estimators.ebab.method", "allowed values: bins_fixed"]),
    ((IP, "estimators", "akde_paper", "variant"), "both", ["information_plane.estimators.akde_paper.variant", "allowed values: paper, range, code"]),
    (("informaton_plane",), {}, ["<top level>", "unknown key(s) 'informaton_plane'"]),
    ((IP, "experiments", "main", "training"), {"momentum": 0.9}, ["momentum applies to optimizer 'sgd' only"]),
    ((IP, "experiments", "bad-name"), {"activations": ["tanh"], "initialisations": ["truncnorm"]},
     ["information_plane.experiments", "does not match"]),
    (("runtime", "activation_compression"), "zstd",
     ["invalid config key 'runtime.activation_compression'", "'zstd' is not allowed",
      "allowed values: none, lzf, gzip"]),
]


@pytest.mark.parametrize("path,value,fragments", BAD, ids=[".".join(map(str, b[0])) for b in BAD])
def test_bad_config_names_key_and_allowed_values(path, value, fragments):
    cfg = _set(_default(), path, value)
    with pytest.raises(ConfigError) as info:
        validate_config(cfg, SCHEMA)
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message


def test_default_and_paper_configs_are_valid_and_defaults_filled():
    cfg = _default()
    del cfg[IP]["training"]["l2"]
    validate_config(cfg, SCHEMA)
    assert cfg[IP]["training"]["l2"] == 0.0
    paper = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    validate_config(paper, SCHEMA)
    assert len(runs(paper)) >= 8 * 50
    reduced = yaml.safe_load((ROOT / "config" / "reduced.yaml").read_text())
    validate_config(reduced, SCHEMA)
    assert len(runs(reduced)) == (8 + 2) * 10  # eight activations, and tanh and ReLU with L2
    # the decisive S2 run: the reference's 8000 epochs on seeds no other config uses
    assert reduced[IP]["training"]["epochs"] == 8000
    assert not set(reduced[IP]["seeds"]) & (set(paper[IP]["seeds"]) | set(cfg[IP]["seeds"]) | set(range(10)))
    for config in (paper, reduced):  # the reference protocol, with the schema's key names
        assert config[IP]["dataset"]["split"] == "reference" and config[IP]["training"]["shuffle"] is False
        assert config["initialisations"]["truncnorm"]["gain"] == "reference"
    assert cfg[IP]["dataset"]["split"] == "random" and cfg[IP]["training"]["shuffle"] is True  # defaults
    for config in (paper, reduced):  # runtime sections without the key get the default
        assert config["runtime"]["activation_compression"] == "none"
    del cfg["runtime"]
    validate_config(cfg, SCHEMA)
    assert cfg["runtime"]["activation_compression"] == "none"


def test_runs_and_run_config():
    cfg = _default()
    validate_config(cfg, SCHEMA)
    all_runs = runs(cfg)
    assert len(all_runs) == 4 * 2 * 3
    assert all_runs[0].name == "tanh-truncnorm-s0"
    rc = run_config(cfg, "main", "relu", "orthogonal", 2)
    assert rc["initialisation"] == {"name": "orthogonal", "scheme": "orthogonal", "gain": 1.0, "sigma_b": 0.0}
    assert rc["seed"] == 2 and rc["run"] == "relu-orthogonal-s2"
    override = copy.deepcopy(cfg)
    override[IP]["experiments"]["main"]["training"] = {"l2": 0.015}
    rc2 = run_config(override, "main", "relu", "orthogonal", 2)
    assert rc2["training"]["l2"] == 0.015 and rc2["training"]["epochs"] == cfg[IP]["training"]["epochs"]


def test_paper_config_runs_the_coding_study_on_mnist_and_cifar10(tmp_path):
    paper = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    validate_config(paper, SCHEMA)
    tasks = paper["coding"]["tasks"]
    assert {spec["dataset"] for spec in tasks.values() if spec["kind"] == "dataset"} == {"mnist", "cifar10"}
    assert all(spec["depth"] == 1 for spec in tasks.values() if spec["kind"] == "dataset")
    # the workflow fetches both through rule dataset_download (planned, not run: no network here)
    targets = [f"results/runs/coding/{task}/relu-feature-w500/posterior.h5" for task in ("mnist", "cifar10")]
    proc = subprocess.run([sys.executable, "-m", "snakemake", *targets, "--snakefile", str(ROOT / "Snakefile"),
                           "--directory", str(tmp_path), "--dry-run",
                           "--configfile", str(ROOT / "config" / "paper.yaml")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "dataset_download" in proc.stdout and "coding_sample" in proc.stdout, proc.stdout


def test_reduced_config_runs_s1_and_s4_on_mnist_images():
    reduced = yaml.safe_load((ROOT / "config" / "reduced.yaml").read_text())
    validate_config(reduced, SCHEMA)
    s1 = reduced["relevance"]
    assert s1["dataset"] == "mnist5k" and s1["hidden_widths"] == [500, 250, 120, 60, 30, 25, 20, 15, 10, 5, 3, 2]
    assert s1["training"]["protocol"] == "authors" and s1["trajectories"] is False
    assert s1["generation"]["k"] == 3  # Kynkäänniemi et al. 2019
    task = reduced["coding"]["tasks"]["mnist5k"]
    assert task["dataset"] == "mnist5k" and task["n_train"] == 500 and task["depth"] == 1  # 50 per class
