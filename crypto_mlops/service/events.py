"""Streaming events built in process: gRPC price updates and `predictions`-topic-shaped SSE events."""

from __future__ import annotations

import time
from typing import Any, TypedDict

from crypto_mlops.config import Settings
from crypto_mlops.data.errors import InvalidInput
from crypto_mlops.data.schema import normalize_symbol
from crypto_mlops.service.limits import MAX_SSE_SYMBOLS, MIN_LIMIT
from crypto_mlops.service.market import Markets
from crypto_mlops.service.results import iso_z, utc_now
from crypto_mlops.service.signals import Signals
from crypto_mlops.service.wire import num

EVENT_LIMIT = 200  # candles behind an SSE event's signals (the default request window)


class PriceUpdate(TypedDict):
    """Fields of the gRPC `PriceUpdate` message."""

    symbol: str
    price: float
    change_24h: float
    volume_24h: float
    timestamp: int  # epoch ms
    volatility: float
    regime: str
    source: str
    candle_time: str


class PriceData(TypedDict):
    price: float
    change_24h: float
    volume_24h: float


class HeuristicFields(TypedDict):
    risk_score: float
    vol_regime: str
    vol: float
    risk_level: str
    momentum: int


class PredictionEvent(TypedDict):
    """One event shaped like a `predictions` topic message (what the Kafka feed relays)."""

    symbol: str
    timestamp: str | None
    source: str
    candle_time: str
    price_data: PriceData
    heuristic_signal: HeuristicFields
    ml_prediction: dict[str, Any]
    anomalies: list[dict[str, Any]]
    processing_latency_ms: float
    feed: str


class Events:
    def __init__(self, settings: Settings, markets: Markets, signals: Signals) -> None:
        self.settings = settings
        self.markets = markets
        self.signals = signals

    def price_update(self, symbol: str, timeframe: str | None = None) -> PriceUpdate:
        """Latest price, 24 h change/volume and volatility regime from cached candles (gRPC StreamPrices)."""
        from crypto_mlops.signals import heuristic_signal

        m = self.markets.market(symbol, timeframe, MIN_LIMIT)
        frame = m.data.frame
        bars_24h = max(1, round(24 / m.data.bar_hours))
        last = float(frame["close"].iloc[-1])
        base = float(frame["close"].iloc[-1 - bars_24h]) if len(frame) > bars_24h else float(frame["close"].iloc[0])
        h = heuristic_signal(m.frame, bar_hours=m.data.bar_hours)
        update: PriceUpdate = {
            "symbol": m.key.symbol,
            "price": last,
            "change_24h": (last - base) / base * 100.0,
            "volume_24h": float(frame["volume"].iloc[-bars_24h:].sum()),
            "timestamp": int(time.time() * 1000),
            "volatility": num(h.vol),
            "regime": h.vol_regime,
            "source": m.data.source,
            "candle_time": m.candle_time,
        }
        return update

    def prediction_event(self, symbol: str, timeframe: str | None = None) -> PredictionEvent:
        """One `predictions`-topic-shaped event computed in-process (the built-in SSE feed); not recorded."""
        started = time.perf_counter()
        m = self.markets.market(symbol, timeframe, EVENT_LIMIT)
        ml = self.signals.predict(m)
        sig = self.signals.heuristic(m, 60, False, None)
        price = self.price_update(symbol, timeframe)
        event: PredictionEvent = {
            "symbol": sig.symbol,
            "timestamp": iso_z(utc_now()),
            "source": sig.source,
            "candle_time": sig.candle_time,
            "price_data": {
                "price": price["price"],
                "change_24h": price["change_24h"],
                "volume_24h": price["volume_24h"],
            },
            "heuristic_signal": {
                "risk_score": sig.risk_score,
                "vol_regime": sig.vol_regime,
                "vol": sig.vol,
                "risk_level": sig.risk_level,
                "momentum": sig.momentum,
            },
            "ml_prediction": ml.model_dump(mode="json"),
            "anomalies": [],
            "processing_latency_ms": round((time.perf_counter() - started) * 1000, 3),
            "feed": "periodic",
        }
        return event

    def sse_symbols(self, symbols: str | None) -> list[str]:
        """The pairs an SSE client asks for (comma-separated), normalized; default: the PAIRS setting."""
        if not symbols:
            return [normalize_symbol(s) for s in self.settings.pair_list()][:MAX_SSE_SYMBOLS]
        parts = [s for s in symbols.split(",") if s.strip()]
        if len(parts) > MAX_SSE_SYMBOLS:
            raise InvalidInput(f"at most {MAX_SSE_SYMBOLS} symbols per stream")
        return [normalize_symbol(s) for s in parts]
