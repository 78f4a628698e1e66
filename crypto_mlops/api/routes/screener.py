"""The screener: every followed pair's forecast, quantiles, regime and heuristic risk in one call."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from crypto_mlops.api.deps import ERRORS, HEAVY_ERRORS, ServiceDep, heavy_call
from crypto_mlops.api.schemas import PAIRS_PATTERN, Timeframe
from crypto_mlops.service.results import ScreenerResult
from crypto_mlops.service.screener import SCREEN_SORTS

router = APIRouter(prefix="/v1/crypto", tags=["ml"], responses=ERRORS)


@router.get("/screener", response_model=ScreenerResult, dependencies=[Depends(heavy_call)], responses=HEAVY_ERRORS)
def screener(
    service: ServiceDep,
    symbols: Annotated[
        str | None,
        Query(
            max_length=2000,
            description="Comma-separated pairs (default: the PAIRS setting).",
            json_schema_extra={"pattern": PAIRS_PATTERN},
        ),
    ] = None,
    sort: Annotated[
        str, Query(description="Order of the rows ('-': descending).", json_schema_extra={"enum": [*SCREEN_SORTS]})
    ] = "predicted_rv_24h",
    timeframe: Timeframe | None = None,
) -> ScreenerResult:
    return service.screener.screen(symbols, sort, timeframe)
