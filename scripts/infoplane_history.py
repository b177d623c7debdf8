"""Rule training_history: the per-epoch history of every run in one table."""

from layerinfo.workflow.jobs import job_log
from layerinfo.tables import histories, write_csv

with job_log(snakemake.log[0]):
    write_csv(histories(snakemake.input), snakemake.output[0])
