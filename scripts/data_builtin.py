"""Rule dataset_builtin: write a dataset generated in code or bundled with a pinned package."""

from layerinfo.datasets import load_dataset, save_dataset
from layerinfo.workflow.jobs import job_log

with job_log(snakemake.log[0]) as log:
    save_dataset(load_dataset(snakemake.wildcards.name), snakemake.output[0])
    log.info("wrote %s", snakemake.output[0])
