"""The service layer every adapter (REST, GraphQL, gRPC, CLI, SSE) calls. See docs/CONTRACTS.md."""

from __future__ import annotations

import threading

from crypto_mlops.service.cache import CacheKey, OHLCVCache
from crypto_mlops.service.core import CryptoService
from crypto_mlops.service.feed import PeriodicPredictionFeed, PredictionFeed, select_feed
from crypto_mlops.service.history import HistoryStore
from crypto_mlops.service.limits import (
    DEFAULT_CHART_POINTS,
    MAX_CHART_POINTS,
    MAX_HISTORY_N,
    MAX_HORIZON_MIN,
    MAX_LIMIT,
    MIN_LIMIT,
)
from crypto_mlops.service.model_holder import ModelHolder
from crypto_mlops.service.pair_models import PairModels

__all__ = [
    "DEFAULT_CHART_POINTS",
    "MAX_CHART_POINTS",
    "MAX_HISTORY_N",
    "MAX_HORIZON_MIN",
    "MAX_LIMIT",
    "MIN_LIMIT",
    "CacheKey",
    "CryptoService",
    "HistoryStore",
    "ModelHolder",
    "OHLCVCache",
    "PairModels",
    "PeriodicPredictionFeed",
    "PredictionFeed",
    "get_service",
    "select_feed",
]

_lock = threading.Lock()
_service: CryptoService | None = None


def get_service() -> CryptoService:
    """The process-wide service (one per process), built from settings on first use."""
    global _service
    with _lock:
        if _service is None:
            _service = CryptoService()
        return _service
