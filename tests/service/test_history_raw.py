"""The SQLite history writer's driver-level inserts store what SQLAlchemy's own inserts stored."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from crypto_mlops.service.answers import MLArgs, SignalArgs, answers_for
from crypto_mlops.service.history import RAW_CHUNK, HistoryStore
from crypto_mlops.service.recording import _payload, _payload_json
from tests.service.fixtures import make_service
from tests.service.test_history import SIGNAL_ROW

ML_ROW = {
    "symbol": "ETH/USDT",
    "timeframe": "1h",
    "source": "synthetic",
    "candle_time": "2026-01-01T00:00:00Z",
    "model_name": "crypto-predictor",
    "model_version": "3",
    "model_type": "har",
    "predicted_rv_24h": 0.031,
    "predicted_volatility": 0.0063,
    "current_volatility": 0.0058,
    "volatility_regime": "normal",
    "risk_level": "medium",
    "confidence": 0.7,
}


def _fill(store: HistoryStore) -> None:
    stamp = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)
    for i in range(RAW_CHUNK + 5):  # more than one driver call per batch
        payload = {"i": i, "timestamp": "2026-03-04T05:06:07Z", "nested": {"q": [0.1, None]}}
        store.add_signal(stamp, {**SIGNAL_ROW, "symbol": "BTC/USDT"}, payload)
        ml_payload = {"i": i, "ünï": "côdé"}  # pre-encoded as its writer would: `json.dumps`
        store.add_ml_prediction(stamp, ML_ROW, lambda p=ml_payload: p, lambda p=ml_payload: json.dumps(p))
    store.flush()


def _rows(path: Path, table: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()


def test_raw_inserts_store_the_text_sqlalchemy_stores(tmp_path: Path) -> None:
    raw = HistoryStore(f"sqlite:///{tmp_path / 'raw.db'}")
    core = HistoryStore(f"sqlite:///{tmp_path / 'core.db'}")
    core._raw = {}  # SQLAlchemy's executemany, as before the driver-level path
    assert raw._raw, "SQLite takes the driver-level path"
    for store in (raw, core):
        _fill(store)
        store.close()
    for table in ("signals", "ml_predictions"):
        stored = _rows(tmp_path / "raw.db", table)
        assert len(stored) == RAW_CHUNK + 5
        assert stored == _rows(tmp_path / "core.db", table)
    assert _rows(tmp_path / "raw.db", "ml_predictions")[0][-1] == json.dumps({"i": 0, "ünï": "côdé"})


def test_one_bad_row_costs_only_itself_on_the_raw_path(tmp_path: Path) -> None:
    store = HistoryStore(f"sqlite:///{tmp_path / 'h.db'}")
    now = datetime.now(UTC)
    store.add_signal(now, {**SIGNAL_ROW, "symbol": "BTC/USDT"}, {"i": 0})
    store.add_signal(now, {"symbol": "BTC/USDT"}, {"incomplete": True})  # NOT NULL columns missing
    store.add_signal(now, {**SIGNAL_ROW, "symbol": "BTC/USDT"}, {"i": 2})
    store.flush()
    assert store.write_errors == 1
    assert [row["i"] for row in store.tail_signals(5)] == [0, 2]
    store.close()


def test_a_reused_answers_encoded_payload_is_its_json(tmp_path: Path) -> None:
    svc = make_service(tmp_path)
    try:
        answers = answers_for(svc)
        signal, _ = answers.signal(SignalArgs("BTCUSDT", "1h", 200, 60, True, None), "rest")
        ml, _ = answers.ml_signal(MLArgs("BTCUSDT", "1h", 200, True, None), "rest")
        served = [answers.serve(answer, "rest") for answer in (signal, ml, signal, ml)]
        for answer in (signal, ml):
            for stamp in ("2026-03-04T05:06:07Z", 'odd "stamp" \u00e9'):
                expected = json.dumps(_payload(answer.result, stamp, answer.history))
                assert _payload_json(answer.result, stamp, answer.history) == expected
        # Through the writer: the rows read back carry the timestamps they were served with.
        assert [row["timestamp"] for row in svc.history.tail_signals(2)][-1] == served[2]
        assert [row["timestamp"] for row in svc.history.tail_ml_predictions(2)][-1] == served[3]
    finally:
        svc.close()
