"""The BiLSTM's network: a bidirectional LSTM over the sequence, a head over its states and the static inputs.

Its output is added to the linear base forecast (log variance relative to the 30-day level); the last
layer starts at zero, so training starts from the linear model. Pooled training may add a learned
per-pair embedding to the head's input.
"""

from __future__ import annotations

import torch
from torch import nn


class BiLSTMNet(nn.Module):
    def __init__(
        self,
        n_seq: int,
        n_static: int,
        hidden: int,
        layers: int,
        head_hidden: int,
        dropout: float,
        n_pairs: int = 0,
        pair_dim: int = 0,
    ):
        super().__init__()
        # Pooled training: a learned vector per pair joins the head's input (none for one pair).
        self.pair_dim = pair_dim if n_pairs > 0 else 0
        self.embed = nn.Embedding(n_pairs, pair_dim) if self.pair_dim else None
        self.lstm = nn.LSTM(
            n_seq,
            hidden,
            num_layers=layers,
            batch_first=True,
            bidirectional=True,
            dropout=dropout if layers > 1 else 0.0,
        )
        out = nn.Linear(head_hidden, 1)
        # Start exactly at the HAR-X forecast; the net learns a correction.
        nn.init.zeros_(out.weight)
        nn.init.zeros_(out.bias)
        n_in = 4 * hidden + n_static + self.pair_dim
        self.head = nn.Sequential(nn.Linear(n_in, head_hidden), nn.GELU(), nn.Dropout(dropout), out)

    def forward(
        self, seq: torch.Tensor, static: torch.Tensor, base: torch.Tensor, pair: torch.Tensor | None = None
    ) -> torch.Tensor:
        out, (h, _) = self.lstm(seq)
        parts = [h[-2], h[-1], out.mean(dim=1), static]
        if self.embed is not None:
            parts.append(self.pair_vectors(pair, len(seq)))
        z = torch.cat(parts, dim=1)
        log_var_rel: torch.Tensor = base + self.head(z).squeeze(-1)
        return log_var_rel

    def pair_vectors(self, pair: torch.Tensor | None, n: int) -> torch.Tensor:
        """Embedding of each row's pair; a pair unseen in training (code -1) gets the mean embedding."""
        assert self.embed is not None
        weight = self.embed.weight
        if pair is None:
            return weight.mean(0).expand(n, -1)
        known = pair >= 0
        vec = self.embed(pair.clamp_min(0))
        return torch.where(known[:, None], vec, weight.mean(0).expand(n, -1))


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)
