"""Health and metrics (JSON seed keys and the Prometheus exposition)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from crypto_mlops.api.deps import ServiceDep
from crypto_mlops.service.results import HealthResult, MetricsResult
from crypto_mlops.service.telemetry import PROMETHEUS_CONTENT_TYPE

router = APIRouter(tags=["ops"])


@router.get("/health", response_model=HealthResult)
def health(service: ServiceDep) -> HealthResult:
    return service.health()


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
