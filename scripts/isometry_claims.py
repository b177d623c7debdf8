"""Rule isometry_claims: the study's published findings against its tables (claims_isometry.csv)."""

from layerinfo.isometry.claims import write_isometry_claims
from layerinfo.workflow.jobs import job_log

with job_log(snakemake.log[0]):
    write_isometry_claims(snakemake.input.information, snakemake.input.theory, snakemake.input.jacobian,
                          snakemake.output[0], snakemake.params.config)
