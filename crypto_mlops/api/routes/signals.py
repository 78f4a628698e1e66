"""Market data, the heuristic and ML signals, and their comparison."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from crypto_mlops.api.deps import ERRORS, HEAVY_ERRORS, MarketDep, ServiceDep, heavy_call
from crypto_mlops.api.schemas import MLSignalRequest, SignalRequest
from crypto_mlops.service.results import CompareResult, MLSignalResult, OHLCVResult, SignalResult

router = APIRouter(prefix="/v1/crypto", responses=ERRORS)


@router.get("/ohlcv", response_model=OHLCVResult, tags=["crypto"])
def ohlcv(service: ServiceDep, q: MarketDep) -> OHLCVResult:
    return service.ohlcv(q.symbol, q.timeframe, q.limit, q.exchange)


@router.post("/signal", response_model=SignalResult, tags=["crypto"])
def signal(service: ServiceDep, body: SignalRequest | None = None) -> SignalResult:
    req = body or SignalRequest()
    return service.signal(req.symbol, req.timeframe, req.limit, req.horizon_min, req.explain, req.exchange)


@router.post(
    "/ml-signal", response_model=MLSignalResult, tags=["ml"], dependencies=[Depends(heavy_call)], responses=HEAVY_ERRORS
)
def ml_signal(service: ServiceDep, body: MLSignalRequest | None = None) -> MLSignalResult:
    req = body or MLSignalRequest()
    return service.ml_signal(req.symbol, req.timeframe, req.limit, req.include_heuristic, req.exchange)


@router.get(
    "/signals/compare",
    response_model=CompareResult,
    tags=["ml"],
    dependencies=[Depends(heavy_call)],
    responses=HEAVY_ERRORS,
)
def compare(service: ServiceDep, q: MarketDep) -> CompareResult:
    return service.compare(q.symbol, q.timeframe, q.limit, q.exchange)
