"""Rule train: train every seed of one experiment x activation x initialisation together."""

from layerinfo.workflow.devices import stage_device
from layerinfo.workflow.jobs import job_log
from layerinfo.training import train_runs

with job_log(snakemake.log[0], snakemake.threads):
    train_runs(
        snakemake.params.runs,
        snakemake.input.dataset,
        list(snakemake.output),
        # runtime settings are read from the config, not params: changing them must not rerun
        # finished training (the device used is recorded in each activation file)
        device=stage_device(snakemake.config, "train"),
        checkpoint=snakemake.params.checkpoint,
        checkpoint_seconds=snakemake.config["runtime"]["checkpoint_seconds"],
        compression=snakemake.config["runtime"]["activation_compression"],
        resume_on_other_arithmetic=snakemake.config["runtime"]["resume_on_other_arithmetic"] or None,
    )
