"""Kill test for longer runs: the workflow on a config, once uninterrupted and once killed with
SIGKILL N times at random moments (rerun after each until it completes); prints the kills
survived, the time redone, and every difference between the two sets of outputs.

    .venv/bin/python benchmarks/kill_test.py [--configfile config.yaml] [--kills 10] [--seed 0]
"""

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from layerinfo.workflow.killtest import compare_outputs, run_with_kills

ROOT = Path(__file__).resolve().parents[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configfile", default=str(ROOT / "config.yaml"))
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cores", default="all")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="layerinfo-kill-"))
    seconds = {}
    reports = {}
    for name, kills in (("reference", 0), ("killed", args.kills)):
        work = base / name
        work.mkdir()
        shutil.copy(args.configfile, work / "config.yaml")
        command = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory",
                   str(work), "--cores", args.cores]
        start = time.monotonic()
        delay = (2.0, max(3.0, 0.8 * seconds.get("reference", 60.0)))
        reports[name] = run_with_kills(command, [*command, "--unlock"], kills, np.random.default_rng(args.seed), delay)
        seconds[name] = time.monotonic() - start
        print(f"{name}: {reports[name].kills} kills, {reports[name].attempts} attempts, {seconds[name]:.0f} s", flush=True)
    problems = compare_outputs(base / "reference" / "results", base / "killed" / "results")
    print(f"survived {reports['killed'].kills} kills (at {reports['killed'].kill_times} s); "
          f"{seconds['killed'] - seconds['reference']:.0f} s of work redone or restarted")
    print("outputs identical to the uninterrupted run" if not problems else "DIFFERENCES:\n" + "\n".join(problems))
    print(f"work directories: {base}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
