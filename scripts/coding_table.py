"""Rule coding_table: coding measures per run and layer, scheme labels and per-class generalisation."""

from layerinfo.coding.study import coding_tables
from layerinfo.workflow.jobs import job_log

with job_log(snakemake.log[0], snakemake.threads):
    coding_tables(snakemake.input, snakemake.output.schemes, snakemake.output.layers,
                  snakemake.output.generalisation, snakemake.output.codes, snakemake.params.threshold,
                  snakemake.params.criteria)
