import numpy as np
import pandas as pd
import pytest

from crypto_mlops.data.sources.synthetic import simulate
from crypto_mlops.features import compute_features


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return simulate(1500, seed=2, end="2024-03-01").frame


def test_no_feature_uses_the_future(frame: pd.DataFrame) -> None:
    """Perturb everything after t: no feature at or before t may change."""
    t = 1000
    base = compute_features(frame)
    shocked = frame.copy()
    rng = np.random.default_rng(9)
    shocked.iloc[t + 1 :] *= rng.uniform(0.5, 2.0, size=(len(frame) - t - 1, 1))
    after = compute_features(shocked)
    pd.testing.assert_frame_equal(base.iloc[: t + 1], after.iloc[: t + 1])
    assert not base.iloc[t + 1 :].equals(after.iloc[t + 1 :])


def test_values_against_hand_computation(frame: pd.DataFrame) -> None:
    features = compute_features(frame)
    log_ret = np.log(frame["close"]).diff()
    i = 800
    assert features["vol24"].iloc[i] == pytest.approx(log_ret.iloc[i - 23 : i + 1].std(ddof=1))
    assert features["rv24"].iloc[i] == pytest.approx(np.sqrt((log_ret.iloc[i - 23 : i + 1] ** 2).sum()))
    assert features["sma12"].iloc[i] == pytest.approx(frame["close"].iloc[i - 11 : i + 1].mean())
    assert features["sma48"].iloc[i] == pytest.approx(frame["close"].iloc[i - 47 : i + 1].mean())
    assert features["momentum"].iloc[i] == float(features["sma12"].iloc[i] > features["sma48"].iloc[i])
    assert features["rsi14"].dropna().min() >= 0 and features["rsi14"].dropna().max() <= 100
    assert (features["bb_upper"].dropna() >= features["bb_lower"].dropna()).all()
    assert (features["atr14"].dropna() > 0).all()


def test_vol_per_hour_rescales_for_other_timeframes() -> None:
    four_hourly = simulate(400, seed=4, timeframe="4h", end="2024-03-01").frame
    features = compute_features(four_hourly, bar_hours=4.0)
    assert np.allclose(features["vol_per_hour"].dropna(), features["vol24"].dropna() / 2.0)


def test_rsi_extremes() -> None:
    index = pd.date_range("2024-01-01", periods=60, freq="h", tz="UTC")
    rising = pd.DataFrame(
        {"open": 1.0, "high": 1.0, "low": 1.0, "close": np.linspace(100, 160, 60), "volume": 1.0}, index=index
    )
    assert compute_features(rising)["rsi14"].iloc[-1] == pytest.approx(100.0)


@pytest.mark.parametrize(("timeframe", "bar_hours"), [("1h", 1.0), ("4h", 4.0), ("1d", 24.0), ("1w", 168.0)])
def test_semivariances_add_up_to_rv24_for_every_bar_length(timeframe: str, bar_hours: float) -> None:
    from crypto_mlops.data.sources.synthetic import simulate
    from crypto_mlops.features import model_features

    f = model_features(simulate(300, seed=2, timeframe=timeframe).frame, bar_hours)
    both = f[["rs_pos24", "rs_neg24", "rv24"]].dropna()
    assert len(both) > 200
    np.testing.assert_allclose(both["rs_pos24"] ** 2 + both["rs_neg24"] ** 2, both["rv24"] ** 2, atol=1e-12)
