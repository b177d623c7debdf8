# Study S4: coding schemes of Bayesian feature-learning networks (van Meegen & Sompolinsky 2025).
# Posterior samples per task x nonlinearity x scaling -> measures table -> figures per task.


include: "coding_common.smk"


rule coding_sample:
    input:
        coding_dataset,
    output:
        CODING_POSTERIOR,
    log:
        "logs/coding/sample/{task}/{nonlinearity}-{scaling}-w{width}.log",
    benchmark:
        "benchmarks/coding_sample/{task}/{nonlinearity}-{scaling}-w{width}.tsv"
    wildcard_constraints:
        task="[A-Za-z0-9_]+",
        nonlinearity="linear|sigmoid|relu|erf",
        scaling="feature|lazy",
        width="[0-9]+",
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
        **{
            name: report(
                path,
                caption=f"../report/table_coding_{name}.rst",
                category="Coding schemes",
                subcategory="Tables",
            )
            for name, path in CODING_TABLES.items()
        },
    log:
        "logs/coding/table.log",
    benchmark:
        "benchmarks/coding_table/table.tsv"
    conda:
        "../envs/layerinfo.yaml"
    container:
        stage_image("compute")
    threads: 1
    params:
        threshold=coding_threshold,
    script:
        "../scripts/coding_table.py"


rule coding_figures:
    input:
        posteriors=coding_task_posteriors,
        generalisation=CODING_TABLES["generalisation"],
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
    benchmark:
        "benchmarks/coding_figures/{task}.tsv"
    conda:
        "../envs/layerinfo.yaml"
    container:
        stage_image("figures")
    threads: 1
    params:
        threshold=coding_threshold,
    script:
        "../scripts/coding_figures.py"


rule coding_widths_figure:
    input:
        CODING_TABLES["schemes"],
    output:
        report(
            "results/figures/coding/widths.png",
            caption="../report/coding_widths.rst",
            category="Coding schemes",
            labels={"figure": "widths"},
        ),
    log:
        "logs/coding/figures/widths.log",
    benchmark:
        "benchmarks/coding_widths_figure/widths.tsv"
    conda:
        "../envs/layerinfo.yaml"
    container:
        stage_image("figures")
    threads: 1
    script:
        "../scripts/coding_widths_figure.py"


rule coding:
    input:
        study_targets("coding"),
