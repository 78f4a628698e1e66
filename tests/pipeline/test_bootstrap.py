"""`pipeline bootstrap`: a first champion, registered and gated, then kept on the next start."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from crypto_mlops.config import get_settings
from crypto_mlops.models.registry import current_champion
from crypto_mlops.pipeline.bootstrap import QUICK_BASELINES, ensure_champion


def test_quick_bootstrap_registers_a_gated_champion_then_keeps_it(workdir: Path) -> None:
    quiet = Console(quiet=True)
    first = ensure_champion(source="synthetic", console=quiet, quick=True)
    assert first["action"] == "registered best baseline" and first["champion_version"] == "1"
    assert first["model_type"] in QUICK_BASELINES and first["reason"].startswith("promoted")
    assert first["baselines"].startswith(", ".join(QUICK_BASELINES))

    champion = current_champion(get_settings())
    assert champion is not None and str(champion.version) == first["champion_version"]
    tags = dict(champion.tags or {})
    # A real gated champion: registered with the one set of tags and the gate's decision on it.
    assert tags["model_type"] == first["model_type"] and tags["gate.promote"] == "True"
    assert tags["data.source"] == "synthetic"

    again = ensure_champion(source="synthetic", console=quiet, quick=True)
    assert again["action"] == "kept" and again["champion_version"] == "1"


def test_the_full_comparison_later_promotes_a_better_baseline_through_the_gate(workdir: Path) -> None:
    """What the trainer's `pipeline run` does after a quick bootstrap: every baseline is backtested, and
    the best one replaces the quick champion only if the gate says it beats it on the same window."""
    from crypto_mlops.data import load_market_data
    from crypto_mlops.models.training import train_and_register
    from crypto_mlops.models.zoo import BASELINES
    from crypto_mlops.pipeline.bootstrap import BOOTSTRAP_BARS

    settings = get_settings()
    first = ensure_champion(source="synthetic", console=Console(quiet=True), quick=True)
    data = load_market_data("synthetic", settings.default_symbol, settings.default_timeframe, limit=BOOTSTRAP_BARS)
    # A candidate that loses (naive), so that the promotion falls back to the best baseline, as in the
    # pipeline's deploy step when the BiLSTM loses.
    result = train_and_register(data, settings, candidate="naive", models=list(BASELINES))
    assert result.decision is not None and not result.decision.promote
    best = result.baseline_decision
    assert best is not None and best.candidate not in QUICK_BASELINES, best  # on this data a HAR variant wins
    assert best.promote and "champion" in best.reason, best.reason
    champion = current_champion(settings)
    assert champion is not None and str(champion.version) == result.champion_after != first["champion_version"]
    assert dict(champion.tags or {})["model_type"] == best.candidate
