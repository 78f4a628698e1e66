"""The BiLSTM's network as ONNX, run by ONNX Runtime: inference without torch.

`export_net` writes the fitted `BiLSTMNet` (inputs: the scaled sequence, the static inputs and the
HAR-X base, batch size free) to one `.onnx` file with torch's TorchScript exporter; `OnnxNet` runs
that file with onnxruntime and numpy only. bench/onnx_footprint.py measures both engines (resident
memory of a serving-like process, latency, agreement).

Not wired into registration or serving yet: the BiLSTM still builds its inputs with torch tensors
(`BiLSTMModel._sequences`), so a torch-free predictor also needs those few lines in numpy.
Importing this module imports neither torch nor onnxruntime.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from torch import nn

INPUTS = ("seq", "static", "base")
OUTPUT = "log_var_rel"
OPSET = 17


def export_net(net: nn.Module, window: int, n_seq: int, n_static: int, path: Path) -> Path:
    """Write `net` (a BiLSTMNet in eval mode) to `path` as ONNX; the batch dimension stays free."""
    import torch

    net.eval()
    example = (torch.zeros(1, window, n_seq), torch.zeros(1, n_static), torch.zeros(1))
    batch = {0: "batch"}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        net,
        example,
        str(path),
        input_names=list(INPUTS),
        output_names=[OUTPUT],
        dynamic_axes={"seq": batch, "static": batch, "base": batch, OUTPUT: batch},
        opset_version=OPSET,
        dynamo=False,  # one self-contained file; the dynamo exporter needs onnxscript and writes two
    )
    return path


class OnnxNet:
    """The exported network under ONNX Runtime: float32 arrays in, the log-variance correction out."""

    def __init__(self, path: Path, threads: int = 1) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session: Any = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(self, seq: np.ndarray, static: np.ndarray, base: np.ndarray) -> np.ndarray:
        arrays = (seq, static, base)
        feeds = {name: np.ascontiguousarray(a, dtype=np.float32) for name, a in zip(INPUTS, arrays, strict=True)}
        out: np.ndarray = self.session.run([OUTPUT], feeds)[0]
        return out
