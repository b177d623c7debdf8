# Study S1: resolution and relevance of the layers of a deep belief network, Zipf's law and
# generation (Song, Marsili & Jo 2018), plus the relevance trajectories of the S2 networks.
# -> results/runs/relevance/dbn/, results/tables/relevance*.csv, results/figures/relevance/


include: "relevance_common.smk"


RELEVANCE_DBN = "results/runs/relevance/dbn"

OPTIONAL_STUDIES["relevance"] = relevance_targets


rule relevance_train_dbn:
    input:
        relevance_dataset,
    output:
        model=f"{RELEVANCE_DBN}/model.pt",
        states=f"{RELEVANCE_DBN}/states.npz",
    log:
        "logs/relevance/train_dbn.log",
    benchmark:
        "benchmarks/relevance_train_dbn/train_dbn.tsv"
    conda:
        "../envs/layerinfo.yaml"
    container:
        stage_image("compute")
    threads: 1
    resources:
        mem_mb=relevance_mem_mb,
    params:
        section=relevance_section,
    script:
        "../scripts/relevance_train.py"


rule relevance_generate:
    input:
        model=f"{RELEVANCE_DBN}/model.pt",
        dataset=relevance_dataset,
    output:
        samples=f"{RELEVANCE_DBN}/generated.npz",
        table=report(
            "results/tables/relevance_generation.csv",
            caption="../report/table_relevance_generation.rst",
            category="Resolution and relevance",
            subcategory="Tables",
        ),
    log:
        "logs/relevance/generate.log",
    benchmark:
        "benchmarks/relevance_generate/generate.tsv"
    conda:
        "../envs/layerinfo.yaml"
    container:
        stage_image("compute")
    threads: 1
    resources:
        mem_mb=relevance_mem_mb,
    params:
        section=relevance_section,
    script:
        "../scripts/relevance_generate.py"


rule relevance_table:
    input:
        states=f"{RELEVANCE_DBN}/states.npz",
        generation="results/tables/relevance_generation.csv",
    output:
        table=report(
            "results/tables/relevance.csv",
            caption="../report/table_relevance.rst",
            category="Resolution and relevance",
            subcategory="Tables",
        ),
        summary=report(
            "results/tables/relevance_summary.csv",
            caption="../report/table_relevance_summary.rst",
            category="Resolution and relevance",
            subcategory="Tables",
        ),
    log:
        "logs/relevance/table.log",
    benchmark:
        "benchmarks/relevance_table/table.tsv"
    conda:
        "../envs/layerinfo.yaml"
    container:
        stage_image("compute")
    threads: 1
    resources:
        mem_mb=relevance_mem_mb,
    params:
        section=relevance_section,
    script:
        "../scripts/relevance_table.py"


rule relevance_figures:
    input:
        table="results/tables/relevance.csv",
        summary="results/tables/relevance_summary.csv",
        states=f"{RELEVANCE_DBN}/states.npz",
        samples=f"{RELEVANCE_DBN}/generated.npz",
        generation="results/tables/relevance_generation.csv",
    output:
        curve=report(
            "results/figures/relevance/relevance_curve.png",
            caption="../report/relevance_curve.rst",
            category="Resolution and relevance",
        ),
        rank=report(
            "results/figures/relevance/rank_frequency.png",
            caption="../report/relevance_rank_frequency.rst",
            category="Resolution and relevance",
        ),
        samples=report(
            "results/figures/relevance/generated.png",
            caption="../report/relevance_generated.rst",
            category="Resolution and relevance",
        ),
        grid=report(
            "results/figures/relevance/generated_grid.png",
            caption="../report/relevance_generated_grid.rst",
            category="Resolution and relevance",
        ),
    log:
        "logs/relevance/figures.log",
    benchmark:
        "benchmarks/relevance_figures/figures.tsv"
    conda:
        "../envs/layerinfo.yaml"
    container:
        stage_image("figures")
    resources:
        mem_mb=relevance_mem_mb,
    script:
        "../scripts/relevance_figures.py"


rule relevance_trajectories:
    input:
        run_files(ACTIVATIONS),
    output:
        "results/tables/relevance_trajectories.csv",
    log:
        "logs/relevance/trajectories.log",
    benchmark:
        "benchmarks/relevance_trajectories/trajectories.tsv"
    conda:
        "../envs/layerinfo.yaml"
    container:
        stage_image("compute")
    threads: 1
    resources:
        mem_mb=relevance_mem_mb,
    script:
        "../scripts/relevance_trajectories.py"


rule relevance_trajectory_figure:
    input:
        "results/tables/relevance_trajectories.csv",
    output:
        report(
            "results/figures/relevance/trajectories_{experiment}.png",
            caption="../report/relevance_trajectories.rst",
            category="Resolution and relevance",
            labels={"experiment": "{experiment}"},
        ),
    log:
        "logs/relevance/trajectories_{experiment}.log",
    benchmark:
        "benchmarks/relevance_trajectory_figure/trajectories_{experiment}.tsv"
    conda:
        "../envs/layerinfo.yaml"
    container:
        stage_image("figures")
    resources:
        mem_mb=relevance_mem_mb,
    script:
        "../scripts/relevance_trajectory_figure.py"


rule relevance:
    input:
        study_targets("relevance"),
