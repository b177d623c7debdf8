"""Claims on your own networks: the two information-plane findings that any network trained over
several checkpoints can be judged on, per split, layer and estimator of an estimate table.

Shwartz-Ziv & Tishby (2017, arXiv:1703.00810) describe training in two phases: first the layers
fit the labels (I(T;Y) rises), then, for most of training, they compress their input (I(X;T)
falls). Chelombiev et al. (2019, study S2) find compression estimator- and activation-dependent.

* ``fitting``: I(T;Y) at the last snapshot minus at the first; reproduced when the interval of
  the difference lies above 0, not reproduced when below.
* ``compression``: (peak - last) / peak of I(X;T) over the snapshots, S2's statistic; reproduced
  when the interval lies above S2's threshold (:data:`MIN_COMPRESSION_FRACTION`), not reproduced
  when below, inconclusive when I(X;T) is at log2 N at the peak and the last snapshot (every
  sample in its own bin or kernel: the estimator counts samples and cannot see compression).

The interval of a difference is our reading: from the two snapshots' subsampling intervals,
``[low_a - high_b, high_a - low_b]``, which covers the difference whenever both cover their
values (coverage at least 1 - 2 alpha); without intervals the point value decides.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from layerinfo.claims import INCONCLUSIVE, Claim, threshold_verdict
from layerinfo.cli.names import figure_name
from layerinfo.infoplane.claims import MIN_COMPRESSION_FRACTION
from layerinfo.information.diagnostics import SATURATION_BITS

STUDY = "external"
FITTING = ("Shwartz-Ziv & Tishby 2017: in a first phase of training the layers fit the labels, "
           "I(T;Y) rises")
COMPRESSION = ("Shwartz-Ziv & Tishby 2017: for most of training the layers then compress their input, "
               "I(X;T) falls (Chelombiev et al. 2019: depending on the estimator and activation)")


def _bounds(row: pd.Series, quantity: str) -> tuple[float, float, float]:
    value = float(row[f"{quantity}_bits"])
    low, high = (float(row.get(f"{quantity}_ci_{side}", math.nan)) for side in ("low", "high"))
    return value, low, high


def _figure(network: str, split: str, estimator: str) -> str:
    return f"figures/{STUDY}/{network}/{figure_name(network, split, estimator)}"


def fitting_claim(network: str, rows: pd.DataFrame) -> Claim:
    """I(T;Y) at the last snapshot minus at the first, for one split x layer x estimator."""
    rows = rows.sort_values("epoch")
    first, last = rows.iloc[0], rows.iloc[-1]
    a, a_low, a_high = _bounds(last, "I_TY")
    b, b_low, b_high = _bounds(first, "I_TY")
    value, low, high = a - b, a_low - b_high, a_high - b_low
    return Claim(
        STUDY, _claim_id(network, last, "fitting"), FITTING,
        f"{network}, layer {last['layer_name']}, {last['estimator']}, split {last['split']}: I(T;Y) (bits) at epoch "
        f"{int(last['epoch'])} minus at epoch {int(first['epoch'])}",
        value, low, high,
        "ci_low > 0 reproduced, ci_high < 0 not reproduced (interval of a difference from the two snapshots' "
        "intervals: our reading)",
        threshold_verdict(value, low, high, above=0.0, n=len(rows), min_n=2), len(rows),
        _figure(network, last["split"], last["estimator"]))


def compression_claim(network: str, rows: pd.DataFrame) -> Claim:
    """(peak - last) / peak of I(X;T) over the snapshots, for one split x layer x estimator."""
    rows = rows.sort_values("epoch")
    peak, last = rows.loc[rows["I_XT_bits"].idxmax()], rows.iloc[-1]
    p, p_low, p_high = _bounds(peak, "I_XT")
    q, q_low, q_high = _bounds(last, "I_XT")
    if p > 0:
        value, low, high = (p - q) / p, (p_low - q_high) / p, (p_high - q_low) / p
    else:
        value = low = high = math.nan
    verdict = threshold_verdict(value, low, high, above=MIN_COMPRESSION_FRACTION, n=len(rows), min_n=3)
    saturated = _at_log2_n(peak) and _at_log2_n(last)
    if saturated:
        verdict = INCONCLUSIVE
    return Claim(
        STUDY, _claim_id(network, last, "compression"), COMPRESSION,
        f"{network}, layer {last['layer_name']}, {last['estimator']}, split {last['split']}: (peak - last) / peak "
        f"of I(X;T), peak at epoch {int(peak['epoch'])}, last epoch {int(last['epoch'])}"
        + ("; both at log2 N: every sample in its own bin or kernel, the estimator cannot see compression"
           if saturated else ""),
        value, low, high,
        f"ci_low > {MIN_COMPRESSION_FRACTION} reproduced, ci_high < {MIN_COMPRESSION_FRACTION} not reproduced, "
        "inconclusive when I(X;T) is at log2 N at both snapshots (S2's threshold; interval of a difference "
        "from the two snapshots' intervals: our reading)",
        verdict, len(rows),
        _figure(network, last["split"], last["estimator"]))


def _at_log2_n(row: pd.Series) -> bool:
    """I(X;T) at log2 N, as the estimate table's warning says (:data:`SATURATION_BITS`)."""
    n = row.get("n")
    return n is not None and np.isfinite(n) and n > 1 and abs(float(row["I_XT_bits"]) - math.log2(n)) < SATURATION_BITS


def _claim_id(network: str, row: pd.Series, name: str) -> str:
    return f"external_{network}_{row['split']}_{row['layer_name']}_{row['estimator']}_{name}"


def external_claims(tables: dict[str, pd.DataFrame]) -> list[Claim]:
    """Fitting and compression claims of each network's estimate table (network -> table).

    A network with one snapshot has no claims (nothing changes over training); fitting needs two
    snapshots and compression three.
    """
    claims = []
    for network, table in tables.items():
        if table["epoch"].nunique() < 2:
            continue
        for _, rows in table.groupby(["split", "layer", "estimator"], sort=False):
            claims.append(fitting_claim(network, rows))
            if rows["epoch"].nunique() >= 3:
                claims.append(compression_claim(network, rows))
    return claims


def snapshot_counts(tables: dict[str, pd.DataFrame]) -> dict[str, int]:
    """Snapshots per network (for the log: a network with one has no claims)."""
    return {network: int(np.unique(table["epoch"]).size) for network, table in tables.items()}
