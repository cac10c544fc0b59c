"""What every `scripts/` entry point does around its one library call: logging to the rule's log
(and, for tracked artifacts, provenance records: see oeseg.provenance)."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def rule_step(snakemake: Any) -> Iterator[logging.Logger]:
    """Run a rule's body: the `oeseg` logger (and any uncaught error) goes to the rule's log."""
    logger = logging.getLogger("oeseg")
    logger.setLevel(logging.INFO)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if snakemake.log:
        handlers.append(logging.FileHandler(snakemake.log[0], mode="w", encoding="utf-8"))
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    for h in handlers:
        h.setFormatter(fmt)
        logger.addHandler(h)
    try:
        yield logger
    except Exception:
        logger.exception("rule %s failed", getattr(snakemake, "rule", "?"))
        raise
    finally:
        for h in handlers:
            logger.removeHandler(h)
            h.close()
