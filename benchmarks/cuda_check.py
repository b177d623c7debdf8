"""The CUDA paths against the CPU on the same work, in one process: numbers and times.

    python benchmarks/cuda_check.py [--members 8] [--epochs 1000] [--out DIR]

1. Training (layerinfo.training.train_runs): the same Tishby ensemble (tanh and ReLU,
   reference protocol) trained on the CPU and on CUDA; prints the largest difference of the
   recorded histories and activations and both wall times.
2. Estimation (layerinfo.infoplane.estimate.estimate_run): every estimator of the default
   config on the CPU-trained file, on the CPU and on CUDA; prints the largest difference of
   I(X;T) and I(T;Y) in bits per estimator and both times.
3. Estimator speed: the KDE family (one shared pass, information_plane_many) on 4096 samples of
   widths 12 and 64 and on 16384 samples, CPU against CUDA, median of 3 after one warm-up.
5. The layerinfo command: a small CNN (tests/digits_cnn.py) trained on the CPU, recorded with
   --device cpu and cuda, estimated with --device cpu and cuda; largest differences.
4. S3 (layerinfo.isometry.study.jacobian_table): the default config's Jacobian spectra on both
   devices; prints the largest relative difference of the spectrum statistics.

Exits non-zero when no GPU is seen. Written as a check to run where a GPU is lent; the CPU-only
test suite covers each step on the CPU.
"""

import argparse
import copy
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import torch
import yaml

from layerinfo.datasets import load_dataset, save_dataset
from layerinfo.information import information_plane_many
from layerinfo.infoplane.estimate import estimate_run
from layerinfo.isometry.study import jacobian_table
from layerinfo.training import train_runs

ROOT = Path(__file__).resolve().parent.parent
SECOND = "cuda"  # the device compared with the CPU (--second cpu tries the script without a GPU)
RUN = {
    "dataset": {"name": "tishby", "test_fraction": 0.2, "split_seed": 0, "split": "reference"},
    "architecture": {"hidden_widths": [10, 7, 5, 4, 3]},
    "initialisation": {"name": "truncnorm", "scheme": "truncated_normal", "gain": 1.0},
    "training": {"optimizer": "adam", "learning_rate": 0.0004, "batch_size": 256, "epochs": 1000, "l2": 0.0},
    "snapshots": {"count": 40},
}


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return out, time.perf_counter() - start


def read_file(path: Path) -> dict[str, np.ndarray]:
    values = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: values.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return values


def check_training(args, tmp: Path, report: dict) -> Path:
    dataset = tmp / "tishby.npz"
    save_dataset(load_dataset("tishby"), dataset)
    for activation, gain in (("tanh", 1.0), ("relu", 2.0)):
        runs = []
        for seed in range(args.members):
            run = copy.deepcopy(RUN)
            run.update(seed=seed, run=f"{activation}-s{seed}", activation=activation)
            run["initialisation"]["gain"] = gain
            run["training"]["epochs"] = args.epochs
            runs.append(run)
        files = {}
        for device in ("cpu", SECOND):
            outputs = [tmp / f"{device}-{r['run']}.h5" for r in runs]
            _, seconds = timed(train_runs, runs, dataset, outputs, device)
            files[device] = outputs
            print(f"train {activation}: {args.members} networks x {args.epochs} epochs on {device}: {seconds:.1f} s",
                  flush=True)
            report[f"train_{activation}_{device}_s"] = seconds
        worst, acc = {}, []
        for a, b in zip(files["cpu"], files[SECOND]):
            va, vb = read_file(a), read_file(b)
            for name in va:
                if va[name].dtype.kind == "f":
                    d = float(np.max(np.abs(va[name].astype(np.float64) - vb[name].astype(np.float64))))
                    worst[name.split("/")[0] + "/" + name.split("/")[-1]] = max(d, worst.get(name, 0.0))
            acc.append((va["history/test_acc"][-1], vb["history/test_acc"][-1]))
        print(f"train {activation}: largest |cpu - cuda| per dataset kind: "
              + ", ".join(f"{k} {v:.2e}" for k, v in sorted(worst.items())))
        print(f"train {activation}: final test accuracy cpu vs cuda per network: "
              + ", ".join(f"{x:.3f}/{y:.3f}" for x, y in acc), flush=True)
        report[f"train_{activation}_max_diff"] = worst
    return files["cpu"][0]


