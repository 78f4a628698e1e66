"""Champion loading, hot reload, last-good-model and baseline fallback (loaders injected)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from crypto_mlops.config import get_settings
from crypto_mlops.service.model_holder import ModelHolder


@dataclass
class Named:
    """Stands in for a `Predictor`: the holder only reads its description."""

    model_version: str
    model_type: str
    model_name: str = "crypto-predictor"
    metrics: dict[str, Any] = field(default_factory=dict)
    backtest: dict[str, Any] | None = None
    sequence_length: int | None = None
    feature_columns: list[str] = field(default_factory=list)
    engine: str = "numpy"

    def predict(self, frame: pd.DataFrame, source: str, bar_hours: float = 1.0) -> Any:
        raise NotImplementedError


class Registry:
    """Stands in for MLflow: returns the current champion or raises like an unreachable server."""

    def __init__(self) -> None:
        self.champion: Named | None = None
        self.down = False
        self.loads = 0

    def load(self, _settings: Any) -> Named:
        self.loads += 1
        if self.down:
            raise ConnectionError("MLflow unreachable")
        if self.champion is None:
            raise LookupError("no model version has alias champion")
        return self.champion


def test_fallback_to_har_baseline_when_no_champion() -> None:
    registry = Registry()
    holder = ModelHolder(get_settings(), load_champion=registry.load, load_baseline=lambda n: Named("baseline", n))
    assert holder.get().model_type == "har"
    info = holder.info()
    assert info.fallback is True
    assert "no model version has alias champion" in (info.fallback_reason or "")
    assert info.model_uri == "models:/crypto-predictor@champion"


def test_loaded_once_then_reload_swaps_and_keeps_last_good_when_mlflow_down() -> None:
    registry = Registry()
    registry.champion = Named("3", "bilstm", metrics={"qlike": 0.12, "backtest": {"har": {"qlike": 0.15}}})
    changes: list[tuple[str, bool]] = []
    holder = ModelHolder(
        get_settings(),
        load_champion=registry.load,
        load_baseline=lambda n: Named("baseline", n),
        on_change=lambda p, fb: changes.append((p.model_version, fb)),
    )
    assert holder.get().model_version == "3"
    holder.get()
    assert registry.loads == 1  # not per request

    registry.champion = Named("4", "bilstm")
    ok = holder.reload()
    assert ok.success and ok.model_version == "4"
    assert holder.get().model_version == "4"

    registry.down = True
    failed = holder.reload()
    assert not failed.success
    assert "MLflow unreachable" in failed.message and "v4" in failed.message
    assert holder.get().model_version == "4"  # the last good model keeps serving
    assert holder.info().last_reload_error is not None
    assert changes == [("3", False), ("4", False)]


def test_subscribers_hear_every_model_change_next_to_on_change() -> None:
    registry = Registry()
    registry.champion = Named("3", "bilstm")
    first: list[tuple[str, bool]] = []
    second: list[tuple[str, bool]] = []
    legacy: list[tuple[str, bool]] = []
    holder = ModelHolder(
        get_settings(),
        load_champion=registry.load,
        load_baseline=lambda n: Named("baseline", n),
        on_change=lambda p, fb: legacy.append((p.model_version, fb)),
    )
    holder.subscribe(lambda p, fb: first.append((p.model_version, fb)))
    holder.subscribe(lambda p, fb: second.append((p.model_version, fb)))
    holder.get()
    registry.champion = Named("4", "bilstm")
    holder.reload()
    registry.down = True
    holder.reload()  # a failed reload changes nothing: no callback
    assert first == second == legacy == [("3", False), ("4", False)]


def test_info_describes_the_served_predictor() -> None:
    registry = Registry()
    registry.champion = Named("5", "bilstm", sequence_length=168, feature_columns=["rv24", "log_ret"])
    holder = ModelHolder(get_settings(), load_champion=registry.load, load_baseline=lambda n: Named("baseline", n))
    holder.get()
    info = holder.info()
    assert info.sequence_length == 168 and info.feature_columns == ["rv24", "log_ret"]
    assert info.model_type == "bilstm" and info.model_name == "crypto-predictor"


def test_reload_promotes_from_fallback_to_champion() -> None:
    registry = Registry()
    holder = ModelHolder(get_settings(), load_champion=registry.load, load_baseline=lambda n: Named("baseline", n))
    assert holder.get().model_type == "har"
    registry.champion = Named("1", "bilstm", metrics={"backtest": {"bilstm": {"qlike": 0.1}, "har": {"qlike": 0.2}}})
    assert holder.reload().success
    info = holder.info()
    assert info.fallback is False and info.fallback_reason is None
    assert info.model_version == "1"
    assert info.backtest == {"bilstm": {"qlike": 0.1}, "har": {"qlike": 0.2}}


def test_no_model_at_all_is_data_unavailable() -> None:
    import pytest

    from crypto_mlops.data.errors import DataUnavailable

    def broken(_: str) -> Named:
        raise OSError("baseline weights missing")

    holder = ModelHolder(get_settings(), load_champion=Registry().load, load_baseline=broken)
    with pytest.raises(DataUnavailable, match="baseline weights missing"):
        holder.get()
    assert not holder.loaded


def _probe(registry: Registry):  # type: ignore[no-untyped-def]
    def probe(_settings: Any) -> str | None:
        if registry.down:
            raise ConnectionError("MLflow unreachable")
        return registry.champion.model_version if registry.champion else None

    return probe


def test_refresh_picks_up_a_champion_promoted_elsewhere() -> None:
    registry = Registry()
    holder = ModelHolder(
        get_settings(),
        load_champion=registry.load,
        load_baseline=lambda n: Named("baseline", n),
        champion_probe=_probe(registry),
    )
    assert holder.get().model_type == "har" and holder.fallback
    assert holder.refresh_if_promoted() is None  # still no champion: nothing to do

    registry.champion = Named("1", "bilstm")
    result = holder.refresh_if_promoted()
    assert result is not None and result.success
    assert holder.get().model_version == "1" and not holder.fallback
    loads = registry.loads
    assert holder.refresh_if_promoted() is None and registry.loads == loads  # same version: no reload

    registry.champion = Named("2", "bilstm")
    registry.down = True
    assert holder.refresh_if_promoted() is None  # registry unreachable: keep serving v1
    registry.down = False
    assert holder.refresh_if_promoted() is not None
    assert holder.get().model_version == "2"


def test_service_polls_the_registry(tmp_path: Any, monkeypatch: Any) -> None:
    import time

    from tests.service.fixtures import make_service

    monkeypatch.setenv("MODEL_POLL_S", "0.1")
    registry = Registry()
    registry.champion = Named("1", "har")
    holder = ModelHolder(
        get_settings(),
        load_champion=registry.load,
        load_baseline=lambda n: Named("baseline", n),
        champion_probe=_probe(registry),
    )
    svc = make_service(tmp_path, model_holder=holder)
    try:
        svc.start(warm=False)
        assert svc.models.get().model_version == "1"
        registry.champion = Named("2", "har")
        deadline = time.monotonic() + 10
        while svc.models.get().model_version != "2" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert svc.model_info().model_version == "2"
    finally:
        svc.close()
