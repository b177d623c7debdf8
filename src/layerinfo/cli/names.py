"""File names shared by the command and the workflow's ``external`` rules (no heavy imports:
the workflow reads them while it plans)."""


def figure_name(run: str, split: str, estimator: str, fmt: str = "png") -> str:
    """File name of the information-plane figure of one run x split x estimator."""
    return f"infoplane_{run}_{split}_{estimator}.{fmt}"
