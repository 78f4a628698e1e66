"""The latest recorded signals and ML predictions (each row is the response as it was served)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from crypto_mlops.api.deps import ERRORS, OptionalSymbol, ServiceDep, TailN

router = APIRouter(prefix="/v1/crypto", tags=["history"], responses=ERRORS)


@router.get("/signals/tail", response_model=list[dict[str, Any]])
def signals_tail(service: ServiceDep, n: TailN = 5, symbol: OptionalSymbol = None) -> list[dict[str, Any]]:
    return service.history_tail("signals", n, symbol)


@router.get("/ml-predictions/tail", response_model=list[dict[str, Any]])
def ml_tail(service: ServiceDep, n: TailN = 5, symbol: OptionalSymbol = None) -> list[dict[str, Any]]:
    return service.history_tail("ml_predictions", n, symbol)
