"""The REST routers, one module per area; `create_app` includes them in this order."""

from __future__ import annotations

from fastapi import APIRouter

from crypto_mlops.api.routes import (
    dashboard,
    forecasts,
    freqtrade,
    history,
    limits,
    models,
    ops,
    screener,
    signals,
    stream,
)

ROUTERS: tuple[APIRouter, ...] = (
    dashboard.router,
    ops.router,
    limits.router,
    signals.router,
    screener.router,
    forecasts.router,
    history.router,
    models.router,
    stream.router,
    freqtrade.router,
)
