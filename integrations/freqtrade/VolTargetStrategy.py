"""Example freqtrade strategy: a plain trend rule, sized and stopped by crypto-mlops RV24 forecasts.

Rule (deliberately simple; the point is the sizing and the stop, not the signal):
- enter long when the close is above its 48-candle EMA and the 12-candle EMA is above the 48-candle
  EMA, unless the forecast regime is "turbulent";
- exit when the 12-candle EMA falls below the 48-candle EMA.
Stake (volatility targeting): proposed stake × TARGET_RV_24H / q90, clipped to [0.2, 1.5]×, so a pair
whose upper-quantile 24 h volatility doubles gets half the stake.
Stop: a trailing stop STOP_Q90_MULT × q90 below the price (between 1 % and 25 %).
Where a candle has no forecast, the stake is the proposed one and the stop is `stoploss`.
Set "crypto_mlops": {"size_by_forecast": false} for the same rule with fixed stakes.

Research only: not trading advice.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from freqtrade.strategy import IStrategy

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the mix-in sits next to this file
from crypto_mlops_forecasts import VolForecastMixin

TARGET_RV_24H = 0.03  # stake so that a q90-volatile day moves the position ~3 % of the proposed stake
STOP_Q90_MULT = 1.5
STAKE_CLIP = (0.2, 1.5)
STOP_CLIP = (0.01, 0.25)


class VolTargetStrategy(VolForecastMixin, IStrategy):
    INTERFACE_VERSION = 3
    timeframe = "1h"
    can_short = False
    minimal_roi: dict[str, float] = {"0": 10.0}  # noqa: RUF012  (freqtrade reads the class attribute)
    stoploss = -0.10
    use_custom_stoploss = True
    process_only_new_candles = True
    startup_candle_count = 48

    def populate_indicators(self, dataframe: pd.DataFrame, metadata: dict[str, Any]) -> pd.DataFrame:
        dataframe["ema_fast"] = dataframe["close"].ewm(span=12, adjust=False).mean()
        dataframe["ema_slow"] = dataframe["close"].ewm(span=48, adjust=False).mean()
        return self.add_forecasts(dataframe, metadata)

    def populate_entry_trend(self, dataframe: pd.DataFrame, metadata: dict[str, Any]) -> pd.DataFrame:
        trend = (dataframe["close"] > dataframe["ema_slow"]) & (dataframe["ema_fast"] > dataframe["ema_slow"])
        crossed = trend & ~trend.shift(1, fill_value=False)
        calm_enough = dataframe["volatility_regime"].fillna("unknown") != "turbulent"
        dataframe.loc[crossed & calm_enough & (dataframe["volume"] > 0), "enter_long"] = 1
        return dataframe

    def populate_exit_trend(self, dataframe: pd.DataFrame, metadata: dict[str, Any]) -> pd.DataFrame:
        dataframe.loc[dataframe["ema_fast"] < dataframe["ema_slow"], "exit_long"] = 1
        return dataframe

    def custom_stake_amount(
        self,
        pair: str,
        current_time: datetime,
        current_rate: float,
        proposed_stake: float,
        min_stake: float | None,
        max_stake: float,
        leverage: float,
        entry_tag: str | None,
        side: str,
        **kwargs: Any,
    ) -> float:
        forecast = self.forecast_at(pair, current_time)
        if forecast is None or not self.forecast_settings().get("size_by_forecast", True):
            return proposed_stake
        q90 = forecast["q90"] if forecast["q90"] > 0 else forecast["predicted_rv_24h"]
        scale = min(max(TARGET_RV_24H / q90, STAKE_CLIP[0]), STAKE_CLIP[1])
        stake = proposed_stake * scale
        return float(min(max(stake, min_stake or 0.0), max_stake))

    def custom_stoploss(
        self,
        pair: str,
        trade: Any,
        current_time: datetime,
        current_rate: float,
        current_profit: float,
        after_fill: bool,
        **kwargs: Any,
    ) -> float | None:
        forecast = self.forecast_at(pair, current_time)
        if forecast is None:
            return self.stoploss
        q90 = forecast["q90"] if forecast["q90"] > 0 else forecast["predicted_rv_24h"]
        return -min(max(STOP_Q90_MULT * q90, STOP_CLIP[0]), STOP_CLIP[1])
