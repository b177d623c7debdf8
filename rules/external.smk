# Your own networks (docs/cli.md, "In the workflow"): each entry of external.networks recorded
# (a torch model) or imported (activations you have) with the `layerinfo` command, estimated
# with intervals, plotted, and judged on the fitting and compression findings.
# -> results/runs/external/, results/estimates/external/, results/figures/external/,
#    results/tables/claims_external.csv


include: "external_common.smk"


wildcard_constraints:
    network="[A-Za-z0-9_]+",


rule external_activations:
    input:
        lambda wildcards: EXTERNAL_INPUTS[wildcards.network],
    output:
        EXTERNAL_RUN,
    log:
        "logs/external/{network}/activations.log",
    benchmark:
        "benchmarks/external_activations/{network}.tsv"
    conda:
        "../envs/layerinfo.yaml"
    container:
        stage_image("compute")
    threads: 1
    resources:
        mem_mb=memory_per_attempt(2000),
    params:
        network=lambda wildcards: EXTERNAL_NETWORKS[wildcards.network],
    script:
        "../scripts/external_activations.py"


rule external_estimate:
    input:
        EXTERNAL_RUN,
    output:
        report(
            EXTERNAL_ESTIMATES,
            caption="../report/table_external.rst",
            category="Your networks",
            labels={"network": "{network}", "table": "estimates"},
        ),
    log:
        "logs/external/{network}/estimate.log",
    benchmark:
        "benchmarks/external_estimate/{network}.tsv"
    conda:
        "../envs/layerinfo.yaml"
    container:
        stage_image("compute")
    threads: 1
    resources:
        mem_mb=memory_per_attempt(2000),
    params:
        section={k: v for k, v in EXTERNAL.items() if k != "networks"},
    script:
        "../scripts/external_estimate.py"


rule external_figures:
    input:
        EXTERNAL_ESTIMATES,
    output:
        [
            report(
                f"{EXTERNAL_FIGURES}/{figure_name('{network}', split, estimator)}",
                caption="../report/external_information_plane.rst",
                category="Your networks",
                labels={
                    "network": "{network}",
                    "split": split,
                    "estimator": estimator,
                },
            )
            for split in EXTERNAL.get("splits", [])
            for estimator in EXTERNAL.get("estimators", {})
        ],
    log:
        "logs/external/{network}/figures.log",
    benchmark:
        "benchmarks/external_figures/{network}.tsv"
    conda:
        "../envs/layerinfo.yaml"
    container:
        stage_image("figures")
    params:
        directory=EXTERNAL_FIGURES,
    script:
        "../scripts/external_figures.py"


rule external_claims:
    input:
        expand(EXTERNAL_ESTIMATES, network=EXTERNAL_NETWORKS),
    output:
        "results/tables/claims_external.csv",
    log:
        "logs/claims/external.log",
    benchmark:
        "benchmarks/external_claims/external.tsv"
    conda:
        "../envs/layerinfo.yaml"
    container:
        stage_image("figures")
    params:
        networks=list(EXTERNAL_NETWORKS),
        config=CONFIG_LABEL,
    script:
        "../scripts/external_claims.py"


rule external:
    input:
        study_targets("external"),
