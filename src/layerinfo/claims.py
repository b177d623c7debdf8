"""The claims contract: one row per published finding, beside its measurement and a verdict.

Each study builds a list of :class:`Claim` from its own tables and writes it with
:func:`write_claims` to ``results/tables/claims_<study>.csv``; :func:`merge_claims` joins the
studies' files. A criterion is code fixed before the run: the helpers below turn a statistic and
its interval into a verdict by a stated rule, so a study never compares numbers by hand.

Verdicts: ``reproduced`` (the whole interval satisfies the criterion), ``not reproduced`` (the
whole interval violates it), ``inconclusive`` (the interval straddles the threshold, the value is
missing, or fewer runs than the criterion needs).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

COLUMNS = ["study", "claim", "statement", "statistic", "value", "ci_low", "ci_high", "criterion",
           "verdict", "n", "config", "figure"]
VERDICTS = ("reproduced", "not reproduced", "inconclusive")
REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE = VERDICTS


@dataclass(frozen=True)
class Claim:
    """One published finding and what this run measured for it.

    ``figure`` is the path (relative to ``results/``) of the figure that shows it, or ``""``.
    """

    study: str
    claim: str
    statement: str
    statistic: str
    value: float
    ci_low: float
    ci_high: float
    criterion: str
    verdict: str
    n: int
    figure: str = ""

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"claim {self.claim!r}: verdict {self.verdict!r} is not one of {VERDICTS}")


def threshold_verdict(value, ci_low=math.nan, ci_high=math.nan, *, above=None, below=None,
                      n=None, min_n=1) -> str:
    """Verdict of "the statistic is above ``above``" (or below ``below``) given its interval.

    Without an interval (NaN bounds) the point value decides. With one, the whole interval must
    lie on the claimed side for ``reproduced`` and on the other side for ``not reproduced``;
    otherwise ``inconclusive``. ``n < min_n`` or a missing value is ``inconclusive``.

    Examples
    --------
    >>> threshold_verdict(0.3, 0.1, 0.5, above=0)
    'reproduced'
    >>> threshold_verdict(0.3, -0.1, 0.5, above=0)
    'inconclusive'
    """
    if (above is None) == (below is None):
        raise ValueError("give exactly one of above= or below=")
    if n is not None and n < min_n:
        return INCONCLUSIVE
    if value is None or not np.isfinite(value):
        return INCONCLUSIVE
    lo = value if not np.isfinite(ci_low) else ci_low
    hi = value if not np.isfinite(ci_high) else ci_high
    if above is not None:
        if lo > above:
            return REPRODUCED
        if hi <= above:
            return NOT_REPRODUCED
        return INCONCLUSIVE
    if hi < below:
        return REPRODUCED
    if lo >= below:
        return NOT_REPRODUCED
    return INCONCLUSIVE


def within_verdict(value, ci_low=math.nan, ci_high=math.nan, *, low, high, n=None, min_n=1) -> str:
    """Verdict of "the statistic lies in [low, high]": ``reproduced`` when the interval lies
    inside, ``not reproduced`` when it lies wholly outside, ``inconclusive`` when it overlaps
    an edge (or too few runs / no value)."""
    if n is not None and n < min_n:
        return INCONCLUSIVE
    if value is None or not np.isfinite(value):
        return INCONCLUSIVE
    lo = value if not np.isfinite(ci_low) else ci_low
    hi = value if not np.isfinite(ci_high) else ci_high
    if low <= lo and hi <= high:
        return REPRODUCED
    if hi < low or lo > high:
        return NOT_REPRODUCED
    return INCONCLUSIVE


def boolean_verdict(holds: bool | None) -> str:
    """Verdict of a criterion that is a plain yes/no of the run (None: could not be measured)."""
    if holds is None:
        return INCONCLUSIVE
    return REPRODUCED if holds else NOT_REPRODUCED


def mean_interval(values, level=0.95) -> tuple[float, float, float, int]:
    """Mean of ``values`` and its Student-t interval: ``(mean, low, high, n)``; NaN bounds when
    fewer than two finite values."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    mean = float(x.mean())
    if n < 2:
        return mean, math.nan, math.nan, n
    half = stats.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) / math.sqrt(n)
    return mean, mean - half, mean + half, n


def correlation_interval(x, y, level=0.95) -> tuple[float, float, float, int]:
    """Pearson correlation and its Fisher-z interval: ``(r, low, high, n)``; NaN bounds for n < 4
    or constant data."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    n = int(x.size)
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan, math.nan, math.nan, n
    r = float(np.corrcoef(x, y)[0, 1])
    if n < 4:
        return r, math.nan, math.nan, n
    z = math.atanh(min(max(r, -0.999999), 0.999999))
    half = stats.norm.ppf(0.5 + level / 2) / math.sqrt(n - 3)
    return r, math.tanh(z - half), math.tanh(z + half), n


def config_label(config: dict, name: str) -> str:
    """``name@hash``: the config file's name and the first 12 hex digits of the SHA-256 of the
    resolved config (JSON, sorted keys), so two runs' claims can be told apart."""
    digest = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()
    return f"{os.path.basename(name)}@{digest[:12]}"


def claims_frame(claims, config: str) -> pd.DataFrame:
    """The claims as a table in the contract's column order, ``config`` filled in."""
    rows = [{**asdict(c), "config": config} for c in claims]
    return pd.DataFrame(rows, columns=COLUMNS)


def write_claims(claims, path, config: str) -> pd.DataFrame:
    """Write ``claims`` to ``path`` (CSV, atomically) and return the table."""
    from layerinfo.tables import write_csv

    frame = claims_frame(claims, config)
    write_csv(frame, path)
    return frame


def read_claims(paths) -> pd.DataFrame:
    """The studies' claims files joined, checked against the contract."""
    frames = []
    for path in paths:
        frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
        missing = [c for c in COLUMNS if c not in frame.columns]
        if missing:
            raise ValueError(f"{path}: claims file lacks columns {missing} (expected {COLUMNS})")
        bad = sorted(set(frame["verdict"]) - set(VERDICTS))
        if bad:
            raise ValueError(f"{path}: verdicts {bad} are not among {list(VERDICTS)}")
        frames.append(frame[COLUMNS])
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
