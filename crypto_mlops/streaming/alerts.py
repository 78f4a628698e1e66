"""Alert rules with a cooldown per (symbol, rule), measured in event time.

Each rule looks at one processed tick (its 24 h statistics, the heuristic signal, the model's prediction
and RSI) and returns an `Anomaly` when its condition holds. Every holding condition is listed in the
prediction's `anomalies`; an *alert* is only published when the same (symbol, rule) has not alerted
within `cooldown` of event time, so a long turbulent spell gives one alert, not one per tick, and a
replay of the same ticks gives the same alerts (wall-clock time plays no part).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, NamedTuple

import numpy as np

from crypto_mlops.streaming.codec import Anomaly

Severity = Literal["low", "medium", "high"]


@dataclass(frozen=True)
class AlertThresholds:
    price_move_pct: float = 5.0  # |24 h change| at or above -> alert; twice that -> high
    rsi_high: float = 80.0
    rsi_low: float = 20.0
    vol_spike_ratio: float = 1.5  # predicted vol / current vol at or above -> alert; 2x -> high
    cooldown: timedelta = timedelta(hours=4)


class RuleInput(NamedTuple):
    """What the rules read about one tick (a tuple: built for every tick that may alert)."""

    symbol: str
    event_time: datetime
    change_24h: float
    vol_regime: str | None
    rsi14: float | None
    predicted_volatility: float | None
    current_volatility: float | None


@dataclass
class RuleBatch:
    """The rule inputs of a run of one symbol's ticks, as columns (one entry per tick)."""

    event_time: list[datetime]
    change_24h: list[float]
    vol_regime: list[str | None]
    rsi14: list[float | None]
    predicted_volatility: list[float | None]
    current_volatility: list[float | None]

    def row(self, symbol: str, i: int) -> RuleInput:
        return RuleInput(
            symbol,
            self.event_time[i],
            self.change_24h[i],
            self.vol_regime[i],
            self.rsi14[i],
            self.predicted_volatility[i],
            self.current_volatility[i],
        )

    def inputs(self, symbol: str) -> list[RuleInput]:
        return [
            RuleInput(symbol, *row)
            for row in zip(
                self.event_time,
                self.change_24h,
                self.vol_regime,
                self.rsi14,
                self.predicted_volatility,
                self.current_volatility,
                strict=True,
            )
        ]


Rule = Callable[[RuleInput, "RuleState", AlertThresholds], Anomaly | None]


@dataclass
class RuleState:
    """Per-symbol memory the rules need (the last regime seen)."""

    last_regime: str | None = None


def price_move_24h(x: RuleInput, _state: RuleState, t: AlertThresholds) -> Anomaly | None:
    move = abs(x.change_24h)
    if move < t.price_move_pct:
        return None
    return Anomaly(
        type="price_move_24h",
        symbol=x.symbol,
        value=round(x.change_24h, 4),
        threshold=t.price_move_pct,
        severity="high" if move >= 2 * t.price_move_pct else "medium",
        message=f"{x.symbol} moved {x.change_24h:+.2f}% over 24 h",
    )


_REGIME_RANK = {"calm": 0, "normal": 1, "turbulent": 2}


def volatility_regime_change(x: RuleInput, state: RuleState, _t: AlertThresholds) -> Anomaly | None:
    previous, current = state.last_regime, x.vol_regime
    if previous is None or current is None or previous == current:
        return None
    jump = abs(_REGIME_RANK.get(current, 1) - _REGIME_RANK.get(previous, 1))
    severity: Severity = "high" if jump == 2 or current == "turbulent" else "low"
    return Anomaly(
        type="volatility_regime_change",
        symbol=x.symbol,
        value=current,
        threshold=previous,
        severity=severity,
        message=f"{x.symbol} volatility regime {previous} -> {current}",
    )


def predicted_vol_spike(x: RuleInput, _state: RuleState, t: AlertThresholds) -> Anomaly | None:
    pred, cur = x.predicted_volatility, x.current_volatility
    if pred is None or cur is None or cur <= 0:
        return None
    ratio = pred / cur
    if ratio < t.vol_spike_ratio:
        return None
    return Anomaly(
        type="predicted_vol_spike",
        symbol=x.symbol,
        value=round(ratio, 4),
        threshold=t.vol_spike_ratio,
        severity="high" if ratio >= 2 * t.vol_spike_ratio - 1 else "medium",
        message=f"{x.symbol} predicted volatility {pred:.4f}/h is {ratio:.2f}x the current {cur:.4f}/h",
    )


