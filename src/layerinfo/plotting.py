"""Figures: data in, ``matplotlib.figure.Figure`` out (no files, no globals), plus atomic saving.

Shared by every study's ``plots`` module: the non-interactive backend is chosen here, once.
"""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from layerinfo.h5io import atomic_path  # noqa: E402

__all__ = ["plt", "save_figure"]


def save_figure(fig: Figure, path: str | os.PathLike, dpi: int = 130) -> None:
    """Save under a temporary name, then rename into place; closes the figure."""
    suffix = os.path.splitext(str(path))[1]
    with atomic_path(path, suffix) as tmp:
        fig.savefig(tmp, dpi=dpi, format=suffix.lstrip(".") or "png", bbox_inches="tight")
    plt.close(fig)
