"""Rule isometry_meanfield: the mean-field phase diagram and the critical line."""

from layerinfo.isometry.study import critical_line, meanfield_table
from layerinfo.workflow.jobs import job_log
from layerinfo.tables import write_csv

with job_log(snakemake.log[0], snakemake.threads):
    write_csv(meanfield_table(snakemake.params.section), snakemake.output.meanfield)
    write_csv(critical_line(snakemake.params.section), snakemake.output.line)
