"""The BiLSTM's network as ONNX, run by ONNX Runtime: inference without torch.

`export_net` writes the fitted `BiLSTMNet` (inputs: the scaled sequence, the static inputs and the
HAR-X base, plus the pair code when the net has a pair embedding; batch size free) to one `.onnx`
file with torch's TorchScript exporter; `OnnxNet` runs that file with onnxruntime and numpy only.

Wired in: a fitted BiLSTM (and the pooled BiLSTM) saves `net.onnx` beside `weights.pt` whenever the
`onnx` package is installed (`export_if_available`, called by `BiLSTMModel._save_extra`), so a
registered model carries it to MLflow. `crypto_mlops.models.bilstm_onnx` serves such a model with
numpy and onnxruntime only, chosen by `MODEL_ENGINE` (`crypto_mlops.models.engine`).
bench/onnx_footprint.py (the bare nets) and bench/serving_engine.py (a saved model through the
predictor) measure both engines.

Importing this module imports neither torch nor onnxruntime.
"""

from __future__ import annotations

import importlib.util
import logging
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from torch import nn

log = logging.getLogger(__name__)

INPUTS = ("seq", "static", "base")
PAIR_INPUT = "pair"  # int64 pair code per row; only in a pooled net with a pair embedding
OUTPUT = "log_var_rel"
OPSET = 17
ONNX_FILE = "net.onnx"  # beside weights.pt in a saved BiLSTM


def export_net(net: nn.Module, window: int, n_seq: int, n_static: int, path: Path) -> Path:
    """Write `net` (a BiLSTMNet) to `path` as ONNX in eval mode; the batch dimension stays free."""
    import torch

    net.eval()
    example: tuple[torch.Tensor, ...] = (torch.zeros(1, window, n_seq), torch.zeros(1, n_static), torch.zeros(1))
    names = list(INPUTS)
    if getattr(net, "embed", None) is not None:
        example = (*example, torch.zeros(1, dtype=torch.long))
        names.append(PAIR_INPUT)
    batch = {0: "batch"}
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # The exporter warns about LSTM batch sizes other than 1 (this example has 1) and about traced
        # Python values (the batch size in the pair embedding's broadcast); the tests run other batches.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            net,
            example,
            str(path),
            input_names=names,
            output_names=[OUTPUT],
            dynamic_axes={**{name: batch for name in names}, OUTPUT: batch},
            opset_version=OPSET,
            dynamo=False,  # one self-contained file; the dynamo exporter needs onnxscript and writes two
        )
    return path


def export_if_available(net: nn.Module, window: int, n_seq: int, n_static: int, path: Path) -> Path | None:
    """`export_net` when the `onnx` package is installed; None (and a warning if it failed) otherwise.

    The file is optional (torch serves the model without it), so a failed export does not fail a save.
    """
    if importlib.util.find_spec("onnx") is None:
        return None
    try:
        return export_net(net, window, n_seq, n_static, path)
    except Exception as exc:  # the torch weights are saved; serving falls back to torch
        log.warning("ONNX export of the BiLSTM failed, %s not written: %s: %s", path.name, type(exc).__name__, exc)
        path.unlink(missing_ok=True)
        return None


class OnnxNet:
    """The exported network under ONNX Runtime: float32 arrays in, the log-variance correction out."""

    def __init__(self, path: Path, threads: int = 1) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session: Any = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.takes_pair = PAIR_INPUT in {i.name for i in self.session.get_inputs()}

    def __call__(
        self, seq: np.ndarray, static: np.ndarray, base: np.ndarray, pair: np.ndarray | None = None
    ) -> np.ndarray:
        arrays = (seq, static, base)
        feeds = {name: np.ascontiguousarray(a, dtype=np.float32) for name, a in zip(INPUTS, arrays, strict=True)}
        if self.takes_pair:
            codes = np.full(len(base), -1) if pair is None else pair  # -1: the pairs' mean embedding
            feeds[PAIR_INPUT] = np.ascontiguousarray(codes, dtype=np.int64)
        out: np.ndarray = self.session.run([OUTPUT], feeds)[0]
        return out
