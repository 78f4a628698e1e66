"""Benchmark: candidate confidence estimators on the validation walk-forward only (2018-07..2019-12).

    .venv/bin/python bench/reliability_candidates.py [--cache DIR] [--only A_baseline,I_hl_2880] [--out FILE]

Runs the weekly expanding walk-forward started 2018-06-27 once per pair (BTC, ETH; `har_xsq`, `har_x`),
keeps each model's forecasts and the first fit's training-tail seed (cached as pickles in --cache), then
re-states the confidence with every candidate, re-fitted at every refit from the errors known then, as
`confidence.block_confidence` does. It scores origins up to 2019-12-31 only: nothing here reads 2020+.

Rule, fixed before any candidate was scored (docs/confidence.md):
- eligible: mean Brier at most the first-round estimator's (A_baseline) + 0.001, and stated std >= 0.01
  in each of the 4 tables (the confidence stays non-constant);
- rank: fewest judged 0.05-bin misses (>= 200 origins, |gap| > 5 points) over the 4 tables; ties:
  fewest quintile-bin misses, then the lowest mean ECE.
Candidates came in rounds, each added after the previous round's validation results (the letters give
the order); the rule applies to all of them. The pick is then run once on 2020+ by bench/reliability.py.
"""

from __future__ import annotations

import argparse
import itertools
import json
import pickle
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crypto_mlops.data.sources.csv_source import load_csv
from crypto_mlops.models import confidence as C
from crypto_mlops.models import walkforward
from crypto_mlops.models.backtest import prepare
from crypto_mlops.models.bilstm_config import BiLSTMConfig
from crypto_mlops.models.quantiles import CAL_ORIGINS, MIN_CAL
from crypto_mlops.models.reliability import reliability_table

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PAIRS = ("BTCUSDT", "ETHUSDT")
MODELS = ("har_xsq", "har_x")
START, END = "2018-06-27", "2019-12-31"
HL60 = 1440.0  # the first round's half-life (60 days), pinned here: the module's constant may move
UNIFORM = 1e12  # a half-life so long that the weights are flat


@dataclass
class Case:
    """One model's validation walk-forward: what block_confidence saw, plus the seed's volatility ratios."""

    features: pd.DataFrame
    realized: np.ndarray
    forecast: np.ndarray
    blocks: list[tuple[int, int]]
    horizon: int
    seed: C.Sample
    seed_v: np.ndarray  # (len(seed), 2): log(rv168 / rv720), log(rv24 / rv720) of the seed's origins

    def known(self, p: int) -> np.ndarray:
        m = np.zeros(len(self.forecast), dtype=bool)
        first = self.blocks[0][0]
        m[first : max(first, p - self.horizon)] = True
        return m

    def pool(self, p: int, k: int = CAL_ORIGINS) -> C.Sample:
        """The latest k known origins, topped up with the seed while fewer than MIN_CAL are known."""
        known = C.Sample.of(self.features, self.realized, self.forecast, self.known(p)).last(k)
        return known if len(known) >= MIN_CAL else self.seed.last(k - len(known)).then(known)


Candidate = Callable[[Case], np.ndarray]


def vol_ratios(features: pd.DataFrame) -> np.ndarray:
    month = features["rv720"].to_numpy(float)
    cols = [np.log(np.maximum(features[c].to_numpy(float), 1e-12) / month) for c in ("rv168", "rv24")]
    return np.clip(np.column_stack(cols), -4.0, 4.0)


