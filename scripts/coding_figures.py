"""Rule coding_figures: readout weights, activation maps, kernels, generalisation, chain traces, code drift and the slow statistics' equilibrium of one task."""

from layerinfo.coding.plots import save_coding_figures
from layerinfo.workflow.jobs import job_log

with job_log(snakemake.log[0], snakemake.threads):
    save_coding_figures(snakemake.input.posteriors, snakemake.input.generalisation, snakemake.wildcards.task,
                        snakemake.output.readout_weights, snakemake.output.activation_maps,
                        snakemake.output.kernels, snakemake.output.generalisation, snakemake.output.traces, snakemake.output.drift,
                        snakemake.output.equilibrium, snakemake.params.threshold)
