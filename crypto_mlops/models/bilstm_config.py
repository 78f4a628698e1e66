"""The BiLSTM's hyper-parameters, importable without torch (CLI options, pipeline settings, backtest)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class BiLSTMConfig:
    # network
    window: int = 168  # bars of history per origin (a week of hours)
    hidden: int = 24  # LSTM units per direction
    layers: int = 1
    head_hidden: int = 32  # units of the head over [last states, mean output, static inputs]
    dropout: float = 0.2
    # optimisation
    epochs: int = 25
    patience: int = 4  # epochs without a better validation loss before stopping
    batch_size: int = 256
    lr: float = 2e-3
    weight_decay: float = 1e-4
    val_frac: float = 0.15  # tail of the training origins used for early stopping and the correction
    train_stride: int = 2  # every other origin: neighbours share 167 of 168 bars
    loss: str = "mse_log"  # or "qlike"
    correction: str = "lognormal"  # or "empirical" (see the module docstring)
    # linear base the net corrects: "har_x", or "har_xsq" (semivariances + quarticity, which then also
    # enter the static branch)
    base: str = "har_x"
    # pooled training only: size of a learned per-pair embedding fed to the head (0: none)
    pair_embedding: int = 0
    # walk-forward warm start: fine-tune the previous fit for a few epochs on the latest origins
    finetune_epochs: int = 2
    finetune_hours: int = 2160  # training origins before the validation tail used to fine-tune (90 days)
    # run
    seed: int = 42
    device: str = "auto"  # cuda when available
    max_train_seconds: float | None = None
    # torch intra-op CPU threads while training (0: torch's default, one per core). What keeps training
    # from collapsing under load is OMP_WAIT_POLICY=PASSIVE, which the BiLSTM module sets before torch
    # loads; measured in docs/model.md, "Training under load".
    threads: int = 0
    progress: bool = True

    @classmethod
    def tiny(cls) -> BiLSTMConfig:
        """For tests: seconds on a CPU."""
        return cls(
            window=24, hidden=8, head_hidden=8, epochs=2, patience=1, batch_size=128, train_stride=6, progress=False
        )
