"""Champion gate on an embedded MLflow (SQLite + local artifacts in a temp dir).

A worse candidate does not move `champion`; a better one does; rollback restores the previous one;
the champion loads by alias and predicts; the pyfunc round trip gives identical forecasts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest

from crypto_mlops.config import Settings
from crypto_mlops.data.market import MarketData
from crypto_mlops.features import model_features
from crypto_mlops.models import zoo
from crypto_mlops.models.backtest import Prepared
from crypto_mlops.models.baselines import HarModel
from crypto_mlops.models.gate import decide
from crypto_mlops.models.inference import MLPrediction, ModelUnavailable, load_predictor
from crypto_mlops.models.registry import champion_version, get_client, list_versions, promote, rollback
from crypto_mlops.models.target import realized_vol_target
from crypto_mlops.models.training import train_and_register


class InflatedHar(HarModel):
    """HAR forecasts times 3: clearly worse than every sensible baseline."""

    name = "inflated_har"

    def _predict(self, features: pd.DataFrame) -> np.ndarray:
        return 3.0 * super()._predict(features)


class NearOracle(HarModel):
    """Test double that knows the future (1 % noise): must beat everything on the window."""

    name = "near_oracle"

    def __init__(self) -> None:
        super().__init__()
        self.truth: dict[str, float] = {}

    def _fit(self, features: pd.DataFrame, target: pd.Series, train_mask: np.ndarray) -> None:
        super()._fit(features, target, train_mask)
        noise = np.exp(np.random.default_rng(0).normal(0, 0.01, len(target)))
        self.truth = {
            ts.isoformat(): float(v)
            for ts, v in zip(target.index, target.to_numpy() * noise, strict=True)
            if np.isfinite(v)
        }

    def _predict(self, features: pd.DataFrame) -> np.ndarray:
        har = super()._predict(features)
        known = np.array([self.truth.get(ts.isoformat(), np.nan) for ts in features.index])
        return np.where(np.isfinite(known), known, har)

    def params(self) -> dict[str, Any]:
        return {**super().params(), "truth": self.truth}

    def set_params(self, params: dict[str, Any]) -> None:
        super().set_params(params)
        self.truth = params["truth"]


@pytest.fixture()
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.chdir(tmp_path)  # embedded default: ./mlruns artifacts beside the SQLite file
    monkeypatch.setitem(zoo.MODEL_CLASSES, "inflated_har", InflatedHar)
    monkeypatch.setitem(zoo.MODEL_CLASSES, "near_oracle", NearOracle)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return Settings(MLFLOW_TRACKING_URI=uri, MLFLOW_EXPERIMENT="gate-test")


def test_gate_rule() -> None:
    assert decide("bilstm", 0.30, "har", 0.35, None)[0] is True
    assert decide("bilstm", 0.36, "har", 0.35, None)[0] is False  # loses to the best baseline
    assert decide("bilstm", 0.30, "har", 0.35, 0.29, "4")[0] is False  # loses to the champion
    assert decide("bilstm", 0.30, "har", 0.35, 0.31, "4")[0] is True
    assert decide("har", 0.35, "har", 0.35, None)[0] is True  # the best baseline may become champion
    assert decide("har", 0.35, "har", 0.35, 0.35, "1")[0] is False  # ties do not move the alias


def test_no_champion_means_model_unavailable(settings: Settings) -> None:
    with pytest.raises(ModelUnavailable):
        load_predictor(settings)


def test_worse_candidate_keeps_champion_better_moves_it_and_rollback_restores(
    settings: Settings, market: MarketData
) -> None:
    data = market.tail(2400)
    models = ["naive"]
    first = train_and_register(data, settings, candidate="naive", models=models)
    assert first.decision is not None and first.decision.promote
    client = get_client(settings)
    champion = champion_version(client, settings.model_name, settings.model_alias)
    assert champion is not None and str(champion.version) == first.version == "1"
    tags = client.get_model_version(settings.model_name, "1").tags
    assert tags["gate.promote"] == "True" and float(tags["gate.candidate_qlike"]) > 0

    worse = train_and_register(data, settings, candidate="inflated_har", models=models)
    assert worse.decision is not None and not worse.decision.promote
    assert worse.baseline_version is None  # the best baseline (naive) does not beat the naive champion either
    assert worse.decision.champion_version == "1"
    assert worse.decision.candidate_qlike > worse.decision.champion_qlike  # type: ignore[operator]
    assert str(champion_version(client, settings.model_name, "champion").version) == "1"
    tags = client.get_model_version(settings.model_name, worse.version).tags
    assert tags["gate.promote"] == "False" and "rejected" in tags["gate.reason"]

    better = train_and_register(data, settings, candidate="near_oracle", models=models)
    assert better.decision is not None and better.decision.promote
    assert better.decision.candidate_qlike < better.decision.champion_qlike  # type: ignore[operator]
    assert better.decision.candidate_qlike < better.decision.best_baseline_qlike
    assert better.champion_after == better.version == "3"

    rows = {r["version"]: r for r in list_versions(settings)}
    assert rows["3"]["champion"] and not rows["1"]["champion"]
    assert rows["2"]["decision"] == "rejected"

    out = rollback(settings)
    assert out == {"from": "3", "to": "1"}
    assert str(champion_version(client, settings.model_name, "champion").version) == "1"

    predictor = load_predictor(settings)
    assert predictor.model_version == "1" and predictor.model_type == "naive"
    pred = predictor.predict(data.frame.iloc[-1000:], data.source)
    assert isinstance(pred, MLPrediction) and pred.predicted_rv_24h > 0 and 0 < pred.confidence < 1

    promote(settings, "3", "manual test")
    assert str(champion_version(client, settings.model_name, "champion").version) == "3"


def test_pyfunc_round_trip_gives_identical_forecasts(settings: Settings, market: MarketData) -> None:
    data = market.tail(2400)
    result = train_and_register(data, settings, candidate="har_calendar", models=["har"])
    fitted = result.backtest.models["har_calendar"]
    pyfunc = mlflow.pyfunc.load_model(f"models:/{settings.model_name}/{result.version}")
    candles = data.frame.tz_convert(None).reset_index()  # MLflow's datetime schema wants naive UTC
    out = pyfunc.predict(candles)
    features = model_features(data.frame, 1.0)
    expected = fitted.predict(features).to_numpy()
    np.testing.assert_array_equal(out["predicted_rv_24h"].to_numpy(), expected)
    last = pyfunc.predict(candles, params={"last_only": True})
    assert len(last) == 1 and last["predicted_rv_24h"].iloc[0] == expected[-1]
    assert 0 < last["confidence"].iloc[0] < 1


def test_training_logs_params_epochs_table_plot_and_fingerprint(
    settings: Settings, prepared: Prepared, market: MarketData
) -> None:
    from crypto_mlops.models.bilstm import BiLSTMConfig

    data = market.tail(2400)
    result = train_and_register(
        data,
        settings,
        candidate="bilstm",
        bilstm_config=BiLSTMConfig.tiny(),
        models=["har", "har_calendar"],
        register=False,
    )
    client = get_client(settings)
    run = client.get_run(result.run_id)
    assert run.data.params["bilstm.window"] == "24"
    assert "bilstm.qlike" in run.data.metrics and "har.dm_t" not in run.data.metrics
    assert len(client.get_metric_history(result.run_id, "val_loss")) >= 1
    artifacts = {a.path for a in client.list_artifacts(result.run_id)}
    assert {"backtest.json", "backtest.md", "dataset.json", "forecast_vs_realized.html"} <= artifacts
    fp = result.fingerprint
    assert fp["source"] == "synthetic" and len(fp["sha256"]) == 64 and fp["rows"] == 2400
    assert realized_vol_target is not None
