"""Rule relevance_claims: the study's published findings beside their measurements."""
import pandas as pd

from layerinfo.claims import write_claims
from layerinfo.relevance.claims import relevance_claims
from layerinfo.workflow.jobs import job_log

with job_log(snakemake.log[0]):
    claims = relevance_claims(pd.read_csv(snakemake.input.table), pd.read_csv(snakemake.input.generation))
    write_claims(claims, snakemake.output[0], snakemake.params.config)
