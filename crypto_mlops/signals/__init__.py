"""Signals: the heuristic risk signal."""

from crypto_mlops.signals.heuristic import (
    HeuristicSignal,
    heuristic_from_features,
    heuristic_signal,
    risk_level,
    risk_score,
    vol_regime,
)

__all__ = ["HeuristicSignal", "heuristic_from_features", "heuristic_signal", "risk_level", "risk_score", "vol_regime"]
