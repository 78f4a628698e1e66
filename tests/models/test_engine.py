"""MODEL_ENGINE: auto picks ONNX Runtime only when it can, onnx refuses with the fix, serving honours the setting."""

from __future__ import annotations

import shutil
from pathlib import Path

import mlflow
import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from crypto_mlops.config import Settings
from crypto_mlops.data.market import MarketData
from crypto_mlops.models import engine as engine_module
from crypto_mlops.models.bilstm import BiLSTMModel
from crypto_mlops.models.bilstm_onnx import OnnxBiLSTMModel
from crypto_mlops.models.catalog import load_model
from crypto_mlops.models.engine import EngineUnavailable
from crypto_mlops.models.inference import load_predictor
from crypto_mlops.models.onnx_export import ONNX_FILE
from crypto_mlops.models.pyfunc import STATE_ARTIFACT, log_pyfunc
from crypto_mlops.models.registry import get_client


@pytest.fixture()
def without_net(saved_bilstm: Path, tmp_path: Path) -> Path:
    """The same model as saved before the export existed: no net.onnx."""
    directory = tmp_path / "old"
    shutil.copytree(saved_bilstm, directory)
    (directory / ONNX_FILE).unlink()
    return directory


def test_auto_runs_onnx_when_it_can_and_torch_otherwise(saved_bilstm: Path, without_net: Path) -> None:
    assert type(load_model(saved_bilstm, "auto")) is OnnxBiLSTMModel
    assert type(load_model(without_net, "auto")) is BiLSTMModel  # saved before this change
    assert type(load_model(saved_bilstm, "torch")) is BiLSTMModel
    assert type(load_model(saved_bilstm)) is BiLSTMModel  # torch unless asked: training code loads models too


def test_onnx_engine_refuses_clearly_when_it_cannot_run_the_model(
    saved_bilstm: Path, without_net: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(EngineUnavailable, match=r"has no net.onnx .*crypto-mlops\[onnx\].*MODEL_ENGINE=auto"):
        load_model(without_net, "onnx")
    monkeypatch.setattr(engine_module, "onnxruntime_installed", lambda: False)
    with pytest.raises(EngineUnavailable, match=r"onnxruntime is not installed: pip install 'crypto-mlops\[onnx\]'"):
        load_model(saved_bilstm, "onnx")
    assert type(load_model(saved_bilstm, "auto")) is BiLSTMModel  # torch when onnxruntime is missing
    with pytest.raises(ValueError, match="unknown model engine 'tensorrt'"):
        load_model(saved_bilstm, "tensorrt")


def test_the_setting_is_documented_and_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().model_engine == "auto"
    monkeypatch.setenv("MODEL_ENGINE", "onnx")
    assert Settings().model_engine == "onnx"
    assert "net.onnx" in (Settings.model_fields["model_engine"].description or "")


def test_load_predictor_serves_the_registered_champion_with_the_engine_of_model_engine(
    saved_bilstm: Path, market: MarketData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # embedded registry: ./mlruns artifacts beside the SQLite file
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)  # mlflow.set_tracking_uri exports it: restored after the test
    settings = Settings(MLFLOW_TRACKING_URI=uri, MLFLOW_EXPERIMENT="engine-test")
    client = get_client(settings)
    mlflow.set_experiment(settings.mlflow_experiment)
    with mlflow.start_run():
        info = log_pyfunc(load_model(saved_bilstm), tmp_path / "work", registered_model_name=settings.model_name)
    client.set_registered_model_alias(settings.model_name, settings.model_alias, str(info.registered_model_version))
    logged = Path(mlflow.artifacts.download_artifacts(info.model_uri, dst_path=str(tmp_path / "logged")))
    files = {p.name for p in (logged / "artifacts" / STATE_ARTIFACT).iterdir()}
    assert files == {"net.onnx", "state.json", "weights.pt"}  # the net travels with the registered model

    candles = market.frame.iloc[-1200:]
    answers = {}
    for engine, cls in (("onnx", OnnxBiLSTMModel), ("torch", BiLSTMModel), ("auto", OnnxBiLSTMModel)):
        predictor = load_predictor(settings.model_copy(update={"model_engine": engine}))
        assert type(predictor.model) is cls and predictor.model_type == "bilstm"
        assert predictor.engine == ("torch" if engine == "torch" else "onnxruntime")  # what model info shows
        answers[engine] = predictor.predict(candles, "synthetic").predicted_rv_24h
    np.testing.assert_allclose(answers["onnx"], answers["torch"], rtol=1e-5)
