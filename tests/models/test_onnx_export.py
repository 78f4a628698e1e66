"""The BiLSTM's network exported to ONNX gives torch's numbers under ONNX Runtime (when both are installed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest


def test_importing_the_exporter_loads_no_engine() -> None:
    code = "import json, sys; import crypto_mlops.models.onnx_export; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert not {"torch", "onnxruntime", "onnx"} & set(json.loads(out.stdout))


def test_round_trip_matches_torch(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from crypto_mlops.models.bilstm import BiLSTMNet
    from crypto_mlops.models.onnx_export import OnnxNet, export_net

    torch.manual_seed(0)
    net = BiLSTMNet(5, 7, hidden=8, layers=1, head_hidden=8, dropout=0.0)
    torch.nn.init.normal_(net.head[-1].weight, std=0.1)
    path = export_net(net, window=24, n_seq=5, n_static=7, path=tmp_path / "net.onnx")
    rng = np.random.default_rng(1)
    seq, static, base = (rng.standard_normal(shape).astype(np.float32) for shape in ((3, 24, 5), (3, 7), (3,)))
    with torch.inference_mode():
        expected = net(torch.from_numpy(seq), torch.from_numpy(static), torch.from_numpy(base)).numpy()
    np.testing.assert_allclose(OnnxNet(path)(seq, static, base), expected, atol=1e-5)  # any batch size
