"""Keep the garbage collector off the request path of a long-running server."""

from __future__ import annotations

import gc

# The setting's variable (Settings.gc_freeze). The servers (`crypto-mlops serve ...`) default it to on;
# a library user (tests, notebooks) gets no freeze unless they set it.
GC_FREEZE_ENV = "GC_FREEZE"


def freeze_heap(enabled: bool) -> bool:
    """Move every object alive now (imports, model, candles) out of the garbage collector's sight.

    A serving process holds ~500k long-lived objects (pandas, MLflow, the model...). Without this,
    every full collection walks them all, ~0.3 s with the GIL held, and the request that triggers it,
    and every request queued behind it, waits: that was the p99 of a second. Objects created later
    are collected as usual. Returns whether it froze (only when `enabled`: Settings.gc_freeze).
    """
    if not enabled:
        return False
    gc.collect()
    gc.freeze()
    return True
