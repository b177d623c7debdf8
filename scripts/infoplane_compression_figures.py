"""Rule compression_figures: compression per layer and against test accuracy, one figure per estimator."""

from layerinfo.workflow.jobs import job_log
from layerinfo.infoplane.plots import save_compression_figures

with job_log(snakemake.log[0]):
    save_compression_figures(snakemake.input.cells, snakemake.input.runs, snakemake.wildcards.experiment,
                             snakemake.params.estimators, snakemake.output)
