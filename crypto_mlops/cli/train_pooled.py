"""`crypto-mlops train --data A.csv --data B.csv` (or `--symbols A,B`): one pooled candidate, per-pair report.

Without `--promote` the run is logged only. With it, the pooled model is bound to each pair and gated there
like any per-pair candidate (`models.promotion_pooled`): one line per pair says the gate's decision, the
version registered and the alias moved (or kept).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import typer

from crypto_mlops.cli.common import console
from crypto_mlops.cli.tables import progress_console, results_table
from crypto_mlops.data.errors import DataUnavailable, InvalidInput
from crypto_mlops.models.bilstm_config import BiLSTMConfig

if TYPE_CHECKING:
    from crypto_mlops.data.market import MarketData
    from crypto_mlops.models.promotion_pooled import PairPromotion


def train_pooled(
    markets: list[MarketData],
    train_frac: float,
    candidate: str,
    bilstm_config: BiLSTMConfig,
    as_json: bool,
    models: list[str] | None = None,
    promote: bool = False,
) -> None:
    """Logs one MLflow run; with `promote`, gates the model per pair and moves the winners' aliases."""
    from crypto_mlops.models.promotion_pooled import promote_pooled
    from crypto_mlops.models.training_pooled import train_pooled_logged

    promotions: list[PairPromotion] = []
    with progress_console.status("training") as status:
        try:
            result = train_pooled_logged(
                markets, None, train_frac, candidate, bilstm_config, models, on_step=lambda s: status.update(s)
            )
            if promote:
                status.update("gating per pair against each pair's champion")
                promotions = promote_pooled(result)
        except (InvalidInput, DataUnavailable):
            raise
        except (ValueError, KeyError) as exc:
            raise InvalidInput(str(exc).strip("'\"")) from None
        except Exception as exc:  # the registry, not the user's input
            raise DataUnavailable(f"MLflow registry error: {type(exc).__name__}: {exc}") from exc
    if as_json:
        summary = result.summary()
        if promote:
            summary["promotions"] = [p.summary() for p in promotions]
        typer.echo(json.dumps(summary, indent=2, default=str))
        return
    for pair, backtest in result.backtests.items():
        console.print(results_table(backtest.table, f"{pair}: validation window ({result.candidate} on all pairs)"))
    console.print(f"MLflow run {result.run_id} · {result.candidate} trained on {', '.join(result.pairs)}")
    if not promote:
        console.print("not registered: add --promote to gate it per pair against each pair's champion")
    for p in promotions:
        console.print(promotion_line(p))
        for note in p.scores.notes:
            console.print(f"[yellow]note:[/] {note}")


def promotion_line(p: PairPromotion) -> str:
    """`ETH/USDT: bilstm_pooled → version 3: promoted: …; champion-ethusdt → v3` (or `… not moved (…)`)."""
    aliases = " and ".join(p.result.aliases)
    if p.result.refused:
        return f"{p.pair}: {p.result.refused}"
    reason = p.decision.reason if p.decision else "not gated"
    head = f"{p.pair}: {p.scores.candidate} → version {p.version}: {reason}"
    if p.baseline_promoted:
        return f"{head}; best baseline {p.baseline_promoted} promoted instead: {aliases} → v{p.result.champion_after}"
    if p.moved:
        return f"{head}; {aliases} → v{p.result.champion_after}"
    before = f"v{p.result.champion_before}" if p.result.champion_before else "a baseline"
    return f"{head}; {aliases} not moved ({p.pair} stays on {before})"
