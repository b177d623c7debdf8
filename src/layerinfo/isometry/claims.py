"""Claims of study S3 (Weng et al. 2022) checked against the study's tables.

Each function below turns one table into one :class:`~layerinfo.claims.Claim` by a criterion
fixed in advance (DESIGN §6); :func:`isometry_claims` lists them all. The criteria:

``peak_at_isometry``
    Orthogonal weights, the study's channel, every depth >= 16 and every sigma_b: the sigma_w
    that maximises the decoding bound (mean over seeds) has |chi_1 - 1| <= 0.05.
``critical_beats_off_critical``
    Every configured depth >= 16 (the deepest configured one if none is), orthogonal, study
    channel: the decoding bound at the critical sigma_w exceeds both sigma_w = 0.8 and
    sigma_w = 2.2 by >= 2 bits (the smaller margin, per seed and sigma_b; the whole t interval
    of its mean above 2 at every such depth).
``orthogonal_beats_gaussian``
    The same depths, critical sigma_w, study channel: orthogonal exceeds Gaussian by >= 2 bits
    (paired by seed and sigma_b; the whole interval above 2 at every such depth).

The two comparisons hold at a depth, not on average over depths: reproduced when every decided
depth's interval lies above the margin, not reproduced when one depth's lies at or below it,
inconclusive otherwise; the row shows the depth with the smallest mean difference. Deep
networks are where isometry matters (the effect grows with depth), hence 16 and deeper; a
config without such depths is judged at its deepest, and the criterion names the depths used.
``control_peaks_in_chaos``
    Under the ``output_fixed`` control the maximising sigma_w is chaotic: the smallest chi_1
    at the maximum over init x depth x sigma_b is > 1.
``corrected_beats_classic``
    Gaussian weights, depth >= 8, the wide networks of the spectra: the corrected mean field
    is closer to the linearised value than the classic one in every cell (sigma_w x depth)
    where the classic one misses it by more than 0.1 bit: the largest mean ratio
    |corrected - linearised| / |classic - linearised| is below 1 (whole interval).
``spectral_variance``
    Orthogonal weights at the critical sigma_w, depth >= 32: the measured var s_i^2 is within
    20% of the free-probability prediction m_1^2 kappa at every depth (the depth whose mean
    ratio is farthest from 1, its whole interval inside [0.8, 1.2]).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from layerinfo.claims import (
    INCONCLUSIVE,
    NOT_REPRODUCED,
    REPRODUCED,
    Claim,
    boolean_verdict,
    mean_interval,
    threshold_verdict,
    within_verdict,
)

STUDY = "isometry"
INFORMATION_FIGURE = "figures/isometry/information_vs_sigma_w.png"
THEORY_FIGURE = "figures/isometry/information_theory.png"
SPECTRA_FIGURE = "figures/isometry/jacobian_spectra.png"


def _study_channel(table: pd.DataFrame) -> str:
    """The channel of the headline: per_layer_relative if present, else the first one."""
    channels = list(dict.fromkeys(table["channel"]))
    return "per_layer_relative" if "per_layer_relative" in channels else channels[0]


def _decoding(table: pd.DataFrame, channel: str) -> pd.DataFrame:
    return table[(table["method"] == "decoding") & (table["channel"] == channel)]


def _peaks(sub: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Per group of ``by``: the sigma_w (and its chi_1) with the largest mean decoding bound."""
    mean = sub.groupby([*by, "sigma_w"], as_index=False).agg(I_bits=("I_bits", "mean"), chi_1=("chi_1", "first"))
    return mean.loc[mean.groupby(by)["I_bits"].idxmax()].reset_index(drop=True)


