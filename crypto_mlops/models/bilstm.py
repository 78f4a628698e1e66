"""Hybrid bidirectional LSTM forecaster of log RV24 (PyTorch; CUDA when available, else CPU).

Design (all inputs causal, all scaling statistics from the training part only, saved with the model):
- sequence branch: a BiLSTM over the last `window` bars of log r², log high-low range², log relative
  volume, signed return and the hour-of-week variance factor. Returns and ranges are expressed
  relative to the 30-day variance level at the origin, so the net sees the shape of recent
  activity, not the price regime;
- static branch at the origin: HAR components, range estimators (Parkinson, Garman-Klass), short
  RV, EWMA, calendar terms and the HAR-X forecast itself (the linear baseline `har_x`);
- the output is a correction added to the HAR-X log-variance forecast (hybrid), trained on log
  variance (MSE, or QLIKE with `loss="qlike"`), with early stopping on a validation tail and a final
  constant log-variance correction from that tail: lognormal mean(d) + var(d)/2 of the validation
  residuals d (default), or the empirical QLIKE-optimal log mean(exp d).
"""

from __future__ import annotations

import io
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

# OpenMP threads that spin while waiting steal the shared cores from the thread doing the work (a
# training step on 2 busy cores took 10-60x longer); this only takes effect if torch is not imported
# yet (OpenMP reads it when torch loads). Set OMP_WAIT_POLICY yourself to override.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import torch
from torch import nn

from crypto_mlops.models.base import VolatilityModel, log_var
from crypto_mlops.models.bilstm_config import BiLSTMConfig
from crypto_mlops.models.bilstm_inputs import BILSTM_INPUTS, EPS_REL, N_SEQ, input_arrays, linear_base, saved_config
from crypto_mlops.models.bilstm_net import BiLSTMNet, pick_device
from crypto_mlops.models.catalog import register
from crypto_mlops.models.har import HarXModel
from crypto_mlops.models.onnx_export import ONNX_FILE, export_if_available


@dataclass
class _Arrays:
    """Full-frame inputs; sequences are gathered per batch from `raw` (N, C)."""

    raw: torch.Tensor
    log_level: torch.Tensor
    static: torch.Tensor
    base: torch.Tensor
    valid: np.ndarray
    extra: dict[str, Any] = field(default_factory=dict)


