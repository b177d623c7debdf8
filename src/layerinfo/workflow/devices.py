"""The torch device of a compute stage, from the config's ``runtime.device`` settings.

``auto`` takes the GPU when torch sees one (``torch.cuda.is_available()``) and the CPU
otherwise, so the same workflow runs on a laptop, a CPU node and a GPU node; ``cuda`` insists
on a GPU and fails clearly without one; ``cpu`` never uses one. The device actually used is
recorded in every output (activation files: root attribute ``device``; tables: column
``device``).
"""

from __future__ import annotations

import os

import torch

SETTINGS = ("auto", "cpu", "cuda")
STAGES = ("train", "estimate", "isometry")


def resolve_device(setting: str, key: str = "device") -> str:
    """The torch device name (``"cpu"`` or ``"cuda"``) for one ``auto|cpu|cuda`` setting.

    Parameters
    ----------
    setting : str
        ``"auto"`` (``"cuda"`` if ``torch.cuda.is_available()``, else ``"cpu"``), ``"cpu"``
        or ``"cuda"``.
    key : str
        Where the setting came from (e.g. ``runtime.device.train``), for the messages.

    Raises
    ------
    ValueError
        Unknown setting (naming the allowed ones).
    RuntimeError
        ``"cuda"`` asked for, but torch sees no GPU.
    """
    if setting not in SETTINGS:
        raise ValueError(f"{key} must be one of {', '.join(SETTINGS)}, got {setting!r}")
    available = torch.cuda.is_available()
    if setting == "cuda" and not available:
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        raise RuntimeError(
            f"{key} is 'cuda' but torch sees no GPU here (torch {torch.__version__}, "
            f"CUDA build {torch.version.cuda or 'none'}, CUDA_VISIBLE_DEVICES="
            f"{visible if visible is not None else 'unset'}); run this stage on a GPU node "
            f"(a profile that requests gpu=1 for it) or set {key} to 'auto' or 'cpu'"
        )
    if setting == "auto":
        return "cuda" if available else "cpu"
    return setting


def stage_device(config: dict, stage: str) -> str:
    """:func:`resolve_device` for ``config['runtime']['device'][stage]`` (``auto`` if absent)."""
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {', '.join(STAGES)}, got {stage!r}")
    setting = config.get("runtime", {}).get("device", {}).get(stage, "auto")
    return resolve_device(setting, f"runtime.device.{stage}")
