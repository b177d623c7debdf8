"""Rule coding_table: coding measures per run and layer, convergence diagnostics, width scans and per-class generalisation."""

from layerinfo.coding.study import coding_tables
from layerinfo.workflow.jobs import job_log

with job_log(snakemake.log[0], snakemake.threads):
    coding_tables(snakemake.input, dict(snakemake.output.items()), snakemake.params.threshold)
