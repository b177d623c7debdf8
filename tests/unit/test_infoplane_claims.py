"""S2 claims (layerinfo.infoplane.claims) driven to each verdict by hand-made compression tables."""

import math

import numpy as np
import pandas as pd
import pytest

from layerinfo import claims as c
from layerinfo.infoplane.claims import information_plane_claims, l2_difference, not_positive_verdict

R, N, I = c.REPRODUCED, c.NOT_REPRODUCED, c.INCONCLUSIVE
ESTIMATORS = {"ebab": {"method": "ebab", "n_bins": 30}, "akde_paper": {"method": "akde", "variant": "paper", "scale": 0.1}}
SECTION = {"training": {"l2": 0.0}, "experiments": {"main": {}, "l2": {"training": {"l2": 0.015}}},
           "estimators": ESTIMATORS}
NO_L2 = {"training": {"l2": 0.0}, "experiments": {"main": {}}, "estimators": ESTIMATORS}
HIDDEN = ("hidden1", "hidden2", "hidden3")


def compression_rows(compress, test_acc=None, train_acc=None, activations=("relu", "tanh"), seeds=12,
                     l2_shift=None, akde=None):
    """A per-run compression table: layers 0-2 hidden and 3 the softmax output.

    ``compress(activation, seed, layer)`` gives compression_bits (``akde`` the aKDE's, if given);
    I_XT_max_bits is 10. ``test_acc`` / ``train_acc`` ``(activation, seed, experiment)`` give the
    run's accuracies. ``l2_shift(layer)`` adds to the compression of the experiment with L2 (none
    when None).
    """
    rows = []
    experiments = {"main": 0.0} if l2_shift is None else {"main": 0.0, "l2": 0.015}
    for experiment, l2 in experiments.items():
        for activation in activations:
            for seed in range(seeds):
                test = test_acc(activation, seed, experiment) if test_acc else 0.9
                train = train_acc(activation, seed, experiment) if train_acc else 1.0
                for layer in range(4):
                    for estimator, spec in ESTIMATORS.items():
                        f = akde if (akde and spec["method"] == "akde") else compress
                        bits = f(activation, seed, layer) + (l2_shift(layer) if l2 else 0.0)
                        rows.append({"study": "information_plane", "experiment": experiment,
                                     "activation": activation, "initialisation": "truncnorm", "seed": seed,
                                     "run": f"{activation}-truncnorm-s{seed}", "estimator": estimator,
                                     "method": spec["method"], "layer": layer,
                                     "layer_name": "output" if layer == 3 else f"hidden{layer + 1}",
                                     "units": 4, "I_XT_max_bits": 10.0, "I_XT_final_bits": 10.0 - bits,
                                     "compression_bits": bits, "test_acc": test, "train_acc": train})
    return pd.DataFrame(rows)


def by_id(claims):
    return {claim.claim: claim for claim in claims}


# test accuracy rising with the seed; a compression with exactly zero Pearson r against it
# (symmetric about the middle seed 5.5)
ACC = lambda a, s, e: 0.8 + 0.02 * s  # noqa: E731
FLAT = lambda s: 2.0 + (s - 5.5) ** 2 / 10  # noqa: E731


def the_paper(a, s, layer):
    """The paper's picture: the output layer compresses with accuracy, hidden layers do not."""
    return 1.0 + 0.5 * s if layer == 3 else FLAT(s) + layer


def test_the_papers_picture_reproduces_every_row_under_both_estimators():
    test = lambda a, s, e: ACC(a, s, e) + (0.05 if e == "l2" else 0.0)  # noqa: E731
    got = by_id(information_plane_claims(compression_rows(the_paper, test, l2_shift=lambda layer: 1.0), SECTION))
    for estimator in ESTIMATORS:
        for claim in ("s2_compression_without_saturation", "s2_output_compression_correlates",
                      "s2_output_compression_correlates_raw",
                      *(f"s2_{h}_compression_not_correlated" for h in HIDDEN),
                      *(f"s2_l2_increases_compression_{h}" for h in HIDDEN)):
            assert got[f"{claim}_{estimator}"].verdict == R, (claim, estimator)
        assert got[f"s2_l2_increases_compression_hidden2_{estimator}"].value == pytest.approx(1.0)
        # a hidden layer's r is exactly 0; its interval over 4 cells of 12 seeds is tanh(+-1.96/6)
        hidden = got[f"s2_hidden3_compression_not_correlated_{estimator}"]
        assert hidden.value == pytest.approx(0.0, abs=1e-12)
        assert hidden.ci_high == pytest.approx(math.tanh(1.959964 / 6), rel=1e-5) and hidden.n == 48
    assert got["s2_compression_without_saturation_ebab"].criterion.startswith("EBAB decides")
    assert got["s2_compression_without_saturation_akde_paper"].criterion.startswith("secondary")
    assert not any("estimator-dependent" in claim.criterion for claim in got.values())
    gap = got["s2_l2_prevents_overfitting"]
    # the gap is 0.05 smaller with L2; each cell's s.d. is 0.02 * sd(0..11)
    half = 1.959964 * math.sqrt(4 * (0.02 * np.std(np.arange(12), ddof=1)) ** 2 / 12) / 2
    assert gap.verdict == R and gap.value == pytest.approx(-0.05)
    assert (gap.ci_low, gap.ci_high) == pytest.approx((-0.05 - half, -0.05 + half))
    # every row quotes the paper
    assert all("Chelombiev et al. 2019, abstract" in claim.statement for claim in got.values())


