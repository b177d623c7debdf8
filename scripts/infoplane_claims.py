"""Rule information_plane_claims: the study's published findings beside their measurements."""
import pandas as pd

from layerinfo.claims import write_claims
from layerinfo.infoplane.claims import information_plane_claims
from layerinfo.workflow.jobs import job_log

with job_log(snakemake.log[0]):
    claims = information_plane_claims(pd.read_csv(snakemake.input.compression), snakemake.params.section)
    write_claims(claims, snakemake.output[0], snakemake.params.config)
