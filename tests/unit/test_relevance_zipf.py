"""The Zipf fit's power law against lognormal likelihood-ratio test, the discrete lognormal, the
vectorised power-law fit, and the bootstrap that re-chooses k_min."""

import math

import numpy as np
import pytest
from scipy import stats
from scipy.optimize import minimize_scalar
from scipy.special import zeta

from layerinfo.information.relevance import (
    discrete_lognormal_logpmf,
    fit_discrete_lognormal,
    layer_zipf,
    power_law_alpha,
    power_law_rejected,
    power_law_vs_lognormal,
    state_counts,
    zipf_fit,
)


def _zipf_counts(rng, n_states=20_000, n_samples=50_000):
    ranks = np.arange(1, n_states + 1)
    return state_counts(rng.choice(ranks.size, size=n_samples, p=(1 / ranks) / (1 / ranks).sum()))


def _lognormal_counts(rng, n=20_000, mu=2.0, sigma=1.0):
    return np.maximum(1, np.round(np.exp(rng.normal(mu, sigma, size=n)))).astype(np.int64)


def test_discrete_lognormal_is_a_rounded_truncated_lognormal():
    mu, sigma, k_min = 1.3, 0.8, 3
    k = np.arange(k_min, 4000)
    got = np.exp(discrete_lognormal_logpmf(k, mu, sigma, k_min))
    # independent: scipy's lognormal at the half-integers (survival functions, exact in the upper
    # tail where CDF differences underflow), renormalised above k_min - 1/2
    law = stats.lognorm(s=sigma, scale=math.exp(mu))
    expected = (law.sf(k - 0.5) - law.sf(k + 0.5)) / law.sf(k_min - 0.5)
    assert got == pytest.approx(expected, rel=1e-7)
    assert got.sum() == pytest.approx(1.0, abs=1e-9)
    # far in the upper tail the log stays finite and exact (survival-function branch)
    far = discrete_lognormal_logpmf(np.array([10**6]), 0.0, 1.0, 1)[0]
    unit = stats.lognorm(s=1.0)
    expected_far = math.log((unit.sf(10**6 - 0.5) - unit.sf(10**6 + 0.5)) / unit.sf(0.5))
    assert np.isfinite(far) and far == pytest.approx(expected_far, rel=1e-6)


def test_lognormal_fit_recovers_its_parameters():
    rng = np.random.default_rng(0)
    values, mult = np.unique(_lognormal_counts(rng, mu=3.0, sigma=0.7), return_counts=True)
    mu, sigma = fit_discrete_lognormal(values, mult, 1)
    assert mu == pytest.approx(3.0, abs=0.03) and sigma == pytest.approx(0.7, abs=0.02)


def test_vectorised_power_law_fit_matches_a_scalar_minimiser():
    rng = np.random.default_rng(3)
    k = rng.zipf(2.2, size=3000)
    for k_min in (1, 2, 5):
        tail = k[k >= k_min]

        def nll(a):
            return a * np.log(tail).sum() + tail.size * math.log(zeta(a, k_min))

        ref = minimize_scalar(nll, bounds=(1.0 + 1e-6, 10.0), method="bounded", options={"xatol": 1e-10}).x
        assert power_law_alpha(k, k_min) == pytest.approx(ref, abs=1e-7)


