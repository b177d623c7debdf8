"""The ``external`` target: each entry of ``external.networks`` as the ``layerinfo`` command's
arguments (record a model, or import activations) and the files its job reads.

The workflow runs the same command a user runs by hand (:func:`layerinfo.cli.main.run_command`),
so the two cannot drift apart. Paths are relative to the working directory, where every job runs.
"""

from __future__ import annotations

import glob
from pathlib import Path

from layerinfo.workflow.config import ConfigError

SECTION = "external"


def kind(entry: dict) -> str:
    """``record`` (a torch model) or ``import`` (activations a user already has)."""
    return "record" if "model" in entry else "import"


def model_file(spec: str, base: Path = Path(".")) -> str | None:
    """The source file of ``MODULE:CALLABLE`` when it can be found without importing anything:
    the ``.py`` path itself, or a dotted module's ``a/b/c.py`` (or package ``__init__.py``) under
    ``base``; None for a module found elsewhere (an installed package)."""
    module = spec.rsplit(":", 1)[0]
    if module.endswith(".py"):
        return module
    parts = module.split(".")
    for candidate in (Path(*parts).with_suffix(".py"), Path(*parts) / "__init__.py"):
        if (base / candidate).is_file():
            return str(candidate)
    return None


def weight_files(pattern: str, base: Path = Path(".")) -> list[str]:
    """The checkpoints a ``weights`` glob matches now, sorted (relative patterns under ``base``)."""
    if Path(pattern).is_absolute():
        return sorted(glob.glob(pattern))
    return sorted(str(Path(p).relative_to(base)) for p in glob.glob(str(base / pattern)))


def inputs(name: str, entry: dict, base: Path = Path(".")) -> list[str]:
    """Files the job of network ``name`` reads, checked to exist (ConfigError naming the key)."""
    where = f"{SECTION}.networks.{name}"

    def existing(key: str, path: str) -> str:
        if not (base / path).exists():
            raise ConfigError(f"invalid config key '{where}.{key}': {path} does not exist "
                              f"(relative paths are relative to the working directory {base.resolve()})")
        return path

    if kind(entry) == "import":
        files = [existing("activations", entry["activations"])]
        if "labels" in entry:
            files.append(existing("labels", entry["labels"]))
        return files
    files = [existing("data", entry["data"])]
    source = model_file(entry["model"], base)
    if source is not None:
        files.append(existing("model", source))
    if "weights" in entry:
        matched = weight_files(entry["weights"], base)
        if not matched:
            raise ConfigError(f"invalid config key '{where}.weights': {entry['weights']!r} matches no file "
                              f"(relative to the working directory {base.resolve()})")
        files += matched
    return files


def activations_argv(name: str, entry: dict, output: str, device: str = "cpu") -> list[str]:
    """``layerinfo record`` or ``layerinfo import`` arguments that write network ``name`` to ``output``.

    Keys the entry leaves out are left to the command's own defaults.
    """
    if kind(entry) == "import":
        argv = ["import", entry["activations"]]
        if "labels" in entry:
            argv += ["--labels", entry["labels"]]
        if "epoch_axis" in entry:
            argv += ["--epoch-axis", entry["epoch_axis"]]
        if "epochs" in entry:
            argv += ["--epochs", ",".join(str(e) for e in entry["epochs"])]
        if "activation" in entry:
            argv += ["--activation", entry["activation"]]
        return argv + ["--run", name, "-o", output]
    argv = ["record", "--model", entry["model"], "--data", entry["data"], "--device", device]
    if "weights" in entry:
        argv += ["--weights", entry["weights"]]
    if "layers" in entry:
        argv += ["--layers", *entry["layers"]]
    if "split" in entry:
        argv += ["--split", ",".join(entry["split"])]
    for layer, key in entry.get("select", {}).items():
        argv += ["--select", f"{layer}={key}"]
    for key in ("reduce", "max_units", "seed", "batch_size"):
        if entry.get(key) is not None:
            argv += [f"--{key.replace('_', '-')}", str(entry[key])]
    return argv + ["--run", name, "-o", output]



# The command's options, as the config keys that set them (an entry's, or the section's).
ENTRY_KEYS = {"--model": "model", "--weights": "weights", "--data": "data", "--layers": "layers",
              "--split": "split", "--select": "select", "--reduce": "reduce", "--max-units": "max_units",
              "--batch-size": "batch_size", "--labels": "labels", "--epoch-axis": "epoch_axis",
              "--epochs": "epochs", "--activation": "activation", "import": "activations"}
SECTION_KEYS = {"--split": "splits", "--subsample": "subsample", "--interval": "interval", "--repeats": "repeats",
                "--param": "estimators"}
DEVICE_KEYS = {"--device": "runtime.device"}


def in_config_terms(message: str, network: str, stage: str) -> str:
    """A command error (``--weights: ...``) named by the config key that set the option
    (``external.networks.NAME.weights: ...``); ``stage`` is ``activations`` or ``estimate``."""
    option, sep, rest = message.partition(":")
    if not sep:
        return f"network {network}: {message}"
    if option in DEVICE_KEYS:
        key = f"runtime.device.{'train' if stage == 'activations' else 'estimate'}"
    elif stage == "activations" and option in ENTRY_KEYS:
        key = f"{SECTION}.networks.{network}.{ENTRY_KEYS[option]}"
    elif stage == "estimate" and option in SECTION_KEYS:
        key = f"{SECTION}.{SECTION_KEYS[option]}"
    else:
        return f"network {network}: {message}"
    return f"network {network}: config key '{key}':{rest}"
