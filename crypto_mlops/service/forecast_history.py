"""Forecast history of a live pair: for every cached candle, the RV24 forecast as the system made it then.

The point-in-time export (`models/export.py`: walk-forward refits, no look-ahead) runs over the candles
the OHLCV cache holds for the pair, once per (pair, candle fetch, model); pages are slices of that table,
so paging never recomputes. Refits fall on a weekly grid anchored to Mondays 00:00 UTC, so a refit point
does not move when the cache slides by a candle; each refit trains on every cached origin before it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from crypto_mlops.data.errors import InvalidInput
from crypto_mlops.service.limits import MIN_LIMIT, check_range
from crypto_mlops.service.market import Market, Markets
from crypto_mlops.service.memo import LruMemo
from crypto_mlops.service.results import ForecastHistoryResult, ForecastRow, iso_z

MAX_PAGE = 1000
DEFAULT_PAGE = 100
FALLBACK_MODEL = "har_x"  # what `forecasts export` uses; served when the champion cannot be refitted per request
MIN_TRAIN_ORIGINS = 201  # the export refuses a refit on fewer than 200 training origins
HORIZON_HOURS = 24
MEMO_SIZE = 32
WEEK = pd.Timedelta(days=7)
GRID_ORIGIN = pd.Timestamp("1970-01-05", tz="UTC")  # a Monday: refits at Monday 00:00 UTC + k weeks
EARLIEST, LATEST = pd.Timestamp("1900-01-01", tz="UTC"), pd.Timestamp("2200-01-01", tz="UTC")
# Models cheap enough to refit walk-forward on a request: the catalog's baselines and linear models (no torch).
REFITTABLE_MODELS = ("naive", "ewma", "garch", "har", "har_calendar", "har_x", "shar", "harq", "har_xsq")
# Candles with enough cached history (1500 bars) for the first refit, whose models see hours-scale features.
TIMEFRAMES = ("1h", "2h", "4h", "6h", "8h", "12h")
METHOD = "walk-forward refit every 7 days (expanding window) over the cached candles; no look-ahead"

# The model the system serves for a pair (its type name): the default model of the history.
ServedModel = Callable[[str], str]


def check_model(name: str) -> str:
    """`name` when it is a model this endpoint refits, else InvalidInput listing them."""
    from crypto_mlops.models.zoo import MODEL_CLASSES  # heavy: imported by the first history request only

    if name not in REFITTABLE_MODELS or name not in MODEL_CLASSES:
        raise InvalidInput(f"model must be one of {', '.join(REFITTABLE_MODELS)}, got {name!r}")
    return name


def check_timeframe(timeframe: str) -> str:
    if timeframe not in TIMEFRAMES:
        raise InvalidInput(
            f"timeframe must be one of {', '.join(TIMEFRAMES)} for a forecast history, got {timeframe!r}: the "
            "models forecast the next 24 h from hours-scale features (daily candles cannot feed them), and "
            "shorter candles leave the cache too little history for the first refit"
        )
    return timeframe


def parse_time(name: str, value: str | None) -> pd.Timestamp | None:
    """A UTC timestamp from ISO-8601 text (`2026-01-31`, `2026-01-31T12:00:00Z`, any offset); naive means UTC."""
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(
            f"{name} must be an ISO-8601 date or time (e.g. 2026-01-31T12:00:00Z), got {value!r}"
        ) from exc
    if not EARLIEST.year <= parsed.year < LATEST.year:  # far outside any candle: clamped, so nothing overflows
        return EARLIEST if parsed.year < EARLIEST.year else LATEST
    ts = pd.Timestamp(parsed)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


@dataclass(frozen=True)
class _Table:
    """A pair's whole history, computed once per candle fetch and model."""

    dates: pd.DatetimeIndex
    rows: list[ForecastRow]


def _num(value: object) -> float | None:
    x = float(value)  # type: ignore[arg-type]  # numpy floats from the export table
    return x if math.isfinite(x) else None


def first_refit(frame: pd.DataFrame, bar_hours: float) -> pd.Timestamp:
    """The first grid point (Monday 00:00 UTC) at which a refit has enough training origins in `frame`."""
    from crypto_mlops.features.volatility import bars
    from crypto_mlops.models.backtest import WARMUP_HOURS

    need = bars(WARMUP_HOURS, bar_hours) + MIN_TRAIN_ORIGINS + bars(HORIZON_HOURS, bar_hours)
    earliest = pd.Timestamp(frame.index[0]) + pd.Timedelta(hours=need * bar_hours)
    weeks = math.ceil((earliest - GRID_ORIGIN) / WEEK)
    return GRID_ORIGIN + weeks * WEEK


