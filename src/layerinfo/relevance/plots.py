"""Figures of the resolution-and-relevance study (S1): data in, ``matplotlib.figure.Figure`` out."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.ticker import NullFormatter

from layerinfo.information.relevance import rank_frequency, state_counts
from layerinfo.plotting import plt, save_figure


def relevance_curve_figure(table: pd.DataFrame, summary: pd.DataFrame | None = None):
    """H[k] against H[s] (both / ln M) of every layer of the DBN, one curve per snapshot epoch.

    ``table`` has the columns of ``results/tables/relevance.csv``. The trained network (last
    epoch) is drawn in black with layer numbers; its maximum of H[k] is ringed and the Zipf layer
    (local slope closest to -1, from ``summary``) is marked with a segment of slope -1. Curves
    are the training inputs; the held-out inputs of the trained network (``split == "test"``,
    when measured) are grey triangles.
    """
    test = table[table["split"] == "test"] if "split" in table.columns else table.iloc[:0]
    table = table[table["split"] == "train"] if "split" in table.columns else table
    fig, ax = plt.subplots(figsize=(5.6, 4.6))
    epochs = sorted(table["epoch"].unique())
    cmap = plt.get_cmap("viridis")
    for i, epoch in enumerate(epochs[:-1]):
        sub = table[table["epoch"] == epoch].sort_values("layer")
        ax.plot(sub["H_s_norm"], sub["H_k_norm"], "-o", ms=3, lw=0.8, color=cmap(i / max(1, len(epochs) - 1)),
                alpha=0.8, label=f"epoch {epoch}")
    final = table[table["epoch"] == epochs[-1]].sort_values("layer")
    ax.plot(final["H_s_norm"], final["H_k_norm"], "-o", ms=4, lw=1.5, color="k", label=f"trained (epoch {epochs[-1]})")
    for row in final.itertuples():
        ax.annotate(str(row.layer), (row.H_s_norm, row.H_k_norm), textcoords="offset points", xytext=(4, 4),
                    fontsize=7)
    if not test.empty:
        held = test[test["epoch"] == test["epoch"].max()].sort_values("layer")
        ax.plot(held["H_s_norm"], held["H_k_norm"], "^--", ms=4, lw=0.8, color="0.45",
                label=f"trained, held-out inputs (M = {int(held['n_samples'].iloc[0])})")
    hidden = final[final["layer"] > 0]
    if not hidden.empty:
        top = hidden.loc[hidden["H_k_norm"].idxmax()]
        ax.plot(top["H_s_norm"], top["H_k_norm"], "o", ms=11, mfc="none", mec="tab:red",
                label=f"max H[k]: layer {int(top['layer'])}")
    if summary is not None:
        zipf = summary[summary["criterion"] == "zipf_layer_slope_closest_to_-1"]
        if not zipf.empty:
            x0, y0 = float(zipf["H_s_norm"].iloc[0]), float(zipf["H_k_norm"].iloc[0])
            dx = np.array([-0.12, 0.12])
            ax.plot(x0 + dx, y0 - dx, "--", color="tab:orange", lw=1.2,
                    label=f"slope -1 at layer {int(zipf['layer'].iloc[0])} (local slope {zipf['value'].iloc[0]:.2f})")
    ax.plot([0, 1], [0, 1], ":", color="0.6", lw=0.8, label="H[k] = H[s] (upper bound)")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, max(0.6, float(table["H_k_norm"].max()) + 0.05))
    ax.set_xlabel("resolution H[s] / ln M")
    ax.set_ylabel("relevance H[k] / ln M")
    ax.legend(fontsize=6.5, loc="upper left")
    ax.set_title("DBN layers: relevance against resolution", fontsize=9)
    fig.tight_layout()
    return fig


def rank_frequency_figure(states: dict[int, np.ndarray], fits: pd.DataFrame):
    """Rank-frequency plot (log-log) of the states of each layer, with the fitted Zipf law.

    ``states`` maps layer -> binary states (n_samples, units); ``fits`` holds one row per layer
    (``zipf_exponent``, ``zipf_ci_low``, ``zipf_ci_high``, ``zipf_k_min``, ``zipf_n_tail``). The
    fitted law count(r) = C r^(-z) is drawn over the fitted tail (the n_tail most frequent
    states), C chosen so that it holds as many samples as the tail does.
    """
    layers = sorted(states)
    ncols = 4
    nrows = math.ceil(len(layers) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.0 * ncols, 2.6 * nrows), squeeze=False)
    fits = fits.set_index("layer")
    for ax, layer in zip(axes.flat, layers):
        rank, k = rank_frequency(state_counts(states[layer]))
        m = k.sum()
        ax.loglog(rank, k / m, ".", ms=3, color="tab:blue")
        title = f"layer {layer} ({states[layer].shape[1]} units, {k.size} states)"
        if layer in fits.index and np.isfinite(fits.loc[layer, "zipf_exponent"]):
            f = fits.loc[layer]
            r = np.arange(1, int(f["zipf_n_tail"]) + 1)
            law = r ** (-f["zipf_exponent"])
            ax.loglog(r, law * k[: r.size].sum() / law.sum() / m, "-", color="tab:red",
                      lw=1, label=f"z = {f['zipf_exponent']:.2f} [{f['zipf_ci_low']:.2f}, {f['zipf_ci_high']:.2f}]\n"
                      f"k >= {int(f['zipf_k_min'])}, KS {f['zipf_ks_distance']:.2f}"
                      + (f"\nvs lognormal: R = {f['zipf_lr_R']:.2g}, p = {f['zipf_lr_p']:.2g}"
                         if "zipf_lr_p" in f.index and np.isfinite(f["zipf_lr_p"]) else ""))
            ax.loglog(r, r[0] ** 1.0 / r * (k[0] / m), ":", color="0.5", lw=0.8, label="Zipf, z = 1")
            ax.legend(fontsize=6)
        ax.set_title(title, fontsize=7.5)
        ax.set_xlabel("rank", fontsize=7)
        ax.set_ylabel("frequency k/M", fontsize=7)
        ax.tick_params(labelsize=6)
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.yaxis.set_minor_formatter(NullFormatter())
    for ax in list(axes.flat)[len(layers):]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def generated_figure(samples: dict[int, np.ndarray], scores: pd.DataFrame, n_show: int = 10):
    """Samples generated from each layer's RBM, one row per layer, with its scores.

    ``samples`` maps layer -> (n_samples, n_pixels) pixel probabilities of square images;
    ``scores`` has one row per layer (``generation_precision``, ``generation_recall``,
    ``generation_f``, ``generation_first_support``; older tables: ``generation_score``,
    ``generation_nn_rms``).
    """
    layers = sorted(samples)
    side = round(math.sqrt(next(iter(samples.values())).shape[1]))
    fig, axes = plt.subplots(len(layers), n_show, figsize=(0.75 * n_show + 1.8, 0.8 * len(layers)), squeeze=False)
    scores = scores.set_index("layer")
    for row, layer in enumerate(layers):
        for col in range(n_show):
            ax = axes[row, col]
            ax.imshow(samples[layer][col].reshape(side, side), cmap="gray_r", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[row, 0].set_ylabel(f"layer {layer}", fontsize=7, rotation=0, ha="right", va="center")
        axes[row, -1].text(1.1, 0.5, _score_label(scores.loc[layer]), transform=axes[row, -1].transAxes,
                           fontsize=6.5, va="center")
    fig.suptitle("samples generated from each layer's RBM, projected to the pixels", fontsize=9)
    fig.tight_layout()
    return fig


def _score_label(s: pd.Series) -> str:
    if "generation_f" in s and np.isfinite(s["generation_f"]):
        return (f"P {s['generation_precision']:.2f} R {s['generation_recall']:.2f}\n"
                f"F {s['generation_f']:.2f}, first {s['generation_first_support']:.0%}")
    return f"score {s['generation_score']:.2f}\nNN rms {s['generation_nn_rms']:.3f}"


def mosaic(images: np.ndarray, rows: int = 10, cols: int = 10, gap: int = 1) -> np.ndarray:
    """The first ``rows * cols`` square images ``(n, side**2)`` tiled row by row into one array,
    ``gap`` pixels of 0 between them (missing images stay 0)."""
    side = round(math.sqrt(images.shape[1]))
    if side * side != images.shape[1]:
        raise ValueError(f"images of {images.shape[1]} pixels are not square")
    step = side + gap
    out = np.zeros((rows * step - gap, cols * step - gap))
    for i, image in enumerate(images[: rows * cols]):
        r, c = divmod(i, cols)
        out[r * step:r * step + side, c * step:c * step + side] = image.reshape(side, side)
    return out


def generated_grid_figure(samples: dict[int, np.ndarray], scores: pd.DataFrame, grid: int = 10):
    """A ``grid`` x ``grid`` mosaic of the first generated samples of every layer, for the eye.

    One panel per layer, titled with its precision, recall, F and bootstrap share of ranking
    first (:func:`generated_figure`'s columns).
    """
    layers = sorted(samples)
    ncols = min(4, len(layers))
    nrows = math.ceil(len(layers) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.6 * ncols, 2.9 * nrows), squeeze=False)
    scores = scores.set_index("layer")
    for ax, layer in zip(axes.flat, layers):
        ax.imshow(mosaic(samples[layer], grid, grid), cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(f"layer {layer}: " + _score_label(scores.loc[layer]).replace("\n", ", "), fontsize=6.5)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in list(axes.flat)[len(layers):]:
        ax.axis("off")
    fig.suptitle(f"{grid} x {grid} samples generated from each layer's RBM", fontsize=9)
    fig.tight_layout()
    return fig


def trajectories_figure(table: pd.DataFrame, title: str):
    """H[k] against H[s] of each layer of the S2 networks during training, mean over seeds.

    One panel per activation x initialisation; one line per layer from the first snapshot
    (small marker) to the last (large marker), coloured by layer.
    """
    panels = list(dict.fromkeys(zip(table["activation"], table["initialisation"])))
    ncols = min(4, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 3.0 * nrows), squeeze=False, sharex=True,
                             sharey=True)
    cmap = plt.get_cmap("plasma")
    layers = sorted(table["layer"].unique())
    for ax, (activation, init) in zip(axes.flat, panels):
        sub = table[(table["activation"] == activation) & (table["initialisation"] == init)]
        mean = sub.groupby(["layer", "epoch"], as_index=False)[["H_s_norm", "H_k_norm"]].mean()
        for layer in layers:
            path = mean[mean["layer"] == layer].sort_values("epoch")
            colour = cmap(layer / max(1, len(layers)))
            ax.plot(path["H_s_norm"], path["H_k_norm"], "-", lw=1, color=colour, label=f"layer {layer}")
            ax.plot(path["H_s_norm"].iloc[0], path["H_k_norm"].iloc[0], "o", ms=2.5, color=colour)
            ax.plot(path["H_s_norm"].iloc[-1], path["H_k_norm"].iloc[-1], "o", ms=6, color=colour)
        ax.set_title(f"{activation}, {init} ({sub['seed'].nunique()} seeds)", fontsize=8)
        ax.set_xlabel("H[s] / ln M", fontsize=7)
        ax.set_ylabel("H[k] / ln M", fontsize=7)
        ax.tick_params(labelsize=6)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    axes[0, 0].legend(fontsize=6)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def save_relevance_figures(table_path, summary_path, states_path, samples_path, generation_path,
                           curve_out, rank_out, samples_out, grid_out) -> None:
    """Draw and save the four DBN figures of the study."""
    table = pd.read_csv(table_path)
    summary = pd.read_csv(summary_path)
    save_figure(relevance_curve_figure(table, summary), curve_out)
    train = table[table["split"] == "train"] if "split" in table.columns else table
    final_epoch = int(train["epoch"].max())
    final = train[train["epoch"] == final_epoch]
    with np.load(states_path, allow_pickle=False) as f:
        states = {int(layer): f[f"l{layer}_e{final_epoch}"] for layer in final["layer"]}
    states = {layer: s for layer, s in states.items() if state_counts(s).size >= 2}
    save_figure(rank_frequency_figure(states, final), rank_out)
    generation = pd.read_csv(generation_path)
    with np.load(samples_path, allow_pickle=False) as f:
        samples = {int(k.split("_")[1]): f[k] for k in f.files}
    layers = generation[generation["source"] == "layer"]
    save_figure(generated_figure(samples, layers), samples_out)
    save_figure(generated_grid_figure(samples, layers), grid_out)


def save_trajectory_figure(table_path, experiment: str, output) -> None:
    """Draw and save the relevance trajectories of the S2 networks of one experiment."""
    table = pd.read_csv(table_path)
    rows = table[table["experiment"] == experiment]
    if rows.empty:
        raise ValueError(f"{table_path}: no rows for experiment {experiment!r}")
    save_figure(trajectories_figure(rows, f"relevance during training, experiment {experiment} "
                                          f"(states: units with t > phi(0))"), output)
