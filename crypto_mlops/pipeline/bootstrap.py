"""First start: make sure the registry has a champion, in seconds, before any long training.

When `champion` is missing, the baselines are fitted and backtested on recent candles and the best
one is registered and promoted through the same gate (with no champion it only has to be the best
baseline). The learned model is trained later by the background `pipeline run` and replaces it
only if it wins the gate.

`quick=True` (the stack, when its background trainer runs) fits only `QUICK_BASELINES`, which take
well under a second, so that the stack serves a gated champion sooner. The trainer's `pipeline run`
then backtests every baseline (GARCH and the HAR variants) beside the learned model, and its deploy
step promotes the best baseline through the same gate when it beats that first champion.
"""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console

from crypto_mlops.config import PipelineSettings, Settings, get_settings
from crypto_mlops.data import load_market_data
from crypto_mlops.models.registry import current_champion

BOOTSTRAP_BARS = 24 * 365  # a year of hourly candles: enough for HAR's monthly term, fast to fit
# Rules and HAR: no optimizer, no extra import (GARCH needs `arch` and a likelihood fit).
QUICK_BASELINES = ("naive", "ewma", "har")


def ensure_champion(
    source: str | None = None,
    settings: Settings | None = None,
    console: Console | None = None,
    quick: bool = False,
) -> dict[str, Any]:
    """Return what was done: the existing champion, or the baseline registered as champion.

    `quick`: compare only `QUICK_BASELINES` (the rest is left to the next `pipeline run`)."""
    settings = settings or get_settings()
    console = console or Console(stderr=True)
    started = time.monotonic()
    champion = current_champion(settings)
    if champion is not None:
        tags = dict(champion.tags or {})
        return {
            "action": "kept",
            "champion_version": str(champion.version),
            "model_type": tags.get("model_type", "?"),
            "seconds": round(time.monotonic() - started, 1),
        }

    from crypto_mlops.models.baselines import BASELINES
    from crypto_mlops.models.training import train_and_register

    source = source or PipelineSettings().source or settings.data_source
    with console.status(f"no champion yet: loading candles ({source})..."):
        data = load_market_data(
            source, settings.default_symbol, settings.default_timeframe, limit=BOOTSTRAP_BARS, settings=settings
        )
    models = list(QUICK_BASELINES) if quick else list(BASELINES)
    with console.status("fitting the baselines and registering the best one...") as status:
        result = train_and_register(
            data,
            settings,
            candidate="har",
            models=models,
            on_step=lambda step: status.update(f"bootstrap: {step}"),
        )
    decision = result.baseline_decision or result.decision
    return {
        "action": "registered best baseline" if result.champion_after else "no champion (gate refused)",
        "champion_version": result.champion_after,
        "model_type": decision.candidate if decision else "?",
        "reason": decision.reason if decision else "",
        "baselines": ", ".join(models) + (" (quick: `pipeline run` compares the rest)" if quick else ""),
        "data": f"{data.source} {data.symbol} {len(data.frame)} candles",
        "seconds": round(time.monotonic() - started, 1),
    }
