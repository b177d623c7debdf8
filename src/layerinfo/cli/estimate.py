"""``layerinfo estimate``: every requested estimator on every split, epoch and layer of an
activation file, with subsampling intervals, a shuffled-label null and warnings.

The full-sample numbers come from the same calls as the workflow's estimate rule
(:func:`layerinfo.infoplane.estimate.estimator_params` and
:func:`layerinfo.information.information_plane_many` on each (epoch, layer) slab), so on the
split ``all`` they equal that rule's table, except that negative values are clipped to 0 and
said so in ``warnings``.
"""

from __future__ import annotations

import fnmatch
import json
import sys
from collections import Counter

import numpy as np
import pandas as pd
import yaml

from layerinfo.cli.errors import CliError
from layerinfo.h5io import open_activations
from layerinfo.infoplane.estimate import estimator_params
from layerinfo.information import METHODS, information_plane_many
from layerinfo.information.diagnostics import estimate_warnings
from layerinfo.information.intervals import information_intervals, subsample_size
from layerinfo.progress import progress
from layerinfo.tables import write_csv

COLUMNS = ["run", "split", "epoch", "layer", "layer_name", "estimator", "method", "params", "n", "dim",
           "I_XT_bits", "I_TY_bits", "I_XT_ci_low", "I_XT_ci_high", "I_TY_ci_low", "I_TY_ci_high",
           "I_TY_null_bits", "I_TY_null_p", "interval", "subsample_m", "repeats", "seed", "device", "warnings"]
SPLITS = ("all", "train", "test")


def parse_estimators(names: str, params: list[str] | None) -> dict[str, dict]:
    """``ebab,kde_upper`` plus ``--param kde_upper.noise_variance=0.001`` -> workflow-style specs."""
    chosen = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in chosen if n not in METHODS]
    if unknown or not chosen:
        raise CliError(f"--estimators: unknown estimator(s) {', '.join(unknown) or '(none given)'}; "
                       f"allowed: {', '.join(METHODS)}")
    specs = {n: {"method": n} for n in chosen}
    for item in params or []:
        key, sep, value = item.partition("=")
        est, dot, name = key.partition(".")
        if not sep or not dot or est not in specs:
            raise CliError(f"--param: expected ESTIMATOR.KEY=VALUE with ESTIMATOR one of {', '.join(specs)}, got {item!r}")
        allowed = [k for k in METHODS[est] if k != "rng"]
        if name not in allowed:
            raise CliError(f"--param: {est} has no parameter {name!r}; allowed: {', '.join(allowed)}")
        specs[est][name] = yaml.safe_load(value)
    return specs


def _subsample(text: str) -> float | int:
    try:
        value = float(text)
    except ValueError:
        raise CliError(f"--subsample: expected a fraction in (0, 1) or a number of rows >= 2, got {text!r}") from None
    return int(value) if value >= 1 and value == int(value) else value


def estimate(args) -> int:
    specs = parse_estimators(args.estimators, args.param)
    splits = [s.strip() for s in args.split.split(",")]
    if not str(args.output).endswith(".csv"):
        raise CliError(f"-o: the table must end in .csv, got {args.output}")
    table = estimate_table(args.activations, specs, splits=splits, layers=args.layers, interval=args.interval,
                           subsample=_subsample(args.subsample), repeats=args.repeats, seed=args.seed,
                           device=args.device)
    write_csv(table, args.output)
    print(f"estimate: wrote {args.output} ({len(table)} rows)", file=sys.stderr)
    return 0


def _torch_device(name: str) -> str:
    try:
        import torch

        device = str(torch.device(name))
    except RuntimeError as err:
        raise CliError(f"--device: {err}; allowed: cpu, cuda, cuda:N") from None
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise CliError(f"--device: {device} requested but torch sees no GPU; use --device cpu")
    return device


