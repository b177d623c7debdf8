"""The claims contract: verdict rules, pooled correlations, and each study's claims driven to
each verdict by hand-made tables."""

import math

import numpy as np
import pandas as pd
import pytest

from layerinfo import claims as c
from layerinfo.coding.claims import coding_claims
from layerinfo.relevance.claims import relevance_claims

R, N, I = c.REPRODUCED, c.NOT_REPRODUCED, c.INCONCLUSIVE


@pytest.mark.parametrize("args, kwargs, verdict", [
    ((0.3, 0.1, 0.5), {"above": 0}, R),
    ((0.3, -0.1, 0.5), {"above": 0}, I),
    ((-0.3, -0.5, -0.1), {"above": 0}, N),
    ((0.3,), {"above": 0}, R),                 # no interval: the point decides
    ((0.0,), {"above": 0}, N),
    ((math.nan,), {"above": 0}, I),
    ((0.3, 0.1, 0.5), {"above": 0, "n": 1, "min_n": 2}, I),
    ((0.01, 0.001, 0.02), {"below": 0.05}, R),
    ((0.04, 0.01, 0.07), {"below": 0.05}, I),
    ((0.2, 0.1, 0.3), {"below": 0.05}, N),
])
def test_threshold_verdict(args, kwargs, verdict):
    assert c.threshold_verdict(*args, **kwargs) == verdict


def test_threshold_verdict_needs_one_side():
    with pytest.raises(ValueError, match="exactly one"):
        c.threshold_verdict(1.0)


@pytest.mark.parametrize("interval, verdict", [((0.9, 1.2), R), ((1.1, 1.4), N), ((math.nan, math.nan), I)])
def test_contains_verdict(interval, verdict):
    assert c.contains_verdict(1.05, *interval, target=1.0) == verdict


@pytest.mark.parametrize("interval, verdict", [((0.2, 0.8), R), ((0.8, 1.5), I), ((1.2, 1.5), N)])
def test_within_verdict(interval, verdict):
    assert c.within_verdict(0.5, *interval, low=0.0, high=1.0) == verdict


def test_mean_interval_is_the_student_t_interval():
    mean, low, high, n = c.mean_interval([1.0, 2.0, 3.0])
    # s = 1, t(0.975, 2) = 4.302653
    assert (mean, n) == (2.0, 3)
    assert high - mean == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)
    assert math.isnan(c.mean_interval([1.0])[1])


def test_pooled_correlation_of_one_group_is_its_fisher_interval():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(20)
    y = x + rng.standard_normal(20)
    assert c.pooled_correlation([(x, y)]) == pytest.approx(c.correlation_interval(x, y))
    # two copies: same r, interval narrowed by sqrt(2) in z
    r, low, high, n = c.pooled_correlation([(x, y), (x, y)])
    z_half = (math.atanh(high) - math.atanh(low)) / 2
    assert r == pytest.approx(np.corrcoef(x, y)[0, 1]) and n == 40
    assert z_half == pytest.approx(1.959964 / math.sqrt(34), rel=1e-5)
    # groups of three runs cannot give an interval
    assert math.isnan(c.pooled_correlation([(x[:3], y[:3])])[0])


def test_claim_refuses_unknown_verdict():
    with pytest.raises(ValueError, match="verdict"):
        c.Claim("s", "x", "", "", 1.0, math.nan, math.nan, "", "maybe", 1)


def test_config_label_names_file_and_hash():
    label = c.config_label({"a": 1}, "config/paper.yaml")
    assert label.startswith("paper.yaml@") and len(label.split("@")[1]) == 12
    assert label != c.config_label({"a": 2}, "config/paper.yaml")


def test_merge_writes_table_and_page(tmp_path):
    one = [c.Claim("relevance", "a", "statement <b>", "stat", 1.0, 0.5, 1.5, "ci_low > 0", R, 3, "figures/x.png")]
    two = [c.Claim("coding", "b", "s", "stat", math.nan, math.nan, math.nan, "value > 0", I, 0)]
    c.write_claims(one, tmp_path / "claims_relevance.csv", "config.yaml@abc")
    c.write_claims(two, tmp_path / "claims_coding.csv", "config.yaml@abc")
    frame = c.merge_claims([tmp_path / "claims_relevance.csv", tmp_path / "claims_coding.csv"],
                           tmp_path / "claims.csv", tmp_path / "claims.html")
    assert list(frame.columns) == c.COLUMNS and len(frame) == 2
    page = (tmp_path / "claims.html").read_text()
    assert '<a href="figures/x.png">a</a>' in page and "statement &lt;b&gt;" in page
    assert page.count("<h2>") == 2 and "1 reproduced, 0 not reproduced, 1 inconclusive" in page


