"""Rule dataset_tishby: generate the Shwartz-Ziv–Tishby dataset."""

from layerinfo.datasets import load_dataset, save_dataset
from layerinfo.jobs import job_log

with job_log(snakemake.log[0]) as log:
    save_dataset(load_dataset("tishby"), snakemake.output[0])
    log.info("wrote %s", snakemake.output[0])
