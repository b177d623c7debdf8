"""Rule estimate: every configured estimator on every snapshot and layer of one run."""

from layerinfo.estimate import estimate_run
from layerinfo.jobs import job_log
from layerinfo.tables import write_csv

with job_log(snakemake.log[0], snakemake.threads):
    write_csv(estimate_run(snakemake.input[0], snakemake.params.estimators), snakemake.output[0])