def test_markdown_table_escapes_criteria():
    frame = c.claims_frame([c.Claim("s", "a", "", "", 0.5, 0.1, 0.9, "|value| < 1", R, 3)], "x")
    table = c.claims_markdown(frame).splitlines()
    assert table[2] == "| s | `a` | 0.5 | [0.1, 0.9] | \\|value\\| < 1 | **reproduced** | 3 |"


def test_merge_refuses_a_bad_verdict(tmp_path):
    frame = c.claims_frame([c.Claim("s", "a", "", "", 1.0, math.nan, math.nan, "", R, 1)], "x")
    frame.loc[0, "verdict"] = "yes"
    frame.to_csv(tmp_path / "claims_s.csv", index=False)
    with pytest.raises(ValueError, match="verdicts \\['yes'\\]"):
        c.read_claims([tmp_path / "claims_s.csv"])


def by_id(claims):
    return {claim.claim: claim for claim in claims}


# --------------------------------------------------------------------------------------------
# S1


def relevance_tables(h_k, slopes, exponent_ci, support, lr=(-0.5, 0.6)):
    """``support``: each hidden layer's bootstrap share of ranking first by F (layers 1..n-1)."""
    n = len(h_k)
    table = pd.DataFrame({"network": "dbn", "split": "train", "layer": range(n), "units": 8, "epoch": 200,
                          "H_s_norm": np.linspace(1, 0, n), "H_k_norm": h_k, "slope_Hk_Hs": slopes,
                          "zipf_exponent": [1.0] * n, "zipf_ci_low": [exponent_ci[0]] * n,
                          "zipf_ci_high": [exponent_ci[1]] * n, "zipf_n_tail": 50,
                          "zipf_lr_R": lr[0], "zipf_lr_p": lr[1]})
    gen = pd.DataFrame({"source": "layer", "layer": range(1, n), "generation_first_support": support,
                        "generation_f": 0.5})
    return table, gen


def test_s1_all_claims_reproduce_on_an_ideal_stack():
    # the Zipf layer (2, slope -1) ranks first by F in 97% of the resamples
    table, gen = relevance_tables([0.0, 0.3, 0.5, 0.2, 0.1], [-3, -2, -1.0, 0.5, 1], (0.9, 1.1),
                                  [0.02, 0.97, 0.01, 0.0])
    got = by_id(relevance_claims(table, gen))
    assert {k: v.verdict for k, v in got.items()} == {
        "s1_relevance_interior_maximum": R, "s1_zipf_layer_exponent": R, "s1_zipf_layer_best_generator": R}
    assert got["s1_zipf_layer_best_generator"].value == 0.97
    assert "Kynkäänniemi" in got["s1_zipf_layer_best_generator"].statistic


def test_s1_claims_fail_and_straddle():
    # maximum at the last layer, exponent interval excluding 1, another layer first in 96%
    table, gen = relevance_tables([0.0, 0.1, 0.2, 0.3, 0.4], [-3, -2, -1.0, 0.5, 1], (1.3, 1.6),
                                  [0.96, 0.04, 0.0, 0.0])
    got = by_id(relevance_claims(table, gen))
    assert got["s1_relevance_interior_maximum"].verdict == N
    assert got["s1_zipf_layer_exponent"].verdict == N
    assert got["s1_zipf_layer_best_generator"].verdict == N
    assert "most often first: layer 1 (share 0.96" in got["s1_zipf_layer_best_generator"].statistic
    # no layer reaches 95%: inconclusive, whoever leads
    for support in ([0.5, 0.45, 0.05, 0.0], [0.0, 0.94, 0.06, 0.0], [0.3, 0.3, 0.3, 0.1]):
        gen["generation_first_support"] = support
        assert by_id(relevance_claims(table, gen))["s1_zipf_layer_best_generator"].verdict == I, support
    # exactly 95% is enough
    gen["generation_first_support"] = [0.0, 0.95, 0.05, 0.0]
    assert by_id(relevance_claims(table, gen))["s1_zipf_layer_best_generator"].verdict == R
    # a table without the bootstrap (an older run) decides nothing
    assert by_id(relevance_claims(table, gen.drop(columns="generation_first_support"))
                 )["s1_zipf_layer_best_generator"].verdict == I


