"""The default run from an empty results directory: wall time and CPU seconds per rule.

    .venv/bin/python benchmarks/default_run.py [--cores N] [--keep DIR] [--configfile FILE]

Runs what `make run` runs (the default target with profiles/default, then the report) in a
scratch working directory (`snakemake --directory`), so the checkout's own results/ is left
alone. Every job rule writes a Snakemake benchmark file under benchmarks/<rule>/; they are summed
per rule and printed largest wall time first, with the number of jobs, the longest job and the
CPU seconds. Wall times are exact; Snakemake samples a job's CPU time every 0.5 s for its first
15 s and every 30 s after that, so the per-rule CPU of long jobs is a lower bound, and the run's
total CPU time is taken from the operating system instead (user + system time of every process
the run started). The difference between the run's wall time and the summed job wall time
divided by the cores is Snakemake's own time (DAG, scheduling).
"""

import argparse
import csv
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SNAKEMAKE = Path(sys.executable).with_name("snakemake")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(cmd: list[str], log: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one command (CPU: it and every process it waited for)."""
    start, cpu = time.perf_counter(), children_cpu()
    with open(log, "a") as out:
        proc = subprocess.run(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}; see {log}")
    return elapsed, children_cpu() - cpu


def per_rule(benchmarks: Path) -> dict[str, dict[str, float]]:
    """Sum the benchmark TSVs by rule (the first folder under benchmarks/)."""
    rows: dict[str, dict[str, float]] = defaultdict(lambda: {"jobs": 0, "wall": 0.0, "cpu": 0.0, "longest": 0.0})
    for path in sorted(benchmarks.rglob("*.tsv")):
        rule = path.relative_to(benchmarks).parts[0]
        with open(path) as f:
            for record in csv.DictReader(f, delimiter="\t"):
                wall, cpu = float(record["s"]), float(record["cpu_time"])
                row = rows[rule]
                row["jobs"] += 1
                row["wall"] += wall
                row["cpu"] += cpu
                row["longest"] = max(row["longest"], wall)
    return dict(rows)


def report(rows: dict[str, dict[str, float]], wall: float, cpu_total: float, report_wall: float, cores: int) -> str:
    lines = [f"{'rule':34s} {'jobs':>4s} {'wall s':>8s} {'longest':>8s} {'CPU s*':>8s}"]
    for rule, row in sorted(rows.items(), key=lambda item: -item[1]["wall"]):
        lines.append(f"{rule:34s} {row['jobs']:4d} {row['wall']:8.1f} {row['longest']:8.1f} {row['cpu']:8.1f}")
    jobs = sum(r["jobs"] for r in rows.values())
    cpu = sum(r["cpu"] for r in rows.values())
    job_wall = sum(r["wall"] for r in rows.values())
    lines += [
        f"{'total':34s} {jobs:4d} {job_wall:8.1f} {'':8s} {cpu:8.1f}",
        "* Snakemake's sampled CPU time: a lower bound for jobs longer than 15 s",
        "",
        f"workflow wall time: {wall:.1f} s on {cores} cores ({jobs} jobs), CPU time {cpu_total:.1f} s; "
        f"report: {report_wall:.1f} s; make run total: {wall + report_wall:.1f} s",
        f"summed job wall / cores: {job_wall / cores:.1f} s; Snakemake's own share: "
        f"{max(wall - job_wall / cores, 0.0):.1f} s or more",
    ]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", type=int, default=os.cpu_count())
    parser.add_argument("--keep", type=Path, help="working directory to run in and keep (default: a temporary one)")
    parser.add_argument("--configfile", type=Path, default=ROOT / "config.yaml", help="config to run (default: config.yaml)")
    args = parser.parse_args()
    scratch = args.keep or Path(tempfile.mkdtemp(prefix="layerinfo-default-run-"))
    if scratch.exists() and any(scratch.iterdir()):
        sys.exit(f"{scratch} is not empty: the benchmark starts from an empty results directory")
    scratch.mkdir(parents=True, exist_ok=True)
    log = scratch / "snakemake.out"
    common = [str(SNAKEMAKE), "--directory", str(scratch), "--cores", str(args.cores), "--profile", "profiles/default",
              "--configfile", str(args.configfile.resolve())]
    print(f"running the default workflow in {scratch} on {args.cores} cores (log: {log}) ...", flush=True)
    wall, cpu_total = run(common, log)
    report_wall, _ = run(common + ["--report", str(scratch / "results" / "report.html")], log)
    print(report(per_rule(scratch / "benchmarks"), wall, cpu_total, report_wall, args.cores))
    if args.keep is None:
        shutil.rmtree(scratch)


if __name__ == "__main__":
    main()
