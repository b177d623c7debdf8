# Targets, inputs and parameters of the coding-schemes study (rules in coding.smk).

CODING_POSTERIOR = (
    "results/runs/coding/{task}/{nonlinearity}-{scaling}-w{width}/posterior.h5"
)
CODING_FIGURES = (
    "readout_weights",
    "activation_maps",
    "kernels",
    "generalisation",
    "traces",
    "drift",
    "equilibrium",
)
CODING_CAPTIONS = {
    "readout_weights": "coding_readout_weights",
    "activation_maps": "coding_activation_maps",
    "kernels": "coding_kernels",
    "generalisation": "coding_generalisation",
    "traces": "coding_traces",
    "drift": "coding_drift",
    "equilibrium": "coding_equilibrium",
}
CODING_TABLES = {
    "schemes": "results/tables/coding_schemes.csv",
    "layers": "results/tables/coding_layers.csv",
    "generalisation": "results/tables/coding_generalisation.csv",
    "codes": "results/tables/coding_codes.csv",
    "diagnostics": "results/tables/coding_diagnostics.csv",
    "widths": "results/tables/coding_widths.csv",
}


def coding_runs():
    """(task, nonlinearity, scaling, width) of every run of the study."""
    study_section("coding")
    return lconfig.coding_runs(config)


def coding_posteriors(task=None):
    """Posterior files of every run (of one task if given)."""
    return [
        CODING_POSTERIOR.format(task=t, nonlinearity=nl, scaling=sc, width=w)
        for t, nl, sc, w in coding_runs()
        if task is None or t == task
    ]


def coding_all_posteriors(wildcards):
    return coding_posteriors()


def coding_task_posteriors(wildcards):
    return coding_posteriors(wildcards.task)


def coding_dataset(wildcards):
    """The dataset file of a task that reads one (none for generated tasks)."""
    spec = study_section("coding")["tasks"][wildcards.task]
    return (
        [f"resources/datasets/{spec['dataset']}.npz"]
        if spec["kind"] == "dataset"
        else []
    )


def coding_run_config(wildcards):
    return lconfig.coding_run_config(
        config,
        wildcards.task,
        wildcards.nonlinearity,
        wildcards.scaling,
        int(wildcards.width),
    )


def coding_threshold(wildcards):
    return study_section("coding")["codes"]["threshold"]


def coding_targets():
    figures = [
        f"results/figures/coding/{task}/{name}.png"
        for task in study_section("coding")["tasks"]
        for name in CODING_FIGURES
    ]
    return (
        list(CODING_TABLES.values())
        + figures
        + ["results/figures/coding/widths.png", "results/tables/claims_coding.csv"]
    )


OPTIONAL_STUDIES["coding"] = coding_targets
