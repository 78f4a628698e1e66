"""service/answers.py: a stored answer is reused only while its candles, model and settings are current."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from crypto_mlops.service import CryptoService
from crypto_mlops.service.answers import CompareArgs, MLArgs, SignalArgs, answers_for, utc_second
from tests.service.fixtures import make_service

ML = MLArgs("BTCUSDT", "1h", 200, True, "binance")


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[CryptoService]:
    service = make_service(tmp_path, settings={"ohlcv_cache_max_entries": 1})
    yield service
    service.close()


def test_lookup_after_compute_returns_the_same_result(svc: CryptoService) -> None:
    answers = answers_for(svc)
    assert answers is answers_for(svc)
    assert answers.lookup_ml_signal(ML) is None
    answer, stamp = answers.ml_signal(ML, "rest")
    assert stamp == answer.result.timestamp
    assert answers.lookup_ml_signal(ML) is answer
    again, _ = answers.ml_signal(ML, "rest")
    assert again is answer
    fresh = svc.ml_signal(*ML, record=False)
    assert fresh.model_dump(exclude={"timestamp"}) == answer.result.model_dump(exclude={"timestamp"})


def test_every_serving_is_recorded_with_its_own_timestamp(svc: CryptoService) -> None:
    answers = answers_for(svc)
    answer, _ = answers.signal(SignalArgs("BTCUSDT", "1h", 200, 60, False, "binance"), "rest")
    stamp = answers.serve(answer, "graphql")
    assert svc.history.count("signals") == 2
    last = svc.recorder.tail("signals", 1)[0]
    assert last["timestamp"] == stamp
    assert {k: v for k, v in last.items() if k != "timestamp"} == answer.result.model_dump(
        mode="json", exclude={"timestamp"}
    )
    answers.compare(CompareArgs("BTCUSDT", "1h", 200, "binance"))  # compare is not recorded, like the seed
    assert svc.history.count("signals") == 2


def test_no_reuse_once_the_candles_are_gone_or_the_settings_change(svc: CryptoService) -> None:
    answers = answers_for(svc)
    answers.ml_signal(ML, "rest")
    assert answers.lookup_ml_signal(ML) is not None
    answers.ml_signal(MLArgs("ETHUSDT", "1h", 200, True, "binance"), "rest")  # evicts BTC's candles (1 entry)
    assert answers.lookup_ml_signal(ML) is None  # never fetches: the caller computes
    answers.ml_signal(ML, "rest")
    assert answers.lookup_ml_signal(ML) is not None
    svc.settings = svc.settings.model_copy()
    assert answers.lookup_ml_signal(ML) is None


def test_no_reuse_after_a_model_change(tmp_path: Path) -> None:
    from crypto_mlops.models.inference import baseline_predictor
    from crypto_mlops.service import ModelHolder
    from tests.service.fixtures import make_settings

    settings = make_settings(tmp_path)
    holder = ModelHolder(settings, load_champion=lambda _settings: baseline_predictor("har"))
    svc = make_service(tmp_path, model_holder=holder)
    answers = answers_for(svc)
    first, _ = answers.ml_signal(ML, "rest")
    assert answers.lookup_ml_signal(ML) is first
    assert svc.models.reload().success  # a new predictor object: the stored answer is not current any more
    assert answers.lookup_ml_signal(ML) is None
    second, _ = answers.ml_signal(ML, "rest")
    assert second is not first and answers.lookup_ml_signal(ML) is second
    svc.close()


def test_invalid_input_is_raised_not_stored(svc: CryptoService) -> None:
    from crypto_mlops.data.errors import InvalidInput

    with pytest.raises(InvalidInput):
        answers_for(svc).signal(SignalArgs("BTCUSDT", "1h", 200, 0, False, "binance"), "rest")
    assert answers_for(svc).lookup_signal(SignalArgs("BTCUSDT", "1h", 200, 0, False, "binance")) is None


def test_utc_second_is_the_signals_timestamp_format() -> None:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", utc_second())
