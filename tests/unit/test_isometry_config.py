"""Study S3 config: bad channel settings are refused before any job, naming the key and what is allowed."""

from pathlib import Path

import pytest
import yaml

from layerinfo.workflow.config import ConfigError, validate_config

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "schemas" / "config.schema.yaml"
INFO = ("isometry", "networks", "information")

BAD = [
    (INFO + ("epsilon",), 0.0, ["isometry.networks.information.epsilon", "must be > 0"]),
    (INFO + ("epsilon",), -0.1, ["isometry.networks.information.epsilon", "must be > 0"]),
    (INFO + ("epsilon",), 1.0, ["isometry.networks.information.epsilon", "must be < 1"]),
    (INFO + ("inputs",), 1, ["isometry.networks.information.inputs", "must be >= 2"]),
    (INFO + ("draws", "fit"), 1, ["isometry.networks.information.draws.fit", "must be >= 2"]),
    (INFO + ("draws", "eval"), 0, ["isometry.networks.information.draws.eval", "must be >= 2"]),
    (INFO + ("noise",), "gaussian",
     ["isometry.networks.information.noise", "'gaussian' is not allowed", "per_layer_relative, output_fixed"]),
    (INFO + ("controls",), ["fixed"],
     ["isometry.networks.information.controls[0]", "allowed values: per_layer_relative, output_fixed"]),
    (INFO + ("noise_std",), 0, ["isometry.networks.information.noise_std", "must be > 0"]),
    (INFO + ("sigma_b",), [-0.1], ["isometry.networks.information.sigma_b[0]", "must be >= 0"]),
    (INFO + ("samples",), 10, ["isometry.networks.information", "unknown key(s) 'samples'", "allowed keys: noise"]),
]


def _config():
    return yaml.safe_load((ROOT / "config.yaml").read_text())


def _set(cfg, path, value):
    node = cfg
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return cfg


@pytest.mark.parametrize("path,value,fragments", BAD, ids=[".".join(b[0][3:]) + f"={b[1]}" for b in BAD])
def test_bad_channel_settings_name_key_and_allowed_values(path, value, fragments):
    with pytest.raises(ConfigError) as info:
        validate_config(_set(_config(), path, value), SCHEMA)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message


def test_defaults_are_filled():
    cfg = _config()
    spec = cfg["isometry"]["networks"]["information"]
    for key in ("noise", "controls", "epsilon", "noise_std", "linearisation_points"):
        del spec[key]
    validate_config(cfg, SCHEMA)
    assert spec["noise"] == "per_layer_relative" and spec["controls"] == ["output_fixed"]
    assert spec["epsilon"] == 0.05 and spec["noise_std"] == 0.5
    paper = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    validate_config(paper, SCHEMA)
    assert paper["isometry"]["networks"]["information"]["width"] == 64
