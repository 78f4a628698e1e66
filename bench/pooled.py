"""Benchmark: pooled (multi-pair) vs per-pair models on the development candles, scored per pair (not a test).

Single split (one fit on everything before a common cut time, scored after it):
    .venv/bin/python bench/pooled.py split --data A.csv --data B.csv --train-frac 0.58 \\
        --models har,har_x,har_xsq,bilstm --pooled har_x,har_xsq,bilstm [--base har_xsq] [--pair-embedding 4]

Weekly walk-forward, in pieces that can run in parallel processes, then combined:
    .venv/bin/python bench/pooled.py wf-part --data A.csv --data B.csv --only A.csv --models ... --save a.pkl
    .venv/bin/python bench/pooled.py wf-part --data A.csv --data B.csv --pooled bilstm --save pooled.pkl
    .venv/bin/python bench/pooled.py wf-combine --data A.csv --data B.csv a.pkl b.pkl pooled.pkl --out r.json

Every figure is printed with the machine's load average: timings on a shared machine are slower.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pickle
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crypto_mlops.data.sources.csv_source import load_csv
from crypto_mlops.models.backtest import Prepared, prepare, score
from crypto_mlops.models.bilstm_config import BiLSTMConfig
from crypto_mlops.models.mcs import model_confidence_set
from crypto_mlops.models.metrics import diebold_mariano, qlike_losses
from crypto_mlops.models.pooled import pooled_name, run_pooled_backtest
from crypto_mlops.models.walkforward import (
    ModelRun,
    WalkForwardConfig,
    _walk_model,
    assemble,
    first_origin,
    parse_span,
    parse_window,
    progress_bar,
    quiet,
    schedule,
)
from crypto_mlops.models.walkforward_pooled import _walk_pooled

LINEAR = ["har", "har_calendar", "har_x", "shar", "harq", "har_xsq", "har_x_pooled", "har_xsq_pooled"]
LEARNED = ["bilstm", "bilstm_pooled", "bilstm_pooled_xsq"]
ORDER = {n: i for i, n in enumerate(["naive", "ewma", "garch", *LINEAR, *LEARNED])}  # others (suffixed runs) last


def _load(paths: list[Path], until: str | None = None) -> dict[str, Prepared]:
    """Prepared candles per file; `until`: only candles before that UTC time (choices made on early data)."""
    out = {}
    for path in paths:
        market = load_csv(path)
        frame = market.frame if until is None else market.frame[market.frame.index < pd.Timestamp(until, tz="UTC")]
        out[path.name] = prepare(frame, market.timeframe)
    return out


def _config(args: argparse.Namespace) -> BiLSTMConfig:
    cfg = BiLSTMConfig(base=args.base, pair_embedding=args.pair_embedding, threads=args.threads or 0, seed=args.seed)
    if args.finetune_epochs is not None:
        cfg.finetune_epochs = args.finetune_epochs
    return cfg


def _wf_config(args: argparse.Namespace) -> WalkForwardConfig:
    return WalkForwardConfig(
        refit_every=parse_span(args.refit_every),
        window=parse_window(args.window),
        start=pd.Timestamp(args.start),
        warm_start=not args.no_warm_start,
        retrain_every=parse_span(args.retrain_every) if args.retrain_every else None,
        progress=False,
    )


def acceptance(table: list[dict[str, Any]], predictions: pd.DataFrame | None = None) -> dict[str, Any]:
    """Each learned row against the targets; with `predictions`, also its DM t vs the best linear row."""
    rows = {r["model"]: r for r in table}
    linear = [n for n in LINEAR if n in rows]
    best = min(linear, key=lambda n: rows[n]["qlike"]) if linear else None
    out: dict[str, Any] = {"best_linear": best}
    for name in [n for n in rows if n.startswith("bilstm")]:
        r = rows[name]
        vs_har = r["qlike"] / rows["har"]["qlike"]
        vs_best = r["qlike"] / rows[best]["qlike"] if best else float("nan")
        out[name] = {
            "qlike_vs_har": round(vs_har, 4),
            "qlike_vs_best_linear": round(vs_best, 4),
            "in_mcs_10": r.get("in_mcs"),
            "cov80": r.get("cov80"),
            "meets_15pct_below_har": vs_har <= 0.85,
            "meets_3pct_below_best_linear": vs_best <= 0.97,
        }
        if predictions is not None and best:  # Newey-West, 24 lags; t < 0: lower QLIKE than the best linear
            y = predictions["realized"].to_numpy()
            loss, ref = (qlike_losses(y, predictions[n].to_numpy()) for n in (name, best))
            out[name]["dm_t_vs_best_linear"] = round(diebold_mariano(loss, ref, 24)[0], 3)
    return out


def _print(pair: str, table: list[dict[str, Any]]) -> None:
    print(f"\n== {pair}")
    for r in table:
        extra = ""
        if "mcs_p" in r:
            extra = (
                f" cov80 {r['cov80']:.3f} MCS p {r['mcs_p']:.3f}{'*' if r['in_mcs'] else ' '} fit {r['fit_seconds']}"
            )
        print(f"{r['model']:16s} {r['qlike']:.4f} {r['qlike_vs_har']:.3f} DM {r['dm_t']:6.2f}{extra}")
    print(json.dumps(acceptance(table)))


def split(args: argparse.Namespace) -> None:
    prepared = _load(args.data, args.until)
    load = os.getloadavg()[0]
    start = time.perf_counter()
    res = run_pooled_backtest(prepared, args.train_frac, args.models.split(","), _names(args.pooled), _config(args))
    report: dict[str, Any] = {
        "mode": "split",
        "args": _args(args),
        "wall_seconds": round(time.perf_counter() - start, 1),
    }
    report["load_avg_1m"] = [round(load, 2), round(os.getloadavg()[0], 2)]
    report["pairs"] = {}
    for pair, r in res.items():
        _print(pair, r.table)
        report["pairs"][pair] = {**r.to_dict(), "acceptance": acceptance(r.table)}
        if args.save is not None:  # a directory: <pair>.csv with realized + one column per model
            args.save.mkdir(parents=True, exist_ok=True)
            r.predictions.to_csv(args.save / f"{pair}.csv", float_format="%.10g")
    _write(args.out, report)


def split_combine(args: argparse.Namespace) -> None:
    """Per pair: the prediction files of several `split --save DIR` runs joined, scored, with the 10 % MCS."""
    report: dict[str, Any] = {"mode": "split-combine", "pairs": {}}
    for pair in sorted({f.name for d in args.parts for f in d.glob("*.csv")}):
        frames = [pd.read_csv(d / pair, index_col=0) for d in args.parts if (d / pair).exists()]
        joined = frames[0]
        for extra in frames[1:]:
            joined = joined.join(extra.drop(columns=[c for c in extra.columns if c in joined]), how="inner")
        joined = joined.dropna()
        realized = joined.pop("realized").to_numpy()
        names = sorted(joined.columns, key=lambda n: ORDER.get(n, len(ORDER)))
        table = score(realized, {n: joined[n].to_numpy() for n in names})
        mcs = model_confidence_set({n: qlike_losses(realized, joined[n].to_numpy()) for n in names}, block_size=24)
        for r in table:
            r["mcs_p"], r["in_mcs"] = mcs["pvalues"][r["model"]], r["model"] in mcs["included"]
            r["cov80"], r["fit_seconds"] = float("nan"), float("nan")
        _print(pair, table)
        report["pairs"][pair] = {"origins": len(realized), "table": table, "mcs": mcs, "acceptance": acceptance(table)}
    _write(args.out, report)


def wf_part(args: argparse.Namespace) -> None:
    prepared = _load(args.data, args.until)
    config, cfg = _wf_config(args), quiet(_config(args))
    t0 = min(pd.DatetimeIndex(p.features.index)[first_origin(p, config)] for p in prepared.values())
    blocks = {pair: schedule(p, config, t0) for pair, p in prepared.items()}
    runs: dict[str, dict[str, ModelRun]] = {pair: {} for pair in prepared}
    load = os.getloadavg()[0]
    start = time.perf_counter()
    with progress_bar(10_000, True) as bar:
        for pair in [Path(o).name for o in args.only] if args.only else []:
            for name in args.models.split(","):
                runs[pair][name] = _walk_model(prepared[pair], name, blocks[pair], config, cfg, bar)
        for name in _names(args.pooled):
            for pair, run in _walk_pooled(prepared, name, blocks, config, cfg, bar).items():
                runs[pair][pooled_name(name) + args.suffix] = run
                for refit in run.refits:
                    refit.model += args.suffix
    meta = {"args": _args(args), "wall_seconds": round(time.perf_counter() - start, 1)}
    meta["load_avg_1m"] = [round(load, 2), round(os.getloadavg()[0], 2)]
    args.save.write_bytes(pickle.dumps({"runs": runs, "meta": meta}))
    print(json.dumps(meta))


def wf_combine(args: argparse.Namespace) -> None:
    prepared = _load(args.data, args.until)
    config = _wf_config(args)
    t0 = min(pd.DatetimeIndex(p.features.index)[first_origin(p, config)] for p in prepared.values())
    runs: dict[str, dict[str, ModelRun]] = {pair: {} for pair in prepared}
    parts = []
    for path in args.parts:
        part = pickle.loads(path.read_bytes())
        parts.append(part["meta"])
        for pair, named in part["runs"].items():
            if pair in runs:
                runs[pair].update(named)
    for spec in args.ensemble or []:  # NAME=a+b+c: the members' variance forecasts and bands averaged
        name, _, members = spec.partition("=")
        for named in runs.values():
            named[name] = _average([named[m] for m in members.split("+")], name)
    report: dict[str, Any] = {"mode": "walk-forward", "parts": parts, "pairs": {}, "ensembles": args.ensemble}
    for pair, p in prepared.items():
        ordered = dict(sorted(runs[pair].items(), key=lambda kv: ORDER.get(kv[0], len(ORDER))))
        res = assemble(p, config, schedule(p, config, t0), ordered)
        _print(pair, res.table)
        d = res.to_dict()
        d["split"].pop("refit_points")
        report["pairs"][pair] = {**d, "acceptance": acceptance(res.table, res.predictions)}
    _write(args.out, report)


def _average(members: list[ModelRun], name: str) -> ModelRun:
    """One run from several (e.g. seeds): mean variance forecast and mean variance of each band quantile."""
    forecast = np.sqrt(np.mean([m.forecast**2 for m in members], axis=0))
    band = np.sqrt(np.mean([m.band**2 for m in members], axis=0))
    refits = [dataclasses.replace(r, model=name) for m in members for r in m.refits]
    return ModelRun(forecast, band, refits, round(sum(m.seconds for m in members), 2))


def _names(text: str | None) -> list[str]:
    return [n for n in (text or "").split(",") if n]


def _args(args: argparse.Namespace) -> dict[str, Any]:
    def plain(v: Any) -> Any:
        return [plain(x) for x in v] if isinstance(v, list) else str(v) if isinstance(v, Path) else v

    return {k: plain(v) for k, v in vars(args).items()}


def _write(out: Path | None, report: dict[str, Any]) -> None:
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=1, default=str))
        print(f"written {out}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["split", "split-combine", "wf-part", "wf-combine"])
    ap.add_argument("parts", nargs="*", type=Path, help="wf-combine: wf-part pickles; split-combine: split --save dirs")
    ap.add_argument("--data", type=Path, action="append", default=[])
    ap.add_argument("--only", action="append", help="wf-part: per-pair models for these files only")
    ap.add_argument("--models", default="har,har_x,har_xsq,bilstm")
    ap.add_argument("--pooled", default="")
    ap.add_argument("--train-frac", type=float, default=0.7)
    ap.add_argument("--until", default=None, help="use only candles before this UTC date (e.g. 2020-01-01)")
    ap.add_argument("--start", default="2020-01-01")
    ap.add_argument("--refit-every", default="7d")
    ap.add_argument("--window", default="expanding")
    ap.add_argument("--no-warm-start", action="store_true")
    ap.add_argument("--retrain-every", default=None, help="learned models: hold the fit, retrain every span (90d)")
    ap.add_argument("--suffix", default="", help="wf-part: appended to the pooled models' names (e.g. _r90d)")
    ap.add_argument("--finetune-epochs", type=int, default=None)
    ap.add_argument("--base", default="har_x")
    ap.add_argument("--pair-embedding", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--seed", type=int, default=42, help="the BiLSTM's seed")
    ap.add_argument("--ensemble", action="append", help="wf-combine: NAME=run1+run2+... averaged (e.g. seeds)")
    ap.add_argument("--save", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    modes = {"split": split, "split-combine": split_combine, "wf-part": wf_part, "wf-combine": wf_combine}
    modes[args.mode](args)


if __name__ == "__main__":
    main()