@register
class BiLSTMModel(VolatilityModel):
    name = "bilstm"
    model_type = "bilstm"
    engine = "torch"
    inputs: ClassVar[tuple[str, ...]] = BILSTM_INPUTS

    def __init__(self, config: BiLSTMConfig | None = None) -> None:
        super().__init__()
        self.config = config or BiLSTMConfig()
        self.base_model = self._make_base()  # base forecast + calendar factors, fitted on the same training rows
        self.seq_mean: list[float] = []
        self.seq_std: list[float] = []
        self.static_mean: list[float] = []
        self.static_std: list[float] = []
        self.correction = 0.0
        self.history: list[dict[str, float]] = []
        self.train_seconds = 0.0
        self.device_used = "cpu"
        self.net: BiLSTMNet | None = None
        self._warm: BiLSTMModel | None = None

    def warm_start(self, previous: VolatilityModel) -> None:
        """Fine-tune `previous`'s net (and keep its input scaling) instead of training from scratch."""
        if isinstance(previous, BiLSTMModel) and previous.net is not None:
            self._warm = previous

    def fit_log(self) -> tuple[list[dict[str, float]], dict[str, float]]:
        return self.history, {"bilstm.correction": self.correction, "bilstm.train_seconds": self.train_seconds}

    @classmethod
    def build(cls, config: object | None = None) -> BiLSTMModel:
        return cls(config if isinstance(config, BiLSTMConfig) else None)

    @property
    def sequence_length(self) -> int | None:
        return self.config.window

    def _make_base(self) -> HarXModel:
        return linear_base(self.config)

    def _new_net(self, n_static: int) -> BiLSTMNet:
        c = self.config
        return BiLSTMNet(N_SEQ, n_static, c.hidden, c.layers, c.head_hidden, c.dropout)

    def _clock(self, features: pd.DataFrame) -> np.ndarray:
        """Bars since the first row, per row: splits and fine-tuning windows are cut on this clock."""
        return np.arange(len(features))

    def _forward(self, a: _Arrays, idx: torch.Tensor, device: torch.device) -> torch.Tensor:
        s, x, base = self._scaled(a, idx, device)
        assert self.net is not None
        out: torch.Tensor = self.net(s, x, base)
        return out

    # --- inputs ----------------------------------------------------------------------------
    def _inputs(self, features: pd.DataFrame) -> _Arrays:
        a = input_arrays(features, self.base_model, self.config)
        return _Arrays(
            raw=torch.tensor(a.raw, dtype=torch.float32),
            log_level=torch.tensor(a.log_level, dtype=torch.float32),
            static=torch.tensor(a.static, dtype=torch.float32),
            base=torch.tensor(a.base, dtype=torch.float32),
            valid=a.valid,
        )

    def _sequences(self, a: _Arrays, idx: torch.Tensor) -> torch.Tensor:
        """(B, window, 5) relative sequence inputs for origins `idx` (unscaled)."""
        w = self.config.window
        pos = idx[:, None] + torch.arange(-w + 1, 1)
        x = a.raw[pos]  # (B, W, C)
        lvl = torch.exp(a.log_level[idx])[:, None]
        log_lvl = a.log_level[idx][:, None]
        r2 = torch.log(x[..., 0] + EPS_REL * lvl) - log_lvl
        lr2 = torch.log(x[..., 1] + EPS_REL * 4 * math.log(2) * lvl) - log_lvl
        signed = torch.clamp(x[..., 3] / torch.sqrt(lvl), -10, 10)
        return torch.stack([r2, lr2, x[..., 2], signed, x[..., 4]], dim=-1)

    def _scaled(self, a: _Arrays, idx: torch.Tensor, device: torch.device) -> tuple[torch.Tensor, ...]:
        seq = (self._sequences(a, idx) - torch.tensor(self.seq_mean)) / torch.tensor(self.seq_std)
        static = (a.static[idx] - torch.tensor(self.static_mean)) / torch.tensor(self.static_std)
        return seq.to(device), static.to(device), a.base[idx].to(device)

    # --- training --------------------------------------------------------------------------
    def _loss(self, pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.config.loss == "qlike":
            d = torch.clamp(y - pred, max=6.0)
            return (torch.exp(d) - d - 1.0).mean()
        return ((pred - y) ** 2).mean()

    def _fit(self, features: pd.DataFrame, target: pd.Series, train_mask: np.ndarray) -> None:
        cfg = self.config
        if cfg.threads > 0 and cfg.threads != torch.get_num_threads():
            torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)
        np.random.seed(cfg.seed)
        device = pick_device(cfg.device)
        self.device_used = str(device)
        self.base_model.bar_hours = self.bar_hours
        self.base_model.fit(features, target, train_mask, self.bar_hours)

        a = self._inputs(features)
        y_all = log_var(target) - np.log(self.horizon) - a.log_level.numpy()
        usable = train_mask & a.valid & np.isfinite(y_all) & (np.arange(len(y_all)) >= 720)
        pos = np.flatnonzero(usable)
        if len(pos) < 200:
            raise ValueError(f"bilstm: too few training origins ({len(pos)})")
        n_val = max(50, int(len(pos) * cfg.val_frac))
        clock = self._clock(features)
        val_from = np.sort(clock[pos])[-n_val]  # the validation tail: the latest origins
        val_pos = pos[clock[pos] >= val_from]
        # Purge: training targets must end before the first validation origin.
        tr_pos = pos[clock[pos] < val_from - self.horizon][:: cfg.train_stride]
        warm = self._warm
        self._warm = None  # keep no reference to the previous fit (a chain of them would pile up)
        if warm is not None:
            tr_pos = tr_pos[clock[tr_pos] >= val_from - self.horizon - cfg.finetune_hours]

        sample = torch.tensor(tr_pos[:: max(1, len(tr_pos) // 4000)])
        seq = self._sequences(a, sample).reshape(-1, 5)
        self.seq_mean = seq.mean(0).tolist()
        self.seq_std = seq.std(0).clamp_min(1e-6).tolist()
        st = a.static[torch.tensor(tr_pos)]
        self.static_mean = st.mean(0).tolist()
        self.static_std = st.std(0).clamp_min(1e-6).tolist()

        self.net = self._new_net(a.static.shape[1])
        if warm is not None and warm.net is not None:
            self.seq_mean, self.seq_std = warm.seq_mean, warm.seq_std  # the weights expect the old scaling
            self.static_mean, self.static_std = warm.static_mean, warm.static_std
            self.net.load_state_dict(warm.net.state_dict())
        self.net.to(device)
        opt = torch.optim.AdamW(self.net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        y_t = torch.tensor(np.nan_to_num(y_all), dtype=torch.float32)
        gen = torch.Generator().manual_seed(cfg.seed)
        tr_idx = torch.tensor(tr_pos)
        val_idx = torch.tensor(val_pos)

        best: tuple[float, dict[str, torch.Tensor] | None] = (math.inf, None)
        if warm is not None:  # fine-tuning must beat the weights it starts from, or they are kept
            start_loss = float(self._loss(torch.tensor(self._predict_rel(a, val_idx, device)), y_t[val_idx]))
            best = (start_loss, {k: v.detach().clone() for k, v in self.net.state_dict().items()})
        bad_epochs = 0
        self.history = []
        start = time.perf_counter()
        epochs = range(1, (cfg.finetune_epochs if warm is not None else cfg.epochs) + 1)
        bar = None
        if cfg.progress:
            from tqdm.auto import tqdm

            bar = tqdm(epochs, desc="bilstm", unit="epoch")
            epochs = bar
        for epoch in epochs:
            self.net.train()
            order = tr_idx[torch.randperm(len(tr_idx), generator=gen)]
            total, count = 0.0, 0
            for i in range(0, len(order), cfg.batch_size):
                b = order[i : i + cfg.batch_size]
                loss = self._loss(self._forward(a, b, device), y_t[b].to(device))
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(self.net.parameters(), 1.0)
                opt.step()
                total += float(loss.detach()) * len(b)
                count += len(b)
            val_pred = self._predict_rel(a, val_idx, device)
            val_y = y_t[val_idx].numpy()
            val_loss = float(self._loss(torch.tensor(val_pred), torch.tensor(val_y)))
            d = val_y - val_pred
            val_qlike = float(np.mean(np.exp(d) - d - 1.0))
            self.history.append(
                {"epoch": epoch, "train_loss": total / count, "val_loss": val_loss, "val_qlike": val_qlike}
            )
            if bar is not None:
                bar.set_postfix(train=f"{total / count:.4f}", val=f"{val_loss:.4f}")
            if val_loss < best[0] - 1e-5:
                best = (val_loss, {k: v.detach().clone() for k, v in self.net.state_dict().items()})
                bad_epochs = 0
            else:
                bad_epochs += 1
            if bad_epochs >= cfg.patience:
                break
            if cfg.max_train_seconds and time.perf_counter() - start > cfg.max_train_seconds:
                break
        if bar is not None:
            bar.close()
        if best[1] is not None:
            self.net.load_state_dict(best[1])
        # Variance scale from the validation tail: E[exp d] under a lognormal fit (robust to a few
        # crash hours) or its empirical value (the in-sample QLIKE optimum).
        d = y_t[val_idx].numpy() - self._predict_rel(a, val_idx, device)
        if cfg.correction == "empirical":
            self.correction = float(np.log(np.mean(np.exp(np.clip(d, -20, 20)))))
        else:
            self.correction = float(np.mean(d) + np.var(d) / 2.0)
        self.train_seconds = time.perf_counter() - start
        self.net.to("cpu")

    @torch.no_grad()
    def _predict_rel(self, a: _Arrays, idx: torch.Tensor, device: torch.device) -> np.ndarray:
        assert self.net is not None
        self.net.eval()
        outs = []
        for i in range(0, len(idx), 2048):
            outs.append(self._forward(a, idx[i : i + 2048], device).cpu().numpy())
        return np.concatenate(outs) if outs else np.zeros(0)

    def predict(self, features: pd.DataFrame, mask: np.ndarray | None = None) -> pd.Series:
        """Forecast RV24 at the origins in `mask` (all rows by default); NaN where history is short."""
        if not self.fitted or self.net is None:
            raise RuntimeError("model 'bilstm' is not fitted")
        a = self._inputs(features)
        want = a.valid if mask is None else (a.valid & np.asarray(mask, bool))
        out = np.full(len(features), np.nan)
        pos = np.flatnonzero(want)
        if len(pos):
            device = next(self.net.parameters()).device
            rel = self._predict_rel(a, torch.tensor(pos), device)
            out[pos] = np.sqrt(self.horizon * np.exp(rel + self.correction + a.log_level.numpy()[pos]))
        return pd.Series(out, index=features.index, name=self.name)

    def _predict(self, features: pd.DataFrame) -> np.ndarray:
        forecast: np.ndarray = self.predict(features).to_numpy(dtype=float)
        return forecast

    # --- persistence -----------------------------------------------------------------------
    def params(self) -> dict[str, Any]:
        return {
            "config": asdict(self.config),
            "base_model": self.base_model.params(),
            "seq_mean": self.seq_mean,
            "seq_std": self.seq_std,
            "static_mean": self.static_mean,
            "static_std": self.static_std,
            "correction": self.correction,
            "history": self.history,
            "train_seconds": self.train_seconds,
            "device_used": self.device_used,
            "n_static": len(self.static_mean),
        }

    def set_params(self, params: dict[str, Any]) -> None:
        self.config = saved_config(params)
        self.base_model = self._make_base()
        self.base_model.set_params(params["base_model"])
        self.base_model.fitted = True
        for k in (
            "seq_mean",
            "seq_std",
            "static_mean",
            "static_std",
            "correction",
            "history",
            "train_seconds",
            "device_used",
        ):
            setattr(self, k, params[k])
        self.net = self._new_net(int(params["n_static"]))

    def _save_extra(self, directory: Path) -> None:
        assert self.net is not None
        torch.save(self.net.state_dict(), directory / "weights.pt")
        # The same net for ONNX Runtime, when `onnx` is installed: serving can then skip torch (MODEL_ENGINE).
        export_if_available(self.net, self.config.window, N_SEQ, len(self.static_mean), directory / ONNX_FILE)

    def _load_extra(self, directory: Path) -> None:
        assert self.net is not None
        data = (directory / "weights.pt").read_bytes()
        self.net.load_state_dict(torch.load(io.BytesIO(data), map_location="cpu", weights_only=True))
        self.net.eval()
        self.base_model.bar_hours = self.bar_hours
