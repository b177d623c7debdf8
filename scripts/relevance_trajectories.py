"""Rule relevance_trajectories: resolution and relevance of every S2 network at every snapshot."""

from layerinfo.workflow.jobs import job_log
from layerinfo.relevance.study import trajectories
from layerinfo.tables import write_csv

with job_log(snakemake.log[0], snakemake.threads):
    write_csv(trajectories(snakemake.input), snakemake.output[0])
