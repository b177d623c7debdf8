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
import html
import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

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


def _decidable_bounds(value, ci_low, ci_high, n, min_n):
    """``(low, high)`` a verdict is judged on (the point value where a bound is NaN), or None
    when there is no value or fewer than ``min_n`` runs."""
    if n is not None and n < min_n:
        return None
    if value is None or not np.isfinite(value):
        return None
    return (value if not np.isfinite(ci_low) else ci_low, value if not np.isfinite(ci_high) else ci_high)


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
    bounds = _decidable_bounds(value, ci_low, ci_high, n, min_n)
    if bounds is None:
        return INCONCLUSIVE
    lo, hi = bounds
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
    bounds = _decidable_bounds(value, ci_low, ci_high, n, min_n)
    if bounds is None:
        return INCONCLUSIVE
    lo, hi = bounds
    if low <= lo and hi <= high:
        return REPRODUCED
    if hi < low or lo > high:
        return NOT_REPRODUCED
    return INCONCLUSIVE


def contains_verdict(value, ci_low, ci_high, *, target, n=None, min_n=1) -> str:
    """Verdict of "the statistic is ``target``" (e.g. an exponent of 1): ``reproduced`` when the
    interval contains it, ``not reproduced`` when it excludes it, ``inconclusive`` without an
    interval or with too few runs."""
    if n is not None and n < min_n:
        return INCONCLUSIVE
    if not (np.isfinite(value) and np.isfinite(ci_low) and np.isfinite(ci_high)):
        return INCONCLUSIVE
    return REPRODUCED if ci_low <= target <= ci_high else NOT_REPRODUCED


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


def fisher_interval(r: float, n: int, level: float = 0.95) -> tuple[float, float]:
    """Fisher-z confidence interval of a Pearson correlation ``r`` from ``n`` pairs (NaN for
    n <= 3 or undefined r)."""
    if n <= 3 or not math.isfinite(r):
        return math.nan, math.nan
    z = math.atanh(max(min(r, 1 - 1e-15), -1 + 1e-15))
    half = stats.norm.ppf(0.5 + level / 2) / math.sqrt(n - 3)
    return math.tanh(z - half), math.tanh(z + half)


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
    return (r, *fisher_interval(r, n, level), n)


def pooled_correlation(groups, level=0.95) -> tuple[float, float, float, int]:
    """Pearson correlation pooled over groups (e.g. over activations, each correlated across its
    seeds): Fisher z of each group's r weighted by ``n_g - 3``, back-transformed, with the
    interval ``z ± q / sqrt(sum(n_g - 3))``. ``groups`` is an iterable of ``(x, y)`` pairs; groups
    with fewer than 4 finite pairs or constant data are left out. Returns ``(r, low, high, n)``
    with ``n`` the number of runs in the groups used; NaN when none is usable.
    """
    weights, zs, n_total = [], [], 0
    for x, y in groups:
        r, _, _, n = correlation_interval(x, y, level)
        if n < 4 or not np.isfinite(r):
            continue
        zs.append(math.atanh(min(max(r, -0.999999), 0.999999)))
        weights.append(n - 3)
        n_total += n
    if not weights:
        return math.nan, math.nan, math.nan, n_total
    w = np.asarray(weights, float)
    z = float(np.dot(w, zs) / w.sum())
    half = stats.norm.ppf(0.5 + level / 2) / math.sqrt(w.sum())
    return math.tanh(z), math.tanh(z - half), math.tanh(z + half), n_total


def config_label(config: dict, name: str) -> str:
    """``name@hash``: the config file's name and the first 12 hex digits of the SHA-256 of the
    resolved config (JSON, sorted keys), so two runs' claims can be told apart."""
    digest = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()
    return f"{os.path.basename(name)}@{digest[:12]}"


def with_arithmetic(config: str, arithmetic) -> str:
    """The claims' ``config`` provenance, extended with the note that some runs behind them were
    resumed on different arithmetic (``arithmetic``: the runs' ``arithmetic`` column or values)."""
    from layerinfo.h5io import MIXED_ARITHMETIC

    values = pd.Series(arithmetic, dtype=object)
    if not values.eq(MIXED_ARITHMETIC).any():
        return config
    return f"{config}; {MIXED_ARITHMETIC}"


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