def peak_claim(table: pd.DataFrame, tolerance: float = 0.05, min_depth: int = 16) -> Claim:
    """``peak_at_isometry`` from the information table (module docstring)."""
    channel = _study_channel(table)
    sub = _decoding(table, channel)
    sub = sub[(sub["init"] == "orthogonal") & (sub["depth"] >= min_depth)]
    statement = ("Input-signal information is maximal at dynamical isometry: orthogonal weights on the "
                 "critical line chi_1 = 1.")
    criterion = f"|chi_1 - 1| <= {tolerance} at the maximising sigma_w for every depth >= {min_depth} and sigma_b"
    statistic = f"largest |chi_1 - 1| at the sigma_w maximising the decoding bound ({channel}, orthogonal)"
    if sub.empty or sub["sigma_w"].nunique() < 2:
        return Claim(STUDY, "peak_at_isometry", statement, statistic, math.nan, math.nan, math.nan, criterion,
                     INCONCLUSIVE, 0, INFORMATION_FIGURE)
    peaks = _peaks(sub, ["depth", "sigma_b"])
    value = float((peaks["chi_1"] - 1.0).abs().max())
    return Claim(STUDY, "peak_at_isometry", statement, statistic, value, math.nan, math.nan, criterion,
                 boolean_verdict(bool(value <= tolerance)), int(len(peaks)), INFORMATION_FIGURE)


def _at(sub: pd.DataFrame, sigma_w=None, critical=False) -> pd.Series:
    """Decoding bound per (sigma_b, seed) at one sigma_w (or at the critical one)."""
    if critical:
        pick = sub[sub["critical"].astype(bool)]
    else:
        pick = sub[np.isclose(sub["sigma_w"], sigma_w) & ~sub["critical"].astype(bool)]
    return pick.groupby(["sigma_b", "seed"])["I_bits"].mean()


def decision_depths(depths, min_depth: int = 16) -> list[int]:
    """The depths a comparison is decided at: every one >= ``min_depth``, else the deepest."""
    depths = sorted({int(d) for d in depths})
    return [d for d in depths if d >= min_depth] or depths[-1:]


def _at_every_depth(diffs_by_depth: dict[int, pd.Series], margin: float):
    """``(mean, low, high, n, verdict, worst depth)``: each depth's t interval against
    ``margin``; reproduced only when every depth's is above it, not reproduced when one lies at
    or below it; the statistic is that of the depth with the smallest mean difference."""
    results = {d: mean_interval(diffs.dropna().to_numpy()) for d, diffs in diffs_by_depth.items()}
    results = {d: r for d, r in results.items() if r[3] > 0}
    if not results:
        return math.nan, math.nan, math.nan, 0, INCONCLUSIVE, None
    verdicts = [threshold_verdict(m, lo, hi, above=margin, n=n, min_n=1) for m, lo, hi, n in results.values()]
    if NOT_REPRODUCED in verdicts:
        verdict = NOT_REPRODUCED
    elif len(results) == len(diffs_by_depth) and set(verdicts) == {REPRODUCED}:
        verdict = REPRODUCED
    else:
        verdict = INCONCLUSIVE
    worst = min(results, key=lambda d: results[d][0])
    mean, low, high, _ = results[worst]
    return mean, low, high, int(sum(r[3] for r in results.values())), verdict, worst


def _depth_criterion(depths: list[int], margin: float, min_depth: int, extra: str = "") -> str:
    return (f"at every configured depth >= {min_depth}, or the deepest if none is (here "
            f"{', '.join(map(str, depths)) or 'none'}): mean difference >= {margin} bits (95% t interval above "
            f"{margin}{extra}); not reproduced if one depth's interval lies at or below {margin} (our reading: "
            "the paper states neither a margin nor the depths; isometry matters in deep networks, so >= 16, "
            "and a finding about depth must hold at each depth, not on average)")


