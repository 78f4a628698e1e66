"""A pooled model bound to one pair: behaves as that pair's model, saves and loads through the catalog."""

from __future__ import annotations

import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest

from crypto_mlops.data.errors import InvalidInput
from crypto_mlops.data.market import MarketData
from crypto_mlops.data.sources.synthetic import simulate
from crypto_mlops.models.backtest import prepare
from crypto_mlops.models.bilstm_config import BiLSTMConfig
from crypto_mlops.models.catalog import MODEL_CLASSES, known_names, load_model
from crypto_mlops.models.pooled import PooledModel, train_pooled
from crypto_mlops.models.pooled_pair import PooledPairModel, bind
from tests.models.conftest import END

N_BARS = 1500


@pytest.fixture(scope="module")
def frames() -> dict[str, MarketData]:
    return {
        "BTC/USDT": simulate(n_bars=N_BARS, seed=7, symbol="BTC/USDT", end=END),
        "ETH/USDT": simulate(n_bars=N_BARS, seed=8, symbol="ETH/USDT", end=END),
    }


def _pooled(frames: dict[str, MarketData], name: str, config: BiLSTMConfig | None = None) -> PooledModel:
    return train_pooled({pair: m.frame for pair, m in frames.items()}, name, config)


def _round_trip(model: PooledPairModel, tmp_path: Path) -> PooledPairModel:
    model.save(tmp_path)
    back = load_model(tmp_path)
    assert isinstance(back, PooledPairModel)
    return back


def test_bound_har_xsq_forecasts_its_pair_and_survives_save_and_load(
    frames: dict[str, MarketData], tmp_path: Path
) -> None:
    pooled = _pooled(frames, "har_xsq")
    features = prepare(frames["ETH/USDT"].frame, "1h").features
    bound = bind(pooled, "ethusdt")  # any spelling of a pair it was trained on
    assert (bound.name, bound.pair, bound.fitted) == ("har_xsq_pooled", "ETH/USDT", True)
    assert bound.version_tags() == {
        "pooled.pair": "ETH/USDT",
        "pooled.pairs": "BTC/USDT,ETH/USDT",
        "pooled.model": "har_xsq_pooled",
    }
    expected = pooled.predict_pair(features, "ETH/USDT").to_numpy()
    assert np.isfinite(expected).sum() > 1000
    np.testing.assert_array_equal(bound.predict(features).to_numpy(), expected)
    assert not np.allclose(bound.predict(features), pooled.predict_pair(features, "BTC/USDT"), equal_nan=True)

    back = _round_trip(bound, tmp_path)
    assert (back.name, back.pair, back.bar_hours, back.inputs) == (bound.name, "ETH/USDT", 1.0, bound.inputs)
    assert back.version_tags() == bound.version_tags()
    np.testing.assert_array_equal(back.predict(features).to_numpy(), expected)


def test_bound_bilstm_keeps_its_weights_and_its_pair(frames: dict[str, MarketData], tmp_path: Path) -> None:
    config = BiLSTMConfig.tiny()
    config.pair_embedding = 2  # the pair matters beyond the intercept
    pooled = _pooled(frames, "bilstm", config)
    features = prepare(frames["BTC/USDT"].frame, "1h").features
    bound = bind(pooled, "BTC/USDT")
    assert (bound.name, bound.model_type, bound.sequence_length) == ("bilstm_pooled", "bilstm", config.window)
    back = _round_trip(bound, tmp_path)
    saved = ["net.onnx", "state.json", "weights.pt"] if find_spec("onnx") else ["state.json", "weights.pt"]
    assert sorted(p.name for p in (tmp_path / "pooled").iterdir()) == saved
    expected = pooled.predict_pair(features, "BTC/USDT").to_numpy()
    assert np.isfinite(expected[-500:]).all()
    np.testing.assert_allclose(back.predict(features).to_numpy(), expected, rtol=1e-6)


def test_a_pair_outside_the_pool_is_refused_and_a_bound_model_is_not_refitted(frames: dict[str, MarketData]) -> None:
    pooled = _pooled(frames, "har_x")
    with pytest.raises(InvalidInput, match=r"trained on BTC/USDT, ETH/USDT: it cannot be bound to SOL/USDT"):
        bind(pooled, "SOL/USDT")
    bound = bind(pooled, "BTC/USDT")
    p = prepare(frames["BTC/USDT"].frame, "1h")
    with pytest.raises(TypeError, match="pooled training"):
        bound.fit(p.features, p.target, np.ones(len(p.target), bool))


def test_bound_models_stay_out_of_the_catalog_s_list() -> None:
    assert not [name for name in [*MODEL_CLASSES, *known_names()] if name.endswith("_pooled")]


def test_loading_a_bound_pooled_har_imports_its_module_on_demand_and_no_torch(
    frames: dict[str, MarketData], tmp_path: Path
) -> None:
    bind(_pooled(frames, "har_xsq"), "ETH/USDT").save(tmp_path)
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from crypto_mlops.models.catalog import load_model\n"
        "before = 'crypto_mlops.models.pooled_pair' in sys.modules\n"
        f"model = load_model(Path({str(tmp_path)!r}))\n"
        "print(before, type(model).__name__, model.pair, 'torch' in sys.modules)\n"
    )
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=repo)
    assert out.stdout.split() == ["False", "PooledPairModel_har_xsq_pooled", "ETH/USDT", "False"]
