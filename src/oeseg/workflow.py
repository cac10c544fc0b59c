"""What every `scripts/` entry point does around its one library call: logging to the rule's log."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def rule_logging(log_path: str | None) -> Iterator[logging.Logger]:
    """Send the `oeseg` logger (and uncaught errors) to the rule's log file and stderr."""
    logger = logging.getLogger("oeseg")
    logger.setLevel(logging.INFO)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        handlers.append(logging.FileHandler(log_path, mode="w", encoding="utf-8"))
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    for h in handlers:
        h.setFormatter(fmt)
        logger.addHandler(h)
    try:
        yield logger
    except Exception:
        logger.exception("rule failed")
        raise
    finally:
        for h in handlers:
            logger.removeHandler(h)
            h.close()