def test_a_positively_correlated_hidden_layer_does_not_reproduce_and_disagreement_is_marked():
    # under EBAB the last hidden layer (2) tracks accuracy; under the aKDE it does not
    ebab = lambda a, s, layer: 1.0 + 0.5 * s if layer >= 2 else FLAT(s)  # noqa: E731
    got = by_id(information_plane_claims(compression_rows(ebab, ACC, akde=the_paper), NO_L2))
    assert got["s2_hidden3_compression_not_correlated_ebab"].verdict == N
    assert got["s2_hidden3_compression_not_correlated_akde_paper"].verdict == R
    for estimator in ESTIMATORS:
        criterion = got[f"s2_hidden3_compression_not_correlated_{estimator}"].criterion
        assert criterion.endswith("estimator-dependent (ebab: not reproduced, akde_paper: reproduced)")
        # the layers both estimators agree on are not marked
        assert "estimator-dependent" not in got[f"s2_hidden1_compression_not_correlated_{estimator}"].criterion
    # one layer's correlation: n counts runs, never runs x layers
    assert {got[f"s2_{h}_compression_not_correlated_ebab"].n for h in HIDDEN} == {24}


def test_a_hidden_layer_with_a_wide_interval_is_inconclusive():
    # one cell of 5 seeds: r = 0 but the interval reaches far above 0.5
    five = lambda a, s, layer: 2.0 + (s - 2) ** 2  # noqa: E731
    got = by_id(information_plane_claims(compression_rows(five, ACC, activations=("relu",), seeds=5), NO_L2))
    claim = got["s2_hidden1_compression_not_correlated_ebab"]
    assert claim.verdict == I and claim.value == pytest.approx(0.0, abs=1e-12)
    assert claim.ci_high == pytest.approx(math.tanh(1.959964 / math.sqrt(2)), rel=1e-5)
    # four seeds or fewer per cell: no interval at all
    got = by_id(information_plane_claims(compression_rows(the_paper, ACC, seeds=3), NO_L2))
    assert got["s2_hidden1_compression_not_correlated_ebab"].verdict == I
    assert got["s2_output_compression_correlates_ebab"].verdict == I


@pytest.mark.parametrize("r, low, high, n, verdict", [
    (0.1, -0.1, 0.3, 50, R), (-0.4, -0.6, -0.2, 50, R), (0.3, 0.05, 0.5, 50, N),
    (0.2, -0.2, 0.55, 20, I), (0.0, math.nan, math.nan, 3, I), (0.1, -0.1, 0.3, 3, I)])
def test_not_positive_verdict(r, low, high, n, verdict):
    assert not_positive_verdict(r, low, high, n) == verdict


def test_output_layer_within_cells_against_all_runs_pooled():
    # within each activation r = 1, but the better-generalising activation compresses less:
    # pooled raw over both cells the correlation is negative (Simpson's paradox)
    acc = lambda a, s, e: (0.9 if a == "relu" else 0.5) + 0.001 * s  # noqa: E731
    comp = lambda a, s, layer: (1.0 if a == "relu" else 5.0) + 0.1 * s if layer == 3 else FLAT(s)  # noqa: E731
    got = by_id(information_plane_claims(compression_rows(comp, acc), NO_L2))
    assert got["s2_output_compression_correlates_ebab"].verdict == R
    raw = got["s2_output_compression_correlates_raw_ebab"]
    x = np.r_[1.0 + 0.1 * np.arange(12), 5.0 + 0.1 * np.arange(12)]
    y = np.r_[0.9 + 0.001 * np.arange(12), 0.5 + 0.001 * np.arange(12)]
    assert raw.verdict == N and raw.value == pytest.approx(np.corrcoef(x, y)[0, 1]) and raw.n == 24
    assert raw.criterion.startswith("secondary: all runs pooled")
    # compression falling with accuracy in every cell: not reproduced
    falling = lambda a, s, layer: 10.0 - 0.5 * s  # noqa: E731
    got = by_id(information_plane_claims(compression_rows(falling, ACC), NO_L2))
    assert got["s2_output_compression_correlates_ebab"].verdict == N