def estimate_table(activations, specs: dict[str, dict], *, splits=("all",), layers=None, interval=None,
                   subsample: float | int = 0.5, repeats: int = 50, seed: int = 0, device: str = "cpu",
                   run: str | None = None) -> pd.DataFrame:
    """The estimate table of one activation file (the command's and the workflow's ``external``
    target's): one row per split x epoch x layer x named estimator in ``specs`` (workflow-style
    ``{name: {"method": ..., params}}``), with the interval, null and warnings columns.

    Warnings are also summarised on stderr, one line per estimator and kind. ``run`` names the
    rows (default: the file's own ``run``).
    """
    bad = [s for s in splits if s not in SPLITS]
    if bad or not splits:
        raise CliError(f"--split: unknown split(s) {', '.join(bad) or '(none given)'}; allowed: {', '.join(SPLITS)}")
    if interval is not None and not 0.0 < interval < 1.0:
        raise CliError(f"--interval: the coverage must be in (0, 1), e.g. 0.95; got {interval}")
    if repeats < 2:
        raise CliError(f"--repeats: must be >= 2, got {repeats}")
    device = _torch_device(device)
    rows, counts, examples = [], Counter(), {}
    with open_activations(activations) as f:
        masks = {"all": np.ones(len(f.labels), bool), "train": f.train_mask, "test": ~f.train_mask}
        for s in splits:
            if masks[s].sum() < 4:
                raise CliError(f"--split: {activations} has {int(masks[s].sum())} samples in split {s!r}; "
                               "an estimate needs at least 4")
            if interval is not None:
                try:
                    subsample_size(int(masks[s].sum()), subsample)
                except ValueError as err:
                    raise CliError(f"--subsample: {err} (split {s!r})") from None
        run = run or f.config.get("run", str(activations))
        try:
            requests = [{n: estimator_params(spec, layer["activation"]) for n, spec in specs.items()}
                        for layer in f.layers]
        except ValueError as err:
            raise CliError(f"--param: {err}") from None
        chosen = list(range(f.n_layers))
        if layers:
            names = [layer["name"] for layer in f.layers]
            for pattern in layers:
                if not any(fnmatch.fnmatchcase(n, pattern) for n in names):
                    raise CliError(f"--layers: {pattern!r} matches no layer of {activations}; layers: {', '.join(names)}")
            chosen = [l for l, n in enumerate(names) if any(fnmatch.fnmatchcase(n, p) for p in layers)]
        jobs = [(s, e, l) for s in splits for e in range(len(f.epochs)) for l in chosen]
        for s, e, l in progress(jobs, desc="estimate", total=len(jobs)):
            layer = f.layers[l]
            t = f.activations(e, l)[masks[s]]
            y = f.labels[masks[s]]
            if not np.isfinite(t).all():
                raise CliError(f"{activations}: layer {layer['name']} has NaN or infinite values at epoch "
                               f"{int(f.epochs[e])}")
            if interval is None:
                values = information_plane_many(t, y, requests[l], device)
            else:
                values = information_intervals(t, y, requests[l], subsample=subsample, repeats=repeats,
                                               level=interval, seed=seed, device=device)
            for name, (method, params) in requests[l].items():
                v = values[name]
                warnings = estimate_warnings(t, method, params, v)
                for kind, text in warnings:
                    counts[(name, kind)] += 1
                    examples.setdefault((name, kind), f"{layer['name']}, epoch {int(f.epochs[e])}, {s}: {text}")
                row = {"run": run, "split": s, "epoch": int(f.epochs[e]), "layer": l, "layer_name": layer["name"],
                       "estimator": name, "method": method, "params": json.dumps(params, sort_keys=True),
                       "n": len(t), "dim": t.shape[1], "device": device, "warnings": "; ".join(text for _, text in warnings)}
                for q in ("I_XT", "I_TY"):
                    row[f"{q}_bits"] = max(v[q], 0.0)
                if interval is not None:
                    for key in ("I_XT_ci_low", "I_XT_ci_high", "I_TY_ci_low", "I_TY_ci_high"):
                        row[key] = max(v[key], 0.0)
                    row.update(I_TY_null_bits=max(v["I_TY_null"], 0.0), I_TY_null_p=v["I_TY_null_p"],
                               interval=interval, subsample_m=v["m"], repeats=repeats, seed=seed)
                rows.append(row)
    table = pd.DataFrame(rows, columns=COLUMNS)
    per_estimator = len(table) // max(len(specs), 1)
    for (name, kind), count in sorted(counts.items()):
        print(f"warning: {name}, {count} of {per_estimator} rows, e.g. {examples[(name, kind)]}", file=sys.stderr)
    return table
