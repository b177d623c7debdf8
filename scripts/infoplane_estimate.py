"""Rule estimate: every configured estimator on every snapshot and layer of one run."""

from layerinfo.workflow.devices import stage_device
from layerinfo.infoplane.estimate import estimate_run
from layerinfo.workflow.jobs import job_log
from layerinfo.tables import write_csv

with job_log(snakemake.log[0], snakemake.threads):
    device = stage_device(snakemake.config, "estimate")  # recorded in the table's device column
    # With more than one thread (snakemake --set-threads estimate=N), snapshots run in N processes.
    table = estimate_run(snakemake.input[0], snakemake.params.estimators, device, workers=snakemake.threads)
    write_csv(table, snakemake.output[0])
