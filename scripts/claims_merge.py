"""Rule claims: every study's claims in one table and one readable page."""
from layerinfo.claims import merge_claims
from layerinfo.workflow.jobs import job_log

with job_log(snakemake.log[0]) as log:
    frame = merge_claims(snakemake.input, snakemake.output.table, snakemake.output.page)
    for verdict, count in frame["verdict"].value_counts().items():
        log.info("%d claims %s", count, verdict)
