"""Pooled multi-pair training: stacking, pair effects and embedding, per-pair forecasts, no look-ahead."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crypto_mlops.data.market import MarketData
from crypto_mlops.data.sources.synthetic import simulate
from crypto_mlops.models.backtest import Prepared, prepare, run_backtest
from crypto_mlops.models.bilstm_config import BiLSTMConfig
from crypto_mlops.models.pooled import fit_mask, load_pooled, make_pooled, run_pooled_backtest, train_pooled
from crypto_mlops.models.pooling import PAIR_CODE, rows_in_pair, stack_pairs
from crypto_mlops.models.walkforward import WalkForwardConfig
from crypto_mlops.models.walkforward_pooled import run_pooled_walk_forward
from tests.models.conftest import END
from tests.perturb import perturbed_after

CUT = 2200  # candles after this row are perturbed


@pytest.fixture(scope="module")
def other() -> MarketData:
    return simulate(n_bars=3000, seed=8, end=END)


@pytest.fixture(scope="module")
def pairs(prepared: Prepared, other: MarketData) -> dict[str, Prepared]:
    return {"AAA/USDT": prepared, "BBB/USDT": prepare(other.frame, other.timeframe)}


def _tiny(embedding: int = 0) -> BiLSTMConfig:
    cfg = BiLSTMConfig.tiny()
    cfg.pair_embedding = embedding
    return cfg


def _parts(pairs: dict[str, Prepared]) -> dict[str, tuple[pd.DataFrame, pd.Series, np.ndarray]]:
    return {pair: (p.features, p.target, fit_mask(p)) for pair, p in pairs.items()}


def test_stacking_keeps_pairs_apart(pairs: dict[str, Prepared]) -> None:
    features, target, mask = stack_pairs(_parts(pairs))
    n = len(pairs["AAA/USDT"].features)
    assert len(features) == len(target) == len(mask) == 2 * n
    assert (features[PAIR_CODE].to_numpy() == np.repeat([0, 1], n)).all()
    rows = rows_in_pair(features)
    assert rows[0] == 0 and rows[n] == 0 and rows[n - 1] == n - 1  # a window never reaches into the other pair


def test_pooled_har_x_has_one_intercept_per_pair_and_their_mean_for_an_unseen_pair(
    pairs: dict[str, Prepared],
) -> None:
    model = make_pooled("har_x")
    model.fit_pooled(_parts(pairs))
    assert model.pairs == ["AAA/USDT", "BBB/USDT"]
    f = pairs["BBB/USDT"].features
    a, b, unseen = (model.predict_pair(f, p).to_numpy() for p in ("AAA/USDT", "BBB/USDT", "CCC/USDT"))
    ok = np.isfinite(a)
    assert ok.sum() > 1000
    # same slopes: the pairs differ by a constant factor, and an unseen pair sits at their geometric mean
    ratio = b[ok] / a[ok]
    assert np.allclose(ratio, ratio[0])
    assert np.allclose(unseen[ok], np.sqrt(a[ok] * b[ok]))


@pytest.mark.parametrize("embedding", [0, 3])
def test_pooled_bilstm_trains_on_two_pairs_and_predicts_each(
    pairs: dict[str, Prepared], market: MarketData, other: MarketData, embedding: int, tmp_path: Path
) -> None:
    model = train_pooled({"AAA/USDT": market.frame, "BBB/USDT": other.frame}, "bilstm", _tiny(embedding))
    assert model.pairs == ["AAA/USDT", "BBB/USDT"]  # what the lead tags the registered version with
    net = model.net  # type: ignore[attr-defined]
    assert (net.embed is not None) == (embedding > 0)
    if embedding:
        assert tuple(net.embed.weight.shape) == (2, embedding)
    for pair, p in pairs.items():
        fc = model.predict_pair(p.features, pair).to_numpy()
        tail = fc[-500:]
        assert np.isfinite(tail).all() and (tail > 0).all() and (tail < 1).all()
    unseen = model.predict_pair(pairs["AAA/USDT"].features, "CCC/USDT").to_numpy()[-500:]
    assert np.isfinite(unseen).all()
    model.save(tmp_path)
    back = load_pooled(tmp_path)
    assert back.pairs == model.pairs
    f = pairs["BBB/USDT"].features
    np.testing.assert_allclose(back.predict_pair(f, "BBB/USDT"), model.predict_pair(f, "BBB/USDT"), rtol=1e-6)


def test_pooled_backtest_scores_each_pair_next_to_the_per_pair_models(pairs: dict[str, Prepared]) -> None:
    res = run_pooled_backtest(pairs, 0.7, ["har", "har_x"], ["har_x", "har_xsq"])
    assert set(res) == set(pairs)
    for pair, r in res.items():
        assert [row["model"] for row in r.table] == ["har", "har_x", "har_x_pooled", "har_xsq_pooled"]
        alone = run_backtest(pairs[pair], 0.7, ["har", "har_x"])  # same series length: same split
        assert r.split["test_start"] == alone.split["test_start"]
        assert r.row("har_x")["qlike"] == pytest.approx(alone.row("har_x")["qlike"])


def test_pooled_walk_forward_looks_at_no_pair_s_future(market: MarketData, other: MarketData) -> None:
    """Refits straddle the cut; perturbing every later candle of both pairs moves no earlier forecast."""
    config = WalkForwardConfig(refit_every=pd.Timedelta(days=4), train_frac=0.78, progress=False, mcs_reps=50)

    def run(shift: bool) -> dict[str, pd.DataFrame]:
        frames = {"A": market.frame.iloc[:2640], "B": other.frame.iloc[:2640]}  # six refits, two before the cut
        if shift:
            frames = {k: perturbed_after(f, CUT, 3 + i) for i, (k, f) in enumerate(frames.items())}
        prepared = {k: prepare(f) for k, f in frames.items()}
        res = run_pooled_walk_forward(prepared, config, ["har"], ["har_x", "bilstm"], _tiny(2))
        for r in res.values():  # every model states a confidence in [0, 1] at every scored origin
            assert {"har", "har_x_pooled", "bilstm_pooled"} <= set(r.confidence)
            for stated in r.confidence.values():
                assert len(stated) == len(r.predictions) and np.all((stated >= 0) & (stated <= 1))
        return {k: r.predictions for k, r in res.items()}

    a, b = run(False), run(True)
    cut = market.frame.index[CUT]
    for pair in ("A", "B"):
        before = a[pair].index <= cut
        assert before.sum() > 100 and (~before).sum() > 100
        cols = [c for c in a[pair].columns if c != "realized"]
        assert {"bilstm_pooled", "har_x_pooled", "bilstm_pooled_q90"} <= set(cols)
        common = a[pair].index[before].intersection(b[pair].index)
        pd.testing.assert_frame_equal(a[pair].loc[common, cols], b[pair].loc[common, cols])
        later = a[pair].index[a[pair].index > cut + pd.Timedelta(days=4)].intersection(b[pair].index)
        assert not np.allclose(a[pair].loc[later, "har_x_pooled"], b[pair].loc[later, "har_x_pooled"])


def test_pooled_training_logs_one_run_with_the_pairs_and_per_pair_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, market: MarketData, other: MarketData
) -> None:
    from dataclasses import replace

    from crypto_mlops.config import Settings
    from crypto_mlops.models.registry import get_client
    from crypto_mlops.models.training_pooled import train_pooled_logged

    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    settings = Settings(MLFLOW_TRACKING_URI=uri, MLFLOW_EXPERIMENT="pooled-test")
    data = [replace(market.tail(2400), symbol="AAA/USDT"), replace(other.tail(2400), symbol="BBB/USDT")]
    result = train_pooled_logged(data, settings, 0.7, "bilstm", _tiny(2), ["har", "har_x"])
    assert result.pairs == ["AAA/USDT", "BBB/USDT"] and result.candidate == "bilstm_pooled"
    for backtest in result.backtests.values():
        assert [r["model"] for r in backtest.table] == ["har", "har_x", "bilstm_pooled"]
    client = get_client(settings)
    run = client.get_run(result.run_id)
    assert run.data.tags["pooled.pairs"] == "AAA/USDT,BBB/USDT"
    assert "AAAUSDT.bilstm_pooled.qlike" in run.data.metrics and "BBBUSDT.har_x.qlike" in run.data.metrics
    artifacts = {a.path for a in client.list_artifacts(result.run_id)}
    assert {"AAAUSDT", "BBBUSDT", "pooled_model"} <= artifacts
