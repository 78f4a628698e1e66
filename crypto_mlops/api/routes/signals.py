"""Market data, the heuristic and ML signals, and their comparison.

The signal routes answer through `service.answers.Answers` (the last answer per request, reused while
its candles and model are current) and return its JSON bytes, encoded once by pydantic-core. Returning
a response (not the model) also spares FastAPI's re-validation of the result. A repeated request with a
current answer does not even reach these functions: `api.fast.FastPathRoute` answers it on the event
loop. `response_model` stays for the OpenAPI schema.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from crypto_mlops.api.deps import ERRORS, HEAVY_ERRORS, MarketDep, ServiceDep, heavy_call
from crypto_mlops.api.fast import FastPathRoute, FastSpec, fast_path, json_response, remember_args
from crypto_mlops.api.schemas import MLSignalRequest, SignalRequest
from crypto_mlops.service.answers import Answers, CompareArgs, MLArgs, SignalArgs, answers_for
from crypto_mlops.service.results import CompareResult, MLSignalResult, OHLCVResult, SignalResult


class ResultJSON(JSONResponse):
    """JSON of a service result (a pydantic model), encoded once in Rust; other content as JSONResponse does."""

    def render(self, content: Any) -> bytes:
        if isinstance(content, BaseModel):
            return bytes(type(content).__pydantic_serializer__.to_json(content))
        return super().render(content)


router = APIRouter(prefix="/v1/crypto", responses=ERRORS, route_class=FastPathRoute)

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
@fast_path(FastSpec(Answers.lookup_signal))
def signal(request: Request, service: ServiceDep, body: SignalRequest | None = None) -> Response:
    req = body or SignalRequest()
    args = SignalArgs(req.symbol, req.timeframe, req.limit, req.horizon_min, req.explain, req.exchange)
    answer, stamp = answers_for(service).signal(args, "rest")
    remember_args(request, args)
    return json_response(answer, stamp)


@router.post("/ml-signal", response_model=MLSignalResult, **HEAVY_ML)
@fast_path(FastSpec(Answers.lookup_ml_signal, heavy=True))
def ml_signal(request: Request, service: ServiceDep, body: MLSignalRequest | None = None) -> Response:
    req = body or MLSignalRequest()
    args = MLArgs(req.symbol, req.timeframe, req.limit, req.include_heuristic, req.exchange)
    answer, stamp = answers_for(service).ml_signal(args, "rest")
    remember_args(request, args)
    return json_response(answer, stamp)


@router.get("/signals/compare", response_model=CompareResult, **HEAVY_ML)
@fast_path(FastSpec(Answers.lookup_compare, heavy=True))
def compare(request: Request, service: ServiceDep, q: MarketDep) -> Response:
    answer, stamp = answers_for(service).compare(CompareArgs(q.symbol, q.timeframe, q.limit, q.exchange))
    remember_args(request, CompareArgs(q.symbol, q.timeframe, q.limit, q.exchange))
    return json_response(answer, stamp)
