"""Rule coding_table: coding measures, scheme labels and per-class generalisation of every run."""

from layerinfo.coding.study import coding_tables
from layerinfo.workflow.jobs import job_log

with job_log(snakemake.log[0], snakemake.threads):
    coding_tables(snakemake.input, snakemake.output.schemes, snakemake.output.generalisation,
                  snakemake.output.codes, snakemake.params.threshold, snakemake.params.criteria)
