"""Study S3 claims: hand-made tables drive every claim to every verdict."""

import itertools

import numpy as np
import pandas as pd
import pytest

from layerinfo.claims import COLUMNS, read_claims
from layerinfo.isometry import claims as ic

SIGMA_WS = [0.8, 1.0, 1.03, 1.2, 2.2]
CHI = {0.8: 0.64, 1.0: 0.97, 1.03: 1.0, 1.2: 1.04, 2.2: 1.46}


def information(peak=1.03, critical_bits=6.0, off_bits=1.0, gaussian_bits=1.0, control_peak=2.2, noise=0.1,
                depths=(4, 16, 48), fail_depth=None):
    """A hand-made information table: per channel x init x sigma_b x seed x depth x sigma_w. At
    ``fail_depth`` neither comparison holds (off-critical and Gaussian near the critical bits)."""
    rows = []
    for channel, init, sigma_b, seed, depth, sigma_w in itertools.product(
            ["per_layer_relative", "output_fixed"], ["orthogonal", "gaussian"], [0.005, 0.05], [0, 1],
            depths, SIGMA_WS):
        jitter = 0.01 * sigma_b + 0.01 * seed
        off, gauss = (5.0, 5.5) if depth == fail_depth else (off_bits, gaussian_bits)
        if channel == "output_fixed":
            value = 5.0 - abs(sigma_w - control_peak)
        elif init == "gaussian":
            value = gauss if sigma_w == 1.03 else 0.5
        elif sigma_w == peak:
            value = critical_bits + noise * (2 * seed - 1)  # seeds disagree by 2 * noise
        elif sigma_w in (0.8, 2.2):
            value = off
        else:
            value = 3.0
        rows.append({"channel": channel, "init": init, "sigma_b": sigma_b, "seed": seed, "depth": depth,
                     "sigma_w": sigma_w, "critical": sigma_w == 1.03, "chi_1": CHI[sigma_w], "method": "decoding",
                     "I_bits": value + jitter, "floor_bits": -0.3})
    return pd.DataFrame(rows)


def theory(corrected_gap=1.0, classic_gap=5.0, spread=0.1):
    rows = []
    for init, sigma_w, depth, seed, point in itertools.product(["gaussian", "orthogonal"], [1.03, 2.0], [2, 8, 32],
                                                               [0, 1], [0, 1]):
        lin = 10.0
        jitter = spread * (2 * seed + point - 1.5)
        rows.append({"init": init, "sigma_w": sigma_w, "critical": sigma_w == 1.03, "depth": depth, "width": 128,
                     "seed": seed, "input": point, "linearised_bits": lin,
                     "mean_field_classic_bits": lin + classic_gap,
                     "mean_field_corrected_bits": lin + corrected_gap + jitter})
    return pd.DataFrame(rows)


def jacobian(ratio=1.0, spread=0.02):
    rows = []
    for init, depth, seed, point in itertools.product(["gaussian", "orthogonal"], [8, 32, 128], [0, 1], [0, 1]):
        predicted = 0.005 * depth
        r = ratio * (1 + spread * (2 * seed + point - 1.5))
        rows.append({"init": init, "sigma_w": 1.03, "critical": True, "depth": depth, "seed": seed, "input": point,
                     "var_sq_singular": predicted * r, "var_sq_predicted": predicted})
    return pd.DataFrame(rows)


def _verdicts(info, th, jac):
    return {c.claim: c.verdict for c in ic.isometry_claims(info, th, jac)}


def test_everything_reproduced():
    verdicts = _verdicts(information(), theory(), jacobian())
    assert set(verdicts.values()) == {"reproduced"}, verdicts
    assert len(verdicts) == 6


@pytest.mark.parametrize("kwargs,claim,verdict", [
    ({"peak": 2.2}, "peak_at_isometry", "not reproduced"),        # chaotic maximum
    ({"peak": 1.0}, "peak_at_isometry", "reproduced"),            # |0.97 - 1| <= 0.05
    ({"peak": 1.2}, "peak_at_isometry", "reproduced"),            # |1.04 - 1| <= 0.05
    ({"off_bits": 5.0}, "critical_beats_off_critical", "not reproduced"),
    ({"off_bits": 4.0, "noise": 2.0}, "critical_beats_off_critical", "inconclusive"),
    ({"gaussian_bits": 5.5}, "orthogonal_beats_gaussian", "not reproduced"),
    ({"gaussian_bits": 4.0, "noise": 2.0}, "orthogonal_beats_gaussian", "inconclusive"),
    ({"control_peak": 1.03}, "control_peaks_in_chaos", "not reproduced"),
])
def test_information_claims_each_verdict(kwargs, claim, verdict):
    assert _verdicts(information(**kwargs), theory(), jacobian())[claim] == verdict


