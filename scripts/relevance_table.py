"""Rule relevance_table: resolution, relevance and Zipf fits of every DBN layer and snapshot."""

from layerinfo.workflow.jobs import job_log
from layerinfo.relevance.study import measure_study

with job_log(snakemake.log[0], snakemake.threads):
    i, o = snakemake.input, snakemake.output
    measure_study(i.states, i.generation, snakemake.params.section, o.table, o.summary)