def test_likelihood_ratio_by_hand():
    # Vuong's statistic recomputed from per-state log-likelihoods of both fitted laws
    rng = np.random.default_rng(4)
    k = _lognormal_counts(rng, n=800, mu=1.5, sigma=1.2)
    k_min = 2
    alpha = power_law_alpha(k, k_min)
    got = power_law_vs_lognormal(k, alpha, k_min)
    tail = k[k >= k_min].astype(float)
    law = stats.lognorm(s=got["lognormal_sigma"], scale=math.exp(got["lognormal_mu"]))
    log_ln = np.log((law.cdf(tail + 0.5) - law.cdf(tail - 0.5)) / law.sf(k_min - 0.5))
    log_pl = -alpha * np.log(tail) - math.log(zeta(alpha, k_min))
    ell = log_pl - log_ln
    r, sd = ell.sum(), ell.std()
    assert got["lr_n"] == tail.size
    assert got["lr_R"] == pytest.approx(r, rel=1e-8)
    assert got["lr_normalised"] == pytest.approx(r / (sd * math.sqrt(tail.size)), rel=1e-8)
    assert got["lr_p"] == pytest.approx(2 * stats.norm.sf(abs(r) / (sd * math.sqrt(tail.size))), rel=1e-6)
    # the lognormal's likelihood is its maximum: nudging either parameter lowers it
    base = discrete_lognormal_logpmf(tail, got["lognormal_mu"], got["lognormal_sigma"], k_min).sum()
    for dmu, dsig in ((0.02, 0), (-0.02, 0), (0, 0.02), (0, -0.02)):
        nudged = discrete_lognormal_logpmf(tail, got["lognormal_mu"] + dmu, got["lognormal_sigma"] + dsig, k_min)
        assert nudged.sum() <= base + 1e-9


def test_likelihood_ratio_tells_a_zipf_sample_from_a_lognormal_one():
    rng = np.random.default_rng(1)
    zipf = zipf_fit(_zipf_counts(rng), n_bootstrap=0)
    assert zipf["zipf_exponent"] == pytest.approx(1.0, abs=0.1)
    assert not power_law_rejected(zipf["lr_R"], zipf["lr_p"])  # p >= 0.1 or R >= 0
    lognormal = zipf_fit(_lognormal_counts(rng), n_bootstrap=0)
    assert lognormal["lr_R"] < 0 and lognormal["lr_p"] < 0.01
    assert power_law_rejected(lognormal["lr_R"], lognormal["lr_p"])
    assert power_law_rejected(-1.0, 0.05) and not power_law_rejected(-1.0, 0.1) and not power_law_rejected(0.5, 0.01)


def test_bootstrap_rechooses_k_min():
    # a sample whose best k_min is not sharply determined: a lognormal body with a power-law tail
    rng = np.random.default_rng(5)
    body = _lognormal_counts(rng, n=600, mu=1.0, sigma=0.6)
    tail = rng.zipf(2.0, size=400) + 5
    k = np.concatenate([body, tail])
    chosen = zipf_fit(k, n_bootstrap=200, rng=np.random.default_rng(0))
    fixed = zipf_fit(k, k_min=chosen["k_min"], n_bootstrap=200, rng=np.random.default_rng(0))
    assert chosen["zipf_exponent"] == pytest.approx(fixed["zipf_exponent"], rel=1e-6)
    assert chosen["n_bootstrap_fits"] == 200
    width = chosen["zipf_ci_high"] - chosen["zipf_ci_low"]
    assert width > 1.2 * (fixed["zipf_ci_high"] - fixed["zipf_ci_low"])  # k_min's uncertainty included
    again = zipf_fit(k, n_bootstrap=200, rng=np.random.default_rng(0))
    assert again["zipf_ci_low"] == chosen["zipf_ci_low"]  # seeded


def test_layer_zipf_carries_the_test_and_says_why_not():
    rng = np.random.default_rng(2)
    fit = layer_zipf(_zipf_counts(rng), n_bootstrap=20, rng=rng)
    assert fit["zipf_status"] == "ok" and np.isfinite(fit["lr_p"]) and 0 <= fit["lr_p"] <= 1
    few = layer_zipf(np.array([5, 3, 1]))
    assert math.isnan(few["lr_p"]) and "only 3 states" in few["zipf_status"]
    with pytest.raises(ValueError, match="n_bootstrap must be >= 0"):
        zipf_fit(_zipf_counts(rng), n_bootstrap=-1)
