# layerinfo: information in deep-network representations, regenerated from scratch.
# Table of contents; the rules live in rules/, the science in src/layerinfo.


from snakemake.utils import min_version

min_version("9.0")


# A config given with --configfile is the whole science config (the schema's defaults fill what
# it leaves out); config.yaml is the default only when none is given. Snakemake alone would merge
# the two key by key, running the default experiments and estimators beside the user's.
if not workflow.config_settings.configfiles:

    configfile: "config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"


# Image of rules that name none (the dataset rules); the others pick their stage's image.
container: stage_image("data")


include: "rules/data.smk"
include: "rules/train.smk"
include: "rules/estimate.smk"
include: "rules/figures.smk"
include: "rules/isometry.smk"
include: "rules/relevance.smk"
include: "rules/coding.smk"
include: "rules/external.smk"
include: "rules/claims.smk"


rule all:
    default_target: True
    input:
        all_targets,
