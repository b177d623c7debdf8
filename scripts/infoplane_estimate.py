"""Rules estimate, isometry_estimate: every configured estimator on every snapshot and layer of
each run of one cell (input i -> output i)."""

from layerinfo.workflow.devices import stage_device
from layerinfo.infoplane.estimate import estimate_run
from layerinfo.workflow.jobs import job_log
from layerinfo.tables import write_csv

with job_log(snakemake.log[0], snakemake.threads):
    device = stage_device(snakemake.config, "estimate")  # recorded in the table's device column
    # With more than one thread (snakemake --set-threads estimate=N), snapshots run in N processes.
    for activations, estimates in zip(snakemake.input, snakemake.output, strict=True):
        table = estimate_run(activations, snakemake.params.estimators, device, workers=snakemake.threads)
        write_csv(table, estimates)
