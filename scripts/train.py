"""Rule train: train every seed of one experiment x activation x initialisation together."""

from layerinfo.jobs import job_log
from layerinfo.training import train_runs

with job_log(snakemake.log[0], snakemake.threads):
    train_runs(
        snakemake.params.runs,
        snakemake.input.dataset,
        list(snakemake.output),
        checkpoint=snakemake.params.checkpoint,
        checkpoint_seconds=snakemake.params.checkpoint_seconds,
    )
