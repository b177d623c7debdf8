"""Rule isometry_jacobian: Jacobian spectra of random deep networks at initialisation."""

from layerinfo.isometry.study import jacobian_table, write_spectra
from layerinfo.jobs import job_log
from layerinfo.tables import write_csv

with job_log(snakemake.log[0], snakemake.threads):
    table, spectra = jacobian_table(snakemake.params.section)
    write_spectra(spectra, snakemake.output.spectra)
    write_csv(table, snakemake.output.table)
