"""Run a freqtrade command without reaching the exchange: static spot markets instead of `load_markets`.

Backtesting reads candles from disk, but freqtrade still loads the exchange's market list at start-up.
Where the exchange cannot be reached (CI, air-gapped research boxes) this launcher gives it a fixed
list of USDT spot markets, then runs freqtrade's own command line unchanged:

    python offline.py backtesting --config config.json --strategy VolTargetStrategy ...

Only for offline backtests and `test-pairlist`; never for dry or live runs.
"""

from __future__ import annotations

import sys
from typing import Any

BASES = ("BTC", "ETH", "BNB", "SOL", "XRP", "ADA", "DOGE", "LTC", "DOT", "AVAX", "LINK", "TRX")


def static_market(base: str, quote: str = "USDT") -> dict[str, Any]:
    """A ccxt-unified spot market with Binance-like limits (tick-size precision)."""
    return {
        "id": f"{base}{quote}",
        "symbol": f"{base}/{quote}",
        "base": base,
        "quote": quote,
        "baseId": base,
        "quoteId": quote,
        "settle": None,
        "settleId": None,
        "type": "spot",
        "spot": True,
        "margin": False,
        "swap": False,
        "future": False,
        "option": False,
        "contract": False,
        "linear": None,
        "inverse": None,
        "contractSize": None,
        "active": True,
        "taker": 0.001,
        "maker": 0.001,
        "precision": {"amount": 1e-5, "price": 1e-4},
        "limits": {
            "amount": {"min": 1e-5, "max": 1e7},
            "cost": {"min": 5.0, "max": None},
            "price": {"min": 1e-4, "max": 1e7},
            "leverage": {"min": None, "max": None},
        },
        "info": {},
    }


def install() -> None:
    from freqtrade.exchange.exchange import Exchange

    def load_static_markets(self: Exchange, reload: bool = False) -> None:
        self._api_async.set_markets([static_market(b) for b in BASES])

    Exchange._load_async_markets = load_static_markets  # type: ignore[method-assign]


def main() -> None:
    install()
    from freqtrade.main import main as freqtrade_main

    freqtrade_main(sys.argv[1:])


if __name__ == "__main__":
    main()
