"""Configuration: readable schema errors, cross-key checks, and the runs a config asks for.

The schema (``schemas/config.schema.yaml``) is applied by Snakemake's ``validate``; this
module turns its errors into one line naming the key and the allowed values, and checks
what a JSON schema cannot express (references between keys, method parameters).

A config states what differs from the schema's defaults: a study runs when its section is
present (even empty), and every key it leaves out, nested sections included, takes the
schema's default (the values of config.yaml). Named collections (experiments, estimators,
initialisations, tasks) are replaced whole when given, never merged with the defaults.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from layerinfo.information import check_method
from layerinfo.init import REFERENCE_GAINS, check_scheme

STUDY = "information_plane"
# Every study section; a config runs those it contains.
STUDIES = (STUDY, "relevance", "isometry", "coding")
# Sections that give a config something to run: the studies, and your own networks.
SECTIONS = (*STUDIES, "external")


class ConfigError(ValueError):
    """An invalid configuration; the message names the offending key."""


def key_path(parts) -> str:
    """``['a', 'b', 0, 'c']`` -> ``'a.b[0].c'``."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "<top level>"


def _describe(schema: dict) -> str:
    """A short phrase for one alternative of a ``oneOf``: ``'critical'``, ``a number > 0``."""
    if "const" in schema:
        return repr(schema["const"])
    if "enum" in schema:
        return "one of " + ", ".join(map(repr, schema["enum"]))
    if schema.get("type") == "object" and "description" in schema:
        return schema["description"]
    text = f"a {schema.get('type', 'value')}"
    for key, relation in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("exclusiveMaximum", "<")):
        if key in schema:
            text += f" {relation} {schema[key]}"
    return text


_JSON_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "integer": int, "number": (int, float)}


def _fits_type(option: dict, value) -> bool:
    kind = option.get("type") if isinstance(option, dict) else None
    if kind not in _JSON_TYPES or (isinstance(value, bool) and kind != "boolean"):
        return False
    return isinstance(value, _JSON_TYPES[kind])


def _inner_error(error):
    """For a ``oneOf`` whose value has the type of exactly one alternative (a mapping where one
    alternative is an object), the deepest error inside that alternative: it names the key that
    is wrong (``width_scan.tasks``), not only the ``oneOf`` around it."""
    if error.validator != "oneOf" or not error.context:
        return error
    fitting = [i for i, option in enumerate(error.validator_value) if _fits_type(option, error.instance)]
    if len(fitting) > 1 and isinstance(error.instance, dict):
        # several object alternatives (external.networks: a model or activations): the one whose
        # required keys the value has most of, when that is one
        present = {i: sum(k in error.instance for k in error.validator_value[i].get("required", []))
                   for i in fitting}
        best = max(present.values())
        fitting = [i for i in fitting if present[i] == best] if best else fitting
    if len(fitting) != 1:
        return error
    inner = [e for e in error.context if e.relative_schema_path and e.relative_schema_path[0] == fitting[0]]
    if not inner:
        return error
    return _inner_error(max(inner, key=lambda e: len(e.absolute_path)))


