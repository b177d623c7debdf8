"""Rule external_activations: record a model (layerinfo record) or import activations
(layerinfo import) into the network's activation file, as the command does."""

from layerinfo.cli.main import run_command
from layerinfo.workflow.devices import stage_device
from layerinfo.workflow.external import activations_argv
from layerinfo.workflow.jobs import job_log

with job_log(snakemake.log[0], snakemake.threads) as log:
    device = stage_device(snakemake.config, "train")  # forward passes of a recorded model
    argv = activations_argv(snakemake.wildcards.network, snakemake.params.network, snakemake.output[0], device)
    log.info("layerinfo %s", " ".join(argv))
    run_command(argv)
