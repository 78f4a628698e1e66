"""Typed results of the service layer.

REST returns these models as they are (OpenAPI is generated from them). The GraphQL types are
generated from them (`gql.types`), so a new field reaches GraphQL by itself; gRPC maps them to its
messages by field name (`rpc.mapping`) and carries a new field once the proto has it (tests/rpc lists
the fields it leaves out). Field names follow the seed API (SPEC-SEED §1) and SPEC §4; fields we added
say where the data came from (`source`) and which candle it is based on (`candle_time`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd
from pydantic import BaseModel, Field


def iso_z(value: datetime | pd.Timestamp | None) -> str | None:
    """UTC ISO-8601 ending in 'Z' (the seed's timestamp format)."""
    if value is None:
        return None
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return str(ts.strftime("%Y-%m-%dT%H:%M:%SZ"))


def utc_now() -> datetime:
    return datetime.now(UTC)


class DataOrigin(BaseModel):
    """Where a response's numbers come from."""

    source: str = Field(description="Data source: exchange id (e.g. binance), 'csv' or 'synthetic'.")
    candle_time: str = Field(description="Open time (UTC) of the last candle the result is based on.")


class OHLCVBar(BaseModel):
    ts: int = Field(description="Candle open time, epoch milliseconds.")
    open: float
    high: float
    low: float
    close: float
    volume: float
    time: str = Field(description="Candle open time, UTC ISO-8601.")


class OHLCVResult(DataOrigin):
    symbol: str
    exchange: str
    timeframe: str
    limit: int
    rows: int = Field(description="Number of bars in `data`.")
    data: list[OHLCVBar]
    cache_age_s: float = Field(description="Age of the cached candles when served (s).")


class FeatureRow(BaseModel):
    time: str
    close: float
    ret: float
    vol24: float
    sma12: float
    sma48: float
    vol_per_hour: float


class SignalExplanation(BaseModel):
    nowcast_ret: float
    vol: float
    vol_regime: str
    risk_score: float
    momentum: int
    inputs: dict[str, Any] = Field(default_factory=dict, description="Inputs of the heuristic formula.")
    features_tail: list[FeatureRow]


class SignalResult(DataOrigin):
    symbol: str
    horizon_min: int
    risk_score: float = Field(description="0..1, higher = riskier (SPEC §4).")
    nowcast_ret: float
    vol_regime: str
    method: str = "heuristic"
    explain: SignalExplanation | None = None
    vol: float = Field(description="Std of the last 24 log returns, per hour.")
    momentum: int
    risk_level: str
    timestamp: str = Field(description="When the signal was generated (UTC).")
    exchange: str
    timeframe: str


class MLPredictionOut(BaseModel):
    prediction: float = Field(description="Seed name for predicted_volatility.")
    predicted_rv_24h: float
    predicted_volatility: float
    current_volatility: float
    volatility_regime: str
    risk_level: str
    confidence: float
    model_name: str
    model_version: str
    model_type: str
    model_alias: str = Field(
        "", description="Which model served this pair: `champion-<pair>`, `champion` (global) or `baseline:har`."
    )
    prediction_timestamp: str
    source: str
    rv_24h_q10: float | None = Field(None, description="10 % quantile of the next 24 h's RV (calibrated).")
    rv_24h_q50: float | None = Field(None, description="Median of the next 24 h's RV.")
    rv_24h_q90: float | None = Field(None, description="90 % quantile of the next 24 h's RV: with q10, an 80 % band.")


class MLVsHeuristic(BaseModel):
    volatility_diff: float = Field(description="ML predicted_volatility - heuristic vol (both per hour).")
    regime_match: bool


class HeuristicComparison(BaseModel):
    heuristic_risk_score: float
    heuristic_vol_regime: str
    heuristic_volatility: float
    heuristic_risk_level: str
    ml_vs_heuristic: MLVsHeuristic


class MLSignalResult(DataOrigin):
    symbol: str
    method: str = "ml"
    timestamp: str
    model_version: str
    model_name: str = Field("", description="The registered model (or baseline) that produced the forecast.")
    model_alias: str = Field(
        "", description="Which model served this pair: `champion-<pair>`, `champion` (global) or `baseline:har`."
    )
    ml_prediction: MLPredictionOut
    heuristic_comparison: HeuristicComparison | None = None
    exchange: str
    timeframe: str


class CompareHeuristic(BaseModel):
    risk_score: float
    vol_regime: str
    volatility: float
    risk_level: str


class CompareML(BaseModel):
    predicted_volatility: float
    predicted_rv_24h: float
    vol_regime: str
    confidence: float
    risk_level: str
    model_version: str
    model_type: str
    model_name: str = ""
    model_alias: str = Field(
        "", description="Which model served this pair: `champion-<pair>`, `champion` (global) or `baseline:har`."
    )


class CompareDetail(BaseModel):
    volatility_diff: float
    regime_agreement: bool
    risk_level_agreement: bool
    ml_confidence: float


class CompareResult(DataOrigin):
    symbol: str
    timestamp: str
    heuristic: CompareHeuristic
    ml: CompareML
    comparison: CompareDetail
    exchange: str
    timeframe: str


class ModelInfo(BaseModel):
    model_loaded: bool
    model_name: str
    model_version: str | None
    model_type: str | None
    load_time: str | None
    metrics: dict[str, Any] = Field(default_factory=dict)
    sequence_length: int | None = None
    feature_columns: list[str] = Field(default_factory=list)
    engine: str | None = Field(
        None, description="What computes the forecasts: numpy (linear and GARCH models), torch or onnxruntime."
    )
    fallback: bool = Field(description="True when serving the HAR baseline because no champion could be loaded.")
    fallback_reason: str | None = None
    model_uri: str
    mlflow_uri: str
    backtest: dict[str, Any] | None = Field(
        None,
        description="Backtest metrics of the model and the baselines on the validation window, when logged.",
    )
    last_reload_at: str | None = None
    last_reload_error: str | None = None
    symbol: str | None = Field(None, description="The pair this model serves (the default pair when none was asked).")
    model_alias: str = Field(
        "", description="Alias that resolved for the pair: `champion-<pair>`, `champion` or `baseline:har`."
    )


class ReloadResult(BaseModel):
    success: bool
    message: str
    model_version: str | None = None
    model_type: str | None = None


class HealthResult(BaseModel):
    status: str
    ml_available: bool = Field(description="A model (champion or baseline fallback) is loaded and can predict.")
    timestamp: str
    version: str
    model_loaded: bool
    model_version: str | None
    model_fallback: bool
    data_source: str
    database: str


class MetricsResult(BaseModel):
    start_time: str
    requests_total: int
    signals_total: int
    ml_predictions_total: int
    last_signal_at: str | None
    last_ml_prediction_at: str | None
    ml_available: bool


class VolatilityPoint(BaseModel):
    time: str = Field(description="Forecast origin candle (UTC).")
    predicted_rv_24h: float
    realized_rv_24h: float | None = Field(description="Realized RV over the next 24 h; null until it is known.")


class ChartSeries(DataOrigin):
    """Everything the dashboard draws, computed from one cached frame."""

    symbol: str
    timeframe: str
    candles: list[OHLCVBar]
    regimes: list[str] = Field(description="Heuristic vol regime per candle (aligned with candles).")
    vol_per_hour: list[float | None]
    volatility: list[VolatilityPoint]
    model_version: str
    model_type: str
    model_name: str = ""
    model_alias: str = Field(
        "", description="Which model served this pair: `champion-<pair>`, `champion` (global) or `baseline:har`."
    )


# -- many pairs (screener, freqtrade pairlist) ---------------------------------------------------
class PairForecast(BaseModel):
    pair: str = Field(description="As asked (freqtrade spelling).")
    predicted_rv_24h: float
    q10: float | None = Field(None, description="10 % quantile of RV24 where the model reports an interval.")
    q50: float
    q90: float | None = Field(None, description="90 % quantile of RV24 where the model reports an interval.")
    predicted_volatility: float = Field(description="Per hour: predicted_rv_24h / sqrt(24).")
    volatility_regime: str
    risk_score: float = Field(description="Heuristic risk 0..1 on the same candles.")
    risk_level: str
    model_name: str = Field(description="The model that produced this pair's forecast.")
    model_type: str
    model_version: str
    model_alias: str = Field(
        "", description="Which model served this pair: `champion-<pair>`, `champion` (global) or `baseline:har`."
    )
    candle_time: str


class ScreenerResult(BaseModel):
    """Every listed pair's forecast, quantiles, regime and heuristic risk, in one answer."""

    sort: str = Field(description="Row order: predicted_rv_24h, risk_score or pair ('-': descending).")
    forecasts: list[PairForecast]
    skipped: dict[str, str] = Field(default_factory=dict, description="Pairs that could not be forecast, and why.")


class PairlistResult(BaseModel):
    pairs: list[str] = Field(description="Kept pairs, best first (what RemotePairList reads).")
    refresh_period: int = Field(description="Seconds freqtrade should keep this list (RemotePairList).")
    sort: str
    forecasts: list[PairForecast] = Field(description="Every kept pair's numbers, in the order of `pairs`.")
    filtered: list[str] = Field(description="Pairs forecast but removed by min/max_rv_24h or top.")
    skipped: dict[str, str] = Field(description="Pairs without a forecast, with the reason.")


class PairsResult(BaseModel):
    """The pairs the system follows (PAIRS): the dashboard's selector and the screener's default list."""

    pairs: list[str] = Field(description="Normalized pairs (BASE/QUOTE), in the order of the PAIRS setting.")
    default_symbol: str = Field(description="The pair used when none is given (DEFAULT_SYMBOL).")


# -- forecast history of a live pair -----------------------------------------------------------------
class ForecastRow(BaseModel):
    """One candle's forecast as the system would have made it then (walk-forward refit, no look-ahead)."""

    date: str = Field(description="Open time (UTC) of the candle the forecast was made with.")
    predicted_rv_24h: float | None
    q10: float | None = Field(description="10 % quantile of RV24, from errors known before the refit.")
    q50: float | None
    q90: float | None = Field(description="90 % quantile of RV24: with q10, an 80 % band.")
    predicted_volatility: float | None = Field(description="Per hour: predicted_rv_24h / sqrt(24).")
    volatility_regime: str | None
    model_name: str
    model_version: str = Field(description="The refit that made this row: <model>@<first candle it forecast>.")
    fitted_until: str = Field(description="Last candle the refit's training could see (UTC).")


class ForecastHistoryResult(DataOrigin):
    """One page of a pair's point-in-time forecast history, oldest first."""

    symbol: str
    timeframe: str
    model_name: str = Field(description="Catalog model refitted walk-forward to produce the rows.")
    method: str = Field(description="How the rows were made.")
    start: str | None = Field(description="`from` as understood (UTC), or null when not given.")
    end: str | None = Field(description="`to` as understood (UTC), or null when not given.")
    limit: int
    count: int = Field(description="Rows on this page.")
    forecasts: list[ForecastRow]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")
    available_from: str | None = Field(description="First candle with a forecast in the cached history.")
    available_to: str | None = Field(description="Last candle with a forecast in the cached history.")
