# Train networks -> results/runs/{study}/{experiment}/{run}/activations.h5
# All seeds of one experiment x activation x initialisation train together in one job
# (batched, see layerinfo.training.train_runs); each still gets its own activation file.


rule train:
    input:
        dataset=run_dataset,
    output:
        expand(
            "results/runs/{{study}}/{{experiment}}/{{activation}}-{{init}}-s{seed}/activations.h5",
            seed=S2_SEEDS,
        ),
    log:
        "logs/train/{study}/{experiment}/{activation}-{init}.log",
    benchmark:
        "benchmarks/train/{study}/{experiment}/{activation}-{init}.tsv"
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
        runs=group_run_configs,
        checkpoint=group_checkpoint,
    script:
        "../scripts/infoplane_train.py"