def test_s1_interior_maximum_ignores_the_pixel_layer():
    # H[k] of the pixels (layer 0) above every hidden layer: the hidden layers alone peak inside
    table, gen = relevance_tables([0.9, 0.3, 0.5, 0.2, 0.1], [-3, -2, -1.0, 0.5, 1], (0.9, 1.1),
                                  [0.0, 1.0, 0.0, 0.0])
    row = by_id(relevance_claims(table, gen))["s1_relevance_interior_maximum"]
    assert row.verdict == R and row.value == pytest.approx(0.5 - 0.3) and row.n == 4
    assert "pixel layer does not count" in row.statistic


def test_s1_zipf_layer_needs_the_power_law_not_rejected_by_the_lognormal():
    # interval contains 1 throughout; the likelihood-ratio test decides (rejected: R < 0 and p < 0.1)
    for lr, verdict in (((-0.5, 0.6), R), ((2.0, 0.01), R), ((-3.0, 0.05), N), ((-3.0, 0.1), R),
                        ((np.nan, np.nan), I)):
        table, gen = relevance_tables([0.0, 0.3, 0.5, 0.2, 0.1], [-3, -2, -1.0, 0.5, 1], (0.9, 1.1),
                                      [0.0, 1.0, 0.0, 0.0], lr=lr)
        assert by_id(relevance_claims(table, gen))["s1_zipf_layer_exponent"].verdict == verdict, lr
    # an interval excluding 1 fails whatever the test says; test-split rows are ignored
    table, gen = relevance_tables([0.0, 0.3, 0.5, 0.2, 0.1], [-3, -2, -1.0, 0.5, 1], (1.3, 1.6),
                                  [0.0, 1.0, 0.0, 0.0], lr=(np.nan, np.nan))
    held_out = table.assign(split="test", zipf_ci_low=0.5, zipf_ci_high=1.5)
    got = by_id(relevance_claims(pd.concat([table, held_out]), gen))
    assert got["s1_zipf_layer_exponent"].verdict == N


# --------------------------------------------------------------------------------------------
# S4


