"""Figures of the information-plane study (S2): information planes, training curves, compression."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from layerinfo.plotting import plt, save_figure

LAYER_MARKERS = "osD^v<>phX*"


def information_plane_figure(table: pd.DataFrame, title: str) -> Figure:
    """Information plane of one activation x initialisation x estimator, averaged over seeds.

    ``table`` holds the aggregate rows (columns ``epoch``, ``layer``, ``layer_name``,
    ``I_XT_bits_mean``, ``I_TY_bits_mean``, ``n_seeds``). At each epoch the layers are
    joined by a line coloured by the epoch (log scale); each layer has its own marker. With
    columns ``I_XT_ci_low``, ``I_XT_ci_high``, ``I_TY_ci_low``, ``I_TY_ci_high`` (``layerinfo
    estimate --interval``) each point also gets its interval as grey error bars.
    """
    fig, ax = plt.subplots(figsize=(5.6, 4.4))
    epochs = np.sort(table["epoch"].unique())
    norm = LogNorm(vmin=max(epochs.min(), 0) + 1, vmax=epochs.max() + 1)
    cmap = plt.get_cmap("viridis")
    segments, colours = [], []
    for epoch in epochs:
        at = table[table["epoch"] == epoch].sort_values("layer")
        segments.append(np.column_stack([at["I_XT_bits_mean"], at["I_TY_bits_mean"]]))
        colours.append(cmap(norm(epoch + 1)))
    ax.add_collection(LineCollection(segments, colors=colours, linewidths=0.8, alpha=0.6))
    bounds = ["I_XT_ci_low", "I_XT_ci_high", "I_TY_ci_low", "I_TY_ci_high"]
    if set(bounds) <= set(table.columns) and table[bounds].notna().all(axis=None):
        x, y = table["I_XT_bits_mean"].to_numpy(), table["I_TY_bits_mean"].to_numpy()
        xerr = np.clip([x - table["I_XT_ci_low"].to_numpy(), table["I_XT_ci_high"].to_numpy() - x], 0, None)
        yerr = np.clip([y - table["I_TY_ci_low"].to_numpy(), table["I_TY_ci_high"].to_numpy() - y], 0, None)
        ax.errorbar(x, y, xerr=xerr, yerr=yerr, fmt="none", ecolor="0.65", elinewidth=0.6, zorder=2)
    for layer, at in table.groupby("layer", sort=True):
        at = at.sort_values("epoch")
        ax.scatter(at["I_XT_bits_mean"], at["I_TY_bits_mean"], c=at["epoch"] + 1, cmap=cmap, norm=norm,
                   marker=LAYER_MARKERS[int(layer) % len(LAYER_MARKERS)], s=18, edgecolors="none",
                   label=str(at["layer_name"].iloc[0]), zorder=3)
    ax.autoscale_view()
    ax.set_xlabel("I(X;T) [bits]")
    ax.set_ylabel("I(T;Y) [bits]")
    n_seeds = int(table["n_seeds"].min()) if "n_seeds" in table else 1
    ax.set_title(f"{title}  (mean of {n_seeds} seed{'s' if n_seeds != 1 else ''})", fontsize=9)
    legend = ax.legend(fontsize=7, loc="lower right", title="layer", title_fontsize=7, markerscale=1.2)
    for handle in legend.legend_handles:
        handle.set_color("0.3")
    sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
    fig.colorbar(sm, ax=ax, label="epoch + 1")
    fig.tight_layout()
    return fig


def training_curves_figure(history: pd.DataFrame, title: str) -> Figure:
    """Loss and accuracy against epoch: one column per activation, one colour per initialisation.

    Mean over seeds with a band of one standard error; solid train, dashed test.
    """
    activations = list(dict.fromkeys(history["activation"]))
    inits = list(dict.fromkeys(history["initialisation"]))
    fig, axes = plt.subplots(2, len(activations), figsize=(3.2 * len(activations), 5.2), squeeze=False,
                             sharex=True)
    colours = plt.get_cmap("tab10")
    for col, activation in enumerate(activations):
        for k, init in enumerate(inits):
            sub = history[(history["activation"] == activation) & (history["initialisation"] == init)]
            if sub.empty:
                continue
            stats = sub.groupby("epoch")[["train_loss", "train_acc", "test_loss", "test_acc"]].agg(["mean", "std", "count"])
            epoch = stats.index.to_numpy() + 1
            for row, metric in enumerate(("loss", "acc")):
                for split, style in (("train", "-"), ("test", "--")):
                    key = f"{split}_{metric}"
                    mean = stats[(key, "mean")].to_numpy()
                    sem = np.nan_to_num(stats[(key, "std")].to_numpy() / np.sqrt(stats[(key, "count")].to_numpy()))
                    ax = axes[row, col]
                    ax.plot(epoch, mean, style, color=colours(k), lw=1.0,
                            label=f"{init} ({split})" if col == 0 else None)
                    ax.fill_between(epoch, mean - sem, mean + sem, color=colours(k), alpha=0.2, lw=0)
        axes[0, col].set_title(activation, fontsize=9)
        axes[1, col].set_xlabel("epoch + 1")
        for row in range(2):
            axes[row, col].set_xscale("log")
    axes[0, 0].set_ylabel("cross-entropy [nats]")
    axes[1, 0].set_ylabel("accuracy")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def save_information_planes(table_path, experiment: str, activation: str, initialisation: str,
                            estimators: list[str], outputs: list[str]) -> None:
    """Draw and save the information plane of each estimator (``outputs`` in the same order)."""
    table = pd.read_csv(table_path)
    sub = table[(table["experiment"] == experiment) & (table["activation"] == activation)
                & (table["initialisation"] == initialisation)]
    for estimator, path in zip(estimators, outputs, strict=True):
        rows = sub[sub["estimator"] == estimator]
        if rows.empty:
            raise ValueError(f"{table_path}: no rows for {experiment}/{activation}-{initialisation}/{estimator}")
        method = rows["method"].iloc[0]
        title = f"{activation}, {initialisation}: {estimator} ({method})"
        save_figure(information_plane_figure(rows, title), path)


def save_training_curves(history_path, experiment: str, output: str) -> None:
    """Draw and save the training curves of one experiment."""
    history = pd.read_csv(history_path)
    rows = history[history["experiment"] == experiment]
    if rows.empty:
        raise ValueError(f"{history_path}: no rows for experiment {experiment!r}")
    save_figure(training_curves_figure(rows, f"experiment {experiment}"), output)


def compression_figure(cells: pd.DataFrame, runs: pd.DataFrame, title: str) -> Figure:
    """Left: mean compression (I(X;T) max - final, bits) per layer, one bar per activation x
    initialisation with one standard error. Right: the last hidden layer's compression of every
    run against its final test accuracy, with Pearson r per activation x initialisation."""
    groups = list(dict.fromkeys(zip(cells["activation"], cells["initialisation"])))
    layers = sorted(cells["layer"].unique())
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    colours = plt.get_cmap("tab10")
    width = 0.8 / max(len(groups), 1)
    for k, (activation, init) in enumerate(groups):
        sub = cells[(cells["activation"] == activation) & (cells["initialisation"] == init)].set_index("layer")
        sub = sub.reindex(layers)
        left.bar(np.arange(len(layers)) + (k - (len(groups) - 1) / 2) * width, sub["compression_bits_mean"],
                 width, yerr=np.nan_to_num(sub["compression_bits_sem"].to_numpy()), color=colours(k),
                 label=f"{activation}, {init}", capsize=2)
        last = sub[sub["last_hidden"].astype(bool)]
        pts = runs[(runs["activation"] == activation) & (runs["initialisation"] == init)
                   & (runs["layer"].isin(last.index))]
        r = last["r_test_acc"].iloc[0] if len(last) else float("nan")
        right.scatter(pts["compression_bits"], pts["test_acc"], color=colours(k), s=14,
                      label=f"{activation}, {init}: r = {r:.2f}")
    names = cells.drop_duplicates("layer").set_index("layer")["layer_name"].reindex(layers)
    left.set_xticks(np.arange(len(layers)), [str(n) for n in names], fontsize=7, rotation=30)
    left.set_ylabel("compression: max − final I(X;T) [bits]")
    left.legend(fontsize=6)
    right.set_xlabel("last hidden layer's compression [bits]")
    right.set_ylabel("final test accuracy")
    right.legend(fontsize=6)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def save_compression_figures(cells_path, runs_path, experiment: str, estimators: list[str], outputs: list[str]) -> None:
    """One compression figure per estimator of one experiment (``outputs`` in the same order)."""
    cells, runs = pd.read_csv(cells_path), pd.read_csv(runs_path)
    for estimator, path in zip(estimators, outputs, strict=True):
        c = cells[(cells["experiment"] == experiment) & (cells["estimator"] == estimator)]
        r = runs[(runs["experiment"] == experiment) & (runs["estimator"] == estimator)]
        if c.empty:
            raise ValueError(f"{cells_path}: no rows for experiment {experiment!r}, estimator {estimator!r}")
        save_figure(compression_figure(c, r, f"experiment {experiment}: compression ({estimator})"), path)