def check_estimation(path: Path, report: dict) -> None:
    with open(ROOT / "config.yaml") as f:
        estimators = yaml.safe_load(f)["information_plane"]["estimators"]
    tables = {}
    for device in ("cpu", SECOND):
        tables[device], seconds = timed(estimate_run, path, estimators, device, workers=1)
        print(f"estimate ({len(estimators)} estimators, {len(tables[device])} rows) on {device}: {seconds:.1f} s",
              flush=True)
        report[f"estimate_{device}_s"] = seconds
    a, b = tables["cpu"], tables[SECOND]
    for name in sorted(a["estimator"].unique()):
        sa, sb = a[a["estimator"] == name], b[b["estimator"] == name]
        dx = np.max(np.abs(sa["I_XT_bits"].to_numpy() - sb["I_XT_bits"].to_numpy()))
        dy = np.max(np.abs(sa["I_TY_bits"].to_numpy() - sb["I_TY_bits"].to_numpy()))
        print(f"estimate {name}: largest |cpu - cuda| I_XT {dx:.2e} bits, I_TY {dy:.2e} bits")
        report[f"estimate_{name}_max_diff_bits"] = [float(dx), float(dy)]


def check_kde_speed(report: dict) -> None:
    rng = np.random.default_rng(0)
    estimators = {"kde_upper": ("kde_upper", {"noise_variance": 0.1}),
                  "kde_lower": ("kde_lower", {"noise_variance": 0.1}),
                  "akde": ("akde", {"variant": "paper"})}
    for n, width in ((4096, 12), (4096, 64), (16384, 12)):
        t = np.tanh(rng.normal(size=(n, width))).astype(np.float32)
        y = rng.integers(0, 2, n)
        times, values = {}, {}
        for device in ("cpu", SECOND):
            values[device], _ = timed(information_plane_many, t, y, estimators, device)  # warm-up
            runs = [timed(information_plane_many, t, y, estimators, device)[1] for _ in range(3)]
            times[device] = statistics.median(runs)
        diff = max(abs(values["cpu"][k][q] - values[SECOND][k][q]) for k in estimators for q in ("I_XT", "I_TY"))
        print(f"KDE family, {n} x {width}: cpu {1e3 * times['cpu']:.0f} ms, cuda {1e3 * times[SECOND]:.0f} ms, "
              f"ratio {times['cpu'] / times[SECOND]:.1f}x, largest difference {diff:.2e} bits", flush=True)
        report[f"kde_{n}x{width}"] = {"cpu_s": times["cpu"], "cuda_s": times[SECOND], "max_diff_bits": diff}


# The tests' CNN the project does not define (docs/cli.md's walk-through network).
CLI_NET = Path(__file__).resolve().parents[1] / "tests" / "digits_cnn.py"


