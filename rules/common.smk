# Config validation, target lists, wildcard constraints and input helpers.

import os
import sys

from snakemake.exceptions import WorkflowError

# The workflow and its jobs import the package from this checkout, whatever environment
# runs them (a .venv with the package installed, a conda env, a container, a SLURM job that
# inherits the submitting environment). The workflow sets PYTHONPATH; it reads nothing from it.
# The checkout is found from this file, not from the main Snakefile, so that another Snakefile
# may include the workflow (the SLURM test does).
ROOT = os.path.dirname(workflow.current_basedir)
SRC = os.path.join(ROOT, "src")
sys.path.insert(0, SRC)
os.environ.update(
    PYTHONPATH=os.pathsep.join([SRC, *filter(None, [os.environ.get("PYTHONPATH")])])
)

from layerinfo.workflow import config as lconfig

try:
    lconfig.validate_config(config, os.path.join(ROOT, "schemas", "config.schema.yaml"))
except lconfig.ConfigError as err:
    raise WorkflowError(str(err)) from None

STUDY = lconfig.STUDY

from layerinfo.claims import config_label

# The config file(s) this run was given (config.yaml when none) and the resolved config's hash,
# written into every claims row so that two runs' verdicts can be told apart.
CONFIG_FILES = [
    str(p) for p in (getattr(workflow.config_settings, "configfiles", None) or [])
] or ["config.yaml"]
CONFIG_LABEL = config_label(config, "+".join(os.path.basename(p) for p in CONFIG_FILES))


def stage_image(stage):
    """Apptainer image of ``stage`` (data, compute or figures) from ``runtime.containers``.

    Used only with ``--sdm apptainer``; containers/<stage>.def builds it.
    """
    return config["runtime"]["containers"][stage]


RUNS = lconfig.runs(config)
# The information_plane section, empty when the config leaves the study out.
S2 = config.get(STUDY, {})
S2_SEEDS = S2.get("seeds", [0])
EXPERIMENTS = S2.get("experiments", {})
ESTIMATORS = list(S2.get("estimators", {}))
ACTIVATIONS = (
    "results/runs/{study}/{experiment}/{activation}-{init}-s{seed}/activations.h5"
)
ESTIMATES = "results/estimates/{study}/{experiment}/{activation}-{init}-s{seed}.csv"


wildcard_constraints:
    study="[A-Za-z0-9_]+",
    experiment="[A-Za-z0-9_]+",
    activation="[A-Za-z0-9_]+",
    init="[A-Za-z0-9_]+",
    seed="[0-9]+",


def memory_per_attempt(base_mb):
    """A ``mem_mb`` resource of ``base_mb`` on the first attempt, multiplied on each retry
    (``--retries``), so that a job killed for memory gets more the next time."""

    def mem_mb(wildcards, attempt):
        return base_mb * attempt

    return mem_mb


def run_files(pattern):
    """``pattern`` filled in for every run."""
    return [
        pattern.format(
            study=STUDY,
            experiment=r.experiment,
            activation=r.activation,
            init=r.initialisation,
            seed=r.seed,
        )
        for r in RUNS
    ]


def group_run_configs(wildcards):
    """The resolved configuration of every seed of one experiment x activation x initialisation."""
    return [
        lconfig.run_config(
            config, wildcards.experiment, wildcards.activation, wildcards.init, seed
        )
        for seed in config[STUDY]["seeds"]
    ]


def group_checkpoint(wildcards):
    """Checkpoint of one training job (not an output: it outlives a killed job)."""
    return (
        "results/runs/{study}/{experiment}/.{activation}-{init}.checkpoint.pt".format(
            **wildcards
        )
    )


def run_dataset(wildcards):
    """The dataset file a run trains on."""
    return f"resources/datasets/{config[STUDY]['dataset']['name']}.npz"


def information_plane_panels():
    """One (experiment, activation, initialisation) per set of information-plane figures."""
    return list(
        dict.fromkeys((r.experiment, r.activation, r.initialisation) for r in RUNS)
    )


def information_plane_targets():
    figures = [
        f"results/figures/{STUDY}/{experiment}/{activation}-{init}/{estimator}.png"
        for experiment, activation, init in information_plane_panels()
        for estimator in ESTIMATORS
    ]
    curves = [f"results/figures/{STUDY}/{e}/training_curves.png" for e in EXPERIMENTS]
    compression = [
        f"results/figures/{STUDY}/{e}/compression/{estimator}.png"
        for e in EXPERIMENTS
        for estimator in ESTIMATORS
    ]
    tables = [
        f"results/tables/{STUDY}.csv",
        f"results/tables/{STUDY}_runs.csv",
        f"results/tables/{STUDY}_history.csv",
        f"results/tables/{STUDY}_compression.csv",
        "results/tables/compression_generalisation.csv",
    ]
    return (
        tables + curves + compression + figures + [f"results/tables/claims_{STUDY}.csv"]
    )


