# Resources of the relevance study (rules in relevance.smk).

# Memory of one relevance job in MB at its first attempt, by dataset; a retry (--retries, the
# profiles) gets attempt times as much. MNIST: 60000 x 784 float64 inputs (0.38 GB) and the
# classifier's copy of them dominate; benchmarks/relevance_memory.py measures the generation
# step at that size against this value.
RELEVANCE_MEM_MB = {
    "digits": 1000,
    "mnist5k": 2000,
    "mnist": 4000,
    "fashion_mnist": 4000,
}


def relevance_mem_mb(wildcards, attempt):
    """Memory (MB) of a relevance job: the dataset's RELEVANCE_MEM_MB times the attempt."""
    return RELEVANCE_MEM_MB[study_section("relevance")["dataset"]] * attempt
