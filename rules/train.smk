# Train networks -> results/runs/{study}/{experiment}/{run}/activations.h5


rule train:
    input:
        dataset=run_dataset,
    output:
        ACTIVATIONS,
    log:
        "logs/train/{study}/{experiment}/{activation}-{init}-s{seed}.log",
    benchmark:
        "benchmarks/train/{study}/{experiment}/{activation}-{init}-s{seed}.tsv"
    conda:
        "../envs/layerinfo.yaml"
    threads: 1
    resources:
        mem_mb=1000,
    params:
        run=run_config,
    script:
        "../scripts/train.py"
