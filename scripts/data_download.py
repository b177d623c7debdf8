"""Rule dataset_download: fetch a dataset's files (checksums verified) and write its .npz."""

from layerinfo.datasets.download import download_and_save, file_table
from layerinfo.workflow.jobs import job_log

# Mirrors and timeout are read from the config, not params: changing them changes no result
# (every file is checked against its checksum), so it must not rerun the rule. A replaced file
# table (datasets.checksums) does change the data: it is a param.
settings = snakemake.config["datasets"]
with job_log(snakemake.log[0]) as log:
    download_and_save(
        snakemake.wildcards.name,
        snakemake.output[0],
        snakemake.params.directory,
        settings["mirrors"].get(snakemake.wildcards.name, []),
        files=file_table(snakemake.wildcards.name, snakemake.params.checksums),
        timeout=settings["timeout_seconds"],
    )
    log.info("wrote %s", snakemake.output[0])
