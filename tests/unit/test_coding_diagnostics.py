"""Convergence diagnostics of the coding-schemes study (S4) on synthetic chains of known behaviour:
a drifting chain is flagged, a stationary one is not."""

import numpy as np
import pytest

from layerinfo.coding import diagnostics as dg


def _ar1(rng, shape, rho=0.5):
    out = np.zeros(shape)
    noise = rng.standard_normal(shape) * np.sqrt(1 - rho ** 2)
    out[..., 0] = rng.standard_normal(shape[:-1])
    for t in range(1, shape[-1]):
        out[..., t] = rho * out[..., t - 1] + noise[..., t]
    return out


def test_rhat_and_ess_on_known_chains():
    rng = np.random.default_rng(0)
    iid = rng.standard_normal((4, 1000))
    assert dg.rhat(iid) == pytest.approx(1.0, abs=0.01)
    assert dg.ess(iid) == pytest.approx(4000, rel=0.15)
    # AR(1) with coefficient rho: ESS = S (1 - rho) / (1 + rho)
    rho = 0.8
    ar = _ar1(rng, (4, 4000), rho)
    assert dg.ess(ar) == pytest.approx(16000 * (1 - rho) / (1 + rho), rel=0.25)
    assert dg.rhat(ar) < 1.02
    # chains at different locations, or with different scales (caught by the folded R-hat)
    assert dg.rhat(rng.standard_normal((2, 1000)) + np.array([[0.0], [2.0]])) > 1.3
    assert dg.rhat(rng.standard_normal((2, 1000)) * np.array([[1.0], [4.0]])) > 1.1
    # a trend within each chain: the split halves disagree
    assert dg.rhat(rng.standard_normal((2, 1000)) + np.linspace(0, 4, 1000)) > 1.3
    assert np.isnan(dg.rhat(np.ones((2, 10)))) and np.isnan(dg.ess(np.zeros((2, 3))))


def test_rhat_threshold_is_what_independent_draws_pass():
    # with few draws the threshold is well above 1.01 and shrinks towards it as the chains grow
    short, long = dg.rhat_threshold(4, 20), dg.rhat_threshold(4, 2000, n_sim=500)
    assert 1.05 < short < 1.3 and long == pytest.approx(1.01, abs=0.005) and long < short
    rng = np.random.default_rng(1)
    passed = np.mean([dg.rhat(rng.standard_normal((4, 20))) <= short for _ in range(500)])
    assert passed > 0.98


def test_trend_test_flags_a_drifting_chain_and_passes_a_stationary_one():
    rng = np.random.default_rng(2)
    stationary = _ar1(rng, (4, 40))
    drifting = stationary + np.linspace(0, 3, 40)  # still rising by 3 sd over the kept window
    z, p = dg.trend_test(stationary)
    assert p > 0.05
    z, p = dg.trend_test(drifting)
    assert z > 4 and p < 1e-4
    # Mann-Kendall by hand: one chain, windows means rising 1 < 2 < 3: S = 3, var = 3 * 2 * 11 / 18
    z, _ = dg.trend_test(np.repeat([[1.0, 2.0, 3.0]], 2, axis=1), n_windows=3)
    assert z == pytest.approx((3 - 1) / np.sqrt(66 / 18))
    assert np.isnan(dg.trend_test(np.ones((4, 5)))[0])


def test_plateau_step_is_where_a_rising_statistic_levels_off():
    steps = np.arange(1, 101) * 10
    rise = np.minimum(steps / 400, 1.0)  # linear rise to a plateau at step 400
    kept = steps > 600
    assert dg.plateau_step(steps, rise, kept) == pytest.approx(370, abs=20)  # 90 % of the way
    flat = 1 + 0.01 * np.random.default_rng(3).standard_normal(100)
    assert dg.plateau_step(steps, flat, kept) == steps[0]


def _chains(rng, n_chains=4, n=40, burn=20, thin=10, drift=0.0, rise_until=100):
    """Posterior-file chain dicts with traces: 3 outlier readouts of size sqrt(N) x level among a
    bulk of 60; ``drift`` makes the outliers keep growing over the kept window."""
    chains = []
    steps = np.arange(1, n + 1) * thin
    for _ in range(n_chains):
        level = np.minimum(steps / rise_until, 1.0) + drift * np.maximum(steps - burn * thin, 0) / (n * thin)
        level = level + 0.02 * rng.standard_normal(n)
        readout = 0.1 * rng.standard_normal((n, 64, 3)) + 1.0
        for c in range(3):
            readout[:, c, :] = 0
            readout[:, c, c] = 8.0 * level
        response = np.zeros((n, 64, 3))
        response[:, :3, :] = np.eye(3) * level[:, None, None]
        chains.append({"trace_step": steps, "trace_readout": readout, "trace_response": response,
                       "trace_zmax": np.abs(readout[..., 0]) + 1, "trace_alignment": 0.9 + 0.01 * rng.standard_normal(n),
                       "trace_weight2": 1 + 0.01 * rng.standard_normal(n)})
    return chains


def test_convergence_marks_a_stationary_run_converged_and_a_drifting_one_not():
    rng = np.random.default_rng(4)
    summary, rows = dg.convergence(_chains(rng), burn_in=200, threshold=0.5)
    assert summary["converged"], summary["convergence_reason"]
    assert summary["plateau_step"] <= 200 and len(rows) == len(dg.STATISTICS)
    by = {r["statistic"]: r for r in rows}
    assert by["n_outliers"]["kept_mean"] == 3 and by["n_patterns"]["kept_mean"] == 3
    drifting, _ = dg.convergence(_chains(rng, drift=1.0), burn_in=200, threshold=0.5)
    assert not drifting["converged"] and "trend in max_readout_over_sqrt_n" in drifting["convergence_reason"]
    late, _ = dg.convergence(_chains(rng, rise_until=350), burn_in=200, threshold=0.5)
    assert not late["converged"] and "plateau at step" in late["convergence_reason"]
    few, _ = dg.convergence(_chains(rng, n_chains=2), burn_in=200, threshold=0.5)
    assert not few["converged"] and "2 chains" in few["convergence_reason"]
