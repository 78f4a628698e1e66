"""The serving limits as JSON: the candle cache against its bounds, the rate limit and what it refused."""

from __future__ import annotations

from fastapi import APIRouter, Request

from crypto_mlops.api.deps import ServiceDep
from crypto_mlops.api.schemas import LimitsStatus, RateLimitStatus
from crypto_mlops.service.ratelimit import RateLimiter

router = APIRouter(tags=["ops"])


@router.get("/metrics/limits", response_model=LimitsStatus)
async def limits(service: ServiceDep, request: Request) -> LimitsStatus:
    limiter: RateLimiter = request.app.state.rate_limiter
    settings = service.settings
    return LimitsStatus(
        ohlcv_cache=service.cache.stats(),
        rate_limit=RateLimitStatus(
            per_min=settings.rate_limit_per_min, burst=settings.rate_limit_burst, refused=limiter.refused
        ),
        max_body_bytes=settings.max_body_bytes,
    )
