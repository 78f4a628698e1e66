"""The model being served, and the admin reload of the registry's champion."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query

from crypto_mlops.api.deps import ERRORS, ServiceDep, require_api_key
from crypto_mlops.api.schemas import SYMBOL_DOC, SYMBOL_SCHEMA, SYMBOL_SHAPE, ErrorDetail
from crypto_mlops.service.results import ModelInfo, ReloadResult

router = APIRouter(prefix="/v1/ml/model")


@router.get("/info", response_model=ModelInfo, tags=["ml"], responses=ERRORS)
def model_info(
    service: ServiceDep,
    symbol: Annotated[
        str | None,
        Query(pattern=SYMBOL_SHAPE, max_length=26, description=SYMBOL_DOC, json_schema_extra=SYMBOL_SCHEMA),
    ] = None,
) -> ModelInfo:
    """The model serving `symbol` (default: DEFAULT_SYMBOL): `champion-<pair>`, `champion` or the baseline."""
    return service.model_info(symbol)


@router.post(
    "/reload",
    response_model=ReloadResult,
    tags=["ml", "admin"],
    dependencies=[Depends(require_api_key)],
    responses={
        401: {"model": ErrorDetail, "description": "Missing or wrong X-API-Key."},
        503: {"model": ErrorDetail, "description": "Reload failed; the previous model keeps serving."},
    },
)
def reload_model(service: ServiceDep) -> ReloadResult:
    result = service.reload_model()
    if not result.success:
        raise HTTPException(status_code=503, detail=result.message)
    return result
