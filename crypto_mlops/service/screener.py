"""Pair screener: every listed pair's RV24 forecast and heuristic risk, filtered and ranked.

Built for freqtrade's `RemotePairList` (`GET /v1/freqtrade/pairlist`), which reads `pairs` and
`refresh_period` from the answer and ignores the rest. Pairs come in and go out in freqtrade's
spelling (`BTC/USDT`, or `BTC/USDT:USDT` for futures); each is forecast from cached candles through
the facade's own `ml_signal` and `signal`, concurrently. A pair whose data is unavailable is listed
under `skipped` with the reason instead of failing the whole list.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

from crypto_mlops.data.errors import DataUnavailable, InvalidInput
from crypto_mlops.data.schema import normalize_symbol
from crypto_mlops.service.limits import check_range
from crypto_mlops.service.results import (
    MLSignalResult,
    PairForecast,
    PairlistResult,
    PairsResult,
    ScreenerResult,
    SignalResult,
)

MAX_PAIRS = 50  # one request forecasts each pair; a whitelist is rarely longer
MAX_WORKERS = 8
MIN_REFRESH_S, MAX_REFRESH_S, DEFAULT_REFRESH_S = 60, 86_400, 1800
SortKey = Literal["rv_asc", "rv_desc", "risk_asc", "risk_desc"]
SORT_KEYS: tuple[str, ...] = ("rv_asc", "rv_desc", "risk_asc", "risk_desc")


# How the screener reaches the service for one pair, unrecorded: (symbol, timeframe, exchange) -> result.
# The facade passes two small closures over its own methods, so this module never imports it back.
MLCall = Callable[[str, str | None, str | None], MLSignalResult]
HeuristicCall = Callable[[str, str | None, str | None], SignalResult]


SCREEN_SORTS: tuple[str, ...] = ("predicted_rv_24h", "-predicted_rv_24h", "risk_score", "-risk_score", "pair")


def parse_pairs(symbols: str) -> list[tuple[str, str]]:
    """'BTC/USDT,ETH/USDT:USDT' -> [(asked, normalized)], duplicates dropped, order kept."""
    seen: dict[str, str] = {}
    for raw in (s.strip() for s in symbols.split(",")):
        if raw and raw not in seen:
            seen[raw] = normalize_symbol(raw.split(":", 1)[0])  # futures settle suffix is not part of the pair
    if not seen:
        raise InvalidInput("symbols must list at least one pair, e.g. BTC/USDT,ETH/USDT")
    if len(seen) > MAX_PAIRS:
        raise InvalidInput(f"symbols lists {len(seen)} pairs; at most {MAX_PAIRS}")
    return list(seen.items())


class Screener:
    def __init__(
        self,
        ml: MLCall,
        heuristic: HeuristicCall,
        default_pairs: str = "BTC/USDT",
        default_symbol: str = "BTC/USDT",
    ) -> None:
        self._ml = ml
        self._heuristic = heuristic
        self.default_pairs = default_pairs
        self.default_symbol = default_symbol

    def pairs(self) -> PairsResult:
        """The followed pairs (PAIRS), normalized: the dashboard's selector, the SSE feed's default."""
        followed = parse_pairs(self.default_pairs or self.default_symbol)
        return PairsResult(
            pairs=list(dict.fromkeys(symbol for _, symbol in followed)),
            default_symbol=normalize_symbol(self.default_symbol),
        )

    def forecast(self, asked: str, symbol: str, timeframe: str | None, exchange: str | None) -> PairForecast:
        ml = self._ml(symbol, timeframe, exchange)
        h = self._heuristic(symbol, timeframe, exchange)
        p = ml.ml_prediction
        return PairForecast(
            pair=asked,
            predicted_rv_24h=p.predicted_rv_24h,
            q10=p.rv_24h_q10,
            q50=p.rv_24h_q50 if p.rv_24h_q50 is not None else p.predicted_rv_24h,
            q90=p.rv_24h_q90,
            predicted_volatility=p.predicted_volatility,
            volatility_regime=p.volatility_regime,
            risk_score=h.risk_score,
            risk_level=h.risk_level,
            model_name=p.model_name,
            model_type=p.model_type,
            model_version=p.model_version,
            model_alias=p.model_alias,
            candle_time=ml.candle_time,
        )

    def forecast_all(
        self, symbols: str, timeframe: str | None, exchange: str | None
    ) -> tuple[list[PairForecast], dict[str, str]]:
        """Each listed pair's forecast, computed concurrently; pairs whose data is down are skipped with why."""
        pairs = parse_pairs(symbols)
        with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(pairs))) as pool:
            futures = {asked: pool.submit(self.forecast, asked, sym, timeframe, exchange) for asked, sym in pairs}
        rows: list[PairForecast] = []
        skipped: dict[str, str] = {}
        for asked, future in futures.items():
            try:
                rows.append(future.result())
            except DataUnavailable as exc:
                skipped[asked] = str(exc)
        if not rows and skipped:
            raise DataUnavailable(f"no pair could be forecast: {skipped}")
        return rows, skipped

    def screen(
        self,
        symbols: str | None = None,
        sort: str = "predicted_rv_24h",
        timeframe: str | None = None,
        exchange: str | None = None,
    ) -> ScreenerResult:
        """The screener: every listed pair (default: the PAIRS setting) side by side, sorted by `sort`."""
        if sort not in SCREEN_SORTS:
            raise InvalidInput(f"sort must be one of {', '.join(SCREEN_SORTS)}, got {sort!r}")
        rows, skipped = self.forecast_all(
            (self.default_pairs or self.default_symbol) if symbols is None else symbols, timeframe, exchange
        )
        field = sort.lstrip("-")
        rows.sort(key=lambda r: getattr(r, field), reverse=sort.startswith("-"))
        return ScreenerResult(sort=sort, forecasts=rows, skipped=skipped)

    def pairlist(
        self,
        symbols: str,
        sort: str = "rv_asc",
        min_rv_24h: float | None = None,
        max_rv_24h: float | None = None,
        top: int | None = None,
        refresh_period: int = DEFAULT_REFRESH_S,
        timeframe: str | None = None,
        exchange: str | None = None,
    ) -> PairlistResult:
        if sort not in SORT_KEYS:
            raise InvalidInput(f"sort must be one of {', '.join(SORT_KEYS)}, got {sort!r}")
        for name, bound in (("min_rv_24h", min_rv_24h), ("max_rv_24h", max_rv_24h)):
            if bound is not None and not (math.isfinite(bound) and bound >= 0):
                raise InvalidInput(f"{name} must be a non-negative number, got {bound}")
        refresh_period = check_range("refresh_period", refresh_period, MIN_REFRESH_S, MAX_REFRESH_S)
        if top is not None:
            top = check_range("top", top, 1, MAX_PAIRS)
        rows, skipped = self.forecast_all(symbols, timeframe, exchange)
        key, reverse = sort.split("_")
        rows.sort(key=lambda r: r.predicted_rv_24h if key == "rv" else r.risk_score, reverse=reverse == "desc")
        kept = [
            r
            for r in rows
            if (min_rv_24h is None or r.predicted_rv_24h >= min_rv_24h)
            and (max_rv_24h is None or r.predicted_rv_24h <= max_rv_24h)
        ][:top]
        names = {r.pair for r in kept}
        return PairlistResult(
            pairs=[r.pair for r in kept],
            refresh_period=refresh_period,
            sort=sort,
            forecasts=kept,
            filtered=[r.pair for r in rows if r.pair not in names],
            skipped=skipped,
        )
