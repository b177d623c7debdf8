"""What every workflow job needs around its one package call: a log file and thread limits."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from typing import Iterator


@contextlib.contextmanager
def job_log(path: str | os.PathLike | None, threads: int = 1) -> Iterator[logging.Logger]:
    """Send logging and stderr (tracebacks included) to ``path``; limit torch to ``threads``."""
    stream = open(path, "w", buffering=1) if path else sys.stderr
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        import torch

        torch.set_num_threads(max(1, int(threads)))
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    try:
        with contextlib.redirect_stderr(stream):
            try:
                yield logging.getLogger("layerinfo.job")
            except BaseException:
                logging.getLogger("layerinfo.job").exception("job failed")
                raise
    finally:
        root.removeHandler(handler)
        if path:
            stream.close()
