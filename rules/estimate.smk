# Estimators -> results/estimates/... (one tidy table per run) and results/tables/ (aggregates)


# All seeds of one experiment x activation x initialisation in one job, as they train: one
# start-up (Python, torch, the package: 2-3 s) per cell instead of one per seed.
rule estimate:
    input:
        expand(ACTIVATIONS, seed=S2_SEEDS, allow_missing=True),
    output:
        expand(ESTIMATES, seed=S2_SEEDS, allow_missing=True),
    log:
        "logs/estimate/{study}/{experiment}/{activation}-{init}.log",
    benchmark:
        "benchmarks/estimate/{study}/{experiment}/{activation}-{init}.tsv"
    wildcard_constraints:
        study=STUDY,
    conda:
        "../envs/layerinfo.yaml"
    container:
        stage_image("compute")
    threads: 1
    resources:
        mem_mb=memory_per_attempt(2000),
    params:
        estimators=S2.get("estimators", {}),
    script:
        "../scripts/infoplane_estimate.py"


rule aggregate_information_plane:
    input:
        run_files(ESTIMATES),
    output:
        runs=f"results/tables/{STUDY}_runs.csv",
        mean=report(
            f"results/tables/{STUDY}.csv",
            caption="../report/table_information_plane.rst",
            category="Information plane",
            subcategory="Tables",
        ),
    log:
        f"logs/aggregate_{STUDY}.log",
    benchmark:
        f"benchmarks/aggregate_information_plane/aggregate_{STUDY}.tsv"
    conda:
        "../envs/layerinfo.yaml"
    container:
        stage_image("compute")
    script:
        "../scripts/infoplane_aggregate.py"


rule training_history:
    input:
        run_files(ACTIVATIONS),
    output:
        f"results/tables/{STUDY}_history.csv",
    log:
        f"logs/training_history_{STUDY}.log",
    benchmark:
        f"benchmarks/training_history/training_history_{STUDY}.tsv"
    conda:
        "../envs/layerinfo.yaml"
    container:
        stage_image("compute")
    script:
        "../scripts/infoplane_history.py"


rule compression_generalisation:
    input:
        estimates=f"results/tables/{STUDY}_runs.csv",
        history=f"results/tables/{STUDY}_history.csv",
    output:
        runs=report(
            f"results/tables/{STUDY}_compression.csv",
            caption="../report/table_compression_runs.rst",
            category="Information plane",
            subcategory="Tables",
        ),
        cells=report(
            "results/tables/compression_generalisation.csv",
            caption="../report/table_compression_generalisation.rst",
            category="Information plane",
            subcategory="Tables",
        ),
    log:
        f"logs/compression_generalisation_{STUDY}.log",
    benchmark:
        f"benchmarks/compression_generalisation/compression_generalisation_{STUDY}.tsv"
    conda:
        "../envs/layerinfo.yaml"
    container:
        stage_image("compute")
    script:
        "../scripts/infoplane_compression.py"
