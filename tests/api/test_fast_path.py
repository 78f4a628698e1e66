"""The fast path of the signal routes (api/fast.py): the same bytes as the validated path, history and
metrics for every request, and errors still the standard path's 4xx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

import crypto_mlops.api.fast as fast
from crypto_mlops.api.app import create_app
from crypto_mlops.service import CryptoService
from tests.service.fixtures import make_service

ML_BODY = {"symbol": "BTCUSDT", "timeframe": "1h", "limit": 200, "include_heuristic": False}


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Statuses of the requests the fast lane answered itself."""
    statuses: list[int] = []
    answer = fast.FastPath.answer

    async def spy(self: fast.FastPath, *args: Any) -> int | None:
        status = await answer(self, *args)
        if status is not None:
            statuses.append(status)
        return status

    monkeypatch.setattr(fast.FastPath, "answer", spy)
    return statuses


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[CryptoService]:
    service = make_service(tmp_path)
    yield service
    service.close()


def _validated_bytes(result: BaseModel, timestamp: str) -> bytes:
    """What the validated path encodes: the service's result by pydantic-core, with the answer's timestamp."""
    stamped = result.model_copy(update={"timestamp": timestamp})
    return bytes(type(stamped).__pydantic_serializer__.to_json(stamped))


@pytest.mark.parametrize(
    ("url", "body", "direct"),
    [
        ("/v1/crypto/ml-signal", ML_BODY, lambda s: s.ml_signal("BTCUSDT", "1h", 200, False, "binance", record=False)),
        ("/v1/crypto/ml-signal", {}, lambda s: s.ml_signal("BTCUSDT", "1h", 200, True, "binance", record=False)),
        (
            "/v1/crypto/signal",
            {"symbol": "ETHUSDT", "explain": True, "horizon_min": 30},
            lambda s: s.signal("ETHUSDT", "1h", 200, 30, True, "binance", record=False),
        ),
        ("/v1/crypto/signals/compare?symbol=BTCUSDT", None, lambda s: s.compare("BTCUSDT", "1h", 200, "binance")),
    ],
)
def test_fast_path_is_byte_identical_to_the_validated_path(
    svc: CryptoService, served: list[int], url: str, body: dict[str, Any] | None, direct: Any
) -> None:
    with TestClient(create_app(svc, start_service=False)) as c:
        send = (lambda: c.get(url)) if body is None else (lambda: c.post(url, json=body))
        first, second, third = send(), send(), send()
    assert [r.status_code for r in (first, second, third)] == [200, 200, 200]
    assert served == [200, 200]  # the first request took the standard path, the next two the fast one
    expected = direct(svc)
    for response in (first, second, third):
        assert response.headers["content-type"] == "application/json"
        assert response.content == _validated_bytes(expected, response.json()["timestamp"])


def test_fast_path_records_history_and_counts_every_request(svc: CryptoService, served: list[int]) -> None:
    with TestClient(create_app(svc, start_service=False)) as c:
        before = svc.history.count("ml_predictions")
        requests_before = c.get("/metrics").json()["requests_total"]
        responses = [c.post("/v1/crypto/ml-signal", json=ML_BODY) for _ in range(5)]
        assert len(served) == 4
        assert svc.history.count("ml_predictions") == before + 5  # every request has its row
        tail = c.get("/v1/crypto/ml-predictions/tail?n=5").json()
        assert [row["timestamp"] for row in tail] == [r.json()["timestamp"] for r in responses]
        assert [row["ml_prediction"] for row in tail] == [r.json()["ml_prediction"] for r in responses]
        metrics = c.get("/metrics").json()
        assert metrics["requests_total"] >= requests_before + 6  # 5 signals and the tail
        prometheus = c.get("/metrics/prometheus").text
    assert 'route="/v1/crypto/ml-signal"' in prometheus


@pytest.mark.parametrize(
    ("body", "content_type", "status", "needle"),
    [
        ({**ML_BODY, "extra": 1}, None, 422, "Extra inputs"),
        ({**ML_BODY, "limit": 5}, None, 422, "greater than or equal"),
        ({**ML_BODY, "symbol": "ZZZZZZ"}, None, 400, "ZZZZZZ"),
        ({**ML_BODY, "include_heuristic": "no"}, None, 422, "bool"),
        (b"{not json", "application/json", 422, "JSON"),
        (b'{"symbol": "' + b"A" * 20000 + b'"}', "application/json", 413, "larger than"),
    ],
)
def test_errors_are_still_the_standard_4xx_after_the_fast_path_is_warm(
    svc: CryptoService, served: list[int], body: Any, content_type: str | None, status: int, needle: str
) -> None:
    with TestClient(create_app(svc, start_service=False)) as c:
        assert c.post("/v1/crypto/ml-signal", json=ML_BODY).status_code == 200
        assert c.post("/v1/crypto/ml-signal", json=ML_BODY).status_code == 200
        if content_type is None:
            bad = c.post("/v1/crypto/ml-signal", json=body)
        else:
            bad = c.post("/v1/crypto/ml-signal", content=body, headers={"content-type": content_type})
        assert bad.status_code == status, bad.text
        assert needle in bad.text
        repeated = c.get("/v1/crypto/signals/compare?symbol=BTCUSDT&symbol=ETHUSDT")
        assert repeated.status_code == 422 and "more than once" in repeated.text
        assert c.post("/v1/crypto/ml-signal", json=ML_BODY).status_code == 200
    assert served == [200, 200]


def test_fast_path_keeps_the_rate_limit(tmp_path: Path, served: list[int]) -> None:
    svc = make_service(tmp_path, settings={"rate_limit_per_min": 0.01, "rate_limit_burst": 2})
    with TestClient(create_app(svc, start_service=False)) as c:
        ok = [c.post("/v1/crypto/ml-signal", json=ML_BODY) for _ in range(2)]
        refused = c.post("/v1/crypto/ml-signal", json=ML_BODY)
        assert [r.status_code for r in ok] == [200, 200]
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 1 and "rate limit" in refused.json()["detail"]
        assert c.get("/metrics/limits").json()["rate_limit"]["refused"] == 1
    assert served == [200, 429]
    svc.close()


def test_no_fast_answer_once_the_settings_change_or_the_memo_is_off(svc: CryptoService, served: list[int]) -> None:
    with TestClient(create_app(svc, start_service=False)) as c:
        c.post("/v1/crypto/ml-signal", json=ML_BODY)
        c.post("/v1/crypto/ml-signal", json=ML_BODY)
        assert served == [200]
        svc.settings = svc.settings.model_copy(update={"signal_memo": False})
        for _ in range(2):
            assert c.post("/v1/crypto/ml-signal", json=ML_BODY).status_code == 200
        assert served == [200]  # computed by the standard path every time


def test_a_post_without_body_takes_the_fast_path_too(svc: CryptoService, served: list[int]) -> None:
    with TestClient(create_app(svc, start_service=False)) as c:
        responses = [c.post("/v1/crypto/signal") for _ in range(3)]
        assert [r.status_code for r in responses] == [200] * 3
        assert c.head("/v1/crypto/signals/compare").status_code in (200, 405)
    assert served == [200, 200]
    direct = svc.signal("BTCUSDT", "1h", 200, 60, False, "binance", record=False)
    assert responses[-1].content == _validated_bytes(direct, responses[-1].json()["timestamp"])