# Every study is an optional config section: `all` runs the studies present, and a study's own
# target rule names the missing section.
OPTIONAL_STUDIES = {
    STUDY: information_plane_targets
}  # section name -> function returning that study's targets


def study_section(name):
    """The config section of study ``name``; a WorkflowError if the config has none."""
    if name == "external" and name not in config:
        raise WorkflowError(
            "the config has no 'external' section, so there is no network of yours to measure; "
            "add one naming them (external: {networks: {NAME: {model: nets.py:build, data: probe.npz}}}; "
            'see docs/cli.md, "In the workflow")'
        )
    if name not in config:
        raise WorkflowError(
            f"the config has no '{name}' section, so the '{name}' study cannot run; "
            f"add one with the keys to change ('{name}: {{}}' takes every default of "
            f"schemas/config.schema.yaml; see config/README.md)"
        )
    return config[name]


def study_targets(name):
    """Input function of a study's target rule: its targets, or a clear error."""

    def targets(wildcards):
        study_section(name)
        return OPTIONAL_STUDIES[name]()

    return targets


def all_targets(wildcards):
    """Every study present in the config, and what reproduced."""
    targets = []
    for name, study in OPTIONAL_STUDIES.items():
        if name in config:
            targets += study()
    return targets + ["results/tables/claims.csv", "results/claims.html"]


# Studies with a claims rule (rules/claims.smk; isometry_claims in rules/isometry.smk).
CLAIM_STUDIES = [STUDY, "relevance", "isometry", "coding"]


def claims_files(wildcards):
    """The claims file of every study in the config (rule claims merges them)."""
    return [
        f"results/tables/claims_{name}.csv" for name in CLAIM_STUDIES if name in config
    ]


# Study S3 (rules/isometry.smk): dynamical isometry.

ISOMETRY = config.get("isometry", {})
ISOMETRY_RUN = (
    "results/runs/isometry/trained/{activation}-{init}-s{seed}/activations.h5"
)
ISOMETRY_TRAINING_SEEDS = ISOMETRY.get("training", {}).get("seeds", [0])
ISOMETRY_TRAINING_ESTIMATORS = ISOMETRY.get("training", {}).get("estimators", {})
ISOMETRY_ESTIMATES = (
    "results/estimates/isometry/trained/{activation}-{init}-s{seed}.csv"
)


def isometry_meanfield_params(wildcards):
    """The part of the isometry section the mean-field rule depends on (as params, so edits rerun it)."""
    return {"meanfield": ISOMETRY["meanfield"]}


def isometry_runs():
    from layerinfo.isometry.study import training_runs

    return training_runs(ISOMETRY)


def isometry_run_files(pattern):
    return [
        pattern.format(
            activation=run["activation"],
            init=run["initialisation"]["name"],
            seed=run["seed"],
        )
        for run in isometry_runs()
    ]


def isometry_group_runs(wildcards):
    """Every seed of one initialisation of the trained networks."""
    return [
        run
        for run in isometry_runs()
        if run["initialisation"]["name"] == wildcards.init
    ]


def isometry_checkpoint(wildcards):
    return "results/runs/isometry/trained/.{activation}-{init}.checkpoint.pt".format(
        **wildcards
    )


def isometry_dataset(wildcards):
    return f"resources/datasets/{ISOMETRY['training']['dataset']['name']}.npz"


def isometry_estimators():
    return list(ISOMETRY["training"]["estimators"])


# Study S1 (rules/relevance.smk)


def relevance_targets():
    """Tables and figures of the relevance study."""
    targets = [
        "results/tables/relevance.csv",
        "results/tables/relevance_summary.csv",
        "results/tables/relevance_generation.csv",
        "results/figures/relevance/relevance_curve.png",
        "results/figures/relevance/rank_frequency.png",
        "results/figures/relevance/generated.png",
        "results/figures/relevance/generated_grid.png",
    ]
    # the trajectories measure the information_plane networks: none without that study
    if config["relevance"]["trajectories"] and STUDY in config:
        targets.append("results/tables/relevance_trajectories.csv")
        targets += [
            f"results/figures/relevance/trajectories_{e}.png" for e in EXPERIMENTS
        ]
    return targets + ["results/tables/claims_relevance.csv"]


def relevance_section(wildcards):
    """The relevance config section (a clear error when the config has none)."""
    return study_section("relevance")


def relevance_dataset(wildcards):
    """The dataset the DBN is trained on."""
    return f"resources/datasets/{study_section('relevance')['dataset']}.npz"


# Downloads (rules/data.smk)


def download_checksums(wildcards):
    """The file table replacing the pinned one for a dataset (empty: the pinned table)."""
    return dict(config.get("datasets", {}).get("checksums", {}).get(wildcards.name, {}))


def download_directory(wildcards):
    """Where the files of one downloaded dataset are kept (verified copies are reused)."""
    return f"resources/downloads/{wildcards.name}"
