"""Write-behind history: rows are stored after a clean stop, the queue stays bounded under a burst."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from crypto_mlops.service.history import HistoryStore
from crypto_mlops.service.write_behind import WriteBehind
from tests.service.fixtures import make_service
from tests.service.test_history import SIGNAL_ROW


def _add(store: HistoryStore, i: int) -> None:
    store.add_signal(datetime.now(UTC), {**SIGNAL_ROW, "symbol": "BTC/USDT"}, {"i": i})


def test_rows_are_stored_after_close(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    store = HistoryStore(url)
    for i in range(1200):  # more than one batch
        _add(store, i)
    store.close()
    reopened = HistoryStore(url)
    assert reopened.count("signals") == 1200
    assert [row["i"] for row in reopened.tail_signals(2)] == [1198, 1199]
    reopened.close()


def test_service_close_stores_every_recorded_row(tmp_path: Path) -> None:
    svc = make_service(tmp_path)
    for _ in range(20):
        svc.signal("BTCUSDT", "1h", 200)
        svc.ml_signal("BTCUSDT", "1h", 200)
    svc.close()
    again = HistoryStore(f"sqlite:///{tmp_path / 'history.db'}")
    assert again.count("signals") == 20
    assert again.count("ml_predictions") == 20
    assert again.tail_ml_predictions(1)[0]["ml_prediction"]["predicted_rv_24h"] > 0
    again.close()


def test_rows_are_stored_on_a_clean_interpreter_exit(tmp_path: Path) -> None:
    """Nobody calls close(): the writer drains at exit (atexit), so no row is lost."""
    url = f"sqlite:///{tmp_path / 'h.db'}"
    code = (
        "from datetime import UTC, datetime\n"
        "from crypto_mlops.service.history import HistoryStore\n"
        "from tests.service.test_history import SIGNAL_ROW\n"
        f"store = HistoryStore({url!r})\n"
        "for i in range(3000):\n"
        "    store.add_signal(datetime.now(UTC), {**SIGNAL_ROW, 'symbol': 'BTC/USDT'}, {'i': i})\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120, cwd=Path(__file__).parents[2])
    store = HistoryStore(url)
    assert store.count("signals") == 3000
    store.close()


def test_queue_is_bounded_under_a_burst_and_drops_are_counted(tmp_path: Path) -> None:
    store = HistoryStore(f"sqlite:///{tmp_path / 'h.db'}", max_queue=50)
    gate = threading.Event()
    real_store = store._store

    def slow_store(batch: Sequence[object]) -> None:
        gate.wait(10)  # the database is stuck: the queue fills
        real_store(batch)  # type: ignore[arg-type]

    store.writer._store = slow_store  # type: ignore[assignment]
    for i in range(1000):
        _add(store, i)
        assert store.pending <= 50
    assert store.dropped > 0
    assert store.writer.high_water <= 50
    gate.set()
    store.flush()
    stored = store.count("signals")
    assert stored + store.dropped == 1000
    assert store.write_errors == 0
    store.close()


def test_reads_see_their_own_writes(tmp_path: Path) -> None:
    store = HistoryStore(f"sqlite:///{tmp_path / 'h.db'}")
    for i in range(5):
        _add(store, i)
        assert store.tail_signals(1)[0]["i"] == i
    store.close()


def test_writer_batches_and_flush_waits() -> None:
    seen: list[int] = []

    def store(batch: Sequence[int]) -> None:
        seen.extend(batch)

    writer: WriteBehind[int] = WriteBehind(store, batch=100, linger_s=1.0)
    for i in range(250):
        writer.put(i)
    assert writer.flush(timeout=5)
    assert seen == list(range(250))
    assert writer.batches <= 250  # batched, not one call per item in general
    writer.close()
    assert not writer.put(1)  # closed: dropped
    assert writer.dropped == 1


def test_drops_are_exported_to_prometheus(tmp_path: Path) -> None:
    svc = make_service(tmp_path)
    try:
        svc.history.writer.dropped = 3
        text = svc.prometheus().decode()
        assert "crypto_history_rows_dropped 3.0" in text
        assert "crypto_history_rows_pending" in text
    finally:
        svc.close()
