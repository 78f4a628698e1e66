"""Last step: ask the API to reload its champion. A down API is a warning, never a failed run."""

from __future__ import annotations

import contextlib

import httpx

from crypto_mlops.config import PipelineSettings, Settings, get_settings
from crypto_mlops.pipeline import layout
from crypto_mlops.pipeline.manifests import DeployOutcome, Notification, NotifyOutcome
from crypto_mlops.pipeline.store import Store, open_store

RELOAD_PATH = "/v1/ml/model/reload"


def notify(
    deployed: DeployOutcome,
    store: Store | None = None,
    settings: Settings | None = None,
    force: bool = False,
) -> NotifyOutcome:
    """POST {API_URL}/v1/ml/model/reload with X-API-Key when the champion moved (or `force`)."""
    settings = settings or get_settings()
    outcome = NotifyOutcome(run_id=deployed.run_id, done=False)
    if not (deployed.done or force):
        outcome.reason = "champion unchanged: no reload needed"
    else:
        url = settings.api_url.rstrip("/") + RELOAD_PATH
        try:
            response = httpx.post(
                url, headers={"X-API-Key": settings.api_key}, timeout=PipelineSettings().notify_timeout_s
            )
        except httpx.HTTPError as exc:
            outcome.reason = (
                f"warning: API not reachable at {url} ({type(exc).__name__}); it loads the champion on start"
            )
        else:
            outcome.details = Notification(status_code=response.status_code, url=url)
            if response.is_success:
                outcome.done = True
                outcome.reason = f"API reloaded the champion ({response.status_code})"
                with contextlib.suppress(ValueError):
                    outcome.details.response = response.json()
            else:
                outcome.reason = f"warning: reload answered {response.status_code}: {response.text[:200]}"
    outcome.key = layout.run_key(outcome.run_id, "notify.json")
    (store or open_store(settings)).put_json(layout.MODELS, outcome.key, outcome.model_dump(mode="json"))
    return outcome
