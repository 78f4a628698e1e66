"""Clean shutdown: SIGINT/SIGTERM ask the loop to stop so it can flush and commit first."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any


class StopOnSignals:
    """Within the block, SIGINT/SIGTERM set `stop` instead of killing the process (main thread only)."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.signal_name: str | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        self.signal_name = signal.Signals(signum).name
        self.stop.set()

    def __enter__(self) -> StopOnSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *_: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
