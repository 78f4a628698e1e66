"""`crypto-mlops train` and `crypto-mlops model list|info|promote|rollback` (MLflow registry)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table

from crypto_mlops.cli.backtest import bilstm_config_from, parse_models, progress_console, results_table, show_step
from crypto_mlops.cli.common import console, friendly_errors, quiet_libraries
from crypto_mlops.data.errors import DataUnavailable, InvalidInput

T = TypeVar("T")

app = typer.Typer(help="Model registry: list, info, promote, rollback.", no_args_is_help=True)

PairOption = Annotated[
    str | None,
    typer.Option("--pair", help="Pair whose champion (champion-<pair>) to act on (default: the global champion)."),
]


def register(root: typer.Typer) -> None:
    """Attach `train` and the `model` group to the root app (called by cli.main)."""
    root.command("train")(train)
    root.add_typer(app, name="model")


def _registry_call(fn: Callable[..., T], *args: Any) -> T:
    """Registry errors that are not the user's fault become DataUnavailable (exit 3)."""
    try:
        return fn(*args)
    except (InvalidInput, DataUnavailable):
        raise
    except (ValueError, KeyError) as exc:
        raise InvalidInput(str(exc).strip("'\"")) from None
    except Exception as exc:
        raise DataUnavailable(f"MLflow registry error: {type(exc).__name__}: {exc}") from exc


