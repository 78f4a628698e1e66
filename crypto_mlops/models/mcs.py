"""Model Confidence Set (Hansen, Lunde & Nason 2011) over per-origin losses, via `arch.bootstrap.MCS`."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

MCS_SIZE = 0.10
MCS_REPS = 1000


def model_confidence_set(
    losses: dict[str, np.ndarray], size: float = MCS_SIZE, block_size: int = 24, reps: int = MCS_REPS, seed: int = 0
) -> dict[str, Any]:
    """The models kept at level `size`, with each model's MCS p-value (stationary bootstrap, range statistic).

    `block_size` should cover the overlap of the forecast windows (the 24-bar horizon), since losses at
    neighbouring origins share most of their realized window.
    """
    from arch.bootstrap import MCS

    names = list(losses)
    if len(names) < 2:
        return {"size": size, "included": names, "pvalues": dict.fromkeys(names, 1.0), "block_size": block_size}
    frame = pd.DataFrame({n: np.asarray(v, float) for n, v in losses.items()})
    mcs = MCS(frame, size=size, reps=reps, block_size=block_size, method="R", seed=seed)
    mcs.compute()
    pvalues = {str(k): float(v) for k, v in mcs.pvalues["Pvalue"].items()}
    return {
        "size": size,
        "loss": "qlike",
        "statistic": "R",
        "bootstrap": "stationary",
        "block_size": block_size,
        "reps": reps,
        "included": [n for n in names if n in set(mcs.included)],
        "pvalues": {n: pvalues[n] for n in names},
    }
