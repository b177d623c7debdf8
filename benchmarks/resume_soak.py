"""Resume soak: train the same ensemble many times, each time killed with SIGKILL from outside at
random moments (checkpoints on a wall-clock cadence), every attempt a fresh process; compare each
result with an uninterrupted run of the same script and print how many resumed runs matched bit
for bit, how many resumes they went through, and every first differing epoch of those that did not.

    .venv/bin/python benchmarks/resume_soak.py [--rounds 10] [--kills 3] [--epochs 800] [--seed 0]
                                               [--activation tanh] [--checkpoint-seconds 0.2]
"""

import argparse
import copy
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from layerinfo.datasets import load_dataset, save_dataset
from layerinfo.h5io import open_activations
from layerinfo.workflow.killtest import first_differences

RUN = {
    "dataset": {"name": "tishby", "test_fraction": 0.2, "split_seed": 0},
    "architecture": {"hidden_widths": [10, 7, 5, 4, 3]},
    "initialisation": {"name": "tn", "scheme": "truncated_normal", "gain": 1.0},
    "training": {"optimizer": "adam", "learning_rate": 0.004, "batch_size": 256},
    "snapshots": {"count": 30},
}
# One attempt in a fresh process: the reference and the killed attempts run the same script.
TRAIN = """
import json, sys
from layerinfo.training import train_runs
spec = json.loads(sys.argv[1])
train_runs(spec["runs"], spec["dataset"], spec["outputs"], checkpoint=spec["checkpoint"],
           checkpoint_seconds=spec["checkpoint_seconds"])
"""


def _written_since(path: Path, moment: float) -> bool:
    try:
        return path.stat().st_mtime > moment
    except FileNotFoundError:
        return False


def run(spec: dict, kills: int, rng: np.random.Generator) -> int:
    """Attempts until one completes, the first ``kills`` killed at a random moment after their own
    first checkpoint; the number of kills."""
    checkpoint, done = Path(spec["checkpoint"]), 0
    while True:
        started = time.time()
        proc = subprocess.Popen([sys.executable, "-c", TRAIN, json.dumps(spec)], stderr=subprocess.PIPE, text=True)
        while proc.poll() is None and done < kills and not _written_since(checkpoint, started):
            time.sleep(0.02)
        deadline = time.monotonic() + rng.uniform(0.0, 1.0)
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        if proc.poll() is None and done < kills:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            done += 1
            continue
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"attempt failed with exit {proc.returncode}:\n{err[-3000:]}")
        return done


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=800)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--activation", default="tanh")
    parser.add_argument("--checkpoint-seconds", type=float, default=0.2)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="layerinfo-resume-soak-"))
    dataset = base / "tishby.npz"
    save_dataset(load_dataset("tishby"), dataset)
    runs = []
    for seed in (0, 1):
        member = copy.deepcopy(RUN)
        member["training"]["epochs"] = args.epochs
        member.update(seed=seed, run=f"{args.activation}-s{seed}", activation=args.activation)
        runs.append(member)

    def spec(name):
        return {"runs": runs, "dataset": str(dataset), "checkpoint": str(base / name / ".checkpoint.pt"),
                "outputs": [str(base / name / f"s{k}.h5") for k in range(len(runs))],
                "checkpoint_seconds": args.checkpoint_seconds}

    start = time.monotonic()
    reference = spec("reference")
    run(reference, 0, np.random.default_rng(0))
    print(f"reference: {time.monotonic() - start:.1f} s", flush=True)
    rng = np.random.default_rng(args.seed)
    matched, resumes = 0, 0
    for r in range(args.rounds):
        attempt = spec(f"round{r}")
        kills = run(attempt, args.kills, rng)
        with open_activations(attempt["outputs"][0]) as f:
            resumed = list(f.resumed_from)
        problems = [p for a, b in zip(reference["outputs"], attempt["outputs"]) for p in first_differences(a, b)]
        matched += not problems
        resumes += len(resumed)
        print(f"round {r}: {kills} kills, resumed from epochs {resumed}: "
              + ("identical" if not problems else "DIFFERENT\n  " + "\n  ".join(problems)), flush=True)
    print(f"{matched} of {args.rounds} killed runs matched the uninterrupted one bit for bit "
          f"({resumes} resumes in all; {time.monotonic() - start:.0f} s); work directory {base}")
    sys.exit(0 if matched == args.rounds else 1)


if __name__ == "__main__":
    main()