@pytest.mark.parametrize("kwargs,verdict", [
    ({"corrected_gap": 6.0}, "not reproduced"),
    ({"corrected_gap": 4.8, "spread": 1.0}, "inconclusive"),
    ({"classic_gap": 0.01}, "inconclusive"),  # classic already within 0.1 bit: nothing to compare
])
def test_corrected_mean_field_claim_each_verdict(kwargs, verdict):
    assert _verdicts(information(), theory(**kwargs), jacobian())["corrected_beats_classic"] == verdict


@pytest.mark.parametrize("kwargs,verdict", [
    ({"ratio": 1.5}, "not reproduced"),
    ({"ratio": 1.18, "spread": 0.1}, "inconclusive"),
    ({"ratio": 0.9}, "reproduced"),
])
def test_spectral_variance_claim_each_verdict(kwargs, verdict):
    assert _verdicts(information(), theory(), jacobian(**kwargs))["spectral_variance"] == verdict


def test_single_network_cells_give_a_value_without_interval():
    th, jac = theory(), jacobian()
    claims = {c.claim: c for c in ic.isometry_claims(information(), th[(th["seed"] == 0) & (th["input"] == 0)],
                                                       jac[(jac["seed"] == 0) & (jac["input"] == 0)])}
    for name in ("corrected_beats_classic", "spectral_variance"):
        assert claims[name].n == 1 and np.isnan(claims[name].ci_low) and claims[name].verdict == "reproduced"


def test_comparisons_are_decided_at_every_depth_from_16_or_the_deepest():
    claims = {c.claim: c for c in ic.isometry_claims(information(), theory(), jacobian())}
    for name in ("critical_beats_off_critical", "orthogonal_beats_gaussian"):
        # two depths x two sigma_b x two seeds; the criterion names the depths
        assert claims[name].n == 8 and "(here 16, 48)" in claims[name].criterion
    # holding at 16 but not at 48 is not holding at every depth
    failing = {c.claim: c for c in ic.isometry_claims(information(fail_depth=48), theory(), jacobian())}
    assert failing["critical_beats_off_critical"].verdict == "not reproduced"
    assert failing["orthogonal_beats_gaussian"].verdict == "not reproduced"
    assert "depth 48" in failing["critical_beats_off_critical"].statistic
    # no depth 16: decided at 24 (the only one >= 16), whatever happens at 8
    info = information(depths=(8, 24), fail_depth=8)
    claims = {c.claim: c for c in ic.isometry_claims(info, theory(), jacobian())}
    for name in ("critical_beats_off_critical", "orthogonal_beats_gaussian"):
        assert claims[name].verdict == "reproduced" and claims[name].n == 4
        assert "(here 24)" in claims[name].criterion
    # every depth shallower than 16: the deepest decides (critical 6 bits against off-critical 1)
    claims = {c.claim: c for c in ic.isometry_claims(information(depths=(4, 8)), theory(), jacobian())}
    assert claims["critical_beats_off_critical"].verdict == "reproduced"
    assert claims["critical_beats_off_critical"].value == pytest.approx(5.0)  # 6 - 1; the seeds' noise cancels
    assert "(here 8)" in claims["orthogonal_beats_gaussian"].criterion
    assert ic.decision_depths([4, 8, 16, 32]) == [16, 32] and ic.decision_depths([2, 8]) == [8]


def test_missing_control_and_cells_are_inconclusive():
    info = information()
    verdicts = _verdicts(info[info["channel"] == "per_layer_relative"], theory(), jacobian())
    assert verdicts["control_peaks_in_chaos"] == "inconclusive"
    shallow = info[info["depth"] < 16]
    assert _verdicts(shallow, theory(), jacobian())["peak_at_isometry"] == "inconclusive"


def test_claims_file_follows_the_contract(tmp_path):
    paths = [tmp_path / f"{name}.csv" for name in ("information", "theory", "jacobian")]
    for frame, path in zip((information(), theory(), jacobian()), paths):
        frame.to_csv(path, index=False)
    out = tmp_path / "claims_isometry.csv"
    ic.write_isometry_claims(*paths, out, "config.yaml@abc")
    table = read_claims([out])
    assert list(table.columns) == COLUMNS
    assert (table["study"] == "isometry").all() and (table["config"] == "config.yaml@abc").all()
    assert table["figure"].str.startswith("figures/isometry/").all()
    assert np.isfinite(table["value"]).all()
