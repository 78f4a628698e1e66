import pandas as pd
import pytest

from crypto_mlops.data.errors import InvalidInput
from crypto_mlops.data.schema import epoch_to_datetime, normalize_symbol, symbol_slug, timeframe_hours


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("BTCUSDT", "BTC/USDT"),
        ("btc/usdt", "BTC/USDT"),
        ("eth-btc", "ETH/BTC"),
        ("ETHBTC", "ETH/BTC"),
        (" sol usdc ", "SOL/USDC"),
        ("BTCFDUSD", "BTC/FDUSD"),
    ],
)
def test_normalize_symbol(raw: str, expected: str) -> None:
    assert normalize_symbol(raw) == expected
    assert symbol_slug(raw) == expected.replace("/", "")


@pytest.mark.parametrize("raw", ["", "BTC", "BTC/", "B!C/USDT", "BTCUSDT/ETH/X", "A" * 30])
def test_normalize_symbol_rejects_garbage(raw: str) -> None:
    with pytest.raises(InvalidInput, match="invalid symbol"):
        normalize_symbol(raw)


def test_timeframe_hours() -> None:
    assert timeframe_hours("1h") == 1.0
    assert timeframe_hours("15m") == 0.25
    assert timeframe_hours("1d") == 24.0
    for bad in ("", "1x", "7h", "h1", "60"):
        with pytest.raises(InvalidInput, match="invalid timeframe"):
            timeframe_hours(bad)


def test_epoch_units_are_detected_per_value() -> None:
    stamps = epoch_to_datetime(pd.Series([1_600_000_000, 1_600_003_600_000, 1_600_007_200_000_000]))
    assert list(stamps) == list(pd.to_datetime([1_600_000_000, 1_600_003_600, 1_600_007_200], unit="s", utc=True))
