# Targets, inputs and parameters of the coding-schemes study (rules in coding.smk).

CODING_POSTERIOR = "results/runs/coding/{task}/{nonlinearity}-{scaling}/posterior.h5"
CODING_FIGURES = (
    "readout_weights",
    "activation_maps",
    "kernels",
    "generalisation",
    "traces",
)
CODING_CAPTIONS = {
    "readout_weights": "coding_readout_weights",
    "activation_maps": "coding_activation_maps",
    "kernels": "coding_kernels",
    "generalisation": "coding_generalisation",
    "traces": "coding_traces",
}


def coding_runs():
    """(task, nonlinearity, scaling) of every run of the study."""
    section = study_section("coding")
    return [
        (task, nl, sc)
        for task in section["tasks"]
        for nl in section["nonlinearities"]
        for sc in section["scalings"]
    ]


def coding_posteriors(task=None):
    """Posterior files of every run (of one task if given)."""
    return [
        CODING_POSTERIOR.format(task=t, nonlinearity=nl, scaling=sc)
        for t, nl, sc in coding_runs()
        if task is None or t == task
    ]


def coding_all_posteriors(wildcards):
    return coding_posteriors()


def coding_task_posteriors(wildcards):
    return coding_posteriors(wildcards.task)


def coding_dataset(wildcards):
    """The dataset file of a task that reads one (none for the toy task)."""
    spec = study_section("coding")["tasks"][wildcards.task]
    return (
        [f"resources/datasets/{spec['dataset']}.npz"]
        if spec["kind"] == "dataset"
        else []
    )


def coding_run_config(wildcards):
    return lconfig.coding_run_config(
        config, wildcards.task, wildcards.nonlinearity, wildcards.scaling
    )


def coding_threshold(wildcards):
    return study_section("coding")["codes"]["threshold"]


def coding_criteria(wildcards):
    return dict(study_section("coding")["classifier"])


def coding_targets():
    tables = [
        "results/tables/coding_schemes.csv",
        "results/tables/coding_generalisation.csv",
        "results/tables/coding_codes.csv",
    ]
    figures = [
        f"results/figures/coding/{task}/{name}.png"
        for task in study_section("coding")["tasks"]
        for name in CODING_FIGURES
    ]
    return tables + figures + ["results/tables/claims_coding.csv"]


OPTIONAL_STUDIES["coding"] = coding_targets