def margin_claim(table: pd.DataFrame, min_depth: int = 16, ordered: float = 0.8, chaotic: float = 2.2,
                 margin: float = 2.0) -> Claim:
    """``critical_beats_off_critical`` from the information table (module docstring)."""
    channel = _study_channel(table)
    sub = _decoding(table, channel)
    sub = sub[sub["init"] == "orthogonal"]
    depths = decision_depths(sub["depth"], min_depth) if len(sub) else []
    statement = (f"In deep networks the information at the critical sigma_w exceeds that of ordered "
                 f"(sigma_w = {ordered}) and chaotic (sigma_w = {chaotic}) initialisations.")
    diffs = {}
    for depth in depths:
        at = sub[sub["depth"] == depth]
        critical = _at(at, critical=True)
        diffs[depth] = pd.concat([critical - _at(at, ordered), critical - _at(at, chaotic)], axis=1).min(axis=1)
    mean, low, high, n, verdict, worst = _at_every_depth(diffs, margin)
    statistic = (f"decoding bound at critical minus max(sigma_w = {ordered}, {chaotic}), bits, orthogonal, "
                 f"mean over seeds x sigma_b at the depth with the smallest mean (depth {worst})")
    return Claim(STUDY, "critical_beats_off_critical", statement, statistic, mean, low, high,
                 _depth_criterion(depths, margin, min_depth), verdict, n, INFORMATION_FIGURE)


def init_claim(table: pd.DataFrame, min_depth: int = 16, margin: float = 2.0) -> Claim:
    """``orthogonal_beats_gaussian`` from the information table (module docstring)."""
    channel = _study_channel(table)
    sub = _decoding(table, channel)
    both = set(sub.loc[sub["init"] == "orthogonal", "depth"]) & set(sub.loc[sub["init"] == "gaussian", "depth"])
    depths = decision_depths(both, min_depth) if both else []
    statement = "At the critical sigma_w orthogonal weights carry more information than Gaussian ones."
    diffs = {}
    for depth in depths:
        at = sub[sub["depth"] == depth]
        diffs[depth] = (_at(at[at["init"] == "orthogonal"], critical=True)
                        - _at(at[at["init"] == "gaussian"], critical=True))
    mean, low, high, n, verdict, worst = _at_every_depth(diffs, margin)
    statistic = (f"decoding bound orthogonal minus Gaussian at the critical sigma_w, bits, at the depth with the "
                 f"smallest mean (depth {worst})")
    return Claim(STUDY, "orthogonal_beats_gaussian", statement, statistic, mean, low, high,
                 _depth_criterion(depths, margin, min_depth, "; paired by seed and sigma_b"), verdict, n,
                 INFORMATION_FIGURE)


def control_claim(table: pd.DataFrame, control: str = "output_fixed") -> Claim:
    """``control_peaks_in_chaos`` from the information table (module docstring)."""
    sub = _decoding(table, control) if control in set(table["channel"]) else table.iloc[0:0]
    statement = ("With fixed output noise (the control) the information only measures output spread, so "
                 "its maximum lies in the chaotic phase.")
    statistic = f"smallest chi_1 at the sigma_w maximising the decoding bound under {control} (init x depth x sigma_b)"
    criterion = "chi_1 > 1 at every maximum"
    if sub.empty or sub["sigma_w"].nunique() < 2:
        return Claim(STUDY, "control_peaks_in_chaos", statement, statistic, math.nan, math.nan, math.nan, criterion,
                     INCONCLUSIVE, 0, INFORMATION_FIGURE)
    peaks = _peaks(sub, ["init", "depth", "sigma_b"])
    value = float(peaks["chi_1"].min())
    return Claim(STUDY, "control_peaks_in_chaos", statement, statistic, value, math.nan, math.nan, criterion,
                 boolean_verdict(bool(value > 1.0)), int(len(peaks)), INFORMATION_FIGURE)


