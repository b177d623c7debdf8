"""Rule external_figures: the information planes of one network (as layerinfo plot)."""

import pandas as pd

from layerinfo.cli.plot import draw_information_planes
from layerinfo.workflow.jobs import job_log

with job_log(snakemake.log[0]):
    written = draw_information_planes(pd.read_csv(snakemake.input[0]), snakemake.params.directory, "png",
                                      source=snakemake.input[0])
    missing = sorted(set(snakemake.output) - {str(p) for p in written})
    if missing:
        raise RuntimeError(f"the table {snakemake.input[0]} gave no figure for {', '.join(missing)}")
