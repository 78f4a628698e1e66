"""CryptoService end to end on synthetic candles with the real (baseline) model."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from crypto_mlops.data.errors import DataUnavailable, InvalidInput
from crypto_mlops.service import CryptoService
from tests.service.fixtures import make_service


def test_signal_fields_source_and_candle_time(service: CryptoService) -> None:
    s = service.signal("btcusdt", "1h", 200, horizon_min=30, explain=True)
    assert s.symbol == "BTC/USDT" and s.method == "heuristic" and s.horizon_min == 30
    assert s.source == "synthetic"
    assert s.candle_time.endswith("Z")
    assert 0.0 <= s.risk_score <= 1.0
    assert s.vol_regime in {"calm", "normal", "turbulent"} and s.risk_level in {"low", "medium", "high"}
    assert s.explain is not None and len(s.explain.features_tail) == 5
    assert s.explain.features_tail[-1].time == s.candle_time
    expected = 0.6 * math.tanh(50 * s.vol) + 0.4 * (1 - s.momentum)  # SPEC §4, higher = riskier
    assert s.risk_score == pytest.approx(min(max(expected, 0), 1), abs=1e-4)


def test_ml_signal_and_compare_use_the_same_candles(service: CryptoService) -> None:
    ml = service.ml_signal("BTC/USDT", "1h", 200, include_heuristic=True)
    p = ml.ml_prediction
    assert p.predicted_rv_24h > 0
    assert p.predicted_volatility == pytest.approx(p.predicted_rv_24h / math.sqrt(24), rel=1e-6)
    assert p.prediction == p.predicted_volatility
    assert 0.0 < p.confidence <= 1.0
    assert p.source == "synthetic" and p.model_version and p.model_type
    assert ml.heuristic_comparison is not None
    cmp = service.compare("BTCUSDT", "1h", 200)
    assert cmp.candle_time == ml.candle_time
    assert cmp.ml.predicted_volatility == pytest.approx(p.predicted_volatility)
    assert cmp.comparison.volatility_diff == pytest.approx(p.predicted_volatility - cmp.heuristic.volatility)
    assert cmp.comparison.regime_agreement == (cmp.ml.vol_regime == cmp.heuristic.vol_regime)


def test_history_and_counters(tmp_path: Path) -> None:
    svc = make_service(tmp_path)
    try:
        svc.signal("BTCUSDT", "1h", 100)
        svc.ml_signal("BTCUSDT", "1h", 100)
        svc.compare("BTCUSDT", "1h", 100)  # not recorded, like the seed
        m = svc.metrics()
        assert (m.signals_total, m.ml_predictions_total) == (1, 1)
        assert m.last_signal_at and m.last_ml_prediction_at
        assert len(svc.history_tail("signals", 10)) == 1
        assert svc.history_tail("ml_predictions", 10)[0]["method"] == "ml"
        assert b"crypto_predictions_total" in svc.prometheus()
    finally:
        svc.close()


def test_model_info_says_baseline_fallback_without_champion(service: CryptoService) -> None:
    info = service.model_info()
    assert info.model_loaded
    assert info.fallback is True and info.fallback_reason
    assert info.model_type and "har" in info.model_type.lower()


def test_chart_series_has_regimes_and_realized_volatility(service: CryptoService) -> None:
    chart = service.chart("BTCUSDT", "1h", 200, points=12)
    assert len(chart.candles) == len(chart.regimes) == len(chart.vol_per_hour) == 200
    assert set(chart.regimes) <= {"calm", "normal", "turbulent", "unknown"}
    assert 2 <= len(chart.volatility) <= 12
    assert chart.volatility[-1].realized_rv_24h is None  # the future of the last candle is unknown
    assert any(p.realized_rv_24h is not None for p in chart.volatility)


@pytest.mark.parametrize(
    ("symbol", "timeframe", "limit", "message"),
    [
        ("NOPE", "1h", 200, "invalid symbol"),
        ("BTCUSDT", "7h", 200, "invalid timeframe"),
        ("BTCUSDT", "1h", 10, "limit must be between"),
        ("BTCUSDT", "1h", 5000, "limit must be between"),
    ],
)
def test_bad_input_raises_invalid_input(
    service: CryptoService, symbol: str, timeframe: str, limit: int, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        service.signal(symbol, timeframe, limit)


def test_source_down_is_data_unavailable(tmp_path: Path) -> None:
    def down(*_: object) -> None:
        raise ConnectionError("binance unreachable")

    svc = make_service(tmp_path, market_loader=down)
    try:
        with pytest.raises(DataUnavailable, match="binance unreachable"):
            svc.ohlcv("BTCUSDT", "1h", 100)
    finally:
        svc.close()


def test_csv_source_directory_picks_the_pair_file(tmp_path: Path, shared_data_dir: Path) -> None:
    svc = make_service(tmp_path, settings={"data_source": "csv", "data_csv_path": shared_data_dir})
    try:
        eth = svc.ohlcv("ETHUSDT", "1h", 100)
        assert eth.source == "csv" and eth.symbol == "ETH/USDT" and eth.rows == 100
        assert eth.data[-1].close < 20000  # ETH prices, not BTC
        with pytest.raises(InvalidInput, match="no CSV"):
            svc.ohlcv("SOLUSDT", "1h", 100)
    finally:
        svc.close()


def test_csv_source_single_file_refuses_another_pair(tmp_path: Path, btc_csv: Path) -> None:
    svc = make_service(tmp_path, settings={"data_source": "csv", "data_csv_path": btc_csv})
    try:
        assert svc.ohlcv("BTCUSDT", "1h", 60).source == "csv"
        with pytest.raises(InvalidInput, match="holds BTC/USDT candles, not ETH/USDT"):
            svc.ohlcv("ETHUSDT", "1h", 60)
    finally:
        svc.close()


def test_results_are_computed_once_per_candle_fetch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    svc = make_service(tmp_path)
    try:
        predictor = svc.models.get()
        calls: list[int] = []
        original = predictor.predict

        def counting(*args: object, **kwargs: object) -> object:
            calls.append(1)
            return original(*args, **kwargs)

        monkeypatch.setattr(predictor, "predict", counting)
        first = svc.ml_signal("BTCUSDT", "1h", 200)
        second = svc.ml_signal("BTCUSDT", "1h", 100)
        assert len(calls) == 1  # same candles, same model: one model call
        assert second.ml_prediction.predicted_rv_24h == first.ml_prediction.predicted_rv_24h
        assert svc.metrics().ml_predictions_total == 2  # both requests are counted and recorded
        assert len(svc.history_tail("ml_predictions", 10)) == 2

        key = svc.resolve_key("BTCUSDT", "1h")
        svc.cache._refresh(key)  # a new fetch of the candles: results are computed again
        svc.ml_signal("BTCUSDT", "1h", 200)
        assert len(calls) == 2

        monkeypatch.setenv("SIGNAL_MEMO", "0")
        from crypto_mlops.config import Settings

        svc.settings = Settings()
        svc.ml_signal("BTCUSDT", "1h", 200)
        assert len(calls) == 3
    finally:
        svc.close()
