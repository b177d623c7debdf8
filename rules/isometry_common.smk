# Parameters and targets of the dynamical-isometry study (rules in isometry.smk). The
# section-wide helpers (ISOMETRY, the trained runs) are in common.smk.


def isometry_jacobian_params(wildcards):
    """What the spectra and the channel theory depend on (as params, so edits rerun them)."""
    networks = ISOMETRY["networks"]
    return {
        "nonlinearity": ISOMETRY["nonlinearity"],
        "sigma_b": ISOMETRY["sigma_b"],
        "networks": {
            **{k: networks[k] for k in ("inits", "sigma_w", "seeds", "jacobian")},
            "information": {"epsilon": networks["information"]["epsilon"]},
        },
    }


def isometry_information_params(wildcards):
    """What the channel information depends on."""
    networks = ISOMETRY["networks"]
    return {
        "nonlinearity": ISOMETRY["nonlinearity"],
        "networks": {k: networks[k] for k in ("inits", "seeds", "information")},
    }


def isometry_study_targets():
    """Tables, figures and claims of the study (and the trained networks' outputs)."""
    tables = [
        f"results/tables/isometry_{name}.csv"
        for name in (
            "meanfield",
            "critical_line",
            "jacobian",
            "channel_theory",
            "information",
            "training",
            "training_history",
        )
    ]
    figures = [
        f"results/figures/isometry/{name}.png"
        for name in (
            "phase_diagram",
            "jacobian_spectra",
            "information_vs_sigma_w",
            "information_theory",
        )
    ]
    trained = ["results/figures/isometry/trained/training_curves.png"]
    if "training" in ISOMETRY:
        phi = ISOMETRY["nonlinearity"]
        trained += [
            f"results/figures/isometry/trained/{phi}-{init}/{estimator}.png"
            for init in ISOMETRY["training"]["initialisations"]
            for estimator in isometry_estimators()
        ]
    return tables + figures + trained + ["results/tables/claims_isometry.csv"]


OPTIONAL_STUDIES["isometry"] = isometry_study_targets