def build_cache(symbol: str, cache: Path) -> dict[str, Case]:
    """Run the validation walk-forward once, recording block_confidence's inputs and the seed's rows."""
    path = cache / f"{symbol}_{START}.pkl"
    if path.exists():
        cases: dict[str, Case] = pickle.loads(path.read_bytes())
        return cases
    names = iter(walkforward.contenders(list(MODELS)))
    seen: dict[str, dict[str, Any]] = {}
    original_block, original_tail = C.block_confidence, walkforward.tail_seeds

    def tail_spy(predict: Any, features: pd.DataFrame, realized: np.ndarray, mask: np.ndarray) -> Any:
        errors, seed = original_tail(predict, features, realized, mask)
        tail = np.zeros(len(mask), dtype=bool)
        tail[np.flatnonzero(mask)[-CAL_ORIGINS:]] = True
        fc = predict(features, tail).to_numpy()
        y, z, h = realized, C.surprise(features, fc), C.hits(realized, fc)
        ok = tail & np.isfinite(h) & np.isfinite(z) & (y > 0)
        seen["seed_v"] = vol_ratios(features)[ok]
        return errors, seed

    def block_spy(features: pd.DataFrame, realized: np.ndarray, forecast: np.ndarray, *args: Any, **kw: Any) -> Any:
        seen[next(names)] = {"realized": realized, "forecast": forecast, "args": args, "seed_v": seen["seed_v"]}
        return original_block(features, realized, forecast, *args, **kw)

    market = load_csv(DATA / f"Binance_{symbol}_1h.csv")
    prepared = prepare(market.frame, market.timeframe)
    C.block_confidence, walkforward.tail_seeds = block_spy, tail_spy  # type: ignore[assignment]
    try:
        config = walkforward.WalkForwardConfig(start=pd.Timestamp(START), mcs_reps=100, progress=False)
        walkforward.run_walk_forward(prepared, config, list(MODELS), BiLSTMConfig())
    finally:
        C.block_confidence, walkforward.tail_seeds = original_block, original_tail  # type: ignore[assignment]
    cases = {}
    for name in MODELS:
        s = seen[name]
        blocks, horizon, seed = s["args"]
        cases[name] = Case(prepared.features, s["realized"], s["forecast"], blocks, horizon, seed, s["seed_v"])
    cache.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(cases))
    return cases


# --- stage 1: surprise bins as in confidence.py, with knobs ---------------------------------------------


def bins(half_life: float = HL60, n_bins: int = C.N_BINS, k: int = CAL_ORIGINS) -> Candidate:
    def run(case: Case) -> np.ndarray:
        old = C.N_BINS
        C.N_BINS = n_bins
        try:
            return C.block_confidence(
                case.features, case.realized, case.forecast, case.blocks, case.horizon, case.seed, k, half_life
            )
        finally:
            C.N_BINS = old

    return run


def per_block(
    state: Callable[[Case, int, int, C.ConfidenceModel, C.Sample], np.ndarray], n_bins: int = C.N_BINS
) -> Candidate:
    """At each refit: the first round's model on the pool, then `state` turns it into the block's values."""

    def run(case: Case) -> np.ndarray:
        out = np.full(len(case.forecast), np.nan)
        old = C.N_BINS
        C.N_BINS = n_bins
        try:
            for p, q in case.blocks:
                pool = case.pool(p)
                out[p:q] = np.clip(state(case, p, q, C.ConfidenceModel.from_sample(pool, HL60), pool), 0.0, 1.0)
        finally:
            C.N_BINS = old
        return out

    return run


def level_blend(lam: float) -> Candidate:
    """Level = the pool's plain hit rate + lam * (recency-weighted rate - plain rate); profile as fitted."""

    def state(case: Case, p: int, q: int, cm: C.ConfidenceModel, pool: C.Sample) -> np.ndarray:
        flat = float(pool.hit.mean())
        s: np.ndarray = cm.score(case.features.iloc[p:q], case.forecast[p:q]) - cm.overall
        return s + flat + lam * (cm.overall - flat)

    return per_block(state)


def spread(lam: float, n_bins: int = C.N_BINS) -> Candidate:
    """Stated values pulled towards the pool's plain hit rate by a fixed factor."""

    def state(case: Case, p: int, q: int, cm: C.ConfidenceModel, pool: C.Sample) -> np.ndarray:
        flat = float(pool.hit.mean())
        s: np.ndarray = flat + lam * (cm.score(case.features.iloc[p:q], case.forecast[p:q]) - flat)
        return s

    return per_block(state, n_bins)


