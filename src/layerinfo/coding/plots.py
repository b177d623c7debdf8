"""Figures of the coding-schemes study (S4): data in, ``matplotlib.figure.Figure`` out.

Every figure is a grid with one column per nonlinearity and one row per scaling (feature
learning, lazy), built from posterior files read with :func:`layerinfo.coding.posterior.read_posterior`.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from layerinfo.coding import diagnostics, kernels, posterior, schemes
from layerinfo.plotting import plt, save_figure

SCALING_NAMES = {"feature": "feature learning (1/N)", "lazy": "lazy (1/√N)"}


def _grid(posteriors):
    nls = list(dict.fromkeys(p.config["nonlinearity"] for p in posteriors))
    scs = list(dict.fromkeys(p.config["scaling"] for p in posteriors))
    return nls, scs, {(p.config["nonlinearity"], p.config["scaling"]): p for p in posteriors}


def _panels(axes, nls, scs, by):
    """(ax, nonlinearity, scaling, posterior) for each panel of the scaling x nonlinearity grid
    that has a posterior; panels without one are switched off."""
    for i, sc in enumerate(scs):
        for j, nl in enumerate(nls):
            post = by.get((nl, sc))
            if post is None:
                axes[i, j].set_axis_off()
            else:
                yield axes[i, j], nl, sc, post


def readout_histograms_figure(posteriors: list) -> plt.Figure:
    """Readout vectors ``a_i`` of the last posterior sample of chain 0, first two outputs against
    each other, coloured by the Gaussian-mixture branch each neuron falls in (see
    :func:`layerinfo.coding.schemes.readout_branches`); outlier neurons (readout norm above
    N^(1/4) x the median, :func:`layerinfo.coding.schemes.outlier_mask`) ringed. Title: branches and their shares, readout excess kurtosis."""
    nls, scs, by = _grid(posteriors)
    fig, axes = plt.subplots(len(scs), len(nls), figsize=(3.1 * len(nls), 3.0 * len(scs)), squeeze=False)
    for ax, nl, sc, post in _panels(axes, nls, scs, by):
        a = post.chains[0]["readout"][-1:]
        fit = schemes.readout_branches(a, n_fit=1)
        kurt = schemes.readout_statistics(np.concatenate([c["readout"] for c in post.chains]))
        v = a[0]
        out = schemes.outlier_mask(v)
        ax.scatter(v[:, 0], v[:, 1 % v.shape[1]], c=fit["branch_labels"], cmap="tab10", vmin=0, vmax=9, s=9)
        ax.scatter(v[out, 0], v[out, 1 % v.shape[1]], facecolors="none", edgecolors="k", s=40, lw=0.8)
        shares = ", ".join(f"{x:.2f}" for x in fit["branch_shares"][:7])
        ax.set_title(f"{nl}, {SCALING_NAMES.get(sc, sc)}\n{int(fit['n_branches'])} branches ({shares})\n"
                     f"excess kurtosis {kurt['readout_excess_kurtosis']:.2f}, {int(out.sum())} outliers", fontsize=7)
        ax.set_xlabel("readout to class 0", fontsize=7)
        ax.set_ylabel("readout to class 1", fontsize=7)
        ax.tick_params(labelsize=6)
    fig.tight_layout()
    return fig


def _sorted_map(responses: np.ndarray, readout: np.ndarray, threshold: float):
    """Normalised responses ``(C, N)`` of one sample, neurons sorted by code frequency, then by
    readout norm; returns the map and the code boundaries."""
    codes = schemes.neuron_codes(responses[None], threshold)[0]
    freq = schemes.code_frequencies(codes)
    rank = {code: k for k, code in enumerate(freq["code"])}
    norm = np.linalg.norm(readout, axis=1)
    # coding neurons first (by code frequency), the bulk without a code last
    key = np.array([(rank[c] if c > 0 else len(rank)) for c in codes])
    order = np.lexsort((-norm, key))
    r = schemes.normalised_responses(responses[None])[0]
    bounds = np.flatnonzero(np.diff(key[order])) + 0.5
    return r[order].T, bounds, codes[order]


def activation_maps_figure(posteriors: list, threshold: float = 0.5) -> plt.Figure:
    """Code maps of every hidden layer: neuron x class maps of the normalised class responses
    (last posterior sample of chain 0), neurons sorted by code (most frequent first, neurons
    without a code at the right) and within a code by the norm of their outgoing weights (the
    readout for the last layer); white lines separate codes; one row per run and layer."""
    nls, scs, by = _grid(posteriors)
    runs = [(nl, sc) for sc in scs for nl in nls if (nl, sc) in by]
    depth = len(by[runs[0]].chains[0]["hidden"])
    rows = [(nl, sc, l) for nl, sc in runs for l in range(depth)]
    height = 1.0 + 1.1 * len(rows) * max(1, by[runs[0]].n_classes / 5)
    fig, axes = plt.subplots(len(rows), 1, figsize=(9, height), squeeze=False, constrained_layout=True)
    for ax, (nl, sc, l) in zip(axes[:, 0], rows):
        post = by[(nl, sc)]
        x, labels = post.data["x_train"], post.data["labels_train"]
        act = post.layers(0, x)[l][-1:]
        resp = schemes.class_responses(act, labels, post.n_classes)[0]
        chain = post.chains[0]
        outgoing = chain["readout"][-1] if l == depth - 1 else chain["hidden"][l + 1][-1].T
        image, bounds, codes = _sorted_map(resp, outgoing, threshold)
        im = ax.imshow(image, aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
        for b in bounds:
            ax.axvline(b, color="w", lw=0.8)
        eta2 = np.nanmean(schemes.eta_squared(act, labels, post.n_classes)[0])
        ax.set_title(f"{nl}, {SCALING_NAMES.get(sc, sc)}, layer {l + 1}: {int((codes > 0).sum())}/{len(codes)} "
                     f"neurons carry a code (threshold {threshold}), mean eta2 {eta2:.2f}", fontsize=7)
        ax.set_ylabel("class", fontsize=7)
        ax.set_yticks(range(post.n_classes))
        ax.tick_params(labelsize=6)
        ax.set_xticks([])
    axes[-1, 0].set_xlabel("neuron (sorted by code)")
    fig.colorbar(im, ax=axes[:, 0].tolist(), label="response / population max", shrink=0.6)
    return fig


def kernels_figure(posteriors: list) -> plt.Figure:
    """Posterior-averaged kernels ``<(1/N) sum_i phi_i(x) phi_i(x')>`` of every hidden layer on
    the training inputs (sorted by class): for each layer one row per scaling and a row with the
    closed-form lazy (infinite-width prior) kernel of that layer; one column per nonlinearity."""
    nls, scs, by = _grid(posteriors)
    depth = len(next(iter(by.values())).chains[0]["hidden"])
    rows = [(l, sc) for l in range(depth) for sc in [*scs, None]]  # None: the closed-form row
    fig, axes = plt.subplots(len(rows), len(nls), figsize=(2.6 * len(nls), 2.5 * len(rows)), squeeze=False)
    inputs, layers = {}, {}  # per run: training inputs and labels sorted by class; each layer's kernel
    for (nl, sc), post in by.items():
        order = np.argsort(post.data["labels_train"], kind="stable")
        inputs[(nl, sc)] = post.data["x_train"][order], post.data["labels_train"][order]
        per_chain = [[kernels.sampled_kernel(a) for a in post.layers(k, inputs[(nl, sc)][0])]
                     for k in range(len(post.chains))]
        layers[(nl, sc)] = np.mean(per_chain, axis=0)
    for i, (l, sc) in enumerate(rows):
        for j, nl in enumerate(nls):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            # the closed-form row uses the inputs of any run of this nonlinearity
            key = (nl, sc) if sc is not None else next(((nl, s) for s in scs if (nl, s) in by), None)
            if key not in by:
                ax.set_axis_off()
                continue
            post = by[key]
            x, labels = inputs[key]
            if sc is None:
                kernel = kernels.nngp_kernel(x, x, nl, l + 1, post.config["prior"]["sigma_w2"])
                what = "closed form (prior, N→∞)"
            else:
                kernel, what = layers[key][l], sc
            ax.imshow(kernel, cmap="viridis")
            align = kernels.kernel_alignment(kernel, labels, post.n_classes)
            ax.set_title(f"{nl}, layer {l + 1}, {what}\nalignment {align:.2f}", fontsize=7)
    fig.tight_layout()
    return fig


def generalisation_figure(table: pd.DataFrame, task: str) -> plt.Figure:
    """Test error per class of the posterior-mean network (each scaling) and of the lazy
    Gaussian-process baseline, one panel per nonlinearity."""
    sub = table[table["task"] == task]
    sub = sub[sub["width"] == sub["width"].min()]
    nls = list(dict.fromkeys(sub["nonlinearity"]))
    fig, axes = plt.subplots(1, len(nls), figsize=(3.4 * len(nls), 2.9), squeeze=False, sharey=True)
    for ax, nl in zip(axes[0], nls):
        s = sub[sub["nonlinearity"] == nl]
        classes = np.sort(s["class"].unique())
        series = [(f"network, {sc}", s[(s["model"] == "network") & (s["scaling"] == sc)])
                  for sc in dict.fromkeys(s["scaling"])]
        gp = s[s["model"] == "gp_lazy"].drop_duplicates("class")
        series.append(("lazy GP (closed form)", gp))
        width = 0.8 / len(series)
        for k, (name, rows) in enumerate(series):
            rows = rows.set_index("class").reindex(classes)
            ax.bar(np.arange(len(classes)) + (k - (len(series) - 1) / 2) * width, rows["test_error"], width,
                   label=name, color=f"C{k}")
        ax.set_xticks(np.arange(len(classes)))
        ax.set_xticklabels(classes)
        ax.set_xlabel("class")
        ax.set_title(nl, fontsize=9)
    axes[0, 0].set_ylabel("test error")
    axes[0, -1].legend(fontsize=7)
    fig.tight_layout()
    return fig


def traces_figure(posteriors: list) -> plt.Figure:
    """Training mean squared error along every chain (one line per chain), the burn-in shaded;
    chains that sample the same posterior settle on the same level."""
    nls, scs, by = _grid(posteriors)
    fig, axes = plt.subplots(len(scs), len(nls), figsize=(3.1 * len(nls), 2.4 * len(scs)), squeeze=False,
                             sharex=True)
    for ax, nl, sc, post in _panels(axes, nls, scs, by):
        for k, chain in enumerate(post.chains):
            ax.plot(chain["trace_step"], chain["trace_mse"], lw=0.8, color=f"C{k}", label=f"chain {k}")
        ax.axvspan(0, post.config["sampler"]["burn_in"], color="0.9", zorder=0)
        ax.set_yscale("log")
        ax.set_title(f"{nl}, {SCALING_NAMES.get(sc, sc)}", fontsize=8)
        ax.tick_params(labelsize=7)
    for row in axes:
        row[0].set_ylabel("training MSE")
    for ax in axes[-1]:
        ax.set_xlabel("Langevin step")
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def drift_figure(posteriors: list) -> plt.Figure:
    """Each last-layer neuron's class responses (centred over classes) in the first kept sample
    of chain 0 against the last one, all classes pooled: points on the diagonal keep their code
    along the chain; the title gives the drift statistic of :func:`schemes.drift` (mean over
    chains)."""
    nls, scs, by = _grid(posteriors)
    fig, axes = plt.subplots(len(scs), len(nls), figsize=(2.9 * len(nls), 2.8 * len(scs)), squeeze=False)
    for ax, nl, sc, post in _panels(axes, nls, scs, by):
        x, labels = post.data["x_train"], post.data["labels_train"]
        responses = [schemes.class_responses(post.activity(k, x), labels, post.n_classes)
                     for k in range(len(post.chains))]
        first, last = (r - r.mean(1, keepdims=True) for r in (responses[0][0], responses[0][-1]))
        ax.scatter(first.ravel(), last.ravel(), s=3, alpha=0.4, color="C0", edgecolors="none")
        lim = np.nanmax(np.abs(np.concatenate([first.ravel(), last.ravel()]))) or 1.0
        ax.plot([-lim, lim], [-lim, lim], color="0.5", lw=0.7)
        value = np.nanmean([schemes.drift(r) for r in responses])
        ax.set_title(f"{nl}, {SCALING_NAMES.get(sc, sc)}\ndrift statistic {value:.2f}", fontsize=8)
        ax.tick_params(labelsize=6)
    for row in axes:
        row[0].set_ylabel("last kept sample", fontsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("first kept sample", fontsize=7)
    fig.tight_layout()
    return fig


EQUILIBRIUM_STATISTICS = ("max_readout_over_sqrt_n", "n_outliers", "max_z_over_sqrt_n", "n_patterns", "alignment")
EQUILIBRIUM_LABELS = {"max_readout_over_sqrt_n": "max|a|/√N", "n_outliers": "outliers", "max_z_over_sqrt_n": "max|z|/√N",
                      "n_patterns": "code patterns", "alignment": "kernel alignment"}


def equilibrium_figure(posteriors: list, threshold: float = 0.5) -> plt.Figure:
    """The slow, permutation-invariant statistics (:mod:`layerinfo.coding.diagnostics`) against
    the Langevin step, one line per chain, one row per run (every width), the kept window shaded
    and the plateau step marked: the reader sees whether the samples were kept at equilibrium."""
    posteriors = sorted(posteriors, key=lambda p: (p.config["scaling"], p.config["nonlinearity"], p.config["width"]))
    stats_ = EQUILIBRIUM_STATISTICS
    fig, axes = plt.subplots(len(posteriors), len(stats_), figsize=(2.5 * len(stats_), 1.7 * len(posteriors)),
                             squeeze=False)
    for row, post in zip(axes, posteriors):
        burn = post.config["sampler"]["burn_in"]
        summary, rows = diagnostics.convergence(post.chains, burn, threshold)
        for ax, name in zip(row, stats_):
            for k, chain in enumerate(post.chains):
                values = diagnostics.chain_statistics(chain, threshold)[name]
                ax.plot(chain["trace_step"], values, lw=0.7, color=f"C{k}")
            ax.axvspan(burn, post.chains[0]["trace_step"][-1], color="0.9", zorder=0)
            if np.isfinite(summary["plateau_step"]):
                ax.axvline(summary["plateau_step"], color="k", lw=0.6, ls=":")
            ax.tick_params(labelsize=6)
            ax.set_title(EQUILIBRIUM_LABELS[name], fontsize=7)
        c = post.config
        state = "converged" if summary["converged"] else "NOT converged"
        row[0].set_ylabel(f"{c['nonlinearity']} {c['scaling']}\nN={c['width']}, {state}", fontsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("Langevin step", fontsize=7)
    fig.tight_layout()
    return fig


def widths_figure(table: pd.DataFrame) -> plt.Figure:
    """Outlier neurons of the readout (count, by their N^(1/4) x median threshold, and
    ``max |a| / sqrt(N)``) against the width N for every run measured at several widths; a
    sparse code keeps its count as N grows while its largest readouts grow like sqrt(N) (flat
    ``max |a| / sqrt(N)``). Open markers: runs whose chains did not converge."""
    fig, axes = plt.subplots(1, 2, figsize=(7.5, 3.0))
    groups = [g for _, g in table.groupby(["task", "nonlinearity", "scaling"]) if g["width"].nunique() > 1]
    for k, g in enumerate(groups):
        g = g.sort_values("width")
        name = f"{g['task'].iloc[0]}, {g['nonlinearity'].iloc[0]}, {g['scaling'].iloc[0]}"
        ok = g["converged"].astype(bool) if "converged" in g else pd.Series(True, index=g.index)
        for ax, column in zip(axes, ("n_outliers", "max_readout_over_sqrt_n")):
            ax.plot(g["width"], g[column], "-", color=f"C{k}", label=name)
            ax.plot(g["width"][ok], g[column][ok], "o", color=f"C{k}")
            ax.plot(g["width"][~ok], g[column][~ok], "o", mfc="none", color=f"C{k}")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("width N")
    axes[0].set_ylabel("outlier neurons (mean per sample)")
    axes[1].set_ylabel("max |a| / sqrt(N)")
    if groups:
        axes[0].legend(fontsize=7)
    else:
        axes[0].text(0.5, 0.5, "no run at several widths", ha="center", transform=axes[0].transAxes)
    fig.tight_layout()
    return fig


def save_coding_figures(posterior_paths, generalisation_csv: str | os.PathLike, task: str,
                        readout_png, maps_png, kernels_png, generalisation_png, traces_png, drift_png,
                        equilibrium_png, threshold: float = 0.5) -> None:
    """The seven figures of one task, from its posterior files and the per-class table."""
    posteriors = [posterior.read_posterior(p) for p in posterior_paths]
    save_figure(equilibrium_figure(posteriors, threshold), equilibrium_png)  # every width
    base = min(p.config["width"] for p in posteriors)
    posteriors = [p for p in posteriors if p.config["width"] == base]  # extra widths: widths_figure
    save_figure(readout_histograms_figure(posteriors), readout_png)
    save_figure(activation_maps_figure(posteriors, threshold), maps_png)
    save_figure(kernels_figure(posteriors), kernels_png)
    save_figure(generalisation_figure(pd.read_csv(generalisation_csv), task), generalisation_png)
    save_figure(traces_figure(posteriors), traces_png)
    save_figure(drift_figure(posteriors), drift_png)
