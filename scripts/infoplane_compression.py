"""Rule compression_generalisation: each layer's compression per run and its correlation with generalisation."""

import pandas as pd

from layerinfo.infoplane.compression import compression_generalisation, compression_scores, generalisation
from layerinfo.workflow.jobs import job_log
from layerinfo.tables import write_csv

with job_log(snakemake.log[0]):
    scores = compression_scores(pd.read_csv(snakemake.input.estimates))
    general = generalisation(pd.read_csv(snakemake.input.history))
    write_csv(scores.merge(general, on=["experiment", "run"], validate="many_to_one"), snakemake.output.runs)
    write_csv(compression_generalisation(scores, general), snakemake.output.cells)
