"""Rule external_activations: record a model (layerinfo record) or import activations
(layerinfo import) into the network's activation file, as the command does."""

from layerinfo.cli.errors import CliError
from layerinfo.cli.main import run_command
from layerinfo.workflow.devices import stage_device
from layerinfo.workflow.external import activations_argv, in_config_terms
from layerinfo.workflow.jobs import job_log

with job_log(snakemake.log[0], snakemake.threads) as log:
    network = snakemake.wildcards.network
    device = stage_device(snakemake.config, "train")  # forward passes of a recorded model
    argv = activations_argv(network, snakemake.params.network, snakemake.output[0], device)
    log.info("layerinfo %s", " ".join(argv))
    try:
        run_command(argv)
    except (CliError, ValueError) as err:
        raise CliError(in_config_terms(" ".join(str(err).split()), network, "activations")) from None
