"""Signal / prediction history in SQLite and in a real PostgreSQL server."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from crypto_mlops.service.history import HistoryStore
from tests.service.fixtures import make_service

SIGNAL_ROW = {
    "timeframe": "1h",
    "source": "synthetic",
    "candle_time": "2026-01-01T00:00:00Z",
    "horizon_min": 60,
    "risk_score": 0.5,
    "nowcast_ret": 0.001,
    "vol": 0.004,
    "vol_regime": "calm",
    "risk_level": "medium",
    "method": "heuristic",
}


def _exercise(store: HistoryStore) -> None:
    for i in range(7):
        symbol = "BTC/USDT" if i % 2 == 0 else "ETH/USDT"
        store.add_signal(datetime.now(UTC), {**SIGNAL_ROW, "symbol": symbol}, {"i": i, "symbol": symbol})
    tail = store.tail_signals(3)
    assert [row["i"] for row in tail] == [4, 5, 6]  # the latest three, oldest first
    assert [row["i"] for row in store.tail_signals(2, "ETH/USDT")] == [3, 5]
    assert store.count("signals") == 7
    assert store.tail_ml_predictions(5) == []
    assert store.ping()


def test_sqlite_history_round_trip(tmp_path: Path) -> None:
    store = HistoryStore(f"sqlite:///{tmp_path / 'nested' / 'h.db'}")
    _exercise(store)
    assert (tmp_path / "nested" / "h.db").exists()
    store.close()
    reopened = HistoryStore(f"sqlite:///{tmp_path / 'nested' / 'h.db'}")
    assert reopened.count("signals") == 7  # persisted in the file, not in memory
    reopened.close()


def test_write_failure_is_counted_not_raised(tmp_path: Path) -> None:
    store = HistoryStore(f"sqlite:///{tmp_path / 'h.db'}")
    store.add_signal(datetime.now(UTC), {"symbol": "BTC/USDT"}, {"incomplete": True})  # NOT NULL columns missing
    store.flush()  # rows are written behind the caller
    assert store.write_errors == 1
    assert store.count("signals") == 0


@pytest.mark.integration
def test_postgres_history_from_the_service(postgres_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    postgres_server.create_database("serving_history")
    url = postgres_server.url("serving_history")
    svc = make_service(tmp_path, settings={"database_url": url})
    try:
        assert svc.history.backend == "postgresql"
        signal = svc.signal("BTCUSDT", "1h", 200, explain=True)
        ml = svc.ml_signal("ETH/USDT", "1h", 200)
        assert svc.health().database == "postgresql:ok"
    finally:
        svc.close()

    # Read back through a fresh engine: the rows are really in PostgreSQL.
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        symbols = [r[0] for r in conn.execute(sa.text("SELECT symbol FROM signals"))]
        predicted = conn.execute(sa.text("SELECT predicted_rv_24h, model_type FROM ml_predictions")).one()
    engine.dispose()
    assert symbols == ["BTC/USDT"]
    assert predicted[0] == pytest.approx(ml.ml_prediction.predicted_rv_24h)
    assert predicted[1] == ml.ml_prediction.model_type

    again = HistoryStore(url)
    assert again.tail_signals(1)[0]["risk_score"] == signal.risk_score
    assert again.tail_signals(1)[0]["explain"]["features_tail"]
    assert again.tail_ml_predictions(1)[0]["ml_prediction"]["confidence"] == ml.ml_prediction.confidence
    again.close()