def check_cli(tmp: Path, report: dict) -> None:
    import pandas as pd
    from sklearn.datasets import load_digits

    from layerinfo.cli.main import main as cli

    sys.path.insert(0, str(CLI_NET.parent))
    from digits_cnn import build

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]
    y = digits.target
    torch.manual_seed(0)
    net = build()
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    xt, yt = torch.from_numpy(x[:1200]), torch.from_numpy(y[:1200])
    for epoch in range(1, 3):
        for batch in torch.randperm(1200).split(50):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(xt[batch]), yt[batch]).backward()
            opt.step()
        torch.save(net.state_dict(), tmp / f"epoch_{epoch}.pt")
    np.savez(tmp / "probe.npz", x_train=x[:1200], y_train=y[:1200], x_test=x[1200:], y_test=y[1200:])
    files = {}
    for device in ("cpu", SECOND):
        out = tmp / f"cli-{device}.h5"
        _, seconds = timed(cli, ["record", "--model", f"{CLI_NET}:build", "--weights", str(tmp / "epoch_*.pt"),
                                 "--data", str(tmp / "probe.npz"), "--reduce", "gap", "--device", device,
                                 "-o", str(out)])
        files[device] = read_file(out)
        print(f"cli record --device {device}: {seconds:.1f} s", flush=True)
    worst = max(float(np.max(np.abs(files["cpu"][k].astype(np.float64) - files[SECOND][k].astype(np.float64))))
                for k in files["cpu"] if files["cpu"][k].dtype.kind == "f" and k.startswith("layers"))
    print(f"cli record: largest |cpu - cuda| of recorded activations: {worst:.2e}")
    report["cli_record_max_diff"] = worst
    tables = {}
    for device in ("cpu", SECOND):
        out = tmp / f"cli-{device}.csv"
        _, seconds = timed(cli, ["estimate", str(tmp / "cli-cpu.h5"), "--estimators", "kde_upper,kde_lower,ebab",
                                 "--interval", "0.95", "--repeats", "10", "--device", device, "-o", str(out)])
        tables[device] = pd.read_csv(out)
        print(f"cli estimate --device {device} (3 estimators, intervals of 10 subsamples): {seconds:.1f} s", flush=True)
    cols = [c for c in ("I_XT", "I_TY", "ci_low", "ci_high", "I_XT_bits", "I_TY_bits") if c in tables["cpu"]]
    diff = max(float(np.nanmax(np.abs(tables["cpu"][c].to_numpy(float) - tables[SECOND][c].to_numpy(float))))
               for c in cols)
    print(f"cli estimate: largest |cpu - cuda| over {', '.join(cols)}: {diff:.2e} bits")
    report["cli_estimate_max_diff_bits"] = diff


def check_isometry(report: dict) -> None:
    with open(ROOT / "config.yaml") as f:
        section = yaml.safe_load(f)["isometry"]
    tables = {}
    for device in ("cpu", SECOND):
        (tables[device], _), seconds = timed(jacobian_table, section, device)
        print(f"isometry Jacobian spectra ({len(tables[device])} rows) on {device}: {seconds:.1f} s", flush=True)
        report[f"isometry_{device}_s"] = seconds
    numeric = [c for c in tables["cpu"].columns if tables["cpu"][c].dtype.kind == "f"]
    worst = {}
    for column in numeric:  # relative to the column's scale: statistics near 0 make row ratios meaningless
        a, b = tables["cpu"][column].to_numpy(), tables[SECOND][column].to_numpy()
        worst[column] = float(np.nanmax(np.abs(a - b)) / max(np.nanmax(np.abs(a)), 1e-300))
    print("isometry: largest |cpu - cuda| / largest |cpu| per statistic: "
          + ", ".join(f"{k} {v:.1e}" for k, v in worst.items()))
    report["isometry_max_rel_diff"] = worst


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--out", type=Path, help="folder for cuda_check.json")
    parser.add_argument("--second", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--steps", nargs="+", default=["training", "estimation", "kde speed", "isometry", "cli"])
    args = parser.parse_args()
    global SECOND
    SECOND = args.second
    if SECOND == "cuda" and not torch.cuda.is_available():
        sys.exit("cuda_check: torch sees no GPU")
    report = {"torch": torch.__version__, "cuda": torch.version.cuda, "gpu": torch.cuda.get_device_name(0) if SECOND == "cuda" else None,
              "python": platform.python_version(), "cpu_threads": torch.get_num_threads()}
    print(json.dumps(report), flush=True)
    steps = (("training", None), ("estimation", None), ("kde speed", check_kde_speed), ("isometry", check_isometry),
             ("cli", None))
    with tempfile.TemporaryDirectory() as tmp:
        cpu_file = None
        for name, step in steps:
            if name not in args.steps:
                continue
            try:
                if name == "training":
                    cpu_file = check_training(args, Path(tmp), report)
                elif name == "cli":
                    check_cli(Path(tmp), report)
                elif name == "estimation":
                    if cpu_file is not None:
                        check_estimation(cpu_file, report)
                else:
                    step(report)
            except Exception as error:  # one failing path must not hide the others' numbers
                print(f"{name}: FAILED: {type(error).__name__}: {error}", flush=True)
                report[f"{name}_error"] = f"{type(error).__name__}: {error}"
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "cuda_check.json").write_text(json.dumps(report, indent=1, default=float))


if __name__ == "__main__":
    main()
