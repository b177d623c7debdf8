"""Rule estimate: every configured estimator on every snapshot and layer of one run."""

from layerinfo.devices import stage_device
from layerinfo.estimate import estimate_run
from layerinfo.jobs import job_log
from layerinfo.tables import write_csv

with job_log(snakemake.log[0], snakemake.threads):
    device = stage_device(snakemake.config, "estimate")  # recorded in the table's device column
    write_csv(estimate_run(snakemake.input[0], snakemake.params.estimators, device), snakemake.output[0])
