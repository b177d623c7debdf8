"""Rule coding_widths_figure: the sparse code's outlier neurons against the width."""

import pandas as pd

from layerinfo.coding.plots import widths_figure
from layerinfo.plotting import save_figure
from layerinfo.workflow.jobs import job_log

with job_log(snakemake.log[0]):
    save_figure(widths_figure(pd.read_csv(snakemake.input[0])), snakemake.output[0])
