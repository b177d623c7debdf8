# Study S3: deep networks at initialisation as noisy channels; dynamical isometry.
# Mean field -> tables; random networks -> Jacobian spectra, channel information and its
# theory; networks trained from each initialisation -> the S2 estimators and training curves;
# the tables -> claims_isometry.csv.


include: "isometry_common.smk"


rule isometry_meanfield:
    output:
        meanfield=report(
            "results/tables/isometry_meanfield.csv",
            caption="../report/table_isometry_meanfield.rst",
            category="Dynamical isometry",
            subcategory="Tables",
        ),
        line=report(
            "results/tables/isometry_critical_line.csv",
            caption="../report/table_isometry_critical_line.rst",
            category="Dynamical isometry",
            subcategory="Tables",
        ),
    log:
        "logs/isometry/meanfield.log",
    benchmark:
        "benchmarks/isometry_meanfield/meanfield.tsv"
    conda:
        "../envs/layerinfo.yaml"
    container:
        stage_image("compute")
    params:
        section=isometry_meanfield_params,
    script:
        "../scripts/isometry_meanfield.py"


rule isometry_jacobian:
    output:
        table=report(
            "results/tables/isometry_jacobian.csv",
            caption="../report/table_isometry_jacobian.rst",
            category="Dynamical isometry",
            subcategory="Tables",
        ),
        spectra="results/isometry/jacobian_spectra.npz",
        theory=report(
            "results/tables/isometry_channel_theory.csv",
            caption="../report/table_isometry_channel_theory.rst",
            category="Dynamical isometry",
            subcategory="Tables",
        ),
    log:
        "logs/isometry/jacobian.log",
    benchmark:
        "benchmarks/isometry_jacobian/jacobian.tsv"
    conda:
        "../envs/layerinfo.yaml"
    container:
        stage_image("compute")
    threads: 1
    params:
        section=isometry_jacobian_params,
    script:
        "../scripts/isometry_jacobian.py"


rule isometry_information:
    output:
        report(
            "results/tables/isometry_information.csv",
            caption="../report/table_isometry_information.rst",
            category="Dynamical isometry",
            subcategory="Tables",
        ),
    log:
        "logs/isometry/information.log",
    benchmark:
        "benchmarks/isometry_information/information.tsv"
    conda:
        "../envs/layerinfo.yaml"
    container:
        stage_image("compute")
    threads: 1
    params:
        section=isometry_information_params,
    script:
        "../scripts/isometry_information.py"


rule isometry_claims:
    input:
        information=rules.isometry_information.output[0],
        theory=rules.isometry_jacobian.output.theory,
        jacobian=rules.isometry_jacobian.output.table,
    output:
        "results/tables/claims_isometry.csv",
    log:
        "logs/isometry/claims.log",
    benchmark:
        "benchmarks/isometry_claims/claims.tsv"
    conda:
        "../envs/layerinfo.yaml"
    container:
        stage_image("compute")
    params:
        config=CONFIG_LABEL,
    script:
        "../scripts/isometry_claims.py"


rule isometry_phase_diagram:
    input:
        rules.isometry_meanfield.output.meanfield,
        rules.isometry_meanfield.output.line,
    output:
        report(
            "results/figures/isometry/phase_diagram.png",
            caption="../report/isometry_phase_diagram.rst",
            category="Dynamical isometry",
        ),
    log:
        "logs/isometry/phase_diagram.log",
    benchmark:
        "benchmarks/isometry_phase_diagram/phase_diagram.tsv"
    conda:
        "../envs/layerinfo.yaml"
    container:
        stage_image("figures")
    params:
        figure="phase_diagram",
    script:
        "../scripts/plot_isometry.py"


rule isometry_spectra_figure:
    input:
        rules.isometry_jacobian.output.table,
        rules.isometry_jacobian.output.spectra,
    output:
        report(
            "results/figures/isometry/jacobian_spectra.png",
            caption="../report/isometry_jacobian_spectra.rst",
            category="Dynamical isometry",
        ),
    log:
        "logs/isometry/jacobian_spectra.log",
    benchmark:
        "benchmarks/isometry_spectra_figure/jacobian_spectra.tsv"
    conda:
        "../envs/layerinfo.yaml"
    container:
        stage_image("figures")
    params:
        figure="spectra",
    script:
        "../scripts/plot_isometry.py"


rule isometry_information_figure:
    input:
        rules.isometry_information.output,
    output:
        report(
            "results/figures/isometry/information_vs_sigma_w.png",
            caption="../report/isometry_information.rst",
            category="Dynamical isometry",
        ),
    log:
        "logs/isometry/information_figure.log",
    benchmark:
        "benchmarks/isometry_information_figure/information_figure.tsv"
    conda:
        "../envs/layerinfo.yaml"
    container:
        stage_image("figures")
    params:
        figure="information_vs_sigma_w",
    script:
        "../scripts/plot_isometry.py"


