"""Rule aggregate_information_plane: all runs' rows, and their mean over seeds."""

from layerinfo.workflow.jobs import job_log
from layerinfo.tables import aggregate_over_seeds, read_csvs, write_csv

with job_log(snakemake.log[0]):
    rows = read_csvs(snakemake.input)
    write_csv(rows, snakemake.output.runs)
    write_csv(aggregate_over_seeds(rows), snakemake.output.mean)
