"""Rule relevance_trajectory_figure: relevance trajectories of one experiment's S2 networks."""

from layerinfo.workflow.jobs import job_log
from layerinfo.relevance.plots import save_trajectory_figure

with job_log(snakemake.log[0]):
    save_trajectory_figure(snakemake.input[0], snakemake.wildcards.experiment, snakemake.output[0])
