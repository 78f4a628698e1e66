"""First start: make sure the registry has a champion, in seconds, before any long training.

When `champion` is missing, the baselines (naive, EWMA, GARCH, HAR, calendar HAR) are fitted and
backtested on recent candles and the best one is registered and promoted through the same gate
(with no champion it only has to be the best baseline). The learned model is trained later by the
background `pipeline run` and replaces it only if it wins the gate.
"""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console

from crypto_mlops.config import PipelineSettings, Settings, get_settings
from crypto_mlops.data import load_market_data
from crypto_mlops.models.registry import current_champion

BOOTSTRAP_BARS = 24 * 365  # a year of hourly candles: enough for HAR's monthly term, fast to fit


def ensure_champion(
    source: str | None = None, settings: Settings | None = None, console: Console | None = None
) -> dict[str, Any]:
    """Return what was done: the existing champion, or the baseline registered as champion."""
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

    from crypto_mlops.models.training import train_and_register
    from crypto_mlops.models.zoo import BASELINES

    source = source or PipelineSettings().source or settings.data_source
    with console.status(f"no champion yet: loading candles ({source})..."):
        data = load_market_data(
            source, settings.default_symbol, settings.default_timeframe, limit=BOOTSTRAP_BARS, settings=settings
        )
    with console.status("fitting the baselines and registering the best one...") as status:
        result = train_and_register(
            data,
            settings,
            candidate="har",
            models=list(BASELINES),
            on_step=lambda step: status.update(f"bootstrap: {step}"),
        )
    decision = result.baseline_decision or result.decision
    return {
        "action": "registered best baseline" if result.champion_after else "no champion (gate refused)",
        "champion_version": result.champion_after,
        "model_type": decision.candidate if decision else "?",
        "reason": decision.reason if decision else "",
        "data": f"{data.source} {data.symbol} {len(data.frame)} candles",
        "seconds": round(time.monotonic() - started, 1),
    }
