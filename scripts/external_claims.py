"""Rule external_claims: the fitting and compression findings judged on each of your networks."""

import pandas as pd

from layerinfo.claims import write_claims
from layerinfo.cli.claims import external_claims, snapshot_counts
from layerinfo.workflow.jobs import job_log

with job_log(snakemake.log[0]) as log:
    tables = {name: pd.read_csv(path) for name, path in zip(snakemake.params.networks, snakemake.input, strict=True)}
    for name, count in snapshot_counts(tables).items():
        if count < 3:
            log.info("%s has %d snapshot(s): %s", name, count,
                     "no claims (one snapshot)" if count < 2 else "fitting only (compression needs 3)")
    write_claims(external_claims(tables), snakemake.output[0], snakemake.params.config)