def format_schema_error(error) -> str:
    """One readable line for a ``jsonschema.ValidationError``: the key, the problem, what is allowed."""
    error = _inner_error(error)
    where = key_path(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    kind, expected, value = error.validator, error.validator_value, error.instance
    if kind == "enum":
        message = f"{value!r} is not allowed; allowed values: {', '.join(map(str, expected))}"
    elif kind == "const":
        message = f"{value!r} is not allowed; expected {expected!r}"
    elif kind == "additionalProperties":
        allowed = list(schema.get("properties", {}))
        unknown = [k for k in value if k not in allowed]
        message = f"unknown key(s) {', '.join(map(repr, unknown))}; allowed keys: {', '.join(allowed)}"
    elif kind == "required":
        missing = [k for k in expected if k not in value]
        message = f"missing required key(s): {', '.join(missing)}"
    elif kind == "type":
        message = f"expected {expected}, got {type(value).__name__} {value!r}"
    elif kind in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        relation = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}[kind]
        message = f"{value!r} is out of range; must be {relation} {expected}"
    elif kind in ("minItems", "maxItems", "uniqueItems"):
        message = f"{error.message}"
    elif kind == "pattern":
        hint = " (letters, digits, underscore)" if expected == "^[A-Za-z0-9_]+$" else ""
        message = f"{value!r} does not match the allowed form {expected}{hint}"
    elif kind == "oneOf":
        message = f"{value!r} is not allowed; expected {' or '.join(_describe(option) for option in expected)}"
    elif kind == "propertyNames":
        message = f"{error.message}"
    else:
        message = error.message
    description = schema.get("description")
    hint = f" ({description})" if description and kind not in ("additionalProperties", "required") else ""
    return f"invalid config key '{where}'{hint}: {message}"


def validate_config(config: dict, schema_path: str) -> None:
    """Validate with Snakemake's schema validation (filling defaults), then :func:`check_config`.

    Raises :class:`ConfigError` with one line naming the key and the allowed values.
    """
    from snakemake.utils import validate

    coding = config.get("coding")
    network = coding.get("network") if isinstance(coding, dict) else None
    scan_given = isinstance(network, dict) and "width_scan" in network
    try:
        validate(config, schema=str(schema_path))
    except Exception as err:
        # Snakemake raises a WorkflowError while handling the jsonschema ValidationError.
        cause = err.__context__
        if cause is None or not hasattr(cause, "validator"):
            raise
        raise ConfigError(format_schema_error(cause)) from None
    if "coding" in config and not scan_given:
        # the default width scan names the default tasks: scan those this config still has
        scan = dict(config["coding"]["network"]["width_scan"])  # a copy: the schema's default object
        scan["tasks"] = [t for t in scan["tasks"] if t in config["coding"]["tasks"]]
        config["coding"]["network"]["width_scan"] = scan
    check_config(config)


