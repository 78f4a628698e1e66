"""The facade's wiring: meaning checks in the service, model-change subscribers, injected parts, the memo."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from crypto_mlops.config import get_settings
from crypto_mlops.data.errors import InvalidInput
from crypto_mlops.service import CryptoService, ModelHolder
from crypto_mlops.service.limits import check_range
from crypto_mlops.service.memo import LruMemo
from tests.service.fixtures import make_service


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.chart("BTCUSDT", "1h", 200, points=0), "points must be between 1 and 60, got 0"),
        (lambda s: s.history_tail("signals", 0), "n must be between 1 and 1000, got 0"),
        (lambda s: s.signal("BTCUSDT", horizon_min=0), "horizon_min must be between 1 and 10080, got 0"),
        (lambda s: s.ohlcv("BTCUSDT", "1h", 49), "limit must be between 50 and 1000, got 49"),
        (lambda s: s.sse_symbols(",".join(["BTCUSDT"] * 11)), "at most 10 symbols per stream"),
    ],
)
def test_meaning_checks_live_in_the_service(
    service: CryptoService, call: Callable[[CryptoService], object], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        call(service)


def test_a_bad_horizon_is_refused_before_the_candles_are_resolved(service: CryptoService) -> None:
    with pytest.raises(InvalidInput, match="horizon_min"):
        service.signal("NOPE", horizon_min=0)


def test_check_range_returns_the_value_as_int() -> None:
    assert check_range("limit", 50, 50, 1000) == 50
    with pytest.raises(InvalidInput, match="limit must be between 50 and 1000, got 1001"):
        check_range("limit", 1001, 50, 1000)


def test_model_change_reaches_every_subscriber(tmp_path: Path) -> None:
    from crypto_mlops.models.inference import baseline_predictor

    seen: list[tuple[str, bool]] = []
    holder = ModelHolder(
        get_settings(),
        load_champion=lambda _settings: baseline_predictor("har"),
        on_change=lambda p, fallback: seen.append((str(p.model_type), fallback)),
    )
    svc = make_service(tmp_path, model_holder=holder)
    try:
        svc.chart("BTCUSDT", "1h", 200, points=4)
        assert len(seen) == 1  # the constructor's callback still runs beside the service's own
        assert len(svc.dashboard._origins) > 0
        assert svc.reload_model().success
        assert len(seen) == 2
        assert len(svc.dashboard._origins) == 0  # forecasts of the previous model are forgotten
        assert b"crypto_model_info{" in svc.prometheus()
    finally:
        svc.close()


def test_unknown_part_is_a_type_error(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="histroy"):
        make_service(tmp_path, histroy=None)


def test_lru_memo_computes_once_and_evicts_the_least_recent() -> None:
    memo: LruMemo[str, int] = LruMemo(2)
    calls: list[str] = []

    def compute(key: str) -> int:
        calls.append(key)
        return len(calls)

    assert memo.get_or_compute("a", lambda: compute("a")) == 1
    assert memo.get_or_compute("a", lambda: compute("a")) == 1
    memo.get_or_compute("b", lambda: compute("b"))
    memo.get_or_compute("a", lambda: compute("a"))  # "a" is now the most recent
    memo.put_many([("c", 9)])
    assert memo.get_many(["a", "b", "c"]) == {"a": 1, "b": None, "c": 9}
    assert calls == ["a", "b"]
    memo.clear()
    assert len(memo) == 0
