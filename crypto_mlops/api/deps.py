"""Dependencies shared by the routers: the service, the admin key, and the documented query parameters.

Query bounds are schema documentation built from the service's own limits; the service checks their
meaning again, so REST, GraphQL and gRPC refuse the same values.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request, Security
from fastapi.security import APIKeyHeader

from crypto_mlops.api.schemas import (
    EXCHANGE_DOC,
    EXCHANGE_PATTERN,
    LIMIT_DOC,
    SYMBOL_DOC,
    SYMBOL_SCHEMA,
    SYMBOL_SHAPE,
    ErrorDetail,
    Timeframe,
)
from crypto_mlops.gql.http_limits import check_rate
from crypto_mlops.service import MAX_HISTORY_N, MAX_LIMIT, MIN_LIMIT, CryptoService


async def get_service_from_app(request: Request) -> CryptoService:
    """The service `create_app` put on the app's state (async: no threadpool hop for an attribute read)."""
    service: CryptoService = request.app.state.service
    return service


ServiceDep = Annotated[CryptoService, Depends(get_service_from_app)]

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorDetail, "description": "Input the service cannot use (unknown pair, exchange...)."},
    503: {"model": ErrorDetail, "description": "Market data or model unavailable; `detail` says why."},
}

Symbol = Annotated[
    str, Query(pattern=SYMBOL_SHAPE, max_length=26, description=SYMBOL_DOC, json_schema_extra=SYMBOL_SCHEMA)
]
OptionalSymbol = Annotated[
    str | None, Query(pattern=SYMBOL_SHAPE, max_length=26, description=SYMBOL_DOC, json_schema_extra=SYMBOL_SCHEMA)
]
Exchange = Annotated[str, Query(pattern=EXCHANGE_PATTERN, description=EXCHANGE_DOC)]
Limit = Annotated[int, Query(ge=MIN_LIMIT, le=MAX_LIMIT, description=LIMIT_DOC)]
TailN = Annotated[int, Query(ge=1, le=MAX_HISTORY_N, description="How many of the latest records.")]


@dataclass(frozen=True)
class MarketQuery:
    """The candles a GET request asks for."""

    symbol: str
    exchange: str
    timeframe: str
    limit: int


def market_query(
    symbol: Symbol = "BTCUSDT",
    exchange: Exchange = "binance",
    timeframe: Timeframe = "1h",
    limit: Limit = 200,
) -> MarketQuery:
    return MarketQuery(symbol, exchange, timeframe, limit)


MarketDep = Annotated[MarketQuery, Depends(market_query)]

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="settings.api_key (API_KEY).")


async def require_api_key(service: ServiceDep, key: Annotated[str | None, Security(api_key_header)] = None) -> None:
    if not key or not secrets.compare_digest(key.encode(), service.settings.api_key.encode()):
        raise HTTPException(status_code=401, detail="missing or wrong X-API-Key")


async def heavy_call(request: Request) -> None:
    """Per-client rate limit of the heavy routes (429 with Retry-After; RATE_LIMIT_PER_MIN)."""
    check_rate(request.app.state.rate_limiter, request)


HEAVY_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    429: {
        "model": ErrorDetail,
        "description": "Too many heavy requests from this client (RATE_LIMIT_PER_MIN); see Retry-After.",
        "headers": {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}},
    },
}
