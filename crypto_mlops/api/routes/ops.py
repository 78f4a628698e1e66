"""Health (readiness), liveness, and metrics (JSON seed keys and the Prometheus exposition)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from crypto_mlops.api.deps import ServiceDep
from crypto_mlops.service.results import HealthResult, MetricsResult
from crypto_mlops.service.telemetry import PROMETHEUS_CONTENT_TYPE

router = APIRouter(tags=["ops"])

NOT_READY = 503


@router.get(
    "/health",
    response_model=HealthResult,
    responses={NOT_READY: {"model": HealthResult, "description": "Starting: model or default candles not loaded."}},
)
def health(service: ServiceDep, response: Response) -> HealthResult:
    """Readiness: 200 once the model is loaded and the default pair's candles are cached, 503 before."""
    result = service.health()
    if not service.ready:
        response.status_code = NOT_READY
    return result


@router.get("/livez")
async def livez() -> dict[str, str]:
    """Liveness: the process answers. Never waits on the model, the database or the warm-up."""
    return {"status": "alive"}


@router.get("/metrics", response_model=MetricsResult)
def metrics(service: ServiceDep) -> MetricsResult:
    return service.metrics()


@router.get(
    "/metrics/prometheus",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus exposition."}},
)
def prometheus(service: ServiceDep) -> Response:
    return Response(service.prometheus(), media_type=PROMETHEUS_CONTENT_TYPE)
