# What reproduces (DESIGN §6): each study's claims -> results/tables/claims_<study>.csv, merged
# into results/tables/claims.csv and results/claims.html (the report's first category).


rule information_plane_claims:
    input:
        compression=f"results/tables/{STUDY}_compression.csv",
        history=f"results/tables/{STUDY}_history.csv",
    output:
        f"results/tables/claims_{STUDY}.csv",
    log:
        f"logs/claims/{STUDY}.log",
    benchmark:
        f"benchmarks/information_plane_claims/{STUDY}.tsv"
    conda:
        "../envs/layerinfo.yaml"
    container:
        stage_image("figures")
    params:
        section=S2,
        config=CONFIG_LABEL,
    script:
        "../scripts/infoplane_claims.py"


rule relevance_claims:
    input:
        table="results/tables/relevance.csv",
        generation="results/tables/relevance_generation.csv",
    output:
        "results/tables/claims_relevance.csv",
    log:
        "logs/claims/relevance.log",
    benchmark:
        "benchmarks/relevance_claims/relevance.tsv"
    conda:
        "../envs/layerinfo.yaml"
    container:
        stage_image("figures")
    params:
        config=CONFIG_LABEL,
    script:
        "../scripts/relevance_claims.py"


rule coding_claims:
    input:
        "results/tables/coding_schemes.csv",
    output:
        "results/tables/claims_coding.csv",
    log:
        "logs/claims/coding.log",
    benchmark:
        "benchmarks/coding_claims/coding.tsv"
    conda:
        "../envs/layerinfo.yaml"
    container:
        stage_image("figures")
    params:
        config=CONFIG_LABEL,
    script:
        "../scripts/coding_claims.py"


rule claims:
    input:
        claims_files,
    output:
        table=report(
            "results/tables/claims.csv",
            caption="../report/claims.rst",
            category="0 What reproduces",
        ),
        page=report(
            "results/claims.html",
            caption="../report/claims.rst",
            category="0 What reproduces",
        ),
    log:
        "logs/claims/merge.log",
    benchmark:
        "benchmarks/claims/merge.tsv"
    conda:
        "../envs/layerinfo.yaml"
    container:
        stage_image("figures")
    script:
        "../scripts/claims_merge.py"
