# Datasets -> resources/datasets/. The only rules that may reach the network live here.


# Datasets made without the network: generated in code (tishby) or bundled with a pinned
# package (digits, from scikit-learn).
rule dataset_builtin:
    output:
        "resources/datasets/{name}.npz",
    log:
        "logs/datasets/{name}.log",
    wildcard_constraints:
        name="tishby|digits",
    conda:
        "../envs/layerinfo.yaml"
    script:
        "../scripts/make_dataset.py"
