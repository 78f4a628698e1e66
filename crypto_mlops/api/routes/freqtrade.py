"""Freqtrade's `RemotePairList`: pairs filtered and ranked by the RV24 forecast (research only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from crypto_mlops.api.deps import ERRORS, ServiceDep
from crypto_mlops.api.schemas import PAIRS_PATTERN, Timeframe
from crypto_mlops.service.results import PairlistResult
from crypto_mlops.service.screener import (
    DEFAULT_REFRESH_S,
    MAX_PAIRS,
    MAX_REFRESH_S,
    MIN_REFRESH_S,
    SORT_KEYS,
)

router = APIRouter(prefix="/v1/freqtrade", tags=["freqtrade"], responses=ERRORS)


@router.get("/pairlist", response_model=PairlistResult)
def pairlist(
    service: ServiceDep,
    symbols: Annotated[
        str,
        Query(
            max_length=2000,
            description=f"Comma-separated pairs (at most {MAX_PAIRS}): BTC/USDT,ETH/USDT.",
            json_schema_extra={"pattern": PAIRS_PATTERN},
        ),
    ],
    sort: Annotated[
        str,
        Query(
            description=f"One of {', '.join(SORT_KEYS)} (rv: predicted RV24).", json_schema_extra={"enum": SORT_KEYS}
        ),
    ] = "rv_asc",
    min_rv_24h: Annotated[float | None, Query(ge=0, description="Drop pairs forecast below this RV24.")] = None,
    max_rv_24h: Annotated[float | None, Query(ge=0, description="Drop pairs forecast above this RV24.")] = None,
    top: Annotated[int | None, Query(ge=1, le=MAX_PAIRS, description="Keep the first N after filtering.")] = None,
    refresh_period: Annotated[
        int, Query(ge=MIN_REFRESH_S, le=MAX_REFRESH_S, description="Seconds freqtrade keeps the list.")
    ] = DEFAULT_REFRESH_S,
    timeframe: Timeframe | None = None,
) -> PairlistResult:
    return service.screener.pairlist(symbols, sort, min_rv_24h, max_rv_24h, top, refresh_period, timeframe)
