"""Malformed configs generated from the default one: every leaf given a value of the wrong type,
every mapping given an unknown key. Each must be refused with a one-line ConfigError naming the
key, before anything runs."""

import copy
from pathlib import Path

import pytest
import yaml

from layerinfo.config import ConfigError, validate_config

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "schemas" / "config.schema.yaml"
DEFAULT = yaml.safe_load((ROOT / "config.yaml").read_text())


def _walk(node, path=()):
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, (*path, key))
    elif isinstance(node, list):
        yield path, node
        for i, value in enumerate(node):
            yield from _walk(value, (*path, i))
    else:
        yield path, node


def _wrong_type(value):
    if isinstance(value, bool):
        return "yes please"
    if isinstance(value, (int, float)):
        return "not a number"
    if isinstance(value, str):
        return 12345
    return "not a container"


def _dotted(path):
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _mutations():
    cases = []
    for path, value in _walk(DEFAULT):
        if not path:
            continue
        cases.append(("type", path, _wrong_type(value)))
        if isinstance(value, dict):
            cases.append(("unknown", path, None))
    cases.append(("unknown", (), None))
    return cases


MUTATIONS = _mutations()


def _apply(kind, path, value):
    cfg = copy.deepcopy(DEFAULT)
    node = cfg
    for part in path[:-1]:
        node = node[part]
    if kind == "type":
        node[path[-1]] = value
    else:
        target = node[path[-1]] if path else cfg
        target["unknown_key"] = 1
    return cfg


def test_there_are_at_least_fifty_generated_cases():
    assert len(MUTATIONS) >= 50


@pytest.mark.parametrize("kind,path,value", MUTATIONS, ids=[f"{k}:{_dotted(p) or 'top'}" for k, p, _ in MUTATIONS])
def test_generated_bad_config_is_refused_naming_the_key(kind, path, value):
    cfg = _apply(kind, path, value)
    with pytest.raises(ConfigError) as info:
        validate_config(cfg, SCHEMA)
    message = str(info.value)
    assert "\n" not in message and message.startswith("invalid config key '")
    if kind == "type":
        assert message.split("'")[1] == _dotted(path), message
    else:
        assert "unknown_key" in message, message