VERDICT_COLOURS = {REPRODUCED: "#1a7f37", NOT_REPRODUCED: "#cf222e", INCONCLUSIVE: "#9a6700"}
STUDY_TITLES = {
    "information_plane": "S2 — information plane with adaptive estimators (Chelombiev et al. 2019)",
    "relevance": "S1 — resolution and relevance (Song, Marsili & Jo 2018)",
    "isometry": "S3 — optimal channels at dynamical isometry (Weng et al. 2022)",
    "coding": "S4 — coding schemes (van Meegen & Sompolinsky 2025)",
    "external": "Your networks — fitting and compression (Shwartz-Ziv & Tishby 2017)",
}


def _number(value) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return ""
    try:
        return f"{float(value):.4g}"
    except (TypeError, ValueError):
        return html.escape(str(value))


def claims_html(frame: pd.DataFrame) -> str:
    """A readable page of the claims: one section per study, verdicts coloured, each claim linked
    to the figure that shows it (paths relative to ``results/``, where the page is written)."""
    counts = frame["verdict"].value_counts()
    summary = ", ".join(f"{counts.get(v, 0)} {v}" for v in VERDICTS)
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8"><title>What reproduces</title>',
             "<style>body{font-family:sans-serif;max-width:72em;margin:2em auto}"
             "table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:.3em;"
             "vertical-align:top;font-size:90%}th{background:#f4f4f4}.v{font-weight:bold;color:#fff}"
             "</style></head><body>",
             "<h1>What reproduces</h1>",
             f"<p>{len(frame)} claims: {html.escape(summary)}. Config: "
             f"{html.escape(', '.join(sorted(set(map(str, frame['config'])))))}. A criterion is fixed in "
             "the code before the run; <em>inconclusive</em> means the interval straddles it or too "
             "few runs were made.</p>"]
    for study, group in frame.groupby("study", sort=False):
        parts.append(f"<h2>{html.escape(STUDY_TITLES.get(study, study))}</h2>")
        parts.append("<table><tr><th>claim</th><th>statement</th><th>statistic</th><th>value</th>"
                     "<th>95% interval</th><th>criterion</th><th>verdict</th><th>n</th></tr>")
        for row in group.itertuples(index=False):
            figure = getattr(row, "figure", "")
            name = html.escape(str(row.claim))
            if isinstance(figure, str) and figure:
                name = f'<a href="{html.escape(figure)}">{name}</a>'
            interval = ""
            if _number(row.ci_low) or _number(row.ci_high):
                interval = f"[{_number(row.ci_low)}, {_number(row.ci_high)}]"
            colour = VERDICT_COLOURS.get(row.verdict, "#555")
            parts.append(
                f"<tr><td>{name}</td><td>{html.escape(str(row.statement))}</td>"
                f"<td>{html.escape(str(row.statistic))}</td><td>{_number(row.value)}</td><td>{interval}</td>"
                f"<td><code>{html.escape(str(row.criterion))}</code></td>"
                f'<td class="v" style="background:{colour}">{html.escape(str(row.verdict))}</td>'
                f"<td>{_number(row.n)}</td></tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def merge_claims(paths, csv_path, html_path) -> pd.DataFrame:
    """Join the studies' claims files into one table and its HTML page (both written atomically)."""
    from layerinfo.h5io import atomic_path
    from layerinfo.tables import write_csv

    frame = read_claims(paths)
    write_csv(frame, csv_path)
    with atomic_path(html_path, ".html") as tmp:
        Path(tmp).write_text(claims_html(frame), encoding="utf-8")
    return frame


def claims_markdown(frame: pd.DataFrame) -> str:
    """The claims as a Markdown table (claim, value, interval, criterion, verdict, n), for a
    README or a note; ``python -m layerinfo.claims results/tables/claims.csv`` prints it."""
    lines = ["| study | claim | value | 95% interval | criterion | verdict | n |", "|---|---|---|---|---|---|---|"]
    for row in frame.itertuples(index=False):
        interval = ""
        if _number(row.ci_low) or _number(row.ci_high):
            interval = f"[{_number(row.ci_low)}, {_number(row.ci_high)}]"
        criterion = str(row.criterion).replace("|", "\\|")
        lines.append(f"| {row.study} | `{row.claim}` | {_number(row.value)} | {interval} | {criterion} | "
                     f"**{row.verdict}** | {_number(row.n)} |")
    return "\n".join(lines) + "\n"


STUDY_ORDER = ("relevance", "information_plane", "isometry", "coding")
STUDY_LABELS = {"relevance": "S1", "information_plane": "S2", "isometry": "S3", "coding": "S4"}


def claims_summary(frame: pd.DataFrame) -> str:
    """Verdict counts per study as a Markdown table (S1 to S4 first, then any other study), for
    the README; ``python -m layerinfo.claims --summary claims.csv`` prints it."""
    lines = ["| study | claims | reproduced | not reproduced | inconclusive |", "|---|---|---|---|---|"]
    studies = list(dict.fromkeys(frame["study"]))
    order = [s for s in STUDY_ORDER if s in studies] + [s for s in studies if s not in STUDY_ORDER]
    for study in order:
        verdicts = frame.loc[frame["study"] == study, "verdict"]
        label = f"{STUDY_LABELS[study]} {study}" if study in STUDY_LABELS else study
        counts = " | ".join(str(int((verdicts == v).sum())) for v in VERDICTS)
        lines.append(f"| {label} | {len(verdicts)} | {counts} |")
    return "\n".join(lines) + "\n"


GENERATED_BLOCKS = {"claims-table": claims_markdown, "claims-summary": claims_summary}


def update_generated_blocks(text: str, base: Path) -> str:
    """``text`` with every generated claims block rewritten from the CSV its marker names.

    A block is ``<!-- claims-table: PATH -->`` (or ``claims-summary``) on a line of its own, the
    generated Markdown, then ``<!-- end claims-table -->``; PATH is relative to ``base`` (the
    repository root). Raises ValueError on a marker without its end.
    """
    import re

    pattern = re.compile(r"^(<!-- (claims-table|claims-summary): (\S+) -->\n)(.*?)(<!-- end \2 -->)$", re.S | re.M)

    def render(match):
        kind, path = match.group(2), match.group(3)
        if not (base / path).is_file():
            raise ValueError(f"the '<!-- {kind}: {path} -->' block names a claims CSV that does not exist")
        frame = read_claims([base / path])
        return match.group(1) + GENERATED_BLOCKS[kind](frame) + match.group(5)

    updated = pattern.sub(render, text)
    for kind in GENERATED_BLOCKS:
        starts = re.findall(rf"^<!-- {kind}: \S+ -->$", updated, re.M)
        if len(starts) != len(re.findall(rf"^<!-- end {kind} -->$", updated, re.M)):
            raise ValueError(f"a '<!-- {kind}: PATH -->' marker has no '<!-- end {kind} -->'")
    return updated


def main(argv=None) -> int:
    """``python -m layerinfo.claims [--summary] CLAIMS_CSV`` prints the claims (or the verdict
    counts per study) as Markdown; ``--update FILE...`` rewrites the generated claims blocks of
    Markdown files instead (paths in the markers relative to the current directory)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m layerinfo.claims", description=main.__doc__)
    parser.add_argument("csv", nargs="?", help="a claims table, e.g. results/tables/claims.csv")
    parser.add_argument("--summary", action="store_true", help="verdict counts per study instead of every claim")
    parser.add_argument("--update", nargs="+", metavar="FILE", help="rewrite the generated claims blocks of these files")
    args = parser.parse_args(argv)
    if args.update:
        for name in args.update:
            path = Path(name)
            text = path.read_text(encoding="utf-8")
            updated = update_generated_blocks(text, Path.cwd())
            if updated != text:
                path.write_text(updated, encoding="utf-8")
                print(f"updated {path}")
        return 0
    if not args.csv:
        parser.error("give a claims CSV (e.g. results/tables/claims.csv) or --update FILE...")
    if not Path(args.csv).is_file():
        parser.error(f"claims CSV {args.csv!r} does not exist (a run writes results/tables/claims.csv)")
    frame = read_claims([args.csv])
    print((claims_summary if args.summary else claims_markdown)(frame), end="")
    return 0


if __name__ == "__main__":  # pragma: no cover - the command line above
    raise SystemExit(main())
