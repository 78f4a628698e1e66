"""Error answers of the REST API: 400 / 503 from the service's errors, 422 for malformed requests.

Details never carry what JSON cannot encode (`1e400`, `NaN` and `Infinity` parse to non-finite floats,
which used to turn the 422 into a 500) nor long echoes of the caller's input.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from crypto_mlops.data.errors import DataUnavailable, InvalidInput
from crypto_mlops.service.limits import MAX_DETAIL_CHARS, clip


def json_safe(value: Any) -> Any:
    """`value` with non-finite floats as strings ("inf", "nan") and long strings clipped."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return clip(value)
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value[:MAX_DETAIL_CHARS]]
    return value


async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
    errors = jsonable_encoder(exc.errors())
    for error in errors:
        if isinstance(error.get("input"), float) and not math.isfinite(error["input"]):
            error["msg"] = "non-finite number (Infinity, NaN or out of range) is not allowed"
    return JSONResponse(status_code=422, content={"detail": json_safe(errors)})


async def invalid_input(_: Request, exc: InvalidInput) -> JSONResponse:
    return JSONResponse(status_code=400, content={"detail": clip(str(exc))})


async def unavailable(_: Request, exc: DataUnavailable) -> JSONResponse:
    return JSONResponse(status_code=503, content={"detail": clip(str(exc))})
