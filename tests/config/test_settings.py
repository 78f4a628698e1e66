"""The one Settings object: documented, environment-driven, strict in production."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from crypto_mlops.config import PipelineSettings, Settings, StackSettings, TrainingSettings

ENV_EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"


def _env_names() -> list[str]:
    names = [field.alias for field in Settings.model_fields.values() if field.alias]
    for section in (PipelineSettings, TrainingSettings, StackSettings):
        prefix = section.model_config.get("env_prefix", "")
        names += [f"{prefix}{name}".upper() for name in section.model_fields]
    return names


def test_every_variable_is_documented_in_env_example() -> None:
    text = ENV_EXAMPLE.read_text()
    missing = [name for name in _env_names() if f"{name}=" not in text]
    assert not missing, f".env.example lacks {missing}"


def test_every_field_has_a_description() -> None:
    for section in (Settings, PipelineSettings, TrainingSettings, StackSettings):
        undocumented = [name for name, field in section.model_fields.items() if not field.description]
        assert not undocumented, (section.__name__, undocumented)


def test_reads_the_environment_including_sections(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_PORT", "9911")
    monkeypatch.setenv("PIPELINE_MIN_NEW_HOURS", "12")
    monkeypatch.setenv("STACK_AIRFLOW_PORT", "8181")
    settings = Settings()
    assert settings.api_port == 9911
    assert settings.pipeline.min_new_hours == 12
    assert settings.stack.airflow_port == 8181


def test_production_refuses_placeholder_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENV", "production")
    monkeypatch.setenv("API_KEY", "dev-api-key")
    with pytest.raises(ValidationError, match="placeholder secrets"):
        Settings()
    monkeypatch.setenv("API_KEY", "a-long-random-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "another-long-random-secret")
    assert Settings().environment == "production"


def test_bad_values_are_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_PORT", "not-a-port")
    with pytest.raises(ValidationError, match="API_PORT"):
        Settings()


def _production(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    for name in ("AWS_SECRET_ACCESS_KEY", "MLFLOW_S3_ENDPOINT_URL", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ENV", "production")
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def test_production_refuses_short_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    _production(monkeypatch, API_KEY="x")
    with pytest.raises(ValidationError, match=r"API_KEY.*at least 16 characters"):
        Settings()
    _production(monkeypatch, API_KEY="fifteen-chars!!")
    with pytest.raises(ValidationError, match="API_KEY"):
        Settings()


def test_production_needs_only_the_secrets_of_configured_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    _production(monkeypatch, API_KEY="k3y-0f-at-least-16-chars")
    assert Settings().environment == "production"  # no S3, SQLite history: nothing else to ask for
    _production(monkeypatch, API_KEY="k3y-0f-at-least-16-chars", MLFLOW_S3_ENDPOINT_URL="http://127.0.0.1:8333")
    with pytest.raises(ValidationError, match="AWS_SECRET_ACCESS_KEY") as refused:
        Settings()
    assert "API_KEY" not in str(refused.value)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "minioadmin")
    with pytest.raises(ValidationError, match="AWS_SECRET_ACCESS_KEY"):
        Settings()
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "an-s3-secret-long-enough")
    assert Settings().s3_enabled


def test_production_checks_a_database_password_when_there_is_one(monkeypatch: pytest.MonkeyPatch) -> None:
    _production(
        monkeypatch, API_KEY="k3y-0f-at-least-16-chars", DATABASE_URL="postgresql+psycopg://mlops:mlops@db:5432/c"
    )
    with pytest.raises(ValidationError, match="DATABASE_URL"):
        Settings()
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://mlops:a%40long-db-password@db:5432/c")
    assert Settings().database_url.startswith("postgresql")


def test_limits_are_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OHLCV_CACHE_MAX_ENTRIES", "7")
    monkeypatch.setenv("RATE_LIMIT_PER_MIN", "0")
    monkeypatch.setenv("GRPC_MAX_STREAMS", "3")
    settings = Settings()
    assert (settings.ohlcv_cache_max_entries, settings.rate_limit_per_min, settings.grpc_max_streams) == (7, 0, 3)
