"""Rule train: train one network and write its activation file."""

from layerinfo.jobs import job_log
from layerinfo.training import train_run

with job_log(snakemake.log[0], snakemake.threads):
    train_run(snakemake.params.run, snakemake.input.dataset, snakemake.output[0])
