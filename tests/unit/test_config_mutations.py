"""Malformed configs generated from the default one: every leaf given a value of the wrong type,
every mapping given an unknown key. Each must be refused with a one-line ConfigError naming the
key, before anything runs."""

import copy
from pathlib import Path

import pytest
import yaml

from layerinfo.workflow.config import ConfigError, validate_config

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


# What leaving out a key of config.yaml must do, written out rather than read from the schema:
# a study section left out is a study not run; an entry of a named collection left out is gone
# (an initialisation still referenced is refused); these keys of an entry are required:
REQUIRED_IN_ENTRY = {"experiments": {"activations", "initialisations"}, "estimators": {"method"},
                     "initialisations": {"scheme"}, "tasks": {"kind"}}
AKDE_REQUIRED = {"variant"}
STUDIES = {"information_plane", "isometry", "relevance", "coding"}
NAMED = ("experiments", "estimators", "initialisations", "tasks")


def _validated(cfg):
    cfg = copy.deepcopy(cfg)
    validate_config(cfg, SCHEMA)
    return cfg


VALIDATED_DEFAULT = _validated(DEFAULT)


def _expected_when_missing(path):
    """``refused``, ``absent`` (the key stays out: a study not run, an entry of a collection
    gone, a method or scheme parameter the package defaults), ``filled`` (a task's key, filled
    with its kind's default) or ``default`` (filled back with exactly config.yaml's value)."""
    if len(path) == 1 and path[0] in STUDIES:
        return "absent"
    if len(path) >= 2 and path[-2] == "width_scan":
        return "refused"  # a scan is given whole (one scan or a list of them): each names all four keys
    if len(path) >= 2 and path[-2] in NAMED:
        collection = DEFAULT
        for part in path[:-1]:
            collection = collection[part]
        if len(collection) == 1:
            return "refused"  # a collection must not be empty
        used = path[-2] == "initialisations" and len(path) == 2 and any(
            path[-1] in exp["initialisations"] for exp in DEFAULT["information_plane"]["experiments"].values())
        # config.yaml's width scan names the toy task
        used = used or (path[-2] == "tasks" and path[-1] in DEFAULT["coding"]["network"]["width_scan"]["tasks"])
        return "refused" if used else "absent"
    if len(path) >= 3 and path[-3] in NAMED:
        owner = path[-3]
        # S3's trained networks name a scheme and a sigma_w each
        required = {"scheme", "sigma_w"} if path[0] == "isometry" and owner == "initialisations" else \
            REQUIRED_IN_ENTRY[owner]
        if path[-1] in required:
            return "refused"
        entry = DEFAULT
        for part in path[:-1]:
            entry = entry[part]
        if owner == "estimators":
            return "refused" if entry["method"] == "akde" and path[-1] in AKDE_REQUIRED else "absent"
        if owner == "initialisations" and path[0] == "initialisations":
            return "absent"  # gain, bias, sigma_b: the scheme's own defaults (layerinfo.init.SCHEMES)
        if owner == "tasks":
            return "filled"  # the task kind's default (digits: 100 training images, config.yaml 50)
        return "default"  # an isometry initialisation's keys with schema defaults
    return "default"


def test_expected_outcomes_of_missing_keys_cover_every_kind():
    outcomes = {}
    for kind, path, _ in MUTATIONS:
        if kind == "missing":
            outcomes.setdefault(_expected_when_missing(path), []).append(_dotted(path))
    assert "information_plane" in outcomes["absent"] and "information_plane.estimators.ebab.n_bins" in \
        outcomes["absent"] and "initialisations.truncnorm" in outcomes["refused"]
    assert "coding.sampler.n_steps" in outcomes["default"] and "initialisations" in outcomes["default"]
    assert "information_plane.experiments.main.activations" in outcomes["refused"]


@pytest.mark.parametrize("kind,path,value", MUTATIONS, ids=[f"{k}:{_dotted(p) or 'top'}" for k, p, _ in MUTATIONS])
def test_generated_bad_config_is_refused_naming_the_key(kind, path, value):
    cfg = _apply(kind, path, value)
    if kind == "missing" and _expected_when_missing(path) != "refused":
        validate_config(cfg, SCHEMA)
        node, default = cfg, VALIDATED_DEFAULT
        for part in path[:-1]:
            node, default = node[part], default[part]
        if _expected_when_missing(path) == "absent":
            assert path[-1] not in node, f"{_dotted(path)} was filled back in with {node[path[-1]]!r}"
        elif _expected_when_missing(path) == "filled":
            assert path[-1] in node, f"{_dotted(path)} was not filled back in"
        else:
            # filled back with config.yaml's own value: the schema's default is the documented one
            assert cfg == VALIDATED_DEFAULT, f"{_dotted(path)}: default {node.get(path[-1])!r}, config.yaml " \
                                             f"{default[path[-1]]!r}"
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
