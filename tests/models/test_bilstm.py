"""The learned model: bidirectional, seeded, train-only scaling, identical predictions after save/load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from crypto_mlops.models.backtest import Prepared
from crypto_mlops.models.bilstm import BiLSTMConfig, BiLSTMModel, pick_device
from crypto_mlops.models.target import chronological_split
from crypto_mlops.models.zoo import load_model


def _fit(p: Prepared, seed: int = 3) -> BiLSTMModel:
    s = chronological_split(len(p.features), 0.7, p.horizon)
    mask = s.train_mask()
    cfg = BiLSTMConfig.tiny()
    cfg.seed = seed
    model = BiLSTMModel(cfg)
    model.fit(p.features, p.target, mask, p.bar_hours)
    return model


def test_network_is_bidirectional_and_uses_the_available_device(prepared: Prepared) -> None:
    model = _fit(prepared)
    assert model.net is not None
    assert model.net.lstm.bidirectional is True
    assert model.device_used == str(pick_device("auto"))
    assert model.history and all(np.isfinite(h["val_loss"]) for h in model.history)
    assert len(model.seq_mean) == 5 and all(s > 0 for s in model.seq_std)


def test_training_is_reproducible_with_a_seed(prepared: Prepared) -> None:
    a = _fit(prepared).predict(prepared.features).to_numpy()
    b = _fit(prepared).predict(prepared.features).to_numpy()
    np.testing.assert_array_equal(a, b)
    ok = np.isfinite(a)
    assert ok.sum() > 1000 and (a[ok] > 0).all()


def test_scaling_statistics_come_from_training_rows_only(prepared: Prepared) -> None:
    base = _fit(prepared)
    changed = prepared.features.copy()
    n = len(changed)
    tail = changed.index[int(0.8 * n) :]
    changed.loc[tail, "rel_volume"] *= 50.0  # only after the training part
    other = BiLSTMModel(base.config)
    s = chronological_split(n, 0.7, prepared.horizon)
    other.fit(changed, prepared.target, s.train_mask(), prepared.bar_hours)
    assert other.seq_mean == base.seq_mean and other.static_mean == base.static_mean


def test_save_load_round_trip_gives_identical_predictions(prepared: Prepared, tmp_path: Path) -> None:
    model = _fit(prepared)
    model.calibrate(prepared.features, prepared.target, np.isfinite(prepared.target.to_numpy()))
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert isinstance(loaded, BiLSTMModel)
    np.testing.assert_array_equal(
        model.predict(prepared.features).to_numpy(), loaded.predict(prepared.features).to_numpy()
    )
    assert loaded.confidence is not None and model.confidence is not None
    fc = model.predict(prepared.features).to_numpy()
    np.testing.assert_array_equal(
        model.confidence.score(prepared.features, fc), loaded.confidence.score(prepared.features, fc)
    )
    for k, v in model.net.state_dict().items():  # type: ignore[union-attr]
        assert torch.equal(v, loaded.net.state_dict()[k])  # type: ignore[union-attr]


def test_warm_start_fine_tunes_the_previous_fit_and_never_ends_worse_on_validation(prepared: Prepared) -> None:
    first = _fit(prepared)
    s = chronological_split(len(prepared.features), 0.75, prepared.horizon)
    cfg = BiLSTMConfig.tiny()
    cfg.seed, cfg.finetune_epochs = 3, 2
    warm = BiLSTMModel(cfg)
    warm.warm_start(first)
    warm.fit(prepared.features, prepared.target, s.train_mask(), prepared.bar_hours)
    assert warm.seq_mean == first.seq_mean and warm.static_std == first.static_std  # the weights' scaling
    assert 1 <= len(warm.history) <= cfg.finetune_epochs
    assert warm._warm is None  # no chain of previous fits is kept alive
    # with no fine-tuning epoch the starting weights are kept exactly
    kept = BiLSTMModel(BiLSTMConfig.tiny())
    kept.config.finetune_epochs = 0
    kept.warm_start(first)
    kept.fit(prepared.features, prepared.target, s.train_mask(), prepared.bar_hours)
    assert kept.history == [] and kept.net is not None and first.net is not None
    for k, v in first.net.state_dict().items():
        assert torch.equal(kept.net.state_dict()[k], v)