def long_level(k: int, lam: float = 1.0) -> Candidate:
    """Level from the latest k known origins (seeded), the surprise profile from the 180-day pool."""

    def state(case: Case, p: int, q: int, cm: C.ConfidenceModel, pool: C.Sample) -> np.ndarray:
        known = C.Sample.of(case.features, case.realized, case.forecast, case.known(p)).last(k)
        longer = known if len(known) >= k else case.seed.last(k - len(known)).then(known)
        s: np.ndarray = cm.score(case.features.iloc[p:q], case.forecast[p:q]) - cm.overall
        return float(longer.hit.mean()) + lam * s

    return per_block(state)


def shape_slow(k: int = 8760) -> Candidate:
    """Bin profile on a long unweighted window (seeded); level from the recent recency-weighted pool."""

    def state(case: Case, p: int, q: int, cm: C.ConfidenceModel, pool: C.Sample) -> np.ndarray:
        known = C.Sample.of(case.features, case.realized, case.forecast, case.known(p)).last(k)
        longer = known if len(known) >= k else case.seed.last(k - len(known)).then(known)
        shape = C.ConfidenceModel.from_sample(longer, None)
        z = C.surprise(case.features.iloc[p:q], case.forecast[p:q])
        rates = np.array(shape.rates) - shape.overall + cm.overall
        s: np.ndarray = np.where(np.isfinite(z), np.interp(z, shape.centers, rates), cm.overall)
        return s

    return per_block(state)


# --- a logistic stage 1 on surprise and volatility ratios ------------------------------------------------


def fit_logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray, ridge: float) -> np.ndarray:
    """Weighted ridge logistic by Newton steps (intercept unpenalized); an origin counts 1/24."""
    penalty = ridge * np.eye(x.shape[1])
    penalty[0, 0] = 0.0
    w = w / 24.0
    beta = np.zeros(x.shape[1])
    for _ in range(25):
        pz = 1.0 / (1.0 + np.exp(-(x @ beta)))
        hess = (x * (w * pz * (1 - pz))[:, None]).T @ x + penalty
        beta = beta + np.linalg.solve(hess, x.T @ (w * (y - pz)) - penalty @ beta)
    return beta


def logistic(hl: float = HL60, ridge: float = 24.0, vol: bool = True) -> Candidate:
    """hit ~ 1, z, z², log(rv168/rv720), log(rv24/rv720) over the 180-day pool (seed rows included)."""

    def design(z: np.ndarray, v: np.ndarray) -> np.ndarray:
        return np.column_stack([np.ones(len(z)), z, z**2, v if vol else np.zeros_like(v)])

    def run(case: Case) -> np.ndarray:
        z_all = C.surprise(case.features, case.forecast)
        x_all = design(np.nan_to_num(z_all), vol_ratios(case.features))
        hit = C.hits(case.realized, case.forecast)
        out = np.full(len(case.forecast), np.nan)
        for p, q in case.blocks:
            rows = np.flatnonzero(case.known(p))
            rows = rows[np.isfinite(hit[rows]) & np.isfinite(z_all[rows])][-CAL_ORIGINS:]
            x, y = x_all[rows], hit[rows]
            if len(rows) < MIN_CAL:
                k = CAL_ORIGINS - len(rows)
                x = np.r_[design(case.seed.z[-k:], case.seed_v[-k:]), x]
                y = np.r_[case.seed.hit[-k:], y]
            beta = fit_logistic(x, y, C.recency_weights(len(y), hl), ridge)
            out[p:q] = 1.0 / (1.0 + np.exp(-(x_all[p:q] @ beta)))
        return out

    return run


# --- stage 2: a map from stated to observed, fitted on the walk-forward's own earlier blocks -------------


