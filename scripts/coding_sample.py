"""Rule coding_sample: Langevin posterior samples of one task x nonlinearity x scaling."""

from layerinfo.coding.posterior import sample_run
from layerinfo.workflow.jobs import job_log

with job_log(snakemake.log[0], snakemake.threads):
    sample_run(snakemake.params.run, snakemake.output[0], snakemake.input[0] if snakemake.input else None)
