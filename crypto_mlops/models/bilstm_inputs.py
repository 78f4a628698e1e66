"""The BiLSTM's inputs in numpy, shared by the torch model (`bilstm.py`) and the ONNX runtime (`bilstm_onnx.py`).

`input_arrays` computes every full-frame input from the feature frame and the fitted linear base:
the raw sequence channels, the 30-day log variance level, the static branch and the base forecast,
each relative to that level. `sequences` gathers the relative sequence of each origin; the torch
model has the same few lines in torch (training gathers them per batch), and the two agree to float32
rounding. `linear_base` and `saved_config` are the base and the config both engines build from a saved
state. Importing this module does not import torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from crypto_mlops.models.base import log_var
from crypto_mlops.models.bilstm_config import BiLSTMConfig
from crypto_mlops.models.har import HarXModel, har_design
from crypto_mlops.models.har_semiq import HarXsqModel, relative_noise, semivariance_design

EPS_REL = 0.05  # floor added to squared returns/ranges, as a share of the 30-day level
N_SEQ = 5  # sequence channels: log r², log range², log relative volume, signed return, hour-of-week factor
N_LEVEL = 720  # bars of the variance level the inputs are relative to (`rv720`)
BILSTM_INPUTS: tuple[str, ...] = tuple(dict.fromkeys([*HarXModel.inputs, "log_range", "rel_volume"]))


def linear_base(config: BiLSTMConfig) -> HarXModel:
    """A new linear base of the kind `config.base` names (HAR-X or HAR-XSQ): the forecast the net corrects."""
    if config.base not in ("har_x", "har_xsq"):
        raise ValueError(f"bilstm base must be har_x or har_xsq, got {config.base!r}")
    return HarXsqModel() if config.base == "har_xsq" else HarXModel()


def saved_config(params: dict[str, Any]) -> BiLSTMConfig:
    """The config of a saved BiLSTM (its state's `params`)."""
    # A model saved before the `base` option existed was built on har_x, whatever today's default.
    return BiLSTMConfig(**{"base": "har_x", **params["config"]})


@dataclass
class InputArrays:
    """Full-frame inputs, one row per feature row; NaN and infinities are zeroed (`valid` marks usable rows)."""

    raw: np.ndarray  # (N, N_SEQ) unscaled sequence channels, before they are made relative to the level
    log_level: np.ndarray  # (N,) log per-bar variance level
    static: np.ndarray  # (N, n_static)
    base: np.ndarray  # (N,) the base's log per-bar variance, relative to the level
    valid: np.ndarray  # (N,) bool: a finite level and base, and a full window of history


def input_arrays(features: pd.DataFrame, base_model: HarXModel, config: BiLSTMConfig) -> InputArrays:
    """Every input at every row of `features`, from the fitted linear base (HAR-X, HAR-XSQ or a pooled one)."""
    r = np.nan_to_num(features["log_ret"].to_numpy(float))
    level = features["rv720"].to_numpy(float) ** 2 / N_LEVEL
    log_level = np.log(np.maximum(level, 1e-14))
    lr2 = np.nan_to_num(features["log_range"].to_numpy(float)) ** 2
    rel_vol = features["rel_volume"].to_numpy(float)
    log_rel_vol = np.clip(np.nan_to_num(np.log(np.maximum(rel_vol, 1e-3)), nan=0.0), -5, 5)
    factors = np.asarray(base_model.factors)
    how = features["hour_of_week"].to_numpy(int)
    raw = np.column_stack([r**2, lr2, log_rel_vol, r, np.log(factors[how])])

    har = har_design(features)  # log per-bar variance: day, week, month

    def rel(col: str, bars: int) -> np.ndarray:
        relative: np.ndarray = log_var(features[col]) - np.log(bars) - log_level
        return relative

    base = base_model.log_forecast(features) - log_level  # per-bar log variance, relative
    semiq: list[np.ndarray] = []
    if config.base == "har_xsq":  # the base's extra measures enter the static branch too
        semi = semivariance_design(features)
        semiq = [semi[:, 0] - log_level, semi[:, 1] - log_level, relative_noise(features)]
    static = np.column_stack(
        [
            har[:, 0] - log_level,
            har[:, 1] - log_level,
            log_level,
            rel("parkinson24", 24),
            rel("garman_klass24", 24),
            rel("rv6", 6),
            np.log(np.maximum(features["ewma_var"].to_numpy(float), 1e-14)) - log_level,
            base_model.calendar_design(features),
            np.sin(2 * np.pi * how / 24),
            np.cos(2 * np.pi * how / 24),
            *semiq,
            base,
        ]
    )
    valid = np.isfinite(log_level) & np.isfinite(base) & (level > 0)
    valid &= np.arange(len(r)) >= config.window - 1
    return InputArrays(
        raw=raw,
        log_level=np.nan_to_num(log_level),
        static=np.nan_to_num(static, nan=0.0, posinf=0.0, neginf=0.0),
        base=np.nan_to_num(base),
        valid=valid,
    )


def sequences(raw: np.ndarray, log_level: np.ndarray, idx: np.ndarray, window: int) -> np.ndarray:
    """(B, window, N_SEQ) relative sequence inputs for origins `idx` (unscaled; float32 in, float32 out)."""
    pos = idx[:, None] + np.arange(-window + 1, 1)
    x = raw[pos]  # (B, W, C)
    lvl = np.exp(log_level[idx])[:, None]
    log_lvl = log_level[idx][:, None]
    r2 = np.log(x[..., 0] + EPS_REL * lvl) - log_lvl
    lr2 = np.log(x[..., 1] + EPS_REL * 4 * math.log(2) * lvl) - log_lvl
    signed = np.clip(x[..., 3] / np.sqrt(lvl), -10, 10)
    stacked: np.ndarray = np.stack([r2, lr2, x[..., 2], signed, x[..., 4]], axis=-1)
    return stacked