def corrected_claim(theory: pd.DataFrame, min_depth: int = 8, min_gap: float = 0.1) -> Claim:
    """``corrected_beats_classic`` from the channel-theory table (module docstring)."""
    sub = theory[(theory["init"] == "gaussian") & (theory["depth"] >= min_depth)].copy()
    width = int(sub["width"].iloc[0]) if len(sub) else 0
    statement = ("The corrected (free-probability) mean field describes the channel better than the classic "
                 "mean field, which ignores the spread of the Jacobian spectrum.")
    statistic = (f"largest mean |corrected - linearised| / |classic - linearised| over sigma_w x depth, "
                 f"Gaussian, depth >= {min_depth}, width {width}")
    criterion = f"ratio < 1 (95% t interval below 1) in every cell where |classic - linearised| > {min_gap} bit"
    sub["gap_classic"] = (sub["mean_field_classic_bits"] - sub["linearised_bits"]).abs()
    sub["gap_corrected"] = (sub["mean_field_corrected_bits"] - sub["linearised_bits"]).abs()
    cells = sub.groupby(["sigma_w", "depth"])
    keep = cells["gap_classic"].transform("mean") > min_gap
    sub = sub[keep]
    if sub.empty:
        return Claim(STUDY, "corrected_beats_classic", statement, statistic, math.nan, math.nan, math.nan, criterion,
                     INCONCLUSIVE, 0, THEORY_FIGURE)
    sub["ratio"] = sub["gap_corrected"] / sub["gap_classic"]
    worst = sub.groupby(["sigma_w", "depth"])["ratio"].mean().idxmax()
    values = sub.loc[(sub["sigma_w"] == worst[0]) & (sub["depth"] == worst[1]), "ratio"]
    mean, low, high, n = mean_interval(values.to_numpy())
    verdict = threshold_verdict(mean, low, high, below=1.0, n=n, min_n=1)
    return Claim(STUDY, "corrected_beats_classic", statement,
                 statistic + f" (worst cell sigma_w = {worst[0]:.4g}, depth {worst[1]})", mean, low, high,
                 criterion, verdict, n, THEORY_FIGURE)


def spectrum_claim(jacobian: pd.DataFrame, min_depth: int = 32, tolerance: float = 0.2) -> Claim:
    """``spectral_variance`` from the Jacobian table (module docstring)."""
    sub = jacobian[(jacobian["init"] == "orthogonal") & jacobian["critical"].astype(bool)
                   & (jacobian["depth"] >= min_depth)].copy()
    statement = ("At dynamical isometry the spread of the Jacobian spectrum is what free probability predicts "
                 "(Pennington et al. 2017), not the zero spread of the classic mean field.")
    statistic = (f"measured var s_i^2 / predicted m_1^2 kappa, orthogonal, critical sigma_w, depth >= {min_depth} "
                 f"(the depth farthest from 1)")
    criterion = f"ratio within [{1 - tolerance:g}, {1 + tolerance:g}] (95% t interval inside)"
    if sub.empty or "var_sq_predicted" not in sub:
        return Claim(STUDY, "spectral_variance", statement, statistic, math.nan, math.nan, math.nan, criterion,
                     INCONCLUSIVE, 0, SPECTRA_FIGURE)
    sub["ratio"] = sub["var_sq_singular"] / sub["var_sq_predicted"]
    means = sub.groupby("depth")["ratio"].mean()
    worst = (means - 1.0).abs().idxmax()
    mean, low, high, n = mean_interval(sub.loc[sub["depth"] == worst, "ratio"].to_numpy())
    verdict = within_verdict(mean, low, high, low=1 - tolerance, high=1 + tolerance, n=n, min_n=1)
    return Claim(STUDY, "spectral_variance", statement, statistic + f" (depth {worst})", mean, low, high, criterion,
                 verdict, n, SPECTRA_FIGURE)


def isometry_claims(information: pd.DataFrame, theory: pd.DataFrame, jacobian: pd.DataFrame) -> list[Claim]:
    """Every claim of study S3 from its information, channel-theory and Jacobian tables."""
    return [
        peak_claim(information),
        margin_claim(information),
        init_claim(information),
        control_claim(information),
        corrected_claim(theory),
        spectrum_claim(jacobian),
    ]


def write_isometry_claims(information_csv, theory_csv, jacobian_csv, output, config_label: str) -> pd.DataFrame:
    """Read the three tables, build :func:`isometry_claims` and write them (``claims_isometry.csv``)."""
    from layerinfo.claims import write_claims

    claims = isometry_claims(pd.read_csv(information_csv), pd.read_csv(theory_csv), pd.read_csv(jacobian_csv))
    return write_claims(claims, output, config_label)