@friendly_errors
def train(
    data: Annotated[
        list[Path] | None, typer.Option("--data", help="Candle CSV (else --source); repeat to train one pooled model.")
    ] = None,
    source: Annotated[str | None, typer.Option(help="ccxt | csv | synthetic (default DATA_SOURCE).")] = None,
    symbol: Annotated[
        str | None,
        typer.Option(help="Pair to train for; promotes to its alias champion-<pair> (default DEFAULT_SYMBOL)."),
    ] = None,
    symbols: Annotated[
        str | None,
        typer.Option(help="Several pairs from --source (e.g. BTC/USDT,ETH/USDT): one pooled model (see --promote)."),
    ] = None,
    timeframe: Annotated[str, typer.Option(help="Candle timeframe.")] = "1h",
    limit: Annotated[int | None, typer.Option(help="Newest candles to use / fetch.", min=1000)] = None,
    train_frac: Annotated[
        float, typer.Option(help="Training share; the rest is the validation window.", min=0.05, max=0.95)
    ] = 0.7,
    candidate: Annotated[str, typer.Option(help="Model to register and gate.")] = "bilstm",
    models: Annotated[str | None, typer.Option(help="Models to backtest (default: all baselines + candidate).")] = None,
    epochs: Annotated[int | None, typer.Option(help="BiLSTM max epochs.", min=1)] = None,
    tiny: Annotated[bool, typer.Option(help="Tiny BiLSTM (seconds; for smoke tests).")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the learned model.")] = 42,
    no_register: Annotated[bool, typer.Option("--no-register", help="Log the run only.")] = False,
    promote: Annotated[
        bool,
        typer.Option(
            "--promote",
            help="Several pairs (pooled): bind the model to each pair, gate it against that pair's champion "
            "and move champion-<pair> where it wins (a single pair is gated unless --no-register).",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Train, backtest against the baselines, log to MLflow, register and gate the pair's champion.

    One pair's model is gated on that pair's validation window against the model serving the pair
    (champion-<pair>, else champion) and moves champion-<pair>; the default pair also moves champion.
    Several pairs train one pooled model, logged only; with --promote it is bound to each pair and gated
    there the same way.
    """
    from crypto_mlops.config import get_settings
    from crypto_mlops.data import load_market_data
    from crypto_mlops.data.schema import normalize_symbol
    from crypto_mlops.models.registry import target_aliases
    from crypto_mlops.models.training import train_and_register
    from crypto_mlops.models.zoo import MODEL_CLASSES

    quiet_libraries()
    if candidate not in MODEL_CLASSES:
        raise InvalidInput(f"unknown candidate {candidate!r}; choose from {', '.join(MODEL_CLASSES)}")
    names = parse_models(models)
    if (data and len(data) > 1) or symbols:
        from crypto_mlops.cli.pairs import load_pairs_data
        from crypto_mlops.cli.train_pooled import train_pooled

        pairs = load_pairs_data(data, source, symbols, timeframe, limit)
        if len(pairs) < 2:
            raise InvalidInput("--symbols trains one pooled model: name two pairs or more (else use --symbol)")
        if promote and no_register:
            raise InvalidInput("--promote registers the pooled model per pair: drop --no-register")
        config = bilstm_config_from(epochs, tiny, seed)
        return train_pooled([p.market for p in pairs], train_frac, candidate, config, as_json, names, promote)
    csv_path = data[0] if data else None
    market = load_market_data(
        "csv" if data and not source else source, symbol, timeframe, limit=limit, csv_path=csv_path
    )
    if symbol:  # --symbol names the pair of a --data file too
        market.symbol = normalize_symbol(symbol)
    with progress_console.status("training") as st:
        result = _registry_call(
            lambda: train_and_register(
                market,
                None,
                train_frac,
                candidate,
                bilstm_config_from(epochs, tiny, seed),
                names,
                register=not no_register,
                on_step=lambda s: show_step(st, s),
            )
        )
    if as_json:
        typer.echo(json.dumps(result.summary(), indent=2, default=str))
        return
    console.print(results_table(result.backtest.table, f"{market.symbol}: validation window"))
    console.print(f"MLflow run {result.run_id} · data sha256 {result.fingerprint['sha256'][:12]}…")
    if result.decision:
        console.print(f"{candidate} → version {result.version}: {result.decision.reason}")
    if result.baseline_decision:
        console.print(
            f"{result.baseline_decision.candidate} → version {result.baseline_version}: "
            f"{result.baseline_decision.reason}"
        )
    for note in result.notes:
        console.print(f"[yellow]note:[/] {note}")
    if not no_register:
        aliases = " and ".join(target_aliases([market.symbol], get_settings()))
        console.print(f"champion now: version {result.champion_after} ({aliases} for {market.symbol})")


@app.command("list")
@friendly_errors
def list_cmd(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Registered versions with their gate decision; * marks the champion."""
    from crypto_mlops.models.registry import list_versions

    quiet_libraries()
    rows = _registry_call(list_versions)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        console.print("no registered versions yet: run `crypto-mlops train`")
        return
    t = Table(title="crypto-predictor versions")
    for col in ("version", "champion", "aliases", "pairs", "model", "QLIKE", "decision", "created"):
        t.add_column(col)
    for r in rows:
        t.add_row(
            r["version"],
            "*" if r["champion"] else "",
            ", ".join(r["aliases"]),
            r["pairs"],
            r["model_type"],
            r["qlike"][:8],
            r["decision"],
            r["created"][:19],
        )
    console.print(t)


@app.command("info")
@friendly_errors
def info_cmd(
    version: Annotated[str | None, typer.Argument(help="Version (default: the champion).")] = None,
    pair: PairOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Tags (gate decision and numbers), run metrics and data fingerprint of a version (default: the
    champion serving --pair, else the global one)."""
    from crypto_mlops.models.registry import version_info

    quiet_libraries()
    info = _registry_call(version_info, None, version, pair)
    if as_json:
        typer.echo(json.dumps(info, indent=2, default=str))
        return
    console.print(f"[bold]{info['name']}[/] version {info['version']} aliases {info['aliases']} run {info['run_id']}")
    for k, v in sorted(info["tags"].items()):
        console.print(f"  {k} = {v}")
    keys = [k for k in info["metrics"] if k.endswith(".qlike")]
    for k in sorted(keys):
        console.print(f"  {k} = {info['metrics'][k]:.4f}")
    console.print(f"  champion history: {info['history']}")


@app.command("promote")
@friendly_errors
def promote_cmd(
    version: Annotated[str, typer.Argument(help="Version to make champion (bypasses the gate; recorded).")],
    reason: Annotated[str, typer.Option(help="Why (stored as a tag).")] = "manual promotion",
    pair: PairOption = None,
) -> None:
    """Point the champion alias at VERSION (with --pair: that pair's champion-<pair>)."""
    from crypto_mlops.models.registry import promote

    quiet_libraries()
    out = _registry_call(promote, None, version, reason, pair)
    console.print(f"champion: {out['from']} → {out['to']} ({out['reason']}; {', '.join(out['aliases'])})")


@app.command("rollback")
@friendly_errors
def rollback_cmd(pair: PairOption = None) -> None:
    """Restore the previous champion (with --pair: that pair's)."""
    from crypto_mlops.models.registry import rollback

    quiet_libraries()
    out = _registry_call(rollback, None, pair)
    console.print(f"champion rolled back: {out['from']} → {out['to']}")