def schemes_table(**edits):
    """A schemes table whose every S4 claim holds: the toy task's three nonlinearities in both
    scalings at N = 100, a ReLU feature-learning width scan to 800 and a sigmoid lazy one to 400;
    ``edits`` maps nonlinearity-scaling[-width] to column overrides."""
    nan = float("nan")
    good = {
        "linear": {"readout_excess_kurtosis": 0.1, "predictor_rel_l2_to_gp": 0.02, "normalised_binary_fraction": 0.2,
                   "eta2_mean": 0.6},
        "sigmoid": {"binary_fraction": 0.95, "pattern_multiplicity": 20.0, "n_patterns": 5.0, "eta2_mean": 0.95},
        "relu": {"n_outliers": 3.0, "outliers_per_class": "1.00;1.00;1.00", "outlier_single_class_fraction": 1.0,
                 "bulk_code_fraction": 0.0, "eta2_mean": 0.3, "eta2_outliers": 0.97},
    }
    rows = []
    for nonlinearity, cols in good.items():
        for scaling in ("feature", "lazy"):
            feature = scaling == "feature"
            row = {"task": "toy", "task_kind": "orthonormal", "nonlinearity": nonlinearity, "scaling": scaling,
                   "width": 100, "n_chains": 4, "n_classes": 3, "n_test": 200, "n_widths": 1,
                   "converged": True, "convergence_reason": "", "rhat_max": 1.02, "rhat_threshold": 1.08,
                   "plateau_step": 900.0, "burn_in": 1500, "train_mse": 1e-6, "train_mse_max_chain": 2e-6,
                   "gp_ridge_rel_l2_to_interpolant": 0.01, "readout_excess_kurtosis": 0.0,
                   "predictor_rel_l2_to_gp": 0.0, "normalised_binary_fraction": 0.5, "binary_fraction": nan,
                   "pattern_multiplicity": 1.0, "n_patterns": 7.0, "pattern_count_slope": nan, "n_outliers": 0.0,
                   "outliers_per_class": "0.00;0.00;0.00", "outlier_single_class_fraction": nan,
                   "bulk_code_fraction": 0.5, "max_readout_over_sqrt_n": 0.3, "outlier_output_share": 0.9,
                   "outlier_count_slope": nan, "eta2_outliers": nan,
                   "eta2_population": 0.9 if feature else 0.12, "eta2_prior": 0.1, "eta2_mean": 0.1,
                   "kernel_alignment": 0.95 if feature else 0.3, "kernel_alignment_gp": 0.18,
                   "alignment_excess_ratio": nan}
            if feature:
                row.update(cols)
            rows.append(row)
    for width, count in ((200, 3.0), (400, 4.0), (800, 4.0)):  # relu feature scan: slope ~ 0.14
        rows.append({**rows[4], "width": width, "n_outliers": count, "burn_in": 15 * width,
                     "plateau_step": 9.0 * width})
    rows.append({**rows[3], "width": 400, "kernel_alignment": 0.2, "burn_in": 6000})  # sigmoid lazy scan
    table = pd.DataFrame(rows)
    relu = (table["nonlinearity"] == "relu") & (table["scaling"] == "feature")
    table.loc[relu, "n_widths"] = 4
    table.loc[relu, "outlier_count_slope"] = np.polyfit(np.log(table.loc[relu, "width"]),
                                                        np.log(table.loc[relu, "n_outliers"]), 1)[0]
    lazy = (table["nonlinearity"] == "sigmoid") & (table["scaling"] == "lazy")
    table.loc[lazy, "n_widths"] = 2
    table.loc[lazy, "alignment_excess_ratio"] = (0.2 - 0.18) / (0.3 - 0.18)
    for key, cols in edits.items():
        nonlinearity, scaling, *width = key.split("-")
        sel = (table["nonlinearity"] == nonlinearity) & (table["scaling"] == scaling)
        if width:
            sel &= table["width"] == int(width[0])
        for column, value in cols.items():
            table.loc[sel, column] = value
    return table


S4_IDS = ["s4_zero_training_error", "s4_zero_temperature_gp", "s4_lazy_no_code", "s4_feature_kernel_aligned_toy",
          "s4_feature_class_driven_toy", "s4_lazy_kernel_random_toy", "s4_linear_gaussian_readout_toy",
          "s4_linear_predictor_is_lazy_toy", "s4_linear_analog_toy", "s4_sigmoid_on_off_toy",
          "s4_sigmoid_redundant_toy", "s4_relu_few_coding_neurons_toy", "s4_relu_coding_count_width_toy",
          "s4_relu_sparse_toy"]


def test_s4_paper_findings_reproduce():
    got = by_id(coding_claims(schemes_table()))
    assert sorted(got) == sorted(S4_IDS)
    assert all(claim.verdict == R for claim in got.values()), {k: v.verdict for k, v in got.items()}
    # every row carries its runs' diagnostics
    assert all("diagnostics: converged" in claim.statistic for claim in got.values())
    assert "plateau steps 900/1500, 1800/3000, 3600/6000, 7200/12000" in got["s4_relu_sparse_toy"].statistic


SPARSE, REDUNDANT, ANALOG = "s4_relu_sparse_toy", "s4_sigmoid_redundant_toy", "s4_linear_analog_toy"


