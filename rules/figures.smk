# Figures -> results/figures/<study>/..., each wrapped in report() with a caption.


rule information_plane_figures:
    input:
        f"results/tables/{STUDY}.csv",
    output:
        [
            report(
                f"results/figures/{STUDY}/{{experiment}}/{{activation}}-{{init}}/{estimator}.png",
                caption="../report/information_plane.rst",
                category="Information plane",
                subcategory="{experiment}",
                labels={
                    "activation": "{activation}",
                    "initialisation": "{init}",
                    "estimator": estimator,
                },
            )
            for estimator in ESTIMATORS
        ],
    log:
        f"logs/figures/{STUDY}/{{experiment}}/{{activation}}-{{init}}.log",
    benchmark:
        f"benchmarks/information_plane_figures/{STUDY}/{{experiment}}/{{activation}}-{{init}}.tsv"
    conda:
        "../envs/layerinfo.yaml"
    container:
        stage_image("figures")
    params:
        estimators=ESTIMATORS,
    script:
        "../scripts/infoplane_figures.py"


rule training_curves:
    input:
        f"results/tables/{STUDY}_history.csv",
    output:
        report(
            f"results/figures/{STUDY}/{{experiment}}/training_curves.png",
            caption="../report/training_curves.rst",
            category="Training",
            labels={"experiment": "{experiment}"},
        ),
    log:
        f"logs/figures/{STUDY}/{{experiment}}/training_curves.log",
    benchmark:
        f"benchmarks/training_curves/{STUDY}/{{experiment}}/training_curves.tsv"
    conda:
        "../envs/layerinfo.yaml"
    container:
        stage_image("figures")
    script:
        "../scripts/infoplane_training_curves.py"


rule compression_figures:
    input:
        cells="results/tables/compression_generalisation.csv",
        runs=f"results/tables/{STUDY}_compression.csv",
    output:
        [
            report(
                f"results/figures/{STUDY}/{{experiment}}/compression/{estimator}.png",
                caption="../report/compression.rst",
                category="Compression and generalisation",
                labels={"experiment": "{experiment}", "estimator": estimator},
            )
            for estimator in ESTIMATORS
        ],
    log:
        f"logs/figures/{STUDY}/{{experiment}}/compression.log",
    benchmark:
        f"benchmarks/compression_figures/{STUDY}/{{experiment}}/compression.tsv"
    conda:
        "../envs/layerinfo.yaml"
    container:
        stage_image("figures")
    params:
        estimators=ESTIMATORS,
    script:
        "../scripts/infoplane_compression_figures.py"


rule information_plane:
    input:
        study_targets(STUDY),
