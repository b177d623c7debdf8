"""Rule coding_claims: the study's published findings beside their measurements."""
import pandas as pd

from layerinfo.claims import write_claims
from layerinfo.coding.claims import coding_claims
from layerinfo.workflow.jobs import job_log

with job_log(snakemake.log[0]):
    write_claims(coding_claims(pd.read_csv(snakemake.input[0])), snakemake.output[0], snakemake.params.config)
