"""The dashboard page, its local assets (no CDN) and the chart series it draws."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import FileResponse

from crypto_mlops.api.deps import HEAVY_ERRORS, MarketDep, ServiceDep, heavy_call
from crypto_mlops.service import DEFAULT_CHART_POINTS, MAX_CHART_POINTS
from crypto_mlops.service.results import ChartSeries, PairsResult

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"


def chart_points(
    points: Annotated[
        int, Query(ge=1, le=MAX_CHART_POINTS, description="Forecast origins to draw.")
    ] = DEFAULT_CHART_POINTS,
) -> int:
    return points


# A dependency rather than a plain parameter, so that the schema lists it after the market parameters.
PointsDep = Annotated[int, Depends(chart_points)]

router = APIRouter()


@router.get("/", include_in_schema=False)
def dashboard() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html")


@router.get("/static/vendor/plotly.min.js", include_in_schema=False)
def plotly_js() -> FileResponse:
    return FileResponse(
        _plotly_path(),
        media_type="application/javascript",
        headers={"Cache-Control": "public, max-age=86400"},
    )


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> FileResponse:
    return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml")


@router.get(
    "/v1/dashboard/chart",
    response_model=ChartSeries,
    tags=["dashboard"],
    dependencies=[Depends(heavy_call)],
    responses=HEAVY_ERRORS,
)
def chart(service: ServiceDep, q: MarketDep, points: PointsDep) -> ChartSeries:
    return service.chart(q.symbol, q.timeframe, q.limit, points, q.exchange)


@router.get("/v1/dashboard/pairs", response_model=PairsResult, tags=["dashboard"])
def pairs(service: ServiceDep) -> PairsResult:
    """The pairs the system follows (PAIRS): the dashboard's selector and screener table."""
    return service.screener.pairs()


def _plotly_path() -> Path:
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.exists():
        raise HTTPException(status_code=404, detail="plotly.min.js not found in the installed plotly package")
    return path
