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
