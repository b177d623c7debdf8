"""Rule information_plane_claims: the study's published findings beside their measurements."""
import pandas as pd

from layerinfo.claims import with_arithmetic, write_claims
from layerinfo.infoplane.claims import information_plane_claims
from layerinfo.workflow.jobs import job_log

with job_log(snakemake.log[0]):
    claims = information_plane_claims(pd.read_csv(snakemake.input.compression), snakemake.params.section)
    # the provenance says so when a run behind the claims was resumed on other arithmetic
    arithmetic = pd.read_csv(snakemake.input.history, usecols=["arithmetic"])["arithmetic"]
    write_claims(claims, snakemake.output[0], with_arithmetic(snakemake.params.config, arithmetic))
