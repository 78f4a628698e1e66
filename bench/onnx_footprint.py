"""BiLSTM inference: torch vs ONNX Runtime, resident memory and latency (not a test).

1. builds the project's `BiLSTMNet` with the default `BiLSTMConfig` sizes (random weights; memory and
   latency do not depend on their values), saves its weights and exports it with
   `crypto_mlops.models.onnx_export.export_net`;
2. in two fresh interpreters, as a serving process would: (a) imports torch and the BiLSTM module,
   loads the weights; (b) imports onnxruntime only, opens the .onnx file. Each records its resident
   memory before and after, and the latency of `--calls` batch-1 forecasts (1 thread each);
3. checks that both engines give the same numbers.

    .venv/bin/python bench/onnx_footprint.py [--calls 1000] [--ort-path DIR] [--json out.json]

`--ort-path`: a folder where onnxruntime and onnx are installed (`pip install --target DIR onnxruntime
onnx`), appended to the import path (the export needs onnx, the second engine onnxruntime).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from crypto_mlops.models.bilstm_config import BiLSTMConfig

N_SEQ = 5
N_STATIC = 16  # the static branch's width (HAR parts, range estimators, calendar terms, base)

ENGINE = r"""
import json, sys, time
import numpy as np, psutil
proc = psutil.Process()
before = proc.memory_info().rss
engine, folder, calls, ort_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
data = np.load(f"{folder}/inputs.npz")
if engine == "torch":
    import torch
    torch.set_num_threads(1)
    from crypto_mlops.models.bilstm import BiLSTMNet
    c = json.loads(open(f"{folder}/config.json").read())
    net = BiLSTMNet(c["n_seq"], c["n_static"], c["hidden"], c["layers"], c["head_hidden"], c["dropout"])
    net.load_state_dict(torch.load(f"{folder}/weights.pt", weights_only=True))
    net.eval()
    def forward(i):
        with torch.inference_mode():
            args = [torch.from_numpy(data[k][i : i + 1]) for k in ("seq", "static", "base")]
            return net(*args).numpy()
else:
    if ort_path:
        sys.path.append(ort_path)
    from crypto_mlops.models.onnx_export import OnnxNet
    net = OnnxNet(f"{folder}/net.onnx", threads=1)
    def forward(i):
        return net(data["seq"][i : i + 1], data["static"][i : i + 1], data["base"][i : i + 1])
loaded = proc.memory_info().rss
outs = [forward(i % len(data["base"]))[0] for i in range(50)]  # warm-up, and the values to compare
times = []
for i in range(calls):
    t0 = time.perf_counter()
    forward(i % len(data["base"]))
    times.append((time.perf_counter() - t0) * 1000)
times.sort()
print(json.dumps({
    "engine": engine,
    "rss_before_mb": round(before / 2**20, 1),
    "rss_loaded_mb": round(loaded / 2**20, 1),
    "rss_after_calls_mb": round(proc.memory_info().rss / 2**20, 1),
    "p50_ms": round(times[len(times) // 2], 3),
    "p99_ms": round(times[int(0.99 * len(times))], 3),
    "heavy_modules": sorted({m.split(".")[0] for m in sys.modules} & {"torch", "onnxruntime", "mlflow", "pandas"}),
    "outputs": [float(x) for x in outs[:50]],
}))
"""


def prepare(folder: Path) -> dict[str, Any]:
    import torch
    from torch import nn

    from crypto_mlops.models.bilstm import BiLSTMNet
    from crypto_mlops.models.onnx_export import export_net

    c = BiLSTMConfig()
    torch.manual_seed(0)
    net = BiLSTMNet(N_SEQ, N_STATIC, c.hidden, c.layers, c.head_hidden, c.dropout)
    nn.init.normal_(net.head[-1].weight, std=0.1)  # the real head starts at zero; give it something to say
    net.eval()
    torch.save(net.state_dict(), folder / "weights.pt")
    config = {"n_seq": N_SEQ, "n_static": N_STATIC, "hidden": c.hidden, "layers": c.layers}
    config |= {"head_hidden": c.head_hidden, "dropout": c.dropout, "window": c.window}
    (folder / "config.json").write_text(json.dumps(config))
    export_net(net, c.window, N_SEQ, N_STATIC, folder / "net.onnx")
    rng = np.random.default_rng(0)
    np.savez(
        folder / "inputs.npz",
        seq=rng.standard_normal((64, c.window, N_SEQ)).astype(np.float32),
        static=rng.standard_normal((64, N_STATIC)).astype(np.float32),
        base=rng.standard_normal(64).astype(np.float32),
    )
    return {"config": config, "onnx_bytes": (folder / "net.onnx").stat().st_size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--ort-path", default="", help="folder with onnxruntime installed (pip --target)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.ort_path:  # the exporter needs `onnx`; appended, so the environment's own packages come first
        sys.path.append(args.ort_path)
    folder = Path(tempfile.mkdtemp(prefix="onnx-footprint-"))
    result: dict[str, Any] = prepare(folder)
    for engine in ("torch", "onnxruntime"):
        out = subprocess.run(
            [sys.executable, "-c", ENGINE, engine, str(folder), str(args.calls), args.ort_path],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if out.returncode != 0:
            raise SystemExit(f"{engine} failed:\n{out.stderr[-3000:]}")
        result[engine] = json.loads(out.stdout.strip().splitlines()[-1])
    a, b = (np.array(result[e].pop("outputs")) for e in ("torch", "onnxruntime"))
    result["max_abs_diff"] = float(np.max(np.abs(a - b)))
    text = json.dumps(result, indent=2)
    print(text)
    if args.json is not None:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