def platt(s: np.ndarray, y: np.ndarray, w: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    def logit(v: np.ndarray) -> np.ndarray:
        v = np.clip(v, 1e-4, 1 - 1e-4)
        out: np.ndarray = np.log(v / (1 - v))
        return out

    x = np.column_stack([np.ones(len(s)), logit(s)])
    beta, prior, ridge = np.array([0.0, 1.0]), np.array([0.0, 1.0]), 1.0  # ridge towards the identity
    for _ in range(30):
        pz = 1 / (1 + np.exp(-(x @ beta)))
        hess = (x * (w / 24 * pz * (1 - pz))[:, None]).T @ x + ridge * np.eye(2)
        beta = beta + np.linalg.solve(hess, x.T @ (w / 24 * (y - pz)) - ridge * (beta - prior))
    return lambda v: 1 / (1 + np.exp(-(beta[0] + beta[1] * logit(v))))


def binned_isotonic(s: np.ndarray, y: np.ndarray, w: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """5 quantile bins of past stated, each shrunk to its mean stated (720 pseudo-origins), made monotone."""
    edges = np.unique(np.quantile(s, np.linspace(0, 1, 6)))
    centers, rates, weights = [], [], []
    for lo, hi in itertools.pairwise(edges):
        sel = (s >= lo) & (s <= hi)
        mean = float(np.average(s[sel], weights=w[sel]))
        centers.append(mean)
        rates.append(float((w[sel] @ y[sel] + C.SHRINK * mean) / (w[sel].sum() + C.SHRINK)))
        weights.append(float(w[sel].sum()))
    merged: list[list[float]] = []  # pool adjacent violators: [rate, weight, count]
    for r, wt in zip(rates, weights, strict=True):
        merged.append([r, wt, 1])
        while len(merged) > 1 and merged[-2][0] > merged[-1][0]:
            b, a = merged.pop(), merged.pop()
            merged.append([(a[0] * a[1] + b[0] * b[1]) / (a[1] + b[1]), a[1] + b[1], a[2] + b[2]])
    mono = np.repeat([m[0] for m in merged], [int(m[2]) for m in merged])
    return lambda v: np.interp(v, centers, mono)


def level_fix(s: np.ndarray, y: np.ndarray, w: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    shift = float(np.average(y - s, weights=w))
    return lambda v: v + shift


def second_stage(
    stage1: Candidate, fit: Callable[..., Callable[[np.ndarray], np.ndarray]], hl: float = HL60
) -> Candidate:
    """Stage 1, then a map fitted at each refit on its own earlier stated values whose outcome is known."""

    def run(case: Case) -> np.ndarray:
        s1 = stage1(case)
        hit = C.hits(case.realized, case.forecast)
        out = s1.copy()
        for p, q in case.blocks:
            m = case.known(p) & np.isfinite(s1) & np.isfinite(hit)
            s, y = s1[m][-CAL_ORIGINS:], hit[m][-CAL_ORIGINS:]
            if len(s) >= 720:  # 30 days of out-of-sample stated values before the map starts
                out[p:q] = np.clip(fit(s, y, C.recency_weights(len(s), hl))(s1[p:q]), 0.0, 1.0)
        return out

    return run


CANDIDATES: dict[str, Candidate] = {
    # round 1
    "A_baseline": bins(),
    "B_platt": second_stage(bins(), platt),
    "C_binned_isotonic": second_stage(bins(), binned_isotonic),
    "D_shape_slow": shape_slow(),
    "E_3bins": bins(n_bins=3),
    "F_level_fix": second_stage(bins(), level_fix, hl=720.0),
    "G_shape_slow_platt": second_stage(shape_slow(), platt),
    "H_logistic_vol": logistic(),
    # round 2: slower levels
    "I_hl_2880": bins(half_life=2880.0),
    "J_hl_uniform": bins(half_life=UNIFORM),
    "K_blend_0.5": level_blend(0.5),
    "L_blend_0": level_blend(0.0),
    "M_logistic_vol_uniform": logistic(hl=UNIFORM),
    # round 3: less spread
    "N_spread_0.75": spread(0.75),
    "O_spread_0.5": spread(0.5),
    "P_spread_0.25": spread(0.25),
    "Q_3bins_spread_0.5": spread(0.5, n_bins=3),
    # round 4: the level from a longer window
    "R_level_1y": long_level(8760),
    "S_level_1y_half": long_level(8760, 0.5),
    "T_level_2y": long_level(17520),
    "U_pool_1y_uniform": bins(half_life=UNIFORM, k=8760),
    # round 5: the logistic's ridge and inputs
    "W_logistic_ridge240": logistic(hl=UNIFORM, ridge=240.0),
    "X_logistic_ridge2400": logistic(hl=UNIFORM, ridge=2400.0),
    "Y_logistic_no_vol": logistic(hl=UNIFORM, vol=False),
    "Z_logistic_hl1440_ridge240": logistic(ridge=240.0),
}


def score(stated: np.ndarray, case: Case, rows: np.ndarray) -> dict[str, Any]:
    s, h = stated[rows], C.hits(case.realized[rows], case.forecast[rows])
    width, quint = reliability_table(s, h), reliability_table(s, h, binning="quantile", n_bins=5)
    return {
        "misses": len(width.misses),
        "judged": sum(b.judged for b in width.bins),
        "quintile_misses": len(quint.misses),
        "ece_pts": width.ece_pts,
        "brier": width.brier,
        "std": float(np.std(s)),
        "gaps": [(b.count, round(b.gap_pts, 1)) for b in width.bins],
    }


def pick(results: dict[str, dict[str, Any]]) -> str:
    """The rule in the docstring."""
    base = results["A_baseline"]["brier"]
    eligible = [c for c, r in results.items() if r["brier"] <= base + 0.001 and r["min_std"] >= 0.01]
    return min(eligible, key=lambda c: (results[c]["misses"], results[c]["quintile_misses"], results[c]["ece_pts"]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "reliability_candidates")
    ap.add_argument("--only", default=None, help="comma-separated candidate names (default: all)")
    here = Path(__file__).resolve().parent
    ap.add_argument("--out", type=Path, default=here / "results" / "reliability_candidates_validation.json")
    args = ap.parse_args()
    names = args.only.split(",") if args.only else list(CANDIDATES)
    tables: dict[str, dict[str, Any]] = {c: {} for c in names}
    for symbol in PAIRS:
        cases = build_cache(symbol, args.cache)
        for model, case in cases.items():
            index = pd.DatetimeIndex(case.features.index)
            rows = np.flatnonzero(
                np.isfinite(case.forecast) & (index <= pd.Timestamp(END, tz="UTC") + pd.Timedelta(hours=23))
            )
            rows = rows[rows >= case.blocks[0][0]]
            for c in names:
                tables[c][f"{symbol} {model}"] = score(CANDIDATES[c](case), case, rows)
    results = {}
    for c, per in tables.items():
        t = list(per.values())
        results[c] = {
            "misses": sum(x["misses"] for x in t),
            "judged": sum(x["judged"] for x in t),
            "quintile_misses": sum(x["quintile_misses"] for x in t),
            "ece_pts": float(np.mean([x["ece_pts"] for x in t])),
            "brier": float(np.mean([x["brier"] for x in t])),
            "min_std": min(x["std"] for x in t),
            "tables": per,
        }
        r = results[c]
        print(
            f"{c:28s} misses {r['misses']:2d}/{r['judged']:2d}  quintile misses {r['quintile_misses']:2d}  "
            f"ECE {r['ece_pts']:.2f}  Brier {r['brier']:.4f}  min std {r['min_std']:.3f}"
        )
    chosen = pick(results) if "A_baseline" in results else None
    print(f"pick by the rule: {chosen}")
    report = {"period": {"walk_forward_start": START, "scored_until": END}, "pick": chosen, "candidates": results}
    args.out.write_text(json.dumps(report, indent=1))
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
