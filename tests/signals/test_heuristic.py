import numpy as np
import pandas as pd
import pytest

from crypto_mlops.data.errors import InvalidInput
from crypto_mlops.data.sources.synthetic import simulate
from crypto_mlops.signals import heuristic_signal, risk_level, risk_score, vol_regime


def _trend(n: int, drift: float, noise: float, seed: int = 0) -> pd.DataFrame:
    index = pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC")
    returns = drift + np.random.default_rng(seed).normal(0, noise, n)
    close = 100 * np.exp(np.cumsum(returns))
    return pd.DataFrame(
        {"open": close, "high": close * 1.001, "low": close * 0.999, "close": close, "volume": 1.0}, index=index
    )


def test_formula_direction_risk_rises_with_volatility_and_downtrend() -> None:
    assert risk_score(0.0, 1) == 0.0
    assert risk_score(0.0, 0) == pytest.approx(0.4)
    assert risk_score(0.02, 1) == pytest.approx(0.6 * np.tanh(1.0))
    assert risk_score(1.0, 0) == pytest.approx(1.0)
    assert risk_score(0.004, 0) > risk_score(0.004, 1)
    assert risk_score(0.02, 1) > risk_score(0.004, 1)


def test_thresholds() -> None:
    assert [vol_regime(v) for v in (0.0049, 0.005, 0.0149, 0.015)] == ["calm", "normal", "normal", "turbulent"]
    assert [risk_level(s) for s in (0.39, 0.4, 0.69, 0.7)] == ["low", "medium", "medium", "high"]


def test_calm_uptrend_is_low_risk_turbulent_downtrend_high() -> None:
    calm_up = heuristic_signal(_trend(100, 0.001, 0.001))
    wild_down = heuristic_signal(_trend(100, -0.01, 0.03))
    assert calm_up.momentum == 1 and calm_up.vol_regime == "calm" and calm_up.risk_level == "low"
    assert wild_down.momentum == 0 and wild_down.vol_regime == "turbulent" and wild_down.risk_level == "high"


def test_regimes_scale_with_timeframe() -> None:
    """The same per-hour volatility gives the same regime on 4h bars (std of 4h returns is 2x larger)."""
    hourly_vol = 0.009
    four_hour = _trend(200, 0.0, hourly_vol * 2, seed=3)
    assert heuristic_signal(four_hour, bar_hours=4.0).vol_regime == "normal"
    assert heuristic_signal(four_hour, bar_hours=1.0).vol_regime == "turbulent"


def test_explain_lists_inputs_and_last_rows() -> None:
    frame = simulate(300, seed=1, end="2024-01-01").frame
    signal = heuristic_signal(frame, explain=True)
    assert signal.explain is not None
    tail = signal.explain["features_tail"]
    assert len(tail) == 5 and tail[-1]["time"] == signal.timestamp == frame.index[-1].isoformat()
    assert signal.explain["risk_score"] == pytest.approx(signal.risk_score, abs=1e-4)
    assert signal.explain["volatility_term"] + signal.explain["trend_term"] == pytest.approx(
        signal.explain["risk_score"]
    )


def test_too_few_candles() -> None:
    with pytest.raises(InvalidInput, match="at least 10"):
        heuristic_signal(_trend(5, 0, 0.01))
