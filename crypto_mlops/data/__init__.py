"""Market data: sources (ccxt, csv, synthetic), the canonical frame, validation and storage."""

from crypto_mlops.data.errors import CryptoMLOpsError, DataUnavailable, InvalidInput
from crypto_mlops.data.loader import SOURCES, load_market_data
from crypto_mlops.data.market import MarketData

__all__ = ["SOURCES", "CryptoMLOpsError", "DataUnavailable", "InvalidInput", "MarketData", "load_market_data"]
