"""Benchmark: how long training the BiLSTM takes on a candle file (default: the BTC development file).

    .venv/bin/python bench/train_speed.py [--data FILE] [--train-frac 0.7] [--threads N] [--epochs N]
        [--wait-policy PASSIVE|ACTIVE|unset] [--busy N]

Prints JSON: wall seconds for features + fit, epochs run, seconds per epoch, device, torch threads,
and the 1-minute load average before/after (other processes sharing the CPU slow it down; report
the figure together with that caveat). `--busy N` starts N busy-looping Python processes for the
duration of the fit (a synthetic load, as when other work shares the cores); `--wait-policy` sets
OMP_WAIT_POLICY before torch is imported (the BiLSTM module defaults it to PASSIVE; `unset` leaves
OpenMP's own default). It is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "Binance_BTCUSDT_1h.csv"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--train-frac", type=float, default=0.7)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--wait-policy", default="PASSIVE", help="OMP_WAIT_POLICY before torch loads (or 'unset')")
    ap.add_argument("--busy", type=int, default=0, help="busy-looping processes running during the fit")
    args = ap.parse_args()
    if args.wait_policy == "unset":
        os.environ["OMP_WAIT_POLICY"] = ""  # present but empty: the BiLSTM module leaves it, OpenMP ignores it
    else:
        os.environ["OMP_WAIT_POLICY"] = args.wait_policy
    import torch  # after the environment: OpenMP reads it when torch loads

    from crypto_mlops.data.sources.csv_source import load_csv
    from crypto_mlops.models.backtest import WARMUP_HOURS, prepare
    from crypto_mlops.models.bilstm import BiLSTMConfig, BiLSTMModel
    from crypto_mlops.models.target import chronological_split

    if args.threads:
        torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    market = load_csv(args.data)
    prepared = prepare(market.frame, market.timeframe)
    split = chronological_split(len(prepared.features), args.train_frac, prepared.horizon)
    mask = split.train_mask() & (np.arange(len(prepared.features)) >= WARMUP_HOURS)
    prep_s = time.perf_counter() - start
    cfg = BiLSTMConfig(progress=True)
    if args.epochs:
        cfg.epochs = args.epochs
    model = BiLSTMModel(cfg)
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy)]
    try:
        fit_start = time.perf_counter()
        model.fit(prepared.features, prepared.target, mask, prepared.bar_hours)
        fit_s = time.perf_counter() - fit_start
    finally:
        for proc in busy:
            proc.kill()
    epochs = len(model.history)
    print(
        json.dumps(
            {
                "data": str(args.data),
                "candles": len(market.frame),
                "train_origins": int(mask.sum()),
                "prepare_seconds": round(prep_s, 1),
                "fit_seconds": round(fit_s, 1),
                "total_seconds": round(prep_s + fit_s, 1),
                "epochs": epochs,
                "seconds_per_epoch": round(model.train_seconds / max(epochs, 1), 1),
                "best_val_qlike": min(h["val_qlike"] for h in model.history),
                "device": model.device_used,
                "torch_threads": torch.get_num_threads(),
                "omp_wait_policy": args.wait_policy,
                "busy_processes": args.busy,
                "cpu_count": os.cpu_count(),
                "loadavg_1m_before": round(load_before, 2),
                "loadavg_1m_after": round(os.getloadavg()[0], 2),
                "torch": torch.__version__,
                "python": platform.python_version(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
