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
