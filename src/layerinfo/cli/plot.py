"""``layerinfo plot``: the information planes of an estimate table, drawn by the workflow's own
figure code (:func:`layerinfo.infoplane.plots.information_plane_figure`)."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from layerinfo.cli.errors import CliError
from layerinfo.cli.names import figure_name
from layerinfo.infoplane.plots import information_plane_figure
from layerinfo.plotting import save_figure

REQUIRED = ["run", "split", "epoch", "layer", "layer_name", "estimator", "method", "I_XT_bits", "I_TY_bits"]
FORMATS = ("png", "pdf", "svg")


def plot(args) -> int:
    if args.format not in FORMATS:
        raise CliError(f"--format: {args.format!r} is not allowed; allowed: {', '.join(FORMATS)}")
    path = Path(args.table)
    if not path.is_file():
        raise CliError(f"plot: table {path} does not exist")
    try:
        table = pd.read_csv(path)
    except Exception as err:
        raise CliError(f"plot: cannot read {path} as CSV: {str(err).splitlines()[0]}") from None
    for target in draw_information_planes(table, args.output, args.format, source=str(path)):
        print(target)
    return 0


def draw_information_planes(table: pd.DataFrame, output, fmt: str = "png", source: str = "the table") -> list[Path]:
    """One information-plane figure per run x split x estimator of an estimate table, in ``output``."""
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        raise CliError(f"plot: {source} lacks column(s) {', '.join(missing)}; expected a table of layerinfo estimate")
    if table.empty:
        raise CliError(f"plot: {source} has no rows")
    table = table.rename(columns={"I_XT_bits": "I_XT_bits_mean", "I_TY_bits": "I_TY_bits_mean"})
    table["n_seeds"] = 1
    written = []
    for (run, split, estimator), rows in table.groupby(["run", "split", "estimator"], sort=False):
        title = f"{run} ({split}): {estimator} ({rows['method'].iloc[0]})"
        target = Path(output) / figure_name(run, split, estimator, fmt)
        save_figure(information_plane_figure(rows, title), target)
        written.append(target)
    return written
