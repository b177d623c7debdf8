# Study S4: coding schemes of Bayesian feature-learning networks (van Meegen & Sompolinsky 2025).
# Posterior samples per task x nonlinearity x scaling -> measures table -> figures per task.


include: "coding_common.smk"


rule coding_sample:
    input:
        coding_dataset,
    output:
        CODING_POSTERIOR,
    log:
        "logs/coding/sample/{task}/{nonlinearity}-{scaling}.log",
    benchmark:
        "benchmarks/coding/sample/{task}/{nonlinearity}-{scaling}.tsv"
    wildcard_constraints:
        task="[A-Za-z0-9_]+",
        nonlinearity="linear|erf|relu",
        scaling="feature|lazy",
    conda:
        "../envs/layerinfo.yaml"
    container:
        stage_image("compute")
    threads: 1
    params:
        run=coding_run_config,
    script:
        "../scripts/coding_sample.py"


rule coding_table:
    input:
        coding_all_posteriors,
    output:
        schemes="results/tables/coding_schemes.csv",
        generalisation="results/tables/coding_generalisation.csv",
        codes="results/tables/coding_codes.csv",
    log:
        "logs/coding/table.log",
    benchmark:
        "benchmarks/coding/table.tsv"
    conda:
        "../envs/layerinfo.yaml"
    container:
        stage_image("compute")
    threads: 1
    params:
        threshold=coding_threshold,
        criteria=coding_criteria,
    script:
        "../scripts/coding_table.py"


rule coding_figures:
    input:
        posteriors=coding_task_posteriors,
        generalisation="results/tables/coding_generalisation.csv",
    output:
        **{
            name: report(
                f"results/figures/coding/{{task}}/{name}.png",
                caption=f"../report/{CODING_CAPTIONS[name]}.rst",
                category="Coding schemes",
                subcategory="{task}",
                labels={"task": "{task}", "figure": name},
            )
            for name in CODING_FIGURES
        },
    log:
        "logs/coding/figures/{task}.log",
    conda:
        "../envs/layerinfo.yaml"
    container:
        stage_image("figures")
    threads: 1
    params:
        threshold=coding_threshold,
    script:
        "../scripts/coding_figures.py"


rule coding:
    input:
        study_targets("coding"),
