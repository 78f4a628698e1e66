"""Benchmark: weekly walk-forward of every model on the development candles (not a test).

    .venv/bin/python bench/walkforward.py [--data FILE ...] [--start 2020-01-01] [--refit-every 7d]
        [--window expanding] [--models a,b,...] [--threads N] [--out bench/results/walkforward.json]

Per pair: the walk-forward table (QLIKE, vs HAR, DM, 80 % coverage, pinball, 10 % MCS), fit seconds
per model, wall time, and the issue's acceptance figures (learned vs plain HAR and vs the best linear
baseline, MCS membership, coverage). Prints JSON and writes it to --out. The machine's load average is
recorded before and after: timings taken on a shared machine are slower than on an idle one.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import pandas as pd

from crypto_mlops.data.sources.csv_source import load_csv
from crypto_mlops.models.backtest import prepare
from crypto_mlops.models.bilstm_config import BiLSTMConfig
from crypto_mlops.models.walkforward import WalkForwardConfig, parse_span, parse_window, run_walk_forward
from crypto_mlops.models.zoo import BASELINES, LEARNED, MODEL_CLASSES

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PAIRS = [DATA / "Binance_BTCUSDT_1h.csv", DATA / "Binance_ETHUSDT_1h.csv"]
LINEAR = ["har", "har_calendar", "har_x", "shar", "harq", "har_xsq"]


def acceptance(table: list[dict[str, Any]], mcs: dict[str, Any]) -> dict[str, Any]:
    rows = {r["model"]: r for r in table}
    linear = [n for n in LINEAR if n in rows]
    best_linear = min(linear, key=lambda n: rows[n]["qlike"]) if linear else None
    out: dict[str, Any] = {"best_linear": best_linear, "mcs_included": mcs["included"]}
    for name in [n for n in LEARNED if n in rows]:
        r = rows[name]
        vs_har = r["qlike"] / rows["har"]["qlike"]
        vs_best = r["qlike"] / rows[best_linear]["qlike"] if best_linear else float("nan")
        out[name] = {
            "qlike_vs_har": vs_har,
            "qlike_vs_best_linear": vs_best,
            "in_mcs_10": r["in_mcs"],
            "cov80": r["cov80"],
            "meets_15pct_below_har": vs_har <= 0.85,
            "meets_3pct_below_best_linear": vs_best <= 0.97,
            "meets_coverage_75_85": 0.75 <= r["cov80"] <= 0.85,
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, action="append", help="candle CSV (repeatable; default BTC and ETH)")
    ap.add_argument("--start", default="2020-01-01")
    ap.add_argument("--refit-every", default="7d")
    ap.add_argument("--window", default="expanding")
    ap.add_argument("--models", default=None, help="comma-separated (default: all)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--no-warm-start", action="store_true")
    ap.add_argument("--finetune-epochs", type=int, default=None, help="BiLSTM fine-tuning epochs per warm refit")
    ap.add_argument("--predictions-dir", type=Path, default=None, help="write <pair>.csv per-origin forecasts here")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "walkforward.json")
    args = ap.parse_args()
    names = args.models.split(",") if args.models else list(MODEL_CLASSES)
    if args.threads and "bilstm" in names:
        import torch

        torch.set_num_threads(args.threads)
    config = WalkForwardConfig(
        refit_every=parse_span(args.refit_every),
        window=parse_window(args.window),
        start=pd.Timestamp(args.start),
        warm_start=not args.no_warm_start,
    )
    report: dict[str, Any] = {
        "protocol": {
            "start": args.start,
            "refit_every": args.refit_every,
            "window": args.window,
            "warm_start": config.warm_start,
            "finetune_epochs": args.finetune_epochs
            if args.finetune_epochs is not None
            else BiLSTMConfig().finetune_epochs,
            "models": names,
            "baselines": [n for n in BASELINES if n in names],
        },
        "cpu_count": os.cpu_count(),
        "pairs": {},
    }
    for path in args.data or PAIRS:
        market = load_csv(path)
        load_before = os.getloadavg()[0]
        start = time.perf_counter()
        prepared = prepare(market.frame, market.timeframe)
        bilstm = BiLSTMConfig() if args.finetune_epochs is None else BiLSTMConfig(finetune_epochs=args.finetune_epochs)
        result = run_walk_forward(prepared, config, names, bilstm)
        wall = time.perf_counter() - start
        payload = result.to_dict()
        payload["split"].pop("refit_points")
        payload["wall_seconds"] = round(wall, 1)
        payload["load_avg_1m"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
        payload["acceptance"] = acceptance(result.table, result.mcs)
        report["pairs"][market.symbol] = payload
        if args.predictions_dir is not None:
            args.predictions_dir.mkdir(parents=True, exist_ok=True)
            out = args.predictions_dir / f"{market.symbol.replace('/', '')}.csv"
            result.predictions.to_csv(out, float_format="%.8g")
        print(
            f"\n== {market.symbol}: {payload['split']['test_origins']} origins, {payload['split']['refits']} refits, "
            f"{wall:.0f} s wall (load {payload['load_avg_1m']})"
        )
        head = ("model", "QLIKE", "vsHAR", "DM t", "cov80", "pinball", "MCS p", "fit s")
        print(f"{head[0]:14s} " + " ".join(f"{h:>7s}" for h in head[1:]))
        for r in result.table:
            print(
                f"{r['model']:14s} {r['qlike']:7.4f} {r['qlike_vs_har']:6.3f} {r['dm_t']:6.2f} {r['cov80']:6.3f} "
                f"{r['pinball']:8.5f} {r['mcs_p']:6.3f}{'*' if r['in_mcs'] else ' '} {r['fit_seconds']:7.1f}"
            )
        print(json.dumps(payload["acceptance"], indent=1))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1))
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
