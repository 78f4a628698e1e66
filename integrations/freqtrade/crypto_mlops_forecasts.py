"""crypto-mlops volatility forecasts inside a freqtrade strategy (a mix-in; copy next to your strategy).

Backtests and hyperopt read a point-in-time export (`crypto-mlops forecasts export --out FILE`) and
merge it into the dataframe by candle `date`: the row of candle t holds the forecast made with that
candle's close, which freqtrade acts on at the open of t + 1, so a backtest sees nothing a live bot
could not have known. Dry and live runs ask the running API instead (`POST /v1/crypto/ml-signal`)
and fill the latest candle.

Settings live in the freqtrade config under "crypto_mlops":

    "crypto_mlops": {
        "forecasts": "user_data/forecasts/har_x.feather",   # backtests: the export
        "api_url": "http://127.0.0.1:8800",                 # dry/live: the API
        "api_key": null, "timeout_s": 5
    }

Research only: these are volatility forecasts, not trading advice.
"""

from __future__ import annotations

import json
import logging
import math
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from freqtrade.enums import RunMode

logger = logging.getLogger(__name__)

FORECAST_COLUMNS = ("predicted_rv_24h", "q10", "q50", "q90", "predicted_volatility", "volatility_regime")
_TABLES: dict[Path, pd.DataFrame] = {}


def read_export(path: Path) -> pd.DataFrame:
    """An export of `crypto-mlops forecasts export` (.feather, .parquet or .csv), dates in UTC."""
    if path not in _TABLES:
        if path.suffix == ".feather":
            table = pd.read_feather(path)
        elif path.suffix == ".parquet":
            table = pd.read_parquet(path)
        else:
            table = pd.read_csv(path)
        table["date"] = pd.to_datetime(table["date"], utc=True)
        _TABLES[path] = table
    return _TABLES[path]


def merge_export(dataframe: pd.DataFrame, table: pd.DataFrame, pair: str) -> pd.DataFrame:
    """Left-join the export's rows of `pair` on the candle date; candles without a forecast get NaN."""
    rows = table[table["pair"] == pair] if "pair" in table.columns else table
    rows = rows[["date", *[c for c in FORECAST_COLUMNS if c in rows.columns]]].drop_duplicates("date", keep="last")
    rows = rows.assign(date=rows["date"].astype(dataframe["date"].dtype))
    merged = dataframe.drop(columns=[c for c in FORECAST_COLUMNS if c in dataframe.columns]).merge(
        rows, on="date", how="left"
    )
    return merged


def ask_api(url: str, pair: str, timeframe: str, api_key: str | None = None, timeout_s: float = 5.0) -> dict[str, Any]:
    """The API's ML signal for `pair`, flattened to the export's columns (q50 = the point forecast)."""
    body = json.dumps({"symbol": pair, "timeframe": timeframe}).encode()
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["X-API-Key"] = api_key
    request = urllib.request.Request(f"{url.rstrip('/')}/v1/crypto/ml-signal", body, headers, method="POST")
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        answer = json.load(response)
    ml = answer["ml_prediction"]
    rv = float(ml["predicted_rv_24h"])

    def quantile(key: str, default: float) -> float:
        value = ml.get(key)
        return default if value is None else float(value)

    return {
        "candle_time": answer.get("candle_time"),
        "predicted_rv_24h": rv,
        "q10": quantile("rv_24h_q10", math.nan),
        "q50": quantile("rv_24h_q50", rv),
        "q90": quantile("rv_24h_q90", math.nan),
        "predicted_volatility": float(ml["predicted_volatility"]),
        "volatility_regime": ml["volatility_regime"],
    }


def without_forecasts(dataframe: pd.DataFrame) -> pd.DataFrame:
    """The forecast columns, empty: NaN numbers and a text regime column (None)."""
    numbers = {c: math.nan for c in FORECAST_COLUMNS if c != "volatility_regime"}
    regime = pd.Series([None] * len(dataframe), index=dataframe.index, dtype=object)
    return dataframe.assign(**numbers, volatility_regime=regime)


class VolForecastMixin:
    """Adds `predicted_rv_24h`, `q10`, `q50`, `q90`, `predicted_volatility`, `volatility_regime`.

    Call `self.add_forecasts(dataframe, metadata)` in `populate_indicators`, and `self.forecast_at(pair)`
    in callbacks (`custom_stake_amount`, `custom_stoploss`) for the latest candle's forecast.
    """

    config: dict[str, Any]
    dp: Any
    timeframe: str

    def forecast_settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = self.config.get("crypto_mlops", {})
        return settings

    def add_forecasts(self, dataframe: pd.DataFrame, metadata: dict[str, Any]) -> pd.DataFrame:
        settings = self.forecast_settings()
        pair = metadata["pair"]
        if self.dp.runmode in (RunMode.DRY_RUN, RunMode.LIVE):
            return self._add_live_forecast(dataframe, pair, settings)
        path = settings.get("forecasts")
        if not path or not Path(path).exists():
            logger.warning("crypto_mlops: no forecast export at %r; %s runs without forecasts", path, pair)
            return without_forecasts(dataframe)
        merged = merge_export(dataframe, read_export(Path(path)), pair)
        missing = int(merged["predicted_rv_24h"].isna().sum())
        if missing:
            logger.info("crypto_mlops: %d of %d %s candles have no forecast", missing, len(merged), pair)
        return merged

    def _add_live_forecast(self, dataframe: pd.DataFrame, pair: str, settings: dict[str, Any]) -> pd.DataFrame:
        out = without_forecasts(dataframe)
        url = settings.get("api_url")
        if not url or out.empty:
            return out
        try:
            answer = ask_api(url, pair, self.timeframe, settings.get("api_key"), float(settings.get("timeout_s", 5)))
        except Exception as exc:  # the bot keeps running on its fallbacks when the API is away
            logger.warning("crypto_mlops: %s forecast unavailable (%s)", pair, exc)
            return out
        last = out.index[-1]
        for column in FORECAST_COLUMNS:
            out.loc[last, column] = answer[column]
        return out

    def forecast_at(self, pair: str, current_time: datetime | None = None) -> dict[str, Any] | None:
        """The forecast of the latest analyzed candle of `pair` (None where there is none)."""
        dataframe, _ = self.dp.get_analyzed_dataframe(pair, self.timeframe)
        if dataframe is None or dataframe.empty or "predicted_rv_24h" not in dataframe.columns:
            return None
        row = dataframe.iloc[-1]
        rv = row["predicted_rv_24h"]
        if not isinstance(rv, float) or not math.isfinite(rv) or rv <= 0:
            return None
        return {c: row[c] for c in FORECAST_COLUMNS}
