"""Alert rules and their cooldown per (symbol, rule), in event time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crypto_mlops.streaming.alerts import AlertEngine, AlertThresholds, RuleInput

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def inp(
    hour: float,
    symbol: str = "BTC/USDT",
    change: float = 0.0,
    regime: str | None = "normal",
    rsi: float | None = 50.0,
    pred: float | None = None,
    cur: float | None = None,
) -> RuleInput:
    return RuleInput(
        symbol=symbol,
        event_time=T0 + timedelta(hours=hour),
        change_24h=change,
        vol_regime=regime,
        rsi14=rsi,
        predicted_volatility=pred,
        current_volatility=cur,
    )


def test_price_move_alerts_once_per_cooldown_while_the_condition_holds() -> None:
    engine = AlertEngine(AlertThresholds(cooldown=timedelta(hours=4)))
    fired = [h for h in range(12) if engine.evaluate(inp(h, change=7.0)).alerts]
    assert fired == [0, 4, 8]  # condition holds every hour; alerts only when the cooldown has passed
    # ...while the anomaly is listed on every tick.
    assert len(engine.evaluate(inp(12.5, change=7.0)).anomalies) == 1


def test_cooldown_is_per_symbol_and_per_rule() -> None:
    engine = AlertEngine(AlertThresholds(cooldown=timedelta(hours=4)))
    assert [r for r, _ in engine.evaluate(inp(0, change=7.0)).alerts] == ["price_move_24h"]
    assert [r for r, _ in engine.evaluate(inp(0, symbol="ETH/USDT", change=-7.0)).alerts] == ["price_move_24h"]
    # Another rule on the same symbol within the cooldown of the first still alerts.
    assert [r for r, _ in engine.evaluate(inp(1, change=7.0, rsi=85.0)).alerts] == ["extreme_rsi"]


def test_cooldown_uses_event_time_not_wall_time() -> None:
    engine = AlertEngine(AlertThresholds(cooldown=timedelta(hours=4)))
    assert engine.evaluate(inp(0, change=6.0)).alerts
    # Replaying the same hour again (e.g. after a crash) does not re-alert within the cooldown.
    assert not engine.evaluate(inp(3.99, change=6.0)).alerts
    assert engine.evaluate(inp(4, change=6.0)).alerts


def test_regime_change_fires_on_a_change_only() -> None:
    engine = AlertEngine(AlertThresholds(cooldown=timedelta(0)))
    assert not engine.evaluate(inp(0, regime="calm")).anomalies  # nothing to compare with yet
    assert not engine.evaluate(inp(1, regime="calm")).anomalies
    ev = engine.evaluate(inp(2, regime="turbulent"))
    assert [a.type for a in ev.anomalies] == ["volatility_regime_change"]
    assert ev.anomalies[0].severity == "high" and ev.anomalies[0].threshold == "calm"
    assert not engine.evaluate(inp(3, regime="turbulent")).anomalies


def test_predicted_vol_spike_and_extreme_rsi_thresholds() -> None:
    engine = AlertEngine(AlertThresholds(cooldown=timedelta(0)))
    assert not engine.evaluate(inp(0, pred=0.012, cur=0.01)).anomalies  # 1.2x: below 1.5x
    spike = engine.evaluate(inp(1, pred=0.03, cur=0.01)).anomalies
    assert [a.type for a in spike] == ["predicted_vol_spike"] and spike[0].severity == "high"
    assert not engine.evaluate(inp(2, pred=0.03, cur=0.0)).anomalies  # no current vol: no ratio
    low = engine.evaluate(inp(3, rsi=15.0)).anomalies
    assert [a.type for a in low] == ["extreme_rsi"] and "oversold" in low[0].message
    assert not engine.evaluate(inp(4, rsi=None)).anomalies


def test_a_batch_gives_the_answers_and_cooldowns_of_one_evaluate_per_tick() -> None:
    import random

    from crypto_mlops.streaming.alerts import RuleBatch

    rng = random.Random(4)
    inputs = [
        inp(
            h * 0.5,
            change=rng.choice([0.0, 2.0, -6.0, 12.0]),
            regime=rng.choice(["calm", "normal", "turbulent", None]),
            rsi=rng.choice([50.0, 85.0, 15.0, None]),
            pred=rng.choice([None, 0.01, 0.03]),
            cur=rng.choice([None, 0.0, 0.01]),
        )
        for h in range(400)
    ]
    one_by_one = AlertEngine(AlertThresholds(cooldown=timedelta(hours=4)))
    expected = [one_by_one.evaluate(x) for x in inputs]
    batched = AlertEngine(AlertThresholds(cooldown=timedelta(hours=4)))
    got = []
    for start in range(0, len(inputs), 37):
        part = inputs[start : start + 37]
        columns = RuleBatch(*([getattr(x, f) for x in part] for f in RuleBatch.__dataclass_fields__))
        got.extend(batched.evaluate_batch("BTC/USDT", columns))
    assert sum(1 for g in got if g is None) > 20  # most ticks skip the rules entirely
    for exp, res in zip(expected, got, strict=True):
        assert (res.anomalies if res else []) == exp.anomalies
        assert (res.alerts if res else []) == exp.alerts
    assert batched.snapshot() == one_by_one.snapshot()
