"""Keep the garbage collector off the request path of a long-running server."""

from __future__ import annotations

import gc
import os

# Candidate for config.py. The servers (`crypto-mlops serve ...`) default it to "1"; a library user
# (tests, notebooks) gets no freeze unless they set it.
GC_FREEZE_ENV = "GC_FREEZE"


def freeze_heap() -> bool:
    """Move every object alive now (imports, model, candles) out of the garbage collector's sight.

    A serving process holds ~500k long-lived objects (pandas, MLflow, the model...). Without this,
    every full collection walks them all, ~0.3 s with the GIL held, and the request that triggers it,
    and every request queued behind it, waits: that was the p99 of a second. Objects created later
    are collected as usual. Returns whether it froze (only when GC_FREEZE is on).
    """
    if os.environ.get(GC_FREEZE_ENV, "0").strip().lower() not in ("1", "true", "yes", "on"):
        return False
    gc.collect()
    gc.freeze()
    return True
