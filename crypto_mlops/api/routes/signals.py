"""Market data, the heuristic and ML signals, and their comparison.

The signal routes return `ResultJSON`: the service result serialised by pydantic-core straight to
bytes. Returning a response (not the model) also spares FastAPI's re-validation of the result, which
for a sync route is a second trip through the threadpool per request.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from crypto_mlops.api.deps import ERRORS, HEAVY_ERRORS, MarketDep, ServiceDep, heavy_call
from crypto_mlops.api.schemas import MLSignalRequest, SignalRequest
from crypto_mlops.service.results import CompareResult, MLSignalResult, OHLCVResult, SignalResult


class ResultJSON(JSONResponse):
    """JSON of a service result (a pydantic model), encoded once in Rust; other content as JSONResponse does."""

    def render(self, content: Any) -> bytes:
        if isinstance(content, BaseModel):
            return bytes(type(content).__pydantic_serializer__.to_json(content))
        return super().render(content)


router = APIRouter(prefix="/v1/crypto", responses=ERRORS)

# The model routes: encoded once, charged to the caller's rate budget (429 documented).
HEAVY_ML: dict[str, Any] = {
    "response_class": ResultJSON,
    "tags": ["ml"],
    "dependencies": [Depends(heavy_call)],
    "responses": HEAVY_ERRORS,
}


@router.get("/ohlcv", response_model=OHLCVResult, tags=["crypto"])
def ohlcv(service: ServiceDep, q: MarketDep) -> OHLCVResult:
    return service.ohlcv(q.symbol, q.timeframe, q.limit, q.exchange)


@router.post("/signal", response_model=SignalResult, response_class=ResultJSON, tags=["crypto"])
def signal(service: ServiceDep, body: SignalRequest | None = None) -> ResultJSON:
    req = body or SignalRequest()
    return ResultJSON(service.signal(req.symbol, req.timeframe, req.limit, req.horizon_min, req.explain, req.exchange))


@router.post("/ml-signal", response_model=MLSignalResult, **HEAVY_ML)
def ml_signal(service: ServiceDep, body: MLSignalRequest | None = None) -> ResultJSON:
    req = body or MLSignalRequest()
    return ResultJSON(service.ml_signal(req.symbol, req.timeframe, req.limit, req.include_heuristic, req.exchange))


@router.get("/signals/compare", response_model=CompareResult, **HEAVY_ML)
def compare(service: ServiceDep, q: MarketDep) -> ResultJSON:
    return ResultJSON(service.compare(q.symbol, q.timeframe, q.limit, q.exchange))
