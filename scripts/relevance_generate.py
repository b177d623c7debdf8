"""Rule relevance_generate: every layer's RBM as a generator, and the scores of its samples."""

from layerinfo.workflow.jobs import job_log
from layerinfo.relevance.study import generation_study
from layerinfo.tables import write_csv

with job_log(snakemake.log[0], snakemake.threads):
    i, o = snakemake.input, snakemake.output
    write_csv(generation_study(i.model, i.dataset, snakemake.params.section, o.samples), o.table)
