"""Service knobs read from the environment (kept here rather than in the global settings)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceTuning(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    signal_memo: bool = Field(
        True,
        alias="SIGNAL_MEMO",
        description="Reuse heuristic and model outputs while the candles they came from are unchanged "
        "(per cache fetch and model). 0 recomputes on every request (benchmarks).",
    )
    model_poll_s: float = Field(
        60.0,
        alias="MODEL_POLL_S",
        ge=0,
        description="How often each serving process checks the registry for a new champion and reloads it "
        "(API, GraphQL and gRPC run as separate processes; the pipeline only calls the API's reload). 0 = never.",
    )
