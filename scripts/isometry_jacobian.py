"""Rule isometry_jacobian: Jacobian spectra of random deep networks at initialisation."""

from layerinfo.workflow.devices import stage_device
from layerinfo.isometry.study import jacobian_table, write_spectra
from layerinfo.workflow.jobs import job_log
from layerinfo.tables import write_csv

with job_log(snakemake.log[0], snakemake.threads):
    device = stage_device(snakemake.config, "isometry")  # recorded in the table's device column
    table, spectra = jacobian_table(snakemake.params.section, device)
    write_spectra(spectra, snakemake.output.spectra, device)
    write_csv(table, snakemake.output.table)
