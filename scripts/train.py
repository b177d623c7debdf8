"""Rule train: train every seed of one experiment x activation x initialisation together."""

from layerinfo.jobs import job_log
from layerinfo.training import train_runs

with job_log(snakemake.log[0], snakemake.threads):
    train_runs(
        snakemake.params.runs,
        snakemake.input.dataset,
        list(snakemake.output),
        checkpoint=snakemake.params.checkpoint,
        # read from the config, not a param: changing it must not rerun finished training
        checkpoint_seconds=snakemake.config["runtime"]["checkpoint_seconds"],
    )
