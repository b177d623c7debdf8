# Datasets -> resources/datasets/. The only rules that may reach the network live here.


rule dataset_tishby:
    output:
        "resources/datasets/tishby.npz",
    log:
        "logs/dataset_tishby.log",
    conda:
        "../envs/layerinfo.yaml"
    script:
        "../scripts/make_tishby.py"
