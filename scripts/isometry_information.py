"""Rule isometry_information: mutual information between the inputs and each layer at initialisation."""

from layerinfo.workflow.devices import stage_device
from layerinfo.isometry.study import information_table
from layerinfo.workflow.jobs import job_log
from layerinfo.tables import write_csv

with job_log(snakemake.log[0], snakemake.threads):
    device = stage_device(snakemake.config, "isometry")  # recorded in the table's device column
    write_csv(information_table(snakemake.params.section, device), snakemake.output[0])
