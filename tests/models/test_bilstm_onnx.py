"""A saved BiLSTM served by ONNX Runtime: net.onnx at save, torch's forecasts, no torch, the engine's choices."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from crypto_mlops.models import engine as engine_module
from crypto_mlops.models.backtest import Prepared
from crypto_mlops.models.bilstm import BiLSTMConfig, BiLSTMModel
from crypto_mlops.models.bilstm_onnx import OnnxBiLSTMModel
from crypto_mlops.models.catalog import load_model
from crypto_mlops.models.engine import EngineUnavailable
from crypto_mlops.models.inference import ModelPredictor
from crypto_mlops.models.onnx_export import ONNX_FILE
from crypto_mlops.models.target import chronological_split

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def saved(prepared: Prepared, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny BiLSTM fitted on the first 70 % of the synthetic market, saved."""
    model = BiLSTMModel(BiLSTMConfig.tiny())
    model.fit(prepared.features, prepared.target, chronological_split(len(prepared.features), 0.7, 24).train_mask())
    directory = tmp_path_factory.mktemp("bilstm")
    model.save(directory)
    return directory


@pytest.fixture()
def without_net(saved: Path, tmp_path: Path) -> Path:
    """The same model as saved before the export existed: no net.onnx."""
    directory = tmp_path / "old"
    shutil.copytree(saved, directory)
    (directory / ONNX_FILE).unlink()
    return directory


def test_save_writes_the_net_as_onnx_beside_the_weights(saved: Path) -> None:
    assert sorted(p.name for p in saved.iterdir()) == ["net.onnx", "state.json", "weights.pt"]
    assert (saved / ONNX_FILE).stat().st_size > 1000


def test_onnx_engine_forecasts_what_torch_forecasts(saved: Path, prepared: Prepared) -> None:
    torch_model, onnx_model = load_model(saved, "torch"), load_model(saved, "onnx")
    assert isinstance(torch_model, BiLSTMModel) and isinstance(onnx_model, OnnxBiLSTMModel)
    assert isinstance(load_model(saved, "auto"), OnnxBiLSTMModel)  # net.onnx and onnxruntime are there
    assert type(load_model(saved)) is BiLSTMModel  # torch unless asked: training code loads models too
    assert (onnx_model.name, onnx_model.model_type, onnx_model.inputs) == ("bilstm", "bilstm", BiLSTMModel.inputs)
    assert (onnx_model.sequence_length, onnx_model.bar_hours) == (torch_model.sequence_length, 1.0)
    expected = torch_model.predict(prepared.features).to_numpy()
    got = onnx_model.predict(prepared.features).to_numpy()
    np.testing.assert_array_equal(np.isfinite(got), np.isfinite(expected))
    assert np.isfinite(expected).sum() > 2000
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    mask = np.zeros(len(expected), bool)
    mask[-3:] = True
    np.testing.assert_allclose(onnx_model.predict(prepared.features, mask).to_numpy()[-3:], expected[-3:], rtol=1e-5)
    # through the predictor the service uses, with the confidence saved beside the weights
    predictors = [ModelPredictor(m, "crypto-predictor", "1") for m in (torch_model, onnx_model)]
    rows = [p.forecast_rows(prepared.features, n=5) for p in predictors]
    np.testing.assert_allclose(rows[1].rv_24h, rows[0].rv_24h, rtol=1e-5)
    assert rows[1].model_type == rows[0].model_type == "bilstm"


def test_an_onnx_loaded_model_saves_back_whole_and_cannot_be_fitted(
    saved: Path, prepared: Prepared, tmp_path: Path
) -> None:
    onnx_model = load_model(saved, "onnx")
    onnx_model.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.onnx", "state.json", "weights.pt"]
    np.testing.assert_array_equal(
        load_model(tmp_path, "torch").predict(prepared.features).to_numpy(),
        load_model(saved, "torch").predict(prepared.features).to_numpy(),
    )
    with pytest.raises(TypeError, match="fit it with torch"):
        onnx_model.fit(prepared.features, prepared.target, np.ones(len(prepared.target), bool))


def test_auto_falls_back_to_torch_for_a_model_saved_without_net_onnx(without_net: Path) -> None:
    assert type(load_model(without_net, "auto")) is BiLSTMModel
    assert type(load_model(without_net, "torch")) is BiLSTMModel


def test_onnx_engine_refuses_clearly_when_it_cannot_run_the_model(
    saved: Path, without_net: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(EngineUnavailable, match=r"has no net.onnx .*crypto-mlops\[onnx\].*MODEL_ENGINE=auto"):
        load_model(without_net, "onnx")
    monkeypatch.setattr(engine_module, "onnxruntime_installed", lambda: False)
    with pytest.raises(EngineUnavailable, match=r"onnxruntime is not installed: pip install 'crypto-mlops\[onnx\]'"):
        load_model(saved, "onnx")
    assert type(load_model(saved, "auto")) is BiLSTMModel  # torch when onnxruntime is missing
    with pytest.raises(ValueError, match="unknown model engine 'tensorrt'"):
        load_model(saved, "tensorrt")


def test_serving_with_the_onnx_engine_never_imports_torch(saved: Path) -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from crypto_mlops.data.sources.synthetic import simulate\n"
        "from crypto_mlops.models.catalog import load_model\n"
        "from crypto_mlops.models.inference import ModelPredictor\n"
        "from tests.models.conftest import END\n"
        f"model = load_model(Path({str(saved)!r}), 'onnx')\n"
        f"auto = load_model(Path({str(saved)!r}), 'auto')\n"
        "candles = simulate(n_bars=1200, seed=7, end=END).frame\n"
        "p = ModelPredictor(model, 'crypto-predictor', '1').predict(candles, 'synthetic')\n"
        "print(type(model).__name__, type(auto).__name__, p.model_type, p.predicted_rv_24h > 0)\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["OnnxBiLSTMModel", "OnnxBiLSTMModel", "bilstm", "True", "False"]