rule isometry_theory_figure:
    input:
        rules.isometry_information.output,
        rules.isometry_jacobian.output.theory,
    output:
        report(
            "results/figures/isometry/information_theory.png",
            caption="../report/isometry_information_theory.rst",
            category="Dynamical isometry",
        ),
    log:
        "logs/isometry/theory_figure.log",
    benchmark:
        "benchmarks/isometry_theory_figure/theory_figure.tsv"
    conda:
        "../envs/layerinfo.yaml"
    container:
        stage_image("figures")
    params:
        figure="information_theory",
    script:
        "../scripts/plot_isometry.py"


rule isometry_train:
    input:
        dataset=isometry_dataset,
    output:
        expand(
            "results/runs/isometry/trained/{{activation}}-{{init}}-s{seed}/activations.h5",
            seed=ISOMETRY_TRAINING_SEEDS,
        ),
    log:
        "logs/isometry/train/{activation}-{init}.log",
    benchmark:
        "benchmarks/isometry_train/{activation}-{init}.tsv"
    conda:
        "../envs/layerinfo.yaml"
    container:
        stage_image("compute")
    threads: 1
    resources:
        mem_mb=memory_per_attempt(2000),
    params:
        runs=isometry_group_runs,
        checkpoint=isometry_checkpoint,
    script:
        "../scripts/infoplane_train.py"


# The estimators on the trained networks, all seeds of one initialisation per job (as rule estimate).
rule isometry_estimate:
    input:
        expand(ISOMETRY_RUN, seed=ISOMETRY_TRAINING_SEEDS, allow_missing=True),
    output:
        expand(ISOMETRY_ESTIMATES, seed=ISOMETRY_TRAINING_SEEDS, allow_missing=True),
    log:
        "logs/estimate/isometry/trained/{activation}-{init}.log",
    benchmark:
        "benchmarks/isometry_estimate/{activation}-{init}.tsv"
    conda:
        "../envs/layerinfo.yaml"
    container:
        stage_image("compute")
    threads: 1
    resources:
        mem_mb=memory_per_attempt(2000),
    params:
        estimators=ISOMETRY_TRAINING_ESTIMATORS,
    script:
        "../scripts/infoplane_estimate.py"


rule isometry_aggregate:
    input:
        isometry_run_files(ISOMETRY_ESTIMATES) if "training" in ISOMETRY else [],
    output:
        runs="results/tables/isometry_training_runs.csv",
        mean=report(
            "results/tables/isometry_training.csv",
            caption="../report/table_isometry_training.rst",
            category="Dynamical isometry",
            subcategory="Tables",
        ),
    log:
        "logs/isometry/aggregate.log",
    benchmark:
        "benchmarks/isometry_aggregate/aggregate.tsv"
    conda:
        "../envs/layerinfo.yaml"
    container:
        stage_image("compute")
    script:
        "../scripts/infoplane_aggregate.py"


rule isometry_history:
    input:
        isometry_run_files(ISOMETRY_RUN) if "training" in ISOMETRY else [],
    output:
        "results/tables/isometry_training_history.csv",
    log:
        "logs/isometry/training_history.log",
    benchmark:
        "benchmarks/isometry_history/training_history.tsv"
    conda:
        "../envs/layerinfo.yaml"
    container:
        stage_image("compute")
    script:
        "../scripts/infoplane_history.py"


rule isometry_training_curves:
    input:
        rules.isometry_history.output,
    output:
        report(
            "results/figures/isometry/{experiment}/training_curves.png",
            caption="../report/isometry_training.rst",
            category="Dynamical isometry",
            subcategory="Training",
        ),
    log:
        "logs/isometry/{experiment}/training_curves.log",
    benchmark:
        "benchmarks/isometry_training_curves/{experiment}/training_curves.tsv"
    conda:
        "../envs/layerinfo.yaml"
    container:
        stage_image("figures")
    script:
        "../scripts/infoplane_training_curves.py"


rule isometry_information_planes:
    input:
        rules.isometry_aggregate.output.mean,
    output:
        [
            report(
                f"results/figures/isometry/{{experiment}}/{{activation}}-{{init}}/{estimator}.png",
                caption="../report/isometry_training.rst",
                category="Dynamical isometry",
                subcategory="Information planes after training",
                labels={"initialisation": "{init}", "estimator": estimator},
            )
            for estimator in ISOMETRY_TRAINING_ESTIMATORS
        ],
    log:
        "logs/isometry/{experiment}/{activation}-{init}.log",
    benchmark:
        "benchmarks/isometry_information_planes/{experiment}/{activation}-{init}.tsv"
    conda:
        "../envs/layerinfo.yaml"
    container:
        stage_image("figures")
    params:
        estimators=list(ISOMETRY_TRAINING_ESTIMATORS),
    script:
        "../scripts/infoplane_figures.py"


rule isometry:
    input:
        study_targets("isometry"),
