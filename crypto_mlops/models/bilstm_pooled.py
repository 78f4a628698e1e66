"""The BiLSTM trained on several pairs at once (`bilstm_pooled`): one net, per-pair evaluation.

Rows of all pairs are stacked (`crypto_mlops.models.pooling`); a sequence never crosses from one pair
into the next; the validation tail and the fine-tuning window are cut on the calendar, so every pair
contributes its latest origins; the linear base is the pooled HAR-X (or HAR-XSQ) with one intercept
per pair; with `BiLSTMConfig.pair_embedding > 0` the head also sees a learned vector per pair (a pair
outside training gets their mean).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from crypto_mlops.models.bilstm import BiLSTMModel, BiLSTMNet, _Arrays
from crypto_mlops.models.bilstm_config import BiLSTMConfig
from crypto_mlops.models.har import HarXModel
from crypto_mlops.models.pooling import POOLED_BASES, PairAware, pair_codes, rows_in_pair


class PooledBiLSTMModel(PairAware, BiLSTMModel):
    name = "bilstm_pooled"
    model_type = "bilstm"

    def __init__(self, config: BiLSTMConfig | None = None) -> None:
        self.pairs: list[str] = []
        super().__init__(config)

    @classmethod
    def build(cls, config: object | None = None) -> PooledBiLSTMModel:
        return cls(config if isinstance(config, BiLSTMConfig) else None)

    def warm_start(self, previous: Any) -> None:
        if isinstance(previous, PooledBiLSTMModel) and previous.pairs == self.pairs:
            super().warm_start(previous)

    def _make_base(self) -> HarXModel:
        super()._make_base()  # validates the option
        base = POOLED_BASES[self.config.base]()
        base.pairs = self.pairs
        return base

    def _new_net(self, n_static: int) -> BiLSTMNet:
        c = self.config
        return BiLSTMNet(
            5,
            n_static,
            c.hidden,
            c.layers,
            c.head_hidden,
            c.dropout,
            n_pairs=len(self.pairs),
            pair_dim=c.pair_embedding,
        )

    def _clock(self, features: pd.DataFrame) -> np.ndarray:
        index = pd.DatetimeIndex(features.index)
        hours = (index - index.min()) / pd.Timedelta(hours=self.bar_hours)
        clock: np.ndarray = np.asarray(hours, dtype=float).round().astype(int)
        return clock

    def _inputs(self, features: pd.DataFrame) -> _Arrays:
        a = super()._inputs(features)
        a.valid &= rows_in_pair(features) >= self.config.window - 1  # a window stays inside its pair
        a.extra["pair"] = torch.tensor(pair_codes(features), dtype=torch.long)
        return a

    def _forward(self, a: _Arrays, idx: torch.Tensor, device: torch.device) -> torch.Tensor:
        s, x, base = self._scaled(a, idx, device)
        assert self.net is not None
        out: torch.Tensor = self.net(s, x, base, a.extra["pair"][idx].to(device))
        return out

    def _fit(self, features: pd.DataFrame, target: pd.Series, train_mask: np.ndarray) -> None:
        if not self.pairs:  # fitted through `fit` on one pair's frame: a pool of one
            self.pairs = ["default"]
        self.base_model = self._make_base()
        super()._fit(features, target, train_mask)

    def params(self) -> dict[str, Any]:
        return {**super().params(), "pairs": self.pairs}

    def set_params(self, params: dict[str, Any]) -> None:
        self.pairs = list(params["pairs"])
        super().set_params(params)
