# Targets and input helpers of the external target (rules/external.smk): your own networks.

from layerinfo.workflow import external as lexternal
from layerinfo.cli.names import figure_name

EXTERNAL = config.get("external", {})
EXTERNAL_NETWORKS = EXTERNAL.get("networks", {})
EXTERNAL_RUN = "results/runs/external/{network}/activations.h5"
EXTERNAL_ESTIMATES = "results/estimates/external/{network}.csv"
EXTERNAL_FIGURES = "results/figures/external/{network}"

# The files each network's job reads, checked now: a missing probe file or a weights glob that
# matches nothing fails at start, naming its key.
try:
    EXTERNAL_INPUTS = {
        name: lexternal.inputs(name, entry) for name, entry in EXTERNAL_NETWORKS.items()
    }
except lconfig.ConfigError as err:
    raise WorkflowError(str(err)) from None


def external_figures(network):
    """The information-plane figures of one network: one per split x estimator."""
    return [
        f"{EXTERNAL_FIGURES.format(network=network)}/{figure_name(network, split, estimator)}"
        for split in EXTERNAL["splits"]
        for estimator in EXTERNAL["estimators"]
    ]


def external_targets():
    section = study_section("external")
    return [
        path
        for network in section["networks"]
        for path in [EXTERNAL_ESTIMATES.format(network=network)]
        + external_figures(network)
    ] + ["results/tables/claims_external.csv"]


OPTIONAL_STUDIES["external"] = external_targets
CLAIM_STUDIES.append("external")
