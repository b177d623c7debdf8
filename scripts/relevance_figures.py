"""Rule relevance_figures: relevance curve, rank-frequency plots and generated samples of the DBN."""

from layerinfo.workflow.jobs import job_log
from layerinfo.relevance.plots import save_relevance_figures

with job_log(snakemake.log[0]):
    i, o = snakemake.input, snakemake.output
    save_relevance_figures(i.table, i.summary, i.states, i.samples, i.generation, o.curve, o.rank, o.samples, o.grid)