@pytest.mark.parametrize("claim,edits,also", [
    ("s4_zero_training_error", {"relu-feature-100": {"train_mse_max_chain": 0.01}}, ()),
    ("s4_zero_temperature_gp", {"relu-lazy": {"gp_ridge_rel_l2_to_interpolant": 0.48}}, ()),
    # lazy: eta2 above the prior's by 0.32 of the feature network's excess (0.8)
    ("s4_lazy_no_code", {"sigmoid-lazy-100": {"eta2_population": 0.36}}, ()),
    ("s4_feature_kernel_aligned_toy", {"linear-feature": {"kernel_alignment": 0.8}}, ()),
    ("s4_feature_class_driven_toy", {"relu-feature-100": {"eta2_outliers": 0.5}}, ()),
    ("s4_feature_class_driven_toy", {"sigmoid-feature": {"eta2_mean": 0.6}}, ()),
    ("s4_lazy_kernel_random_toy", {"sigmoid-lazy": {"alignment_excess_ratio": 1.3}}, ()),
    ("s4_linear_gaussian_readout_toy", {"linear-feature": {"readout_excess_kurtosis": -0.9}}, (ANALOG,)),
    ("s4_linear_predictor_is_lazy_toy", {"linear-feature": {"predictor_rel_l2_to_gp": 0.2}}, ()),
    (ANALOG, {"linear-feature": {"normalised_binary_fraction": 0.8}}, ()),
    (ANALOG, {"linear-feature": {"kernel_alignment": 0.15}}, ("s4_feature_kernel_aligned_toy",)),
    ("s4_sigmoid_on_off_toy", {"sigmoid-feature": {"binary_fraction": 0.5}}, (REDUNDANT,)),
    (REDUNDANT, {"sigmoid-feature": {"pattern_multiplicity": 1.2}}, ()),
    ("s4_relu_few_coding_neurons_toy", {"relu-feature-800": {"n_outliers": 7.0}}, (SPARSE,)),
    ("s4_relu_few_coding_neurons_toy", {"relu-feature-100": {"n_outliers": 0.0}}, (SPARSE,)),
    ("s4_relu_coding_count_width_toy", {"relu-feature": {"outlier_count_slope": 0.9}}, (SPARSE,)),
    (SPARSE, {"relu-feature-400": {"outlier_single_class_fraction": 0.5}}, ()),
    (SPARSE, {"relu-feature-200": {"bulk_code_fraction": 0.3}}, ()),
])
def test_s4_each_claim_fails_on_its_own(claim, edits, also):
    got = by_id(coding_claims(schemes_table(**edits)))
    assert got[claim].verdict == N, got[claim]
    others = {k for k, v in got.items() if k != claim and v.verdict != R}
    assert others == set(also), {k: got[k].verdict for k in others}


def test_s4_unconverged_runs_make_their_claims_inconclusive_never_not_reproduced():
    reason = "R-hat of n_outliers 1.4 > 1.08"
    # the width-800 run failed its diagnostics, and its count would fail the criterion too
    got = by_id(coding_claims(schemes_table(**{"relu-feature-800": {
        "converged": False, "convergence_reason": reason, "n_outliers": 9.0}})))
    for claim in ("s4_relu_few_coding_neurons_toy", "s4_relu_coding_count_width_toy", SPARSE,
                  "s4_zero_training_error", "s4_zero_temperature_gp"):
        assert got[claim].verdict == I, claim
        assert "chains not converged" in got[claim].statistic and reason in got[claim].statistic
    # claims on other runs are still decided
    assert got[ANALOG].verdict == R and got["s4_feature_kernel_aligned_toy"].verdict == R
    got = by_id(coding_claims(schemes_table(**{"linear-feature": {"converged": False, "convergence_reason": "x",
                                                                  "readout_excess_kurtosis": 3.0}})))
    assert got["s4_linear_gaussian_readout_toy"].verdict == I and got[ANALOG].verdict == I


def test_s4_missing_values_are_inconclusive_and_other_tasks_get_signatures_only():
    got = by_id(coding_claims(schemes_table(**{"linear-feature": {"predictor_rel_l2_to_gp": float("nan")}})))
    assert got["s4_linear_predictor_is_lazy_toy"].verdict == I
    no_scan = schemes_table()
    no_scan = no_scan[~((no_scan["scaling"] == "lazy") & (no_scan["width"] > 100))].assign(n_widths=1)
    assert by_id(coding_claims(no_scan))["s4_lazy_kernel_random_toy"].verdict == I
    digits = schemes_table().assign(task="digits", task_kind="dataset")
    digits = digits[digits["width"] == 100].assign(n_widths=1)
    got = by_id(coding_claims(digits))
    assert "s4_feature_kernel_aligned_digits" not in got and "s4_relu_coding_count_width_digits" not in got
    # without a width scan the sparse code is judged at one width, and says so
    assert got["s4_relu_sparse_digits"].verdict == R and "no width scan" in got["s4_relu_sparse_digits"].statistic
    # ten classes: the pattern cap is min(2^10 - 1, N / 2) = 50
    crowded = digits.assign(n_classes=10)
    crowded.loc[crowded["nonlinearity"] == "sigmoid", "n_patterns"] = 60.0
    assert by_id(coding_claims(crowded))["s4_sigmoid_redundant_digits"].verdict == N
