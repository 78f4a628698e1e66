"""Reliability of a stated probability: does a forecast stated at 40 % hit 40 % of the time?

Origins are grouped by their stated confidence (fixed-width bins by default, or equal-count bins);
each bin reports how many origins it holds, their mean stated probability, the observed hit rate and
the gap in percentage points. The summary gives the count-weighted mean absolute gap (ECE), the
largest gap among bins with enough origins (MCE) and the Brier score. Hourly origins with a 24 h
target overlap, so neighbouring hits are far from independent: `se_pts` is an approximate standard
error that counts one independent draw per `overlap` origins.

`chance_within` puts the tolerance in proportion: the probability that a bin of the same size and
stated rate lands within it by chance when the stated rate is exactly right (same approximate
standard error). Summed over the judged bins it is how many of them a perfectly calibrated forecaster
would keep within the tolerance, on average; hits that cluster over longer spans lower it further.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

TOLERANCE_PTS = 5.0  # the acceptance's "within 5 points per bin"
MIN_COUNT = 200  # bins with fewer origins are shown but not judged (about 8 independent days)
WIDTH = 0.05


@dataclass(frozen=True)
class ReliabilityBin:
    lo: float
    hi: float
    count: int
    stated: float  # mean stated probability in the bin
    observed: float  # hit rate in the bin
    gap_pts: float  # (observed - stated) in percentage points: > 0 means under-confident
    se_pts: float  # approximate standard error of `observed`, points
    chance_within: float = 1.0  # P(|gap| <= tolerance) for a perfectly calibrated bin of this size

    @property
    def judged(self) -> bool:
        return self.count >= MIN_COUNT


@dataclass(frozen=True)
class Reliability:
    bins: list[ReliabilityBin]
    n: int
    stated: float
    observed: float
    ece_pts: float  # count-weighted mean |gap| over all bins
    mce_pts: float  # max |gap| over judged bins
    brier: float
    tolerance_pts: float
    min_count: int

    @property
    def misses(self) -> list[ReliabilityBin]:
        """Judged bins whose gap exceeds the tolerance."""
        return [b for b in self.bins if b.count >= self.min_count and abs(b.gap_pts) > self.tolerance_pts]

    @property
    def within(self) -> bool:
        return not self.misses

    @property
    def expected_within(self) -> float:
        """Judged bins a perfectly calibrated forecaster would keep within the tolerance, on average."""
        return float(sum(b.chance_within for b in self.bins if b.count >= self.min_count))

    @property
    def chance_all_within(self) -> float:
        """Probability that every judged bin of a perfectly calibrated forecaster is within (bins independent)."""
        return float(math.prod(b.chance_within for b in self.bins if b.count >= self.min_count))

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "stated": self.stated,
            "observed": self.observed,
            "ece_pts": self.ece_pts,
            "mce_pts": self.mce_pts,
            "brier": self.brier,
            "tolerance_pts": self.tolerance_pts,
            "min_count": self.min_count,
            "within": self.within,
            "judged_within": sum(b.count >= self.min_count for b in self.bins) - len(self.misses),
            "expected_within": self.expected_within,
            "chance_all_within": self.chance_all_within,
            "bins": [asdict(b) for b in self.bins],
        }

    def lines(self) -> list[str]:
        """The table as text, one bin a line."""
        out = [f"{'bin':>11s} {'count':>6s} {'stated':>7s} {'observed':>8s} {'gap pts':>8s} {'±se':>5s}"]
        for b in self.bins:
            flag = "" if b.count < self.min_count else (" ok" if abs(b.gap_pts) <= self.tolerance_pts else " MISS")
            out.append(
                f"{b.lo:5.2f}-{b.hi:4.2f} {b.count:6d} {b.stated:7.3f} {b.observed:8.3f} {b.gap_pts:+8.1f} "
                f"{b.se_pts:5.1f}{flag}"
            )
        out.append(
            f"all {self.n} origins: stated {self.stated:.3f}, observed {self.observed:.3f}, "
            f"ECE {self.ece_pts:.1f} pts, MCE {self.mce_pts:.1f} pts, Brier {self.brier:.4f}"
        )
        judged = sum(b.count >= self.min_count for b in self.bins)
        out.append(
            f"judged bins within {self.tolerance_pts:.0f} pts: {judged - len(self.misses)} of {judged} "
            f"(a perfectly calibrated forecaster: {self.expected_within:.1f} on average, "
            f"all of them with probability {self.chance_all_within:.2f})"
        )
        return out


def bin_edges(stated: np.ndarray, binning: Literal["width", "quantile"], n_bins: int, width: float) -> np.ndarray:
    if binning == "width":
        return np.linspace(0.0, 1.0, round(1 / width) + 1)
    edges = np.unique(np.quantile(stated, np.linspace(0, 1, n_bins + 1)))
    edges[0], edges[-1] = 0.0, 1.0
    return edges


def reliability_table(
    stated: np.ndarray,
    hits: np.ndarray,
    *,
    binning: Literal["width", "quantile"] = "width",
    n_bins: int = 10,
    width: float = WIDTH,
    min_count: int = MIN_COUNT,
    tolerance_pts: float = TOLERANCE_PTS,
    overlap: int = 24,
) -> Reliability:
    """Reliability of `stated` probabilities against 0/1 `hits` (NaN pairs are dropped)."""
    p = np.asarray(stated, float)
    y = np.asarray(hits, float)
    if p.shape != y.shape:
        raise ValueError(f"stated and hits differ in shape: {p.shape} vs {y.shape}")
    ok = np.isfinite(p) & np.isfinite(y)
    p, y = p[ok], y[ok]
    if len(p) == 0:
        raise ValueError("no origin with both a stated confidence and a known outcome")
    if np.any((p < 0) | (p > 1)) or np.any((y != 0) & (y != 1)):
        raise ValueError("stated must lie in [0, 1] and hits be 0 or 1")
    edges = bin_edges(p, binning, n_bins, width)
    which = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, len(edges) - 2)
    bins = []
    for k, (lo, hi) in enumerate(itertools.pairwise(edges)):
        sel = which == k
        count = int(sel.sum())
        if count == 0:
            continue
        s, o = float(p[sel].mean()), float(y[sel].mean())
        effective = max(1.0, count / max(overlap, 1))
        se = 100 * float(np.sqrt(max(o * (1 - o), 1e-12) / effective))
        se_true = 100 * float(np.sqrt(max(s * (1 - s), 1e-12) / effective))  # were `s` the true rate
        chance = math.erf(tolerance_pts / (se_true * math.sqrt(2)))
        bins.append(ReliabilityBin(float(lo), float(hi), count, s, o, 100 * (o - s), se, chance))
    gaps = np.array([abs(b.gap_pts) for b in bins])
    counts = np.array([b.count for b in bins])
    judged = [abs(b.gap_pts) for b in bins if b.count >= min_count]
    return Reliability(
        bins=bins,
        n=len(p),
        stated=float(p.mean()),
        observed=float(y.mean()),
        ece_pts=float((gaps * counts).sum() / counts.sum()),
        mce_pts=float(max(judged)) if judged else float("nan"),
        brier=float(np.mean((p - y) ** 2)),
        tolerance_pts=tolerance_pts,
        min_count=min_count,
    )
