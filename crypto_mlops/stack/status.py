"""What `stack health` and `stack urls` report: the running stack's components, probed now.

Without a running stack (no state file) they probe what an embedded stack would run, taken from
the same component list the supervisor starts (topology.component_specs).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from crypto_mlops.config import Settings, StackSettings
from crypto_mlops.stack.component import Component, ComponentState
from crypto_mlops.stack.health import HealthKind, check, pid_alive
from crypto_mlops.stack.statefile import ComponentRecord, StackState, read_state
from crypto_mlops.stack.topology import StackContext, component_specs


def default_components(
    settings: Settings, stack: StackSettings | None = None, root: Path | None = None
) -> list[ComponentRecord]:
    """What an embedded stack would serve on the configured ports (network-probeable parts only)."""
    ctx = StackContext(settings, stack or StackSettings(), (root or Path.cwd()).absolute())
    records = [Component(spec).record(ctx.logs) for spec in component_specs(ctx) if spec.probeable]
    for record in records:  # nobody recorded a state: the probe alone decides
        record.pop("state", None)
    return records


def current_components(home: Path, settings: Settings) -> tuple[StackState | None, list[ComponentRecord]]:
    """(the running stack's state or None, its components or the embedded defaults)."""
    state = read_state(home)
    if state is None:
        return None, default_components(settings)
    return state, list(state.get("components", []))


def _probe_one(component: ComponentRecord) -> ComponentRecord:
    out = ComponentRecord(**component)
    spec = component.get("health")
    if component.get("job") or not spec:
        # Jobs (and anything without a check) report what the supervisor recorded.
        out["ok"] = component.get("state") in (ComponentState.RUNNING, ComponentState.DONE)
        out["probe"] = component.get("detail") or component.get("state", "")
        return out
    result = check(spec)
    out["ok"], out["probe"], out["latency_ms"] = result.ok, result.detail, result.latency_ms
    if spec.get("type") == HealthKind.PROCESS and not spec.get("pid"):
        out["probe"] = component.get("detail") or result.detail  # never started: say why
    return _agree_with_record(component, out)


def _agree_with_record(component: ComponentRecord, out: ComponentRecord) -> ComponentRecord:
    """A probe that passes does not make a component healthy that the supervisor recorded as down, or
    whose recorded process is gone: something else (an orphan) may be answering on its port."""
    recorded = component.get("state")
    if recorded is None or component.get("job"):
        return out
    pid = component.get("pid")
    if recorded not in (ComponentState.HEALTHY, ComponentState.RUNNING):
        answered = bool(out.get("ok"))
        out["ok"] = False
        out["probe"] = f"{recorded}: {component.get('detail') or out['probe']}"
        if answered:
            out["probe"] += " (yet its check passes: a leftover process?)"
    elif pid and not pid_alive(int(pid)):
        out["ok"] = False
        out["probe"] = f"recorded process {pid} is not running ({out['probe']})"
    return out


def probe(components: list[ComponentRecord]) -> list[ComponentRecord]:
    """Probe every component now (in parallel); jobs report their recorded state."""
    with ThreadPoolExecutor(max_workers=max(1, len(components))) as pool:
        return list(pool.map(_probe_one, components))
