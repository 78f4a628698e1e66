"""A saved BiLSTM served by ONNX Runtime: numpy and onnxruntime only, no torch.

    model = load_onnx(state, directory)     # what catalog.load_model(directory, engine="onnx") returns
    model.predict(features, mask)           # == the torch model's forecasts, to float32 rounding

It reads what `BiLSTMModel.save` wrote (state.json, and `net.onnx` beside `weights.pt`), builds the
inputs with the same numpy code as the torch model (`bilstm_inputs`) and runs the exported net
(`onnx_export.OnnxNet`, one thread: a serving process forecasts a few origins at a time). Its name,
type and inputs are the torch model's, so the service, the registry tags and the gate see the same
model. It only forecasts: a fit or a fine-tune needs the torch model. The pooled BiLSTM has its
runtime here too (`OnnxPooledBiLSTMModel`). The engine is picked by `crypto_mlops.models.engine`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from crypto_mlops.models.base import VolatilityModel
from crypto_mlops.models.bilstm_config import BiLSTMConfig
from crypto_mlops.models.bilstm_inputs import (
    BILSTM_INPUTS,
    InputArrays,
    input_arrays,
    linear_base,
    saved_config,
    sequences,
)
from crypto_mlops.models.catalog import register_onnx_loader
from crypto_mlops.models.har import HarXModel
from crypto_mlops.models.onnx_export import ONNX_FILE, OnnxNet
from crypto_mlops.models.pooling import POOLED_BASES, PairAware, pair_codes, rows_in_pair

BATCH = 2048  # origins per run of the net, as the torch model
WEIGHTS_FILE = "weights.pt"


def _f32(values: list[float] | np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)


class OnnxBiLSTMModel(VolatilityModel):
    """The fitted BiLSTM from its saved state, forecasting through ONNX Runtime."""

    name = "bilstm"
    model_type = "bilstm"
    engine = "onnxruntime"
    inputs: ClassVar[tuple[str, ...]] = BILSTM_INPUTS

    def __init__(self) -> None:
        super().__init__()
        self.config = BiLSTMConfig()
        self.base_model: HarXModel = HarXModel()
        self.seq_mean = self.seq_std = self.static_mean = self.static_std = np.zeros(0, np.float32)
        self.correction = 0.0
        self.net: OnnxNet | None = None
        self._params: dict[str, Any] = {}
        self._files: dict[str, bytes] = {}  # the saved net files, so that `save` writes the model back whole

    @property
    def sequence_length(self) -> int | None:
        return self.config.window

    def _make_base(self) -> HarXModel:
        return linear_base(self.config)

    def _fit(self, features: pd.DataFrame, target: pd.Series, train_mask: np.ndarray) -> None:
        raise TypeError(f"{self.name} loaded with the ONNX engine only forecasts: fit it with torch")

    def fit_log(self) -> tuple[list[dict[str, float]], dict[str, float]]:
        return list(self._params.get("history", [])), {"bilstm.correction": self.correction}

    # --- forecasts -------------------------------------------------------------------------
    def _arrays(self, features: pd.DataFrame) -> InputArrays:
        return input_arrays(features, self.base_model, self.config)

    def _pair_codes(self, features: pd.DataFrame) -> np.ndarray | None:
        return None

    def predict(self, features: pd.DataFrame, mask: np.ndarray | None = None) -> pd.Series:
        """Forecast RV24 at the origins in `mask` (all rows by default); NaN where history is short."""
        if not self.fitted or self.net is None:
            raise RuntimeError(f"model {self.name!r} is not fitted")
        a = self._arrays(features)
        want = a.valid if mask is None else (a.valid & np.asarray(mask, bool))
        out = np.full(len(features), np.nan)
        pos = np.flatnonzero(want)
        if len(pos):
            # float32 throughout, as the torch model holds its inputs
            raw, log_level, static, base = _f32(a.raw), _f32(a.log_level), _f32(a.static), _f32(a.base)
            codes = self._pair_codes(features)
            rel = []
            for i in range(0, len(pos), BATCH):
                idx = pos[i : i + BATCH]
                seq = (sequences(raw, log_level, idx, self.config.window) - self.seq_mean) / self.seq_std
                x = (static[idx] - self.static_mean) / self.static_std
                rel.append(self.net(seq, x, base[idx], None if codes is None else codes[idx]))
            log_var = np.concatenate(rel) + self.correction + log_level[pos]
            out[pos] = np.sqrt(self.horizon * np.exp(log_var))
        return pd.Series(out, index=features.index, name=self.name)

    def _predict(self, features: pd.DataFrame) -> np.ndarray:
        forecast: np.ndarray = self.predict(features).to_numpy(dtype=float)
        return forecast

    # --- persistence (the torch model's state) ---------------------------------------------
    def params(self) -> dict[str, Any]:
        return self._params

    def set_params(self, params: dict[str, Any]) -> None:
        self.config = saved_config(params)
        self.base_model = self._make_base()
        self.base_model.set_params(params["base_model"])
        self.base_model.fitted = True
        self.seq_mean, self.seq_std = _f32(params["seq_mean"]), _f32(params["seq_std"])
        self.static_mean, self.static_std = _f32(params["static_mean"]), _f32(params["static_std"])
        self.correction = float(params["correction"])
        self._params = params

    def _load_extra(self, directory: Path) -> None:
        self._files = {f: (directory / f).read_bytes() for f in (WEIGHTS_FILE, ONNX_FILE) if (directory / f).is_file()}
        self.net = OnnxNet(directory / ONNX_FILE)
        self.base_model.bar_hours = self.bar_hours

    def _save_extra(self, directory: Path) -> None:
        for file, data in self._files.items():
            (directory / file).write_bytes(data)


class OnnxPooledBiLSTMModel(PairAware, OnnxBiLSTMModel):
    """The pooled BiLSTM (`bilstm_pooled`) under ONNX Runtime: pair-aware base, windows inside a pair."""

    name = "bilstm_pooled"

    def __init__(self) -> None:
        self.pairs: list[str] = []
        super().__init__()

    def _make_base(self) -> HarXModel:
        base = POOLED_BASES[self.config.base]()
        base.pairs = self.pairs
        return base

    def _arrays(self, features: pd.DataFrame) -> InputArrays:
        a = super()._arrays(features)
        a.valid &= rows_in_pair(features) >= self.config.window - 1  # a window stays inside its pair
        return a

    def _pair_codes(self, features: pd.DataFrame) -> np.ndarray | None:
        return pair_codes(features)

    def set_params(self, params: dict[str, Any]) -> None:
        self.pairs = list(params["pairs"])
        super().set_params(params)


RUNTIMES: dict[str, type[OnnxBiLSTMModel]] = {m.name: m for m in (OnnxBiLSTMModel, OnnxPooledBiLSTMModel)}


def load_onnx(state: dict[str, Any], directory: Path) -> OnnxBiLSTMModel:
    """The model saved in `directory` (`state`: its state.json) with its net under ONNX Runtime."""
    model = RUNTIMES[state["name"]]()
    model.restore(state, directory)
    return model


for _name in RUNTIMES:
    register_onnx_loader(_name, load_onnx)
