"""Benchmark: BiLSTM training steps per second by torch thread count and OpenMP wait policy, quiet vs loaded.

    .venv/bin/python bench/thread_load.py [--steps 40] [--busy 2] [--threads 1,2] [--policies unset,PASSIVE]

Each setting runs in a fresh interpreter (OMP_WAIT_POLICY is read when torch loads): `--steps` training
steps of the default-size net (batch 256, 168 steps, 5 sequence and 20 static inputs), timed once alone
and once while `--busy` busy-looping Python processes compete for the cores (a synthetic load, as when
other work shares the machine). Prints JSON: seconds per step for each setting, and the load-induced
slowdown. A benchmark, not a test; the machine's load average is recorded with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

CHILD = """
import os, sys, time
import torch
from crypto_mlops.models.bilstm_net import BiLSTMNet
threads, steps = int(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(threads)
torch.manual_seed(0)
net = BiLSTMNet(5, 20, 24, 1, 32, 0.2)
opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
seq, static, base, y = torch.randn(256, 168, 5), torch.randn(256, 20), torch.zeros(256), torch.randn(256)
def step():
    loss = ((net(seq, static, base) - y) ** 2).mean()
    opt.zero_grad(); loss.backward(); opt.step()
for _ in range(3):
    step()
start = time.perf_counter()
for _ in range(steps):
    step()
print((time.perf_counter() - start) / steps)
"""


def run(threads: int, policy: str, steps: int, busy: int) -> float:
    env = dict(os.environ)
    env.pop("OMP_WAIT_POLICY", None)
    if policy != "unset":
        env["OMP_WAIT_POLICY"] = policy
    loaders = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
    try:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(threads), str(steps)], env=env, capture_output=True, text=True, check=True
        )
    finally:
        for proc in loaders:
            proc.kill()
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--busy", type=int, default=2)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--policies", default="unset,PASSIVE")
    args = ap.parse_args()
    rows = []
    for threads in [int(t) for t in args.threads.split(",")]:
        for policy in args.policies.split(","):
            load = os.getloadavg()[0]
            quiet = run(threads, policy, args.steps, 0)
            loaded = run(threads, policy, args.steps, args.busy)
            rows.append(
                {
                    "threads": threads,
                    "omp_wait_policy": policy,
                    "s_per_step_alone": round(quiet, 4),
                    f"s_per_step_with_{args.busy}_busy": round(loaded, 4),
                    "slowdown": round(loaded / quiet, 2),
                    "loadavg_1m_before": round(load, 2),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    print(json.dumps({"cpu_count": os.cpu_count(), "steps": args.steps, "busy": args.busy, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
