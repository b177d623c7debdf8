"""Rule external_estimate: every configured estimator on every split, snapshot and layer of one
network, with intervals and the shuffled-label null (as layerinfo estimate)."""

from layerinfo.cli.errors import CliError
from layerinfo.cli.estimate import estimate_table
from layerinfo.tables import write_csv
from layerinfo.workflow.devices import stage_device
from layerinfo.workflow.external import in_config_terms
from layerinfo.workflow.jobs import job_log

with job_log(snakemake.log[0], snakemake.threads) as log:
    section, network = snakemake.params.section, snakemake.wildcards.network
    subsample = section["subsample"]
    try:
        table = estimate_table(
            snakemake.input[0], section["estimators"], splits=section["splits"], interval=section["interval"],
            subsample=int(subsample) if subsample >= 1 else subsample, repeats=section["repeats"],
            seed=section["seed"], device=stage_device(snakemake.config, "estimate"), run=network)
    except (CliError, ValueError) as err:
        raise CliError(in_config_terms(" ".join(str(err).split()), network, "estimate")) from None
    write_csv(table, snakemake.output[0])
    log.info("%d rows, %d with warnings", len(table), int((table["warnings"].fillna("") != "").sum()))
