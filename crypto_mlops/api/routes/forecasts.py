"""Forecast history of a live pair: each candle's point-in-time RV24 forecast, paged (research only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from crypto_mlops.api.deps import HEAVY_ERRORS, Exchange, OptionalSymbol, ServiceDep, heavy_call
from crypto_mlops.service.forecast_history import DEFAULT_PAGE, MAX_PAGE, REFITTABLE_MODELS, TIMEFRAMES
from crypto_mlops.service.results import ForecastHistoryResult

router = APIRouter(prefix="/v1/crypto", tags=["ml"], responses=HEAVY_ERRORS)

TIME_DOC = "RFC 3339 date-time: 2026-01-31T12:00:00Z, or with an offset (+02:00)."
# RFC 3339's date-time shape; the service parses it (and refuses impossible dates such as 2026-02-30 with a 400).
DATE_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"


def _time(doc: str, alias: str | None = None) -> Any:
    return Query(
        alias=alias, max_length=40, pattern=DATE_TIME, description=doc, json_schema_extra={"format": "date-time"}
    )


@router.get("/forecasts", response_model=ForecastHistoryResult, dependencies=[Depends(heavy_call)])
def forecasts(
    service: ServiceDep,
    symbol: OptionalSymbol = None,
    start: Annotated[str | None, _time("First candle. " + TIME_DOC, alias="from")] = None,
    end: Annotated[str | None, _time("Last candle. " + TIME_DOC, alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"Rows per page (1..{MAX_PAGE}).")] = DEFAULT_PAGE,
    cursor: Annotated[
        str | None, _time("`next_cursor` of the previous page: the first candle of the next one.")
    ] = None,
    model: Annotated[
        str | None,
        Query(
            description="Catalog model refitted walk-forward; default: the served model's type when it is one of "
            "these, else har_x.",
            json_schema_extra={"enum": list(REFITTABLE_MODELS)},
        ),
    ] = None,
    timeframe: Annotated[
        str | None,
        Query(
            max_length=8,
            description="Candle timeframe (default DEFAULT_TIMEFRAME); hours-scale only, for the models' features.",
            json_schema_extra={"enum": list(TIMEFRAMES)},
        ),
    ] = None,
    exchange: Exchange = "binance",
) -> ForecastHistoryResult:
    """For every cached candle from `from` to `to`, the forecast the system would have made then (no look-ahead).

    `from` after `to` is refused (400): OpenAPI cannot state that the two are ordered.
    """
    return service.forecast_history.page(symbol, start, end, limit, cursor, model, timeframe, exchange)
