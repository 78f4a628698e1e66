"""The retrain rule: train only when there is enough new data or the market has drifted.

For one series (source, symbol, timeframe), compared with the candles the last training used
(the newest `models/training-log/...` entry):

1. no champion in the registry, or no training recorded for the series  -> retrain;
2. no committed candle newer than the last training's data              -> skip ("no new data");
3. new candles cover >= PIPELINE_MIN_NEW_HOURS (default 24 h)            -> retrain;
4. drift: realized vol of the last PIPELINE_DRIFT_WINDOW_HOURS (72 h) over the vol of the 30 days
   that ended the training data is > PIPELINE_DRIFT_RATIO (1.5) or < 1/1.5, with at least
   PIPELINE_DRIFT_MIN_NEW_HOURS (6 h) of new candles                     -> retrain;
5. otherwise                                                             -> skip, with the numbers.

A run retrains when any of its symbols says so. The training log is written whether or not the
gate then promotes the candidate, so a rejected candidate does not cause a retrain every run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crypto_mlops.config import PipelineSettings, Settings
from crypto_mlops.data.schema import timeframe_hours
from crypto_mlops.models.registry import current_champion
from crypto_mlops.pipeline import history
from crypto_mlops.pipeline.layout import series_of
from crypto_mlops.pipeline.manifests import RetrainDecision, SymbolManifest, TrainDetails
from crypto_mlops.pipeline.store import Store

REFERENCE_DAYS = 30


def _vol(close: pd.Series) -> float:
    returns = np.log(close.astype(float)).diff().dropna()
    returns = returns[np.isfinite(returns)]
    return float(returns.std()) if len(returns) > 2 else float("nan")


def drift_ratio(candles: pd.DataFrame, trained_end: pd.Timestamp, window_bars: int, bar_hours: float) -> float | None:
    """Realized vol of the newest `window_bars` candles over the vol of the 30 days up to `trained_end`."""
    reference_bars = int(REFERENCE_DAYS * 24 / bar_hours)
    reference = candles.loc[candles.index <= trained_end, "close"].tail(reference_bars)
    recent = candles["close"].tail(window_bars + 1)
    base, now = _vol(reference), _vol(recent)
    if not np.isfinite(base) or not np.isfinite(now) or base <= 0:
        return None
    return now / base


def decide(
    store: Store,
    series: str,
    symbol: str,
    timeframe: str,
    has_champion: bool,
    psettings: PipelineSettings | None = None,
) -> RetrainDecision:
    """Apply the rule above to one series and say why."""
    psettings = psettings or PipelineSettings()
    bar_hours = timeframe_hours(timeframe)
    candles = history.load_history(store, series)
    last = history.last_training(store, series)
    if candles.empty:
        return RetrainDecision(
            symbol=symbol, retrain=False, reason="no committed candles yet", has_champion=has_champion
        )
    if last is None:
        reason = "no champion in the registry" if not has_champion else f"no training recorded for {series}"
        return RetrainDecision(
            symbol=symbol,
            retrain=True,
            reason=reason,
            new_bars_since_training=len(candles),
            new_hours_since_training=len(candles) * bar_hours,
            has_champion=has_champion,
        )
    trained_end = pd.Timestamp(last["data_end"])
    new_bars = int((candles.index > trained_end).sum())
    decision = RetrainDecision(
        symbol=symbol,
        retrain=False,
        reason="",
        new_bars_since_training=new_bars,
        new_hours_since_training=new_bars * bar_hours,
        last_trained_end=trained_end.isoformat(),
        has_champion=has_champion,
    )
    if not has_champion:
        decision.retrain, decision.reason = True, "no champion in the registry"
        return decision
    if new_bars == 0:
        decision.reason = f"no new candles since the last training (its data ends {trained_end.isoformat()})"
        return decision
    if decision.new_hours_since_training >= psettings.min_new_hours:
        decision.retrain = True
        decision.reason = (
            f"{decision.new_hours_since_training:.0f} h of new candles since the last training "
            f"(>= {psettings.min_new_hours:.0f} h)"
        )
        return decision
    window_bars = max(2, int(psettings.drift_window_hours / bar_hours))
    ratio = drift_ratio(candles, trained_end, window_bars, bar_hours)
    decision.drift_ratio = ratio
    limit = psettings.drift_ratio
    drifted = ratio is not None and (ratio > limit or ratio < 1 / limit)
    if drifted and decision.new_hours_since_training >= psettings.drift_min_new_hours:
        decision.retrain = True
        decision.reason = (
            f"volatility drift: last {psettings.drift_window_hours:.0f} h vol is {ratio:.2f}x the "
            f"training data's (outside [{1 / limit:.2f}, {limit:.2f}])"
        )
        return decision
    ratio_text = f"{ratio:.2f}" if ratio is not None else "n/a"
    decision.reason = (
        f"only {decision.new_hours_since_training:.0f} h of new candles (< "
        f"{psettings.min_new_hours:.0f} h) and no drift (vol ratio {ratio_text}, limit {limit:.2f})"
    )
    return decision


def assess(
    store: Store, manifest: SymbolManifest, timeframe: str, others: list[str], settings: Settings
) -> TrainDetails:
    """One pair of a run: the rule's decision for its series, with the champion serving it now."""
    series = series_of(manifest)
    champion = current_champion(settings, manifest.symbol)
    return TrainDetails(
        symbol=manifest.symbol,
        series=series,
        decision=decide(store, series, manifest.symbol, timeframe, has_champion=champion is not None),
        champion_version=str(champion.version) if champion is not None else None,
        other_symbols=others,
    )