def test_l2_rows_per_layer_and_overfitting():
    shift = lambda layer: -1.0 if layer == 0 else 1.0  # noqa: E731
    lower = lambda a, s, e: ACC(a, s, e) - (0.05 if e == "l2" else 0.0)  # noqa: E731
    got = by_id(information_plane_claims(compression_rows(the_paper, lower, l2_shift=shift), SECTION))
    assert got["s2_l2_increases_compression_hidden1_ebab"].verdict == N
    assert got["s2_l2_increases_compression_hidden1_ebab"].value == pytest.approx(-1.0)
    assert got["s2_l2_increases_compression_hidden2_ebab"].verdict == R
    assert not any(k.startswith("s2_l2_increases_compression_output") for k in got)
    assert got["s2_l2_prevents_overfitting"].verdict == N  # the gap grows by 0.05 with L2
    # no experiment with L2: nothing to compare
    got = by_id(information_plane_claims(compression_rows(the_paper, ACC), NO_L2))
    assert got["s2_l2_prevents_overfitting"].verdict == I and got["s2_l2_prevents_overfitting"].n == 0
    assert got["s2_l2_increases_compression_hidden3_ebab"].verdict == I
    # one seed per cell: no interval, so no verdict either way
    got = by_id(information_plane_claims(compression_rows(the_paper, lower, seeds=1, l2_shift=shift), SECTION))
    assert got["s2_l2_prevents_overfitting"].verdict == I
    assert got["s2_l2_increases_compression_hidden2_ebab"].verdict == I


def test_l2_difference_pairs_cells_and_sums_their_variances():
    runs = pd.DataFrame({"experiment": ["main"] * 3 + ["l2"] * 3, "activation": "relu",
                         "initialisation": "truncnorm", "x": [1.0, 2.0, 3.0, 3.0, 4.0, 8.0]})
    value, low, high, pairs, n = l2_difference(runs, "x", SECTION)
    # means 2 and 5, variances 1/3 and 7/3 of the means
    assert (value, pairs, n) == (3.0, 1, 6)
    assert high - value == pytest.approx(1.959964 * math.sqrt(1 / 3 + 7 / 3), rel=1e-6)


def test_activation_and_spread_claims_per_estimator():
    same = lambda a, s, layer: 1.0 + 0.01 * s  # noqa: E731
    apart = lambda a, s, layer: (5.0 if a == "relu" else 0.5) * (1 + s)  # noqa: E731
    got = by_id(information_plane_claims(compression_rows(same, seeds=6, akde=apart), NO_L2))
    assert got["s2_compression_differs_between_activations_ebab"].verdict == N
    assert got["s2_spread_across_initialisations_ebab"].verdict == N  # cv ~ 0.02
    assert got["s2_spread_across_initialisations_akde_paper"].verdict == R  # cv of 1..6 = 0.53
    assert got["s2_compression_differs_between_activations_akde_paper"].verdict == R
    assert "estimator-dependent" in got["s2_spread_across_initialisations_ebab"].criterion
    none = lambda a, s, layer: 0.01 * (s % 2)  # noqa: E731
    got = by_id(information_plane_claims(compression_rows(none, seeds=6), NO_L2))
    assert got["s2_compression_without_saturation_ebab"].verdict == N


def test_a_missing_estimator_gives_inconclusive_rows_and_the_code_akde_is_not_judged():
    section = {**NO_L2, "estimators": {**ESTIMATORS, "akde_paper": {"method": "akde", "variant": "code"}}}
    got = by_id(information_plane_claims(compression_rows(the_paper, ACC), section))
    row = got["s2_output_compression_correlates_akde_paper"]
    assert row.verdict == I and row.n == 0 and "no adaptive KDE (variant paper)" in row.statistic
    assert got["s2_output_compression_correlates_ebab"].verdict == R
    assert not any("estimator-dependent" in claim.criterion for claim in got.values())


def test_refuses_a_table_without_accuracies():
    rows = compression_rows(the_paper, ACC, seeds=4).drop(columns="train_acc")
    with pytest.raises(ValueError, match="train_acc"):
        information_plane_claims(rows, NO_L2)