def _merge(base: dict, override: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def check_config(config: dict) -> None:
    """Cross-key checks after schema validation; raises :class:`ConfigError` naming the key."""
    if not any(name in config for name in SECTIONS):
        raise ConfigError(f"invalid config: it names no study; give at least one of the sections {', '.join(SECTIONS)} "
                          "(an empty section runs that study with the schema's defaults)")
    if STUDY in config:
        check_information_plane(config)
    if "isometry" in config:
        check_isometry(config["isometry"])
    if "coding" in config:
        check_coding(config["coding"])
    if "external" in config:
        check_external(config["external"])


def check_external(section: dict) -> None:
    """Cross-key checks of the ``external`` section (the schema checks each key alone)."""
    subsample = section["subsample"]
    if subsample >= 1 and subsample != int(subsample):
        raise ConfigError(f"invalid config key 'external.subsample': {subsample} is neither a fraction in (0, 1) "
                          "nor a whole number of rows")


def check_information_plane(config: dict) -> None:
    """Cross-key checks of the ``information_plane`` section and the initialisations it names."""
    study = config[STUDY]
    inits = config["initialisations"]
    for name, spec in inits.items():
        params = {k: v for k, v in spec.items() if k != "scheme"}
        try:
            check_scheme(spec["scheme"], params)
        except ValueError as err:
            raise ConfigError(f"invalid config key 'initialisations.{name}': {err}") from None
    for exp_name, exp in study["experiments"].items():
        for i, init in enumerate(exp["initialisations"]):
            if init not in inits:
                raise ConfigError(
                    f"invalid config key '{STUDY}.experiments.{exp_name}.initialisations[{i}]': "
                    f"{init!r} is not defined under 'initialisations'; defined: {', '.join(inits)}"
                )
            if inits[init].get("gain") == "reference":
                for j, activation in enumerate(exp["activations"]):
                    if activation not in REFERENCE_GAINS:
                        raise ConfigError(
                            f"invalid config key '{STUDY}.experiments.{exp_name}.activations[{j}]': "
                            f"initialisation {init!r} takes the reference gain, which {activation!r} has "
                            f"not; activations with one: {', '.join(REFERENCE_GAINS)}"
                        )
        training = _merge(study["training"], exp.get("training", {}))
        if training["optimizer"] != "sgd" and training.get("momentum", 0.0) != 0.0:
            raise ConfigError(
                f"invalid config key '{STUDY}.experiments.{exp_name}.training.momentum': "
                f"momentum applies to optimizer 'sgd' only, but the optimizer is {training['optimizer']!r}"
            )
    for name, spec in study["estimators"].items():
        params = {k: v for k, v in spec.items() if k != "method"}
        try:
            check_method(spec["method"], params)
        except ValueError as err:
            raise ConfigError(f"invalid config key '{STUDY}.estimators.{name}': {err}") from None
    if len(set(study["seeds"])) != len(study["seeds"]):
        raise ConfigError(f"invalid config key '{STUDY}.seeds': seeds repeat: {study['seeds']}")


def check_isometry(section: dict) -> None:
    """Cross-key checks of the optional ``isometry`` section; raises :class:`ConfigError`."""
    grid = section["meanfield"]["sigma_w"]
    if not grid["min"] < grid["max"]:
        raise ConfigError(
            f"invalid config key 'isometry.meanfield.sigma_w': min ({grid['min']}) must be below max ({grid['max']})"
        )
    for name, spec in section["training"]["estimators"].items():
        params = {k: v for k, v in spec.items() if k != "method"}
        try:
            check_method(spec["method"], params)
        except ValueError as err:
            raise ConfigError(f"invalid config key 'isometry.training.estimators.{name}': {err}") from None
    training = section["training"]["optimisation"]
    if training["optimizer"] != "sgd" and training.get("momentum", 0.0) != 0.0:
        raise ConfigError(
            "invalid config key 'isometry.training.optimisation.momentum': momentum applies to optimizer 'sgd' "
            f"only, but the optimizer is {training['optimizer']!r}"
        )


def check_coding(section: dict) -> None:
    """Cross-key checks of the coding-schemes study (S4); raises :class:`ConfigError`."""
    sampler = section["sampler"]
    if sampler["burn_in"] >= sampler["n_steps"]:
        raise ConfigError(f"invalid config key 'coding.sampler.burn_in': {sampler['burn_in']} must be smaller "
                          f"than coding.sampler.n_steps ({sampler['n_steps']})")
    if sampler["thin"] > sampler["n_steps"] - sampler["burn_in"]:
        raise ConfigError(f"invalid config key 'coding.sampler.thin': {sampler['thin']} keeps no sample; it must "
                          f"be at most n_steps - burn_in = {sampler['n_steps'] - sampler['burn_in']}")
    for name, task in section["tasks"].items():
        if task["kind"] not in ("orthonormal", "noisy_means"):
            continue
        total = sum(task["proportions"])
        if abs(total - 1.0) > 1e-6:
            raise ConfigError(f"invalid config key 'coding.tasks.{name}.proportions': must sum to 1, "
                              f"they sum to {total:g}")
        if task["kind"] == "orthonormal" and task["n_inputs"] < task["n_train"]:
            raise ConfigError(f"invalid config key 'coding.tasks.{name}.n_inputs': {task['n_inputs']} is smaller "
                              f"than n_train ({task['n_train']}); P mutually orthogonal inputs need N0 >= P")
        if task["n_inputs"] < len(task["proportions"]):
            raise ConfigError(f"invalid config key 'coding.tasks.{name}.n_inputs': {task['n_inputs']} is smaller "
                              f"than the number of classes ({len(task['proportions'])}); orthogonal class means "
                              "need at least one input dimension per class")
    for scan in width_scans(section):
        unknown = sorted(set(scan.get("tasks", [])) - set(section["tasks"]))
        if unknown:
            raise ConfigError(f"invalid config key 'coding.network.width_scan.tasks': {unknown} are not tasks; "
                              f"allowed: {sorted(section['tasks'])}")


def width_scans(section: dict) -> list[dict]:
    """The coding section's ``network.width_scan`` as a list of scans (one scan or a list of them)."""
    scan = section["network"].get("width_scan", {})
    return list(scan) if isinstance(scan, list) else [scan]


def coding_runs(config: dict) -> list[tuple[str, str, str, int]]:
    """``(task, nonlinearity, scaling, width)`` of every run of the coding-schemes study: each task
    x nonlinearity x scaling at ``network.width``, plus the runs of every ``network.width_scan``
    at ``factor x width``."""
    study = config["coding"]
    width = int(study["network"]["width"])
    runs = []
    for task in study["tasks"]:
        for nl in study["nonlinearities"]:
            for sc in study["scalings"]:
                runs.append((task, nl, sc, width))
                for scan in width_scans(study):
                    if (task in scan.get("tasks", []) and nl in scan.get("nonlinearities", [])
                            and sc in scan.get("scalings", [])):
                        runs.extend((task, nl, sc, int(f) * width) for f in scan.get("factors", [])
                                    if (task, nl, sc, int(f) * width) not in runs)
    return runs


@dataclass(frozen=True)
class Run:
    """One trained network of the information-plane study."""

    experiment: str
    activation: str
    initialisation: str
    seed: int

    @property
    def name(self) -> str:
        return f"{self.activation}-{self.initialisation}-s{self.seed}"


def runs(config: dict) -> list[Run]:
    """Every run the config asks for, in a stable order (none without an information_plane section)."""
    if STUDY not in config:
        return []
    study = config[STUDY]
    return [
        Run(exp_name, activation, init, int(seed))
        for exp_name, exp in study["experiments"].items()
        for activation in exp["activations"]
        for init in exp["initialisations"]
        for seed in study["seeds"]
    ]


def run_config(config: dict, experiment: str, activation: str, initialisation: str, seed: int) -> dict:
    """The resolved, self-contained configuration of one run (stored in its activation file)."""
    study = config[STUDY]
    exp = study["experiments"][experiment]
    run = Run(experiment, activation, initialisation, int(seed))
    return {
        "study": STUDY,
        "experiment": experiment,
        "run": run.name,
        "dataset": copy.deepcopy(study["dataset"]),
        "architecture": {"hidden_widths": list(study["hidden_widths"]),
                         **({"prelu_init": study["prelu_init"]} if "prelu_init" in study else {})},
        "activation": activation,
        "initialisation": {"name": initialisation, **copy.deepcopy(config["initialisations"][initialisation])},
        "seed": int(seed),
        "training": _merge(study["training"], exp.get("training", {})),
        "snapshots": copy.deepcopy(study["snapshots"]),
    }


def coding_run_config(config: dict, task: str, nonlinearity: str, scaling: str, width: int | None = None) -> dict:
    """The resolved, self-contained configuration of one run of the coding-schemes study (S4),
    stored in its posterior file (``width`` defaults to ``network.width``)."""
    from layerinfo.coding.units import chain_schedule

    study = config["coding"]
    width = int(width if width is not None else study["network"]["width"])
    return {
        "study": "coding",
        "task": task,
        "task_spec": copy.deepcopy(study["tasks"][task]),
        "nonlinearity": nonlinearity,
        "scaling": scaling,
        "width": width,
        "prior": copy.deepcopy(study["prior"]),
        "sampler": chain_schedule(copy.deepcopy(study["sampler"]), width, int(study["network"]["width"])),
        "seed": int(study["seed"]),
    }