def compute_history(frame: pd.DataFrame, timeframe: str, bar_hours: float, model: str, pair: str) -> _Table:
    """Every forecastable candle of `frame`: the export from the first refit on the weekly grid."""
    from crypto_mlops.models.export import ExportConfig, export_forecasts

    start = first_refit(frame, bar_hours)
    if len(frame) == 0 or start > frame.index[-1]:
        span_days = (start - pd.Timestamp(frame.index[0])).total_seconds() / 86_400 if len(frame) else 0
        raise InvalidInput(
            f"not enough cached {timeframe} candles of {pair} for a point-in-time forecast: {len(frame)} candles, "
            f"and the first refit needs {span_days:.0f} days of history before it"
        )
    try:
        table = export_forecasts(frame, timeframe, ExportConfig(start=start, model=model, refit_every=WEEK), pair)
    except ValueError as exc:
        raise InvalidInput(f"no forecast history for {pair} {timeframe}: {exc}") from exc
    rows = [
        ForecastRow(
            date=iso_z(r.date) or "",
            predicted_rv_24h=_num(r.predicted_rv_24h),
            q10=_num(r.q10),
            q50=_num(r.q50),
            q90=_num(r.q90),
            predicted_volatility=_num(r.predicted_volatility),
            volatility_regime=r.volatility_regime,
            model_name=str(r.model_name),
            model_version=str(r.model_version),
            fitted_until=iso_z(r.fitted_until) or "",
        )
        for r in table.itertuples(index=False)
    ]
    return _Table(pd.DatetimeIndex(table["date"]), rows)


class ForecastHistory:
    """Paged point-in-time forecasts of a pair over its cached candles."""

    def __init__(self, markets: Markets, served_model: ServedModel) -> None:
        self.markets = markets
        self.served_model = served_model
        self._tables: LruMemo[tuple[Hashable, ...], _Table] = LruMemo(MEMO_SIZE)
        self.computed = 0  # tables computed (tests: pages must not recompute)

    def model_for(self, symbol: str, model: str | None) -> str:
        """The asked model (refittable catalog name), else the served model's type when refittable, else har_x."""
        if model is not None:  # an empty name is refused, not taken for "the default"
            return check_model(model)
        try:
            served = self.served_model(symbol)
        except Exception:  # no model loadable right now: the history does not need it, only its name
            served = FALLBACK_MODEL
        return served if served in REFITTABLE_MODELS else FALLBACK_MODEL

    def page(
        self,
        symbol: str | None,
        start: str | None = None,
        end: str | None = None,
        limit: int = DEFAULT_PAGE,
        cursor: str | None = None,
        model: str | None = None,
        timeframe: str | None = None,
        exchange: str | None = None,
    ) -> ForecastHistoryResult:
        """Rows with `from <= date <= to`, oldest first, `limit` per page, starting at `cursor` when given."""
        limit = check_range("limit", limit, 1, MAX_PAGE)
        lo, hi = parse_time("from", start), parse_time("to", end)
        if lo is not None and hi is not None and lo > hi:
            raise InvalidInput(f"from ({iso_z(lo)}) is after to ({iso_z(hi)})")
        after = parse_time("cursor", cursor)
        tf = check_timeframe(self.markets.settings.default_timeframe if timeframe is None else timeframe)
        m = self.markets.market(symbol, tf, MIN_LIMIT, exchange)
        name = self.model_for(m.key.symbol, model)
        table = self._tables.get_or_compute((m.key, m.fetch_id, name), lambda: self._compute(m, name))

        first = max((t for t in (lo, after) if t is not None), default=None)
        i = 0 if first is None else int(table.dates.searchsorted(first, side="left"))
        j = len(table.rows) if hi is None else int(table.dates.searchsorted(hi, side="right"))
        page = table.rows[i : min(j, i + limit)]
        more = i + limit < j
        origin = self.markets.origin(m, exchange)
        return ForecastHistoryResult(
            source=origin["source"],
            candle_time=origin["candle_time"],
            symbol=m.key.symbol,
            timeframe=m.key.timeframe,
            model_name=name,
            method=METHOD,
            start=iso_z(lo),
            end=iso_z(hi),
            limit=limit,
            count=len(page),
            forecasts=page,
            next_cursor=table.rows[i + limit].date if more else None,
            available_from=table.rows[0].date if table.rows else None,
            available_to=table.rows[-1].date if table.rows else None,
        )

    def _compute(self, m: Market, model: str) -> _Table:
        self.computed += 1
        return compute_history(m.data.frame, m.key.timeframe, m.data.bar_hours, model, m.key.symbol)
