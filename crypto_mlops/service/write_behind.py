"""Write-behind: a bounded queue drained in batches by one background thread.

Requests put their rows here and return; the writer stores them in one transaction per batch, so a
request never waits on a database commit (nor on SQLite's write lock, which concurrent writers used to
queue on, sleeping in its busy handler). A full queue drops the new item and counts it; `flush()`
waits until everything queued so far is stored; `close()` drains the queue and stops the thread, and
runs at interpreter exit too, so a clean stop loses no row.
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_MAX_QUEUE = 10_000  # items waiting at most; beyond it new items are dropped (and counted)
DEFAULT_BATCH = 500  # items stored per transaction at most
DEFAULT_LINGER_S = 0.05  # the writer waits this long for a batch to fill once it has one item


class WriteBehind(Generic[T]):
    """Queue items for `store(batch)`, called from one background thread (started on first use)."""

    def __init__(
        self,
        store: Callable[[Sequence[T]], None],
        *,
        max_queue: int = DEFAULT_MAX_QUEUE,
        batch: int = DEFAULT_BATCH,
        linger_s: float = DEFAULT_LINGER_S,
        name: str = "write-behind",
    ) -> None:
        self._store = store
        self.max_queue = max(1, max_queue)
        self.batch = max(1, batch)
        self.linger_s = max(0.0, linger_s)
        self.name = name
        self._items: deque[T] = deque()
        self._cond = threading.Condition()
        self._queued = 0  # sequence number of the last item queued
        self._done = 0  # sequence number of the last item stored (or failed)
        self._closed = False
        self._flushers = 0  # callers waiting in flush(): the writer stops lingering for them
        self._thread: threading.Thread | None = None
        self.dropped = 0
        self.batches = 0
        self.high_water = 0  # most items ever waiting at once

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    @property
    def closed(self) -> bool:
        return self._closed

    def put(self, item: T) -> bool:
        """Queue `item`; False (and counted in `dropped`) when the queue is full or closed."""
        with self._cond:
            if self._closed or len(self._items) >= self.max_queue:
                self.dropped += 1
                return False
            self._items.append(item)
            self._queued += 1
            self.high_water = max(self.high_water, len(self._items))
            if self._thread is None:
                self._start()
            # Wake the writer only when it waits for a first item or a full batch: a notify per put
            # woke the lingering writer (a thread switch, a GIL handoff) on every request.
            if len(self._items) == 1 or len(self._items) >= self.batch:
                self._cond.notify_all()
            return True

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Wait until every item queued before this call is stored; False on timeout."""
        with self._cond:
            target = self._queued
            self._flushers += 1
            self._cond.notify_all()  # wake a lingering writer: someone is waiting for these rows
            try:
                return self._cond.wait_for(lambda: self._done >= target or self._thread is None, timeout)
            finally:
                self._flushers -= 1

    def close(self, timeout: float = 30.0) -> None:
        """Store what is queued, then stop the writer; later `put`s are dropped."""
        with self._cond:
            self._closed = True
            thread = self._thread
            self._cond.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                log.error("%s: %d items still queued after %.0f s", self.name, len(self), timeout)

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        # Daemon threads still run while atexit handlers do: drain on a clean interpreter exit.
        ref = weakref.ref(self)
        atexit.register(_close_at_exit, ref)

    def _take(self) -> list[T]:
        with self._cond:
            while not self._items and not self._closed:
                self._cond.wait()
            if self._items and len(self._items) < self.batch and not self._closed and self.linger_s:
                # Linger a little so that a burst goes into one transaction; flush()/close() cut it short.
                self._cond.wait_for(self._batch_ready, self.linger_s)
            n = min(self.batch, len(self._items))
            return [self._items.popleft() for _ in range(n)]

    def _batch_ready(self) -> bool:
        return len(self._items) >= self.batch or self._closed or self._flushers > 0

    def _run(self) -> None:
        while True:
            batch = self._take()
            if not batch:  # closed and drained
                with self._cond:
                    self._thread = None
                    self._cond.notify_all()
                return
            try:
                self._store(batch)
            except Exception:  # the store counts its own failures; never let the writer die
                log.exception("%s: storing a batch of %d failed", self.name, len(batch))
            with self._cond:
                self._done += len(batch)
                self.batches += 1
                self._cond.notify_all()


def _close_at_exit(ref: weakref.ReferenceType[WriteBehind[Any]]) -> None:
    writer = ref()
    if writer is not None and not writer.closed:
        writer.close(timeout=10.0)
