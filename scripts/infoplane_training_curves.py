"""Rule training_curves: loss and accuracy of every run of one experiment."""

from layerinfo.workflow.jobs import job_log
from layerinfo.infoplane.plots import save_training_curves

with job_log(snakemake.log[0]):
    save_training_curves(snakemake.input[0], snakemake.wildcards.experiment, snakemake.output[0])
