"""Settings of the retraining pipeline (env prefix `PIPELINE_`).

Kept here rather than in `crypto_mlops.config` because only the pipeline reads them; every field
is documented in docs/orchestration.md.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class PipelineSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PIPELINE_", env_file=".env", extra="ignore")

    symbols: str = Field("", description="Comma-separated pairs the pipeline ingests (default: DEFAULT_SYMBOL).")
    source: str | None = Field(None, description="ccxt | csv | synthetic (default: DATA_SOURCE).")
    csv_dir: Path | None = Field(
        None,
        description="Folder with one CSV per pair (name contains the slug, e.g. Binance_BTCUSDT_1h.csv); "
        "used when source=csv and a pair has no explicit file.",
    )
    initial_bars: int = Field(
        24 * 365, ge=100, description="Candles fetched on a first ccxt/synthetic extract (no stored history)."
    )
    context_bars: int = Field(
        720,
        ge=50,
        description="Stored candles validated together with the new ones (gap at the seam, warm-up).",
    )
    min_new_hours: float = Field(
        24.0,
        gt=0,
        description="Retrain when at least this many hours of new candles arrived since the last training.",
    )
    drift_window_hours: float = Field(
        72.0, gt=0, description="Recent window whose realized volatility is compared with the training data."
    )
    drift_ratio: float = Field(
        1.5,
        gt=1,
        description="Retrain early when recent vol / training vol is above this or below its inverse.",
    )
    drift_min_new_hours: float = Field(
        6.0, gt=0, description="Drift alone triggers a retrain only with at least this many new hours."
    )
    notify_timeout_s: float = Field(10.0, gt=0, description="Timeout of the API reload request.")

    @field_validator("symbols")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    def symbol_list(self, default: str) -> list[str]:
        raw = [item.strip() for item in self.symbols.split(",") if item.strip()]
        return raw or [default]


def get_pipeline_settings() -> PipelineSettings:
    """Read fresh each call (cheap): tests and Airflow tasks change the environment between runs."""
    return PipelineSettings()
