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
    bad = [s for s in splits if s not in SPLITS]
    if bad:
        raise CliError(f"--split: unknown split(s) {', '.join(bad)}; allowed: {', '.join(SPLITS)}")
    if args.interval is not None and not 0.0 < args.interval < 1.0:
        raise CliError(f"--interval: the coverage must be in (0, 1), e.g. 0.95; got {args.interval}")
    if args.repeats < 2:
        raise CliError(f"--repeats: must be >= 2, got {args.repeats}")
    subsample = _subsample(args.subsample)
    if not str(args.output).endswith(".csv"):
        raise CliError(f"-o: the table must end in .csv, got {args.output}")
    try:
        import torch

        device = str(torch.device(args.device))
    except RuntimeError as err:
        raise CliError(f"--device: {err}; allowed: cpu, cuda, cuda:N") from None
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise CliError(f"--device: {device} requested but torch sees no GPU; use --device cpu")
    rows, counts, examples = [], Counter(), {}
    with open_activations(args.activations) as f:
        masks = {"all": np.ones(len(f.labels), bool), "train": f.train_mask, "test": ~f.train_mask}
        for s in splits:
            if masks[s].sum() < 4:
                raise CliError(f"--split: {args.activations} has {int(masks[s].sum())} samples in split {s!r}; "
                               "an estimate needs at least 4")
            if args.interval is not None:
                try:
                    subsample_size(int(masks[s].sum()), subsample)
                except ValueError as err:
                    raise CliError(f"--subsample: {err} (split {s!r})") from None
        run = f.config.get("run", str(args.activations))
        try:
            requests = [{n: estimator_params(spec, layer["activation"]) for n, spec in specs.items()}
                        for layer in f.layers]
        except ValueError as err:
            raise CliError(f"--param: {err}") from None
        chosen = list(range(f.n_layers))
        if args.layers:
            names = [layer["name"] for layer in f.layers]
            for pattern in args.layers:
                if not any(fnmatch.fnmatchcase(n, pattern) for n in names):
                    raise CliError(f"--layers: {pattern!r} matches no layer of {args.activations}; layers: {', '.join(names)}")
            chosen = [l for l, n in enumerate(names) if any(fnmatch.fnmatchcase(n, p) for p in args.layers)]
        jobs = [(s, e, l) for s in splits for e in range(len(f.epochs)) for l in chosen]
        for s, e, l in progress(jobs, desc="estimate", total=len(jobs)):
            layer = f.layers[l]
            t = f.activations(e, l)[masks[s]]
            y = f.labels[masks[s]]
            if not np.isfinite(t).all():
                raise CliError(f"{args.activations}: layer {layer['name']} has NaN or infinite values at epoch "
                               f"{int(f.epochs[e])}")
            if args.interval is None:
                values = information_plane_many(t, y, requests[l], device)
            else:
                values = information_intervals(t, y, requests[l], subsample=subsample, repeats=args.repeats,
                                               level=args.interval, seed=args.seed, device=device)
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
                if args.interval is not None:
                    for key in ("I_XT_ci_low", "I_XT_ci_high", "I_TY_ci_low", "I_TY_ci_high"):
                        row[key] = max(v[key], 0.0)
                    row.update(I_TY_null_bits=max(v["I_TY_null"], 0.0), I_TY_null_p=v["I_TY_null_p"],
                               interval=args.interval, subsample_m=v["m"], repeats=args.repeats, seed=args.seed)
                rows.append(row)
    table = pd.DataFrame(rows, columns=COLUMNS)
    write_csv(table, args.output)
    per_estimator = len(table) // max(len(specs), 1)
    for (name, kind), count in sorted(counts.items()):
        print(f"warning: {name}, {count} of {per_estimator} rows, e.g. {examples[(name, kind)]}", file=sys.stderr)
    print(f"estimate: wrote {args.output} ({len(table)} rows)", file=sys.stderr)
    return 0
