"""``layerinfo``: the command line (argument parsing and one-line errors only)."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from layerinfo.cli.errors import CliError
from layerinfo.h5io import ActivationFileError

DESCRIPTION = """Measure information in the layers of any torch model.

  layerinfo layers   --model nets.py:build --data probe.npz
  layerinfo record   --model nets.py:build --weights 'ckpt/epoch_*.pt' --data probe.npz -o acts.h5
  layerinfo import   acts.npz --labels y.npy -o acts.h5
  layerinfo estimate acts.h5 --estimators ebab,kde_upper --interval 0.95 -o table.csv
  layerinfo plot     table.csv -o figures/
"""


class Parser(argparse.ArgumentParser):
    """Usage errors as one line ``layerinfo <subcommand>: error: ...``, exit code 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> Parser:
    parser = Parser(prog="layerinfo", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND", parser_class=Parser)
    sub.required = True

    def model_args(p):
        p.add_argument("--model", required=True, metavar="MODULE:CALLABLE",
                       help="a function returning the torch.nn.Module: a dotted module (found from the current "
                            "directory) or a .py file, e.g. mypkg.nets:build or nets.py:build")

    p = sub.add_parser("layers", help="list the recordable layers of a model",
                       description="List leaf modules by their named_modules path, how often each is called in "
                                   "one forward pass, and its output shape on a probe batch.")
    model_args(p)
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--data", metavar="PROBE.npz", help="probe inputs (x, y) whose first samples are passed")
    group.add_argument("--input-shape", metavar="C,H,W", help="shape of one sample (zeros are passed)")

    p = sub.add_parser("record", help="record a model's layers on a probe set into an activation file",
                       description="Forward hooks on the chosen layers, model in eval() under inference_mode; "
                                   "one epoch per checkpoint; written in batches through layerinfo.h5io.")
    model_args(p)
    p.add_argument("--weights", metavar="GLOB",
                   help="checkpoints (state dicts, loaded with weights_only=True), one epoch each: the checkpoint's "
                        "'epoch' key, else the last number in its file name; default: the model as built (epoch 0)")
    p.add_argument("--data", required=True, metavar="PROBE.npz",
                   help="x and y, or x_train, y_train, x_test, y_test (integer labels)")
    p.add_argument("--layers", nargs="+", metavar="GLOB", help="layers to record (globs on names; default: all)")
    p.add_argument("--split", metavar="train,test", help="which splits of the probe file to record (default: all present)")
    p.add_argument("--select", action="append", metavar="LAYER=KEY",
                   help="element of a layer's tuple or dict output to record (repeatable)")
    p.add_argument("--reduce", choices=["flatten", "gap"], default="flatten",
                   help="maps (N, C, H, W): flatten to C*H*W (default) or global average pool to C")
    p.add_argument("--max-units", type=int, metavar="K",
                   help="record a fixed random subsample of K units of larger layers (same units every epoch)")
    p.add_argument("--seed", type=int, default=0, help="seed of the unit subsample (default 0)")
    p.add_argument("--batch-size", type=int, default=256, help="probe samples per forward pass (default 256)")
    p.add_argument("--device", default="cpu", help="torch device of the forward passes: cpu or cuda (default cpu)")
    p.add_argument("--run", metavar="NAME", help="name of the run in the file and the tables (default: the output's stem)")
    p.add_argument("-o", "--output", required=True, metavar="ACTS.h5")

    p = sub.add_parser("import", help="activations you already have into an activation file",
                       description="SOURCE: .npz (one array per layer), a directory of .npy, a .pt dict of tensors, "
                                   "or .h5 (every dataset one layer). Arrays (N, ...) or (E, N, ...).")
    p.add_argument("source", metavar="SOURCE")
    p.add_argument("--labels", metavar="Y.npy", help="integer labels (N,); default: an array y or labels in SOURCE")
    p.add_argument("--epoch-axis", choices=["auto", "yes", "no"], default="auto",
                   help="whether arrays have an epoch axis first (default: the axis of length N tells)")
    p.add_argument("--epochs", metavar="0,10,20", help="epoch numbers (default: an array 'epochs' in SOURCE, else 0..E-1)")
    p.add_argument("--activation", default="linear",
                   help="activation of every layer, sets EBAB's lowest edge (a layerinfo activation name; default linear)")
    p.add_argument("--run", metavar="NAME", help="name of the run in the file and the tables (default: the output's stem)")
    p.add_argument("-o", "--output", required=True, metavar="ACTS.h5")

    p = sub.add_parser("estimate", help="I(X;T) and I(T;Y) of every layer and epoch, with intervals",
                       description="A tidy table: one row per split x epoch x layer x estimator. The interval is an "
                                   "m-out-of-n subsampling interval (without replacement): it covers the sampling of "
                                   "the probe set, not the choice of estimator.")
    p.add_argument("activations", metavar="ACTS.h5")
    p.add_argument("--estimators", default="ebab,kde_upper", metavar="NAME,...",
                   help="bins_fixed, bins_width, ebab, kde_upper, kde_lower, akde (default ebab,kde_upper)")
    p.add_argument("--param", action="append", metavar="EST.KEY=VALUE",
                   help="an estimator parameter, e.g. kde_upper.noise_variance=0.001 (repeatable)")
    p.add_argument("--split", default="all", metavar="all,train,test", help="samples to estimate on (default all)")
    p.add_argument("--layers", nargs="+", metavar="GLOB", help="layers to estimate (globs on names; default: all)")
    p.add_argument("--interval", type=float, metavar="LEVEL", help="coverage of the interval, e.g. 0.95 (default: none)")
    p.add_argument("--subsample", default="0.5", metavar="M",
                   help="subsample size m: a fraction of n or a number of rows (default 0.5)")
    p.add_argument("--repeats", type=int, default=50, help="subsamples, and label shuffles of the null (default 50)")
    p.add_argument("--seed", type=int, default=0, help="seed of subsamples and shuffles (default 0)")
    p.add_argument("--device", default="cpu", help="torch device of the KDE arithmetic: cpu or cuda (default cpu)")
    p.add_argument("-o", "--output", required=True, metavar="TABLE.csv")

    p = sub.add_parser("plot", help="information-plane figures of an estimate table",
                       description="One figure per run x split x estimator, drawn by the workflow's plotting code.")
    p.add_argument("table", metavar="TABLE.csv")
    p.add_argument("--format", default="png", help="png, pdf or svg (default png)")
    p.add_argument("-o", "--output", required=True, metavar="DIR")
    return parser


def _run(args) -> int:
    if args.command == "layers":
        from layerinfo.cli.record import list_layers

        return list_layers(args)
    if args.command == "record":
        from layerinfo.cli.record import record

        return record(args)
    if args.command == "import":
        from layerinfo.cli.importing import import_activations

        return import_activations(args)
    if args.command == "estimate":
        from layerinfo.cli.estimate import estimate

        return estimate(args)
    from layerinfo.cli.plot import plot

    return plot(args)


def run_command(argv: list[str]) -> int:
    """Run one subcommand as the workflow's ``external`` rules do: bad input raises (the job fails
    with the message in its log) instead of ending the process."""
    return _run(build_parser().parse_args(argv))


def main(argv: list[str] | None = None) -> int:
    """Run the command; return its exit code (2 and one line on stderr for bad input)."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        return _run(args)
    except (CliError, ActivationFileError, ValueError) as err:
        if os.environ.get("LAYERINFO_TRACEBACK"):
            raise
        message = " ".join(str(err).split())  # one line
        print(f"layerinfo {args.command}: error: {message}", file=sys.stderr)
        return 2
    except Exception as err:
        if os.environ.get("LAYERINFO_TRACEBACK"):
            raise
        message = " ".join(str(err).split())
        print(f"layerinfo {args.command}: error: {type(err).__name__}: {message} "
              "(set LAYERINFO_TRACEBACK=1 for the traceback)", file=sys.stderr)
        return 1
