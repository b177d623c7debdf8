"""Rules isometry_*_figure: one figure of study S3 from its table(s)."""

from layerinfo.isometry import plots
from layerinfo.workflow.jobs import job_log

with job_log(snakemake.log[0]):
    getattr(plots, f"save_{snakemake.params.figure}")(*snakemake.input, snakemake.output[0])
