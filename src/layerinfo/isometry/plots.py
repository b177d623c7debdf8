"""Figures of study S3: data in, matplotlib Figure out (saved by the workflow's scripts)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

INIT_COLOURS = {"gaussian": "tab:red", "orthogonal": "tab:blue"}


def phase_diagram_figure(meanfield: pd.DataFrame, line: pd.DataFrame) -> Figure:
    """chi_1 over (sigma_w, sigma_b) per nonlinearity, with the critical line chi_1 = 1."""
    phis = list(dict.fromkeys(meanfield["nonlinearity"]))
    fig, axes = plt.subplots(1, len(phis), figsize=(3.1 * len(phis), 3.0), squeeze=False)
    for ax, phi in zip(axes[0], phis):
        sub = meanfield[meanfield["nonlinearity"] == phi]
        grid = sub.pivot_table(index="sigma_b", columns="sigma_w", values="chi_1")
        log_chi = np.log10(np.clip(grid.to_numpy(dtype=float), 1e-3, 1e3))
        mesh = ax.pcolormesh(grid.columns, grid.index, log_chi, cmap="coolwarm", vmin=-1, vmax=1, shading="nearest")
        crit = line[line["nonlinearity"] == phi]
        ax.plot(crit["sigma_w_critical"], crit["sigma_b"], "k-", lw=1.5, label="χ₁ = 1")
        ax.set_title(phi, fontsize=9)
        ax.set_xlabel("σ_w")
        ax.set_xlim(grid.columns.min(), grid.columns.max())
    axes[0, 0].set_ylabel("σ_b")
    axes[0, 0].legend(fontsize=7, loc="upper left")
    fig.colorbar(mesh, ax=axes[0, -1], label="log10 χ₁ (blue: ordered, red: chaotic)")
    fig.tight_layout()
    return fig


def spectra_figure(spectra: dict[str, np.ndarray], sigma_ws: list[float], depths: list[int], title: str) -> Figure:
    """Histograms of log10 singular values of J per depth (rows) and sigma_w (columns), both inits."""
    fig, axes = plt.subplots(len(depths), len(sigma_ws), figsize=(2.6 * len(sigma_ws), 1.7 * len(depths)),
                             squeeze=False, sharex="col")
    for j, sigma_w in enumerate(sigma_ws):
        for i, depth in enumerate(depths):
            ax = axes[i, j]
            for init, colour in INIT_COLOURS.items():
                s = spectra.get(f"{init}/{sigma_w:.6g}/{depth}")
                if s is None or not len(s):
                    continue
                values = np.log10(np.clip(s, 1e-30, None))
                ax.hist(values, bins=40, color=colour, alpha=0.5, label=init, density=True)
            ax.axvline(0.0, color="k", lw=0.6)
            if i == 0:
                ax.set_title(f"σ_w = {sigma_w:.4g}", fontsize=8)
            if j == 0:
                ax.set_ylabel(f"depth {depth}", fontsize=8)
            ax.tick_params(labelsize=7)
        axes[-1, j].set_xlabel("log10 singular value", fontsize=8)
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def _sigma_w_axis(ax) -> None:
    """Log sigma_w axis with plain tick labels."""
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    ax.set_xscale("log")
    ax.set_xticks([0.8, 1.0, 1.5, 2.0, 3.0])
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.tick_params(labelsize=7)


def _critical_sigma_w(sub: pd.DataFrame) -> float | None:
    crit = sub[sub["critical"].astype(bool)]
    return float(crit["sigma_w"].iloc[0]) if len(crit) else None


def information_vs_sigma_w_figure(table: pd.DataFrame) -> Figure:
    """Measured I(X; Y) against sigma_w: rows depths, columns sigma_b; both inits and the control.

    Solid: decoding lower bound of the study's channel; band: Kolchinsky–Tracey lower to upper
    bound; dashed: decoding bound under the ``output_fixed`` control; dotted horizontal lines:
    the estimators' floors (value with the inputs' labels permuted); grey: log2 n; vertical
    line: the critical sigma_w (chi_1 = 1).
    """
    measured = table[table["method"].isin(["decoding", "kt_upper", "kt_lower"])]
    mean = measured.groupby(["channel", "init", "sigma_b", "depth", "sigma_w", "method"], as_index=False)[
        ["I_bits", "floor_bits"]].mean()
    channels = list(dict.fromkeys(table["channel"]))
    main = "per_layer_relative" if "per_layer_relative" in channels else channels[0]
    depths, sigma_bs = sorted(mean["depth"].unique()), sorted(mean["sigma_b"].unique())
    fig, axes = plt.subplots(len(depths), len(sigma_bs), figsize=(4.2 * len(sigma_bs), 2.6 * len(depths)),
                             squeeze=False, sharex=True, sharey=True)
    cap = float(table["I_max_bits"].iloc[0])
    for i, depth in enumerate(depths):
        for j, sigma_b in enumerate(sigma_bs):
            ax = axes[i, j]
            cell = mean[(mean["depth"] == depth) & (mean["sigma_b"] == sigma_b)]
            for init, colour in INIT_COLOURS.items():
                def series(channel, method):
                    return cell[(cell["channel"] == channel) & (cell["init"] == init)
                                & (cell["method"] == method)].sort_values("sigma_w")
                dec, up, lo = series(main, "decoding"), series(main, "kt_upper"), series(main, "kt_lower")
                if dec.empty:
                    continue
                ax.plot(dec["sigma_w"], dec["I_bits"], "-o", ms=2.5, color=colour, lw=1.4, label=f"{init}: decoding")
                ax.fill_between(up["sigma_w"], lo["I_bits"].to_numpy(), up["I_bits"].to_numpy(), color=colour,
                                alpha=0.15, lw=0, label=f"{init}: KT lower–upper")
                for other in channels:
                    if other != main:
                        ctl = series(other, "decoding")
                        ax.plot(ctl["sigma_w"], ctl["I_bits"], "--", color=colour, lw=1.0, label=f"{init}: {other} (control)")
            floors = cell[cell["channel"] == main].groupby("method")["floor_bits"].mean()
            for method, style in (("decoding", ":"), ("kt_upper", (0, (1, 3)))):
                if method in floors:
                    ax.axhline(floors[method], color="0.35", ls=style, lw=0.8, label=f"floor: {method}")
            ax.axhline(cap, color="0.7", lw=0.8, label="log2 n")
            critical = _critical_sigma_w(table[table["sigma_b"] == sigma_b])
            if critical is not None:
                ax.axvline(critical, color="k", lw=0.8, alpha=0.7, label="χ₁ = 1")
            _sigma_w_axis(ax)
            ax.set_title(f"depth {depth}, σ_b = {sigma_b:g}", fontsize=8)
            if j == 0:
                ax.set_ylabel("bits", fontsize=8)
            if i == len(depths) - 1:
                ax.set_xlabel("σ_w", fontsize=8)
    axes[0, -1].legend(fontsize=5.5, loc="lower right")
    row = table.iloc[0]
    fig.suptitle(f"I(X; h^L) at initialisation ({main}, ε = {row['epsilon']:g}; control: fixed output noise "
                 f"std {row['noise_std']:g}), {row['nonlinearity']}, width {row['width']}, n = {row['inputs']}",
                 fontsize=9)
    fig.tight_layout()
    return fig


THEORY_STYLES = {
    "decoding": ("k", "-", "measured: decoding"),
    "kt_upper": ("0.5", "-", "measured: KT upper"),
    "linearised": ("tab:green", "-", "linearised (own J)"),
    "linearised_exact": ("tab:olive", ":", "linearised, exact noise"),
    "mean_field_classic": ("tab:orange", "--", "classic mean field"),
    "mean_field_corrected": ("tab:purple", "--", "corrected mean field"),
}


def information_theory_figure(table: pd.DataFrame, theory: pd.DataFrame) -> Figure:
    """Measured against linearised, classic and corrected mean field (study channel, first
    sigma_b): rows depths, columns inits; last column the wide networks' theory against depth."""
    channels = list(dict.fromkeys(table["channel"]))
    main = "per_layer_relative" if "per_layer_relative" in channels else channels[0]
    sigma_b = sorted(table["sigma_b"].unique())[0]
    sub = table[(table["channel"] == main) & (table["sigma_b"] == sigma_b)]
    mean = sub.groupby(["init", "depth", "sigma_w", "method"], as_index=False)["I_bits"].mean()
    depths, inits = sorted(mean["depth"].unique()), [i for i in INIT_COLOURS if i in set(mean["init"])]
    fig, axes = plt.subplots(len(depths), len(inits) + 1, figsize=(3.6 * (len(inits) + 1), 2.6 * len(depths)),
                             squeeze=False)
    critical = _critical_sigma_w(sub)
    for i, depth in enumerate(depths):
        for j, init in enumerate(inits):
            ax = axes[i, j]
            for method, (colour, style, label) in THEORY_STYLES.items():
                line = mean[(mean["init"] == init) & (mean["depth"] == depth) & (mean["method"] == method)]
                line = line.sort_values("sigma_w")
                if len(line):
                    ax.plot(line["sigma_w"], line["I_bits"], ls=style, color=colour, lw=1.2, label=label)
            if critical is not None:
                ax.axvline(critical, color="k", lw=0.6, alpha=0.6)
            ax.axhline(float(table["I_max_bits"].iloc[0]), color="0.8", lw=0.8)
            _sigma_w_axis(ax)
            ax.set_yscale("symlog", linthresh=1.0)
            ax.set_title(f"{init}, depth {depth}", fontsize=8)
        axes[i, 0].set_ylabel("bits", fontsize=8)
    axes[0, 0].legend(fontsize=5.5)
    # wide networks: linearised, classic, corrected against sigma_w at the deepest depths
    wide = theory.groupby(["init", "sigma_w", "depth"], as_index=False)[
        ["linearised_bits", "mean_field_classic_bits", "mean_field_corrected_bits"]].mean()
    wide_depths = sorted(wide["depth"].unique())[-len(depths):]
    wide_critical = _critical_sigma_w(theory)
    for k, ax in enumerate(axes[:, -1]):
        if k >= len(wide_depths):
            ax.axis("off")
            continue
        depth = wide_depths[k]
        for init, colour in INIT_COLOURS.items():
            line = wide[(wide["init"] == init) & (wide["depth"] == depth)].sort_values("sigma_w")
            if line.empty:
                continue
            ax.plot(line["sigma_w"], line["linearised_bits"], "-o", ms=2.5, color=colour, lw=1.2,
                    label=f"{init}: linearised")
            ax.plot(line["sigma_w"], line["mean_field_classic_bits"], "--", color=colour, lw=1.0,
                    label=f"{init}: classic")
            ax.plot(line["sigma_w"], line["mean_field_corrected_bits"], ":", color=colour, lw=1.6,
                    label=f"{init}: corrected")
        if wide_critical is not None:
            ax.axvline(wide_critical, color="k", lw=0.6, alpha=0.6)
        ax.set_title(f"width {int(theory['width'].iloc[0])}, depth {depth}", fontsize=8)
        _sigma_w_axis(ax)
        ax.set_yscale("symlog", linthresh=1.0)
    axes[0, -1].legend(fontsize=5.5)
    axes[-1, -1].set_xlabel("σ_w", fontsize=8)
    fig.suptitle(f"Measured information against theory ({main}, σ_b = {sigma_b:g}); right: wide networks", fontsize=9)
    fig.tight_layout()
    return fig


