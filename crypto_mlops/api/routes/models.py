"""The model being served, and the admin reload of the registry's champion."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException

from crypto_mlops.api.deps import ERRORS, ServiceDep, require_api_key
from crypto_mlops.api.schemas import ErrorDetail
from crypto_mlops.service.results import ModelInfo, ReloadResult

router = APIRouter(prefix="/v1/ml/model")


@router.get("/info", response_model=ModelInfo, tags=["ml"], responses=ERRORS)
def model_info(service: ServiceDep) -> ModelInfo:
    return service.model_info()


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
