"""Progress reporting: a tqdm bar on a terminal, a few plain log lines otherwise."""

from __future__ import annotations

import logging
import sys
import time
from typing import Iterable, Iterator, TypeVar

from tqdm import tqdm

T = TypeVar("T")
log = logging.getLogger("layerinfo.progress")


def progress(items: Iterable[T], desc: str, total: int | None = None, lines: int = 10) -> Iterator[T]:
    """Iterate over ``items`` while reporting progress.

    On a terminal this is a tqdm bar; in a log file (Snakemake jobs) it writes about
    ``lines`` lines ``desc: k/total (p%) elapsed``, so logs stay short and greppable.
    """
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    if sys.stderr.isatty():
        yield from tqdm(items, desc=desc, total=total)
        return
    step = max(1, (total or 1) // max(lines, 1))
    start = time.perf_counter()
    for k, item in enumerate(items, 1):
        yield item
        if total and (k % step == 0 or k == total):
            log.info("%s: %d/%d (%.0f%%) %.1fs", desc, k, total, 100 * k / total, time.perf_counter() - start)