def save_phase_diagram(meanfield_csv, line_csv, output) -> None:
    from layerinfo.plotting import save_figure

    save_figure(phase_diagram_figure(pd.read_csv(meanfield_csv), pd.read_csv(line_csv)), output)


def save_spectra(jacobian_csv, spectra_npz, output) -> None:
    from layerinfo.plotting import save_figure

    table = pd.read_csv(jacobian_csv)
    with np.load(spectra_npz, allow_pickle=False) as data:
        spectra = {k: data[k] for k in data.files if k != "device"}
    phi, sigma_b = table["nonlinearity"].iloc[0], table["sigma_b"].iloc[0]
    title = f"Jacobian singular values at initialisation: {phi}, σ_b = {sigma_b:g}, width {table['width'].iloc[0]}"
    figure = spectra_figure(spectra, sorted(table["sigma_w"].unique()), sorted(table["depth"].unique()), title)
    save_figure(figure, output)


def save_information_vs_sigma_w(information_csv, output) -> None:
    from layerinfo.plotting import save_figure

    save_figure(information_vs_sigma_w_figure(pd.read_csv(information_csv)), output)


def save_information_theory(information_csv, theory_csv, output) -> None:
    from layerinfo.plotting import save_figure

    save_figure(information_theory_figure(pd.read_csv(information_csv), pd.read_csv(theory_csv)), output)
