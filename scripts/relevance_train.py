"""Rule relevance_train_dbn: train the deep belief network and record its layers' states."""

from layerinfo.workflow.jobs import job_log
from layerinfo.relevance.study import train_study

with job_log(snakemake.log[0], snakemake.threads):
    train_study(snakemake.input[0], snakemake.params.section, snakemake.output.model, snakemake.output.states)