def extreme_rsi(x: RuleInput, _state: RuleState, t: AlertThresholds) -> Anomaly | None:
    rsi = x.rsi14
    if rsi is None or t.rsi_low < rsi < t.rsi_high:
        return None
    side = "overbought" if rsi >= t.rsi_high else "oversold"
    return Anomaly(
        type="extreme_rsi",
        symbol=x.symbol,
        value=round(rsi, 2),
        threshold=t.rsi_high if side == "overbought" else t.rsi_low,
        severity="medium",
        message=f"{x.symbol} RSI14 {rsi:.1f} ({side})",
    )


RULES: dict[str, Rule] = {
    "price_move_24h": price_move_24h,
    "volatility_regime_change": volatility_regime_change,
    "predicted_vol_spike": predicted_vol_spike,
    "extreme_rsi": extreme_rsi,
}


@dataclass
class Evaluation:
    anomalies: list[Anomaly]
    alerts: list[tuple[str, Anomaly]]  # (rule name, anomaly) not in cooldown


@dataclass
class AlertEngine:
    thresholds: AlertThresholds = field(default_factory=AlertThresholds)
    rules: dict[str, Rule] = field(default_factory=lambda: dict(RULES))
    _state: dict[str, RuleState] = field(default_factory=dict)
    _last_alert: dict[tuple[str, str], datetime] = field(default_factory=dict)

    def evaluate(self, x: RuleInput) -> Evaluation:
        state = self._state.setdefault(x.symbol, RuleState())
        anomalies: list[Anomaly] = []
        alerts: list[tuple[str, Anomaly]] = []
        for name, rule in self.rules.items():
            anomaly = rule(x, state, self.thresholds)
            if anomaly is None:
                continue
            anomalies.append(anomaly)
            last = self._last_alert.get((x.symbol, name))
            if last is None or x.event_time - last >= self.thresholds.cooldown:
                self._last_alert[(x.symbol, name)] = x.event_time
                alerts.append((name, anomaly))
        if x.vol_regime is not None:
            state.last_regime = x.vol_regime
        return Evaluation(anomalies, alerts)

    def evaluate_batch(self, symbol: str, batch: RuleBatch) -> list[Evaluation | None]:
        """`evaluate` for a run of one symbol's ticks, in order; None where nothing holds (no anomaly).

        The conditions are tested on whole arrays first, and `evaluate` runs only for ticks where one
        may hold (a threshold crossed, or a regime different from the last one), so the answers and the
        cooldowns are exactly those of one `evaluate` per tick. Custom rules: one `evaluate` per tick.
        """
        if self.rules != RULES:
            return [self.evaluate(x) for x in batch.inputs(symbol)]
        t = self.thresholds
        change = np.abs(np.asarray(batch.change_24h, dtype=float))
        rsi = np.asarray([np.nan if r is None else r for r in batch.rsi14], dtype=float)
        pred = np.asarray([np.nan if p is None else p for p in batch.predicted_volatility], dtype=float)
        cur = np.asarray([np.nan if c is None else c for c in batch.current_volatility], dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            spike = (cur > 0) & (pred / np.where(cur > 0, cur, np.nan) >= t.vol_spike_ratio)
            flagged = (change >= t.price_move_pct) | (rsi >= t.rsi_high) | (rsi <= t.rsi_low) | spike
        state = self._state.setdefault(symbol, RuleState())
        last = state.last_regime
        out: list[Evaluation | None] = []
        for i, (regime, flag) in enumerate(zip(batch.vol_regime, flagged.tolist(), strict=True)):
            if flag or (regime is not None and last is not None and regime != last):
                state.last_regime = last
                out.append(self.evaluate(batch.row(symbol, i)))
            else:
                out.append(None)
            if regime is not None:
                last = regime
        state.last_regime = last
        return out

    def reset(self) -> None:
        """Forget every symbol's rule state and cooldowns (they are rebuilt from replayed ticks)."""
        self._state.clear()
        self._last_alert.clear()

    def snapshot(self) -> dict[str, Any]:
        return {f"{s}|{r}": t.isoformat() for (s, r), t in self._last_alert.items()}
