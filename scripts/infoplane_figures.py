"""Rule information_plane_figures: one information plane per estimator for one activation x initialisation."""

from layerinfo.workflow.jobs import job_log
from layerinfo.infoplane.plots import save_information_planes

with job_log(snakemake.log[0]):
    w = snakemake.wildcards
    save_information_planes(
        snakemake.input[0], w.experiment, w.activation, w.init, snakemake.params.estimators, snakemake.output
    )
