"""Malformed configs generated from the default one: every leaf given a value of the wrong type,
every mapping given an unknown key. Each must be refused with a one-line ConfigError naming the
key, before anything runs."""

import copy
from pathlib import Path

import pytest
import yaml

from layerinfo.workflow.config import ConfigError, validate_config
from layerinfo.information import METHODS
from layerinfo.init import SCHEMES

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "schemas" / "config.schema.yaml"
DEFAULT = yaml.safe_load((ROOT / "config.yaml").read_text())
TOP_LEVEL_REQUIRED = set(yaml.safe_load(SCHEMA.read_text())["required"])


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
        return ["not", "a", "string"]  # not 12345: some keys take a number or a keyword
    return "not a container"


def _dotted(path):
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


# Numeric keys for which a negative value is legitimate.
NEGATIVE_ALLOWED = {"bias"}


def _mutations():
    cases = []
    for path, value in _walk(DEFAULT):
        if not path:
            continue
        cases.append(("type", path, _wrong_type(value)))
        if isinstance(value, dict):
            cases.append(("unknown", path, None))
        if isinstance(path[-1], str):
            cases.append(("missing", path, None))
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            key = next((p for p in reversed(path) if isinstance(p, str)), "")
            if key not in NEGATIVE_ALLOWED:
                cases.append(("negative", path, -1))
    cases.append(("unknown", (), None))
    return cases


MUTATIONS = _mutations()


def _apply(kind, path, value):
    cfg = copy.deepcopy(DEFAULT)
    node = cfg
    for part in path[:-1]:
        node = node[part]
    if kind in ("type", "negative"):
        node[path[-1]] = value
    elif kind == "missing":
        del node[path[-1]]
    else:
        target = node[path[-1]] if path else cfg
        target["unknown_key"] = 1
    return cfg


def test_there_are_at_least_fifty_generated_cases():
    assert len(MUTATIONS) >= 50
    kinds = {k for k, _, _ in MUTATIONS}
    assert kinds == {"type", "unknown", "missing", "negative"}


def _optional(path, validated):
    """Why a key may be left out: the schema fills its default back in, the package has a
    default for a method or scheme parameter, or it is an unused entry of a named map."""
    if len(path) == 1:
        return path[0] not in TOP_LEVEL_REQUIRED  # an optional study section
    node = validated
    for part in path[:-1]:
        node = node[part]
    if path[-1] in node:
        return True  # schema default
    if len(path) >= 3 and path[-3] in ("estimators", "initialisations"):
        owner = DEFAULT
        for part in path[:-1]:
            owner = owner[part]
        registry = METHODS.get(owner.get("method"), {}) if path[-3] == "estimators" else \
            SCHEMES.get(owner.get("scheme"), {})
        return path[-1] in registry
    return len(path) >= 2 and path[-2] in ("estimators", "initialisations", "experiments", "tasks")


@pytest.mark.parametrize("kind,path,value", MUTATIONS, ids=[f"{k}:{_dotted(p) or 'top'}" for k, p, _ in MUTATIONS])
def test_generated_bad_config_is_refused_naming_the_key(kind, path, value):
    cfg = _apply(kind, path, value)
    if kind == "missing":
        try:
            validate_config(cfg, SCHEMA)
        except ConfigError:
            pass
        else:
            assert _optional(path, cfg), f"{_dotted(path)} was removed and the config still passed"
            return
    with pytest.raises(ConfigError) as info:
        validate_config(cfg, SCHEMA)
    message = str(info.value)
    assert "\n" not in message and message.startswith("invalid config key '")
    if kind in ("type", "negative"):
        assert message.split("'")[1] == _dotted(path), message
    elif kind == "missing":
        parent = _dotted(path[:-1]) or "<top level>"
        named = message.split("'")[1]
        # named under its parent (a required key, or the last entry of a map that must not be
        # empty), or where it is referenced (an initialisation an experiment uses)
        assert named == parent or str(path[-1]) in message, message
    else:
        assert "unknown_key" in message, message
