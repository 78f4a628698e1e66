"""Market data: sources (ccxt, csv, synthetic), the canonical frame, validation and storage.

The loader and the frame class are imported on first use (PEP 562), so that importing a light
submodule such as `crypto_mlops.data.errors` does not load pandas and every source.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from crypto_mlops.data.errors import CryptoMLOpsError, DataUnavailable, InvalidInput

if TYPE_CHECKING:
    from crypto_mlops.data.loader import SOURCES, load_market_data
    from crypto_mlops.data.market import MarketData

__all__ = ["SOURCES", "CryptoMLOpsError", "DataUnavailable", "InvalidInput", "MarketData", "load_market_data"]

_LAZY = {"SOURCES": "loader", "load_market_data": "loader", "MarketData": "market"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later lookups skip this function
    return value
