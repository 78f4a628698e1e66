"""Forecast history of a live pair: each candle's point-in-time RV24 forecast, paged (research only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from crypto_mlops.api.deps import HEAVY_ERRORS, Exchange, OptionalSymbol, ServiceDep, heavy_call
from crypto_mlops.api.schemas import Timeframe
from crypto_mlops.service.forecast_history import DEFAULT_PAGE, MAX_PAGE
from crypto_mlops.service.results import ForecastHistoryResult

router = APIRouter(prefix="/v1/crypto", tags=["ml"], responses=HEAVY_ERRORS)

TIME_DOC = "UTC ISO-8601 date or time (2026-01-31, 2026-01-31T12:00:00Z); naive means UTC."
Time = Annotated[str | None, Query(max_length=40, description=TIME_DOC)]


@router.get("/forecasts", response_model=ForecastHistoryResult, dependencies=[Depends(heavy_call)])
def forecasts(
    service: ServiceDep,
    symbol: OptionalSymbol = None,
    start: Annotated[str | None, Query(alias="from", max_length=40, description="First candle. " + TIME_DOC)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=40, description="Last candle. " + TIME_DOC)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"Rows per page (1..{MAX_PAGE}).")] = DEFAULT_PAGE,
    cursor: Annotated[
        str | None, Query(max_length=40, description="`next_cursor` of the previous page (a candle time).")
    ] = None,
    model: Annotated[
        str | None,
        Query(
            max_length=32,
            pattern=r"^[a-z0-9_]+$",
            description="Catalog model refitted walk-forward (har, har_x, ewma, ...); default: the served model's "
            "type when it can be refitted per request, else har_x.",
        ),
    ] = None,
    timeframe: Timeframe | None = None,
    exchange: Exchange = "binance",
) -> ForecastHistoryResult:
    """For every cached candle from `from` to `to`, the forecast the system would have made then (no look-ahead)."""
    return service.forecast_history.page(symbol, start, end, limit, cursor, model, timeframe, exchange)
