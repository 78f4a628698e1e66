"""A saved BiLSTM served by ONNX Runtime: net.onnx at save, torch's forecasts, and no torch in the process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from crypto_mlops.data.sources.synthetic import simulate
from crypto_mlops.models.backtest import Prepared, prepare
from crypto_mlops.models.bilstm import BiLSTMConfig, BiLSTMModel
from crypto_mlops.models.bilstm_onnx import OnnxBiLSTMModel, OnnxPooledBiLSTMModel
from crypto_mlops.models.catalog import load_model
from crypto_mlops.models.inference import ModelPredictor
from crypto_mlops.models.onnx_export import ONNX_FILE
from crypto_mlops.models.pooled import train_pooled
from crypto_mlops.models.pooled_pair import PooledPairModel, bind
from tests.models.conftest import END

ROOT = Path(__file__).resolve().parents[2]


def test_save_writes_the_net_as_onnx_beside_the_weights(saved_bilstm: Path) -> None:
    assert sorted(p.name for p in saved_bilstm.iterdir()) == ["net.onnx", "state.json", "weights.pt"]
    assert (saved_bilstm / ONNX_FILE).stat().st_size > 1000


def test_onnx_engine_forecasts_what_torch_forecasts(saved_bilstm: Path, prepared: Prepared) -> None:
    torch_model, onnx_model = load_model(saved_bilstm, "torch"), load_model(saved_bilstm, "onnx")
    assert isinstance(torch_model, BiLSTMModel) and isinstance(onnx_model, OnnxBiLSTMModel)
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
    np.testing.assert_allclose(rows[1].confidence, rows[0].confidence, atol=1e-6)
    assert rows[1].model_type == rows[0].model_type == "bilstm"


def test_an_onnx_loaded_model_saves_back_whole_and_cannot_be_fitted(
    saved_bilstm: Path, prepared: Prepared, tmp_path: Path
) -> None:
    onnx_model = load_model(saved_bilstm, "onnx")
    onnx_model.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.onnx", "state.json", "weights.pt"]
    np.testing.assert_array_equal(
        load_model(tmp_path, "torch").predict(prepared.features).to_numpy(),
        load_model(saved_bilstm, "torch").predict(prepared.features).to_numpy(),
    )
    with pytest.raises(TypeError, match="fit it with torch"):
        onnx_model.fit(prepared.features, prepared.target, np.ones(len(prepared.target), bool))


def test_a_bound_pooled_bilstm_with_pair_embedding_forecasts_what_torch_forecasts(tmp_path: Path) -> None:
    frames = {
        pair: simulate(n_bars=1500, seed=seed, symbol=pair, end=END).frame
        for pair, seed in (("BTC/USDT", 7), ("ETH/USDT", 8))
    }
    config = BiLSTMConfig.tiny()
    config.pair_embedding = 2  # the net takes the pair code as a fourth input
    bind(train_pooled(frames, "bilstm", config), "ETH/USDT").save(tmp_path)
    assert (tmp_path / "pooled" / ONNX_FILE).is_file()
    torch_model, onnx_model = load_model(tmp_path, "torch"), load_model(tmp_path, "onnx")
    assert isinstance(onnx_model, PooledPairModel) and isinstance(onnx_model.pooled, OnnxPooledBiLSTMModel)
    assert (onnx_model.name, onnx_model.pair, onnx_model.sequence_length) == ("bilstm_pooled", "ETH/USDT", 24)
    features = prepare(frames["ETH/USDT"], "1h").features
    expected = torch_model.predict(features).to_numpy()
    assert np.isfinite(expected).sum() > 1000
    np.testing.assert_allclose(onnx_model.predict(features).to_numpy(), expected, rtol=1e-5)
    other = onnx_model.pooled.predict_pair(features, "BTC/USDT").to_numpy()
    assert not np.allclose(other, expected, equal_nan=True)  # the pair code reaches the net


def test_serving_with_the_onnx_engine_never_imports_torch(saved_bilstm: Path) -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from crypto_mlops.data.sources.synthetic import simulate\n"
        "from crypto_mlops.models.catalog import load_model\n"
        "from crypto_mlops.models.inference import ModelPredictor\n"
        "from tests.models.conftest import END\n"
        f"model = load_model(Path({str(saved_bilstm)!r}), 'onnx')\n"
        f"auto = load_model(Path({str(saved_bilstm)!r}), 'auto')\n"
        "candles = simulate(n_bars=1200, seed=7, end=END).frame\n"
        "p = ModelPredictor(model, 'crypto-predictor', '1').predict(candles, 'synthetic')\n"
        "print(type(model).__name__, type(auto).__name__, p.model_type, p.predicted_rv_24h > 0)\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["OnnxBiLSTMModel", "OnnxBiLSTMModel", "bilstm", "True", "False"]
