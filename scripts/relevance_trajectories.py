"""Rule relevance_trajectories: resolution and relevance of every S2 network at every snapshot."""

from layerinfo.jobs import job_log
from layerinfo.relevance_study import trajectories
from layerinfo.tables import write_csv

with job_log(snakemake.log[0], snakemake.threads):
    write_csv(trajectories(snakemake.input), snakemake.output[0])
