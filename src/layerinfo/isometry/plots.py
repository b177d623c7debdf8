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


def information_figure(table: pd.DataFrame, title: str) -> Figure:
    """I(x; a^L + noise) against depth (one panel per method) and against sigma_w (deepest layer)."""
    methods = list(dict.fromkeys(table["method"]))
    mean = table.groupby(["method", "init", "sigma_w", "critical", "depth"], as_index=False)["I_bits"].mean()
    sigma_ws = sorted(mean["sigma_w"].unique())
    cmap = plt.get_cmap("viridis")
    fig, axes = plt.subplots(2, len(methods), figsize=(3.0 * len(methods), 5.6), squeeze=False)
    deepest = mean["depth"].max()
    for col, method in enumerate(methods):
        ax = axes[0, col]
        for k, sigma_w in enumerate(sigma_ws):
            for init, style in (("orthogonal", "-"), ("gaussian", "--")):
                sub = mean[(mean["method"] == method) & (mean["init"] == init) & (mean["sigma_w"] == sigma_w)]
                if sub.empty:
                    continue
                critical = bool(sub["critical"].iloc[0])
                ax.plot(sub["depth"], sub["I_bits"], style, color=cmap(k / max(len(sigma_ws) - 1, 1)),
                        lw=2.2 if critical else 1.0,
                        label=f"σ_w={sigma_w:.3g}{' (critical)' if critical else ''}" if init == "orthogonal" else None)
        ax.set_xscale("log", base=2)
        ax.set_title(method, fontsize=9)
        ax.set_xlabel("depth")
        ax = axes[1, col]
        for init, colour in INIT_COLOURS.items():
            sub = mean[(mean["method"] == method) & (mean["init"] == init) & (mean["depth"] == deepest)]
            ax.plot(sub["sigma_w"], sub["I_bits"], "o-", color=colour, label=init)
            crit = sub[sub["critical"]]
            ax.plot(crit["sigma_w"], crit["I_bits"], "k*", ms=10)
        ax.set_xlabel("σ_w")
        ax.set_title(f"depth {deepest} (★ critical)", fontsize=9)
    axes[0, 0].set_ylabel("I(x; layer) [bits]")
    axes[1, 0].set_ylabel("I(x; layer) [bits]")
    axes[0, 0].legend(fontsize=6)
    axes[1, 0].legend(fontsize=7)
    fig.suptitle(title + "  (solid: orthogonal, dashed: Gaussian)", fontsize=9)
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


def save_information(information_csv, output) -> None:
    from layerinfo.plotting import save_figure

    table = pd.read_csv(information_csv)
    row = table.iloc[0]
    title = (f"I(x; layer + noise) at initialisation: {row['nonlinearity']}, width {row['width']}, "
             f"input std {row['input_std']:g}, noise std {row['noise_std']:g}")
    save_figure(information_figure(table, title), output)
