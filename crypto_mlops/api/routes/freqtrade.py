"""Freqtrade's `RemotePairList`: pairs filtered and ranked by the RV24 forecast (research only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from crypto_mlops.api.deps import ERRORS, ServiceDep
from crypto_mlops.api.schemas import Timeframe
from crypto_mlops.service.screener import DEFAULT_REFRESH_S, SORT_KEYS, PairlistResult

router = APIRouter(prefix="/v1/freqtrade", tags=["freqtrade"], responses=ERRORS)


@router.get("/pairlist", response_model=PairlistResult)
def pairlist(
    service: ServiceDep,
    symbols: Annotated[str, Query(max_length=2000, description="Comma-separated pairs: BTC/USDT,ETH/USDT.")],
    sort: Annotated[str, Query(description=f"One of {', '.join(SORT_KEYS)} (rv: predicted RV24).")] = "rv_asc",
    min_rv_24h: Annotated[float | None, Query(ge=0, description="Drop pairs forecast below this RV24.")] = None,
    max_rv_24h: Annotated[float | None, Query(ge=0, description="Drop pairs forecast above this RV24.")] = None,
    top: Annotated[int | None, Query(ge=1, description="Keep the first N after filtering.")] = None,
    refresh_period: Annotated[int, Query(description="Seconds freqtrade keeps the list.")] = DEFAULT_REFRESH_S,
    timeframe: Timeframe | None = None,
) -> PairlistResult:
    return service.pairlist(symbols, sort, min_rv_24h, max_rv_24h, top, refresh_period, timeframe)
