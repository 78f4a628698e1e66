"""Freqtrade's `RemotePairList`: pairs filtered and ranked by the RV24 forecast (research only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from crypto_mlops.api.deps import ERRORS, ServiceDep
from crypto_mlops.api.schemas import SYMBOL_PATTERN, Timeframe
from crypto_mlops.service.screener import (
    DEFAULT_REFRESH_S,
    MAX_PAIRS,
    MAX_REFRESH_S,
    MIN_REFRESH_S,
    SORT_KEYS,
    PairlistResult,
)

# What the service accepts, stated in the schema: up to MAX_PAIRS pairs (each as in SYMBOL_PATTERN, with an
# optional futures settle suffix such as `:USDT`), comma-separated. The adapter itself checks only length.
_PAIR = SYMBOL_PATTERN.removeprefix("^").removesuffix("$") + "(:[A-Za-z0-9]{2,10})?"
PAIRS_PATTERN = f"^{_PAIR}(,{_PAIR}){{0,{MAX_PAIRS - 1}}}$"

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
