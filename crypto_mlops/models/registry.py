"""Model registry on MLflow 3: the champion alias, manual promote, rollback, listing.

The gate that moves `champion` after a training is `crypto_mlops.models.promotion` (the one
promotion path); this module only reads and moves the alias. Every alias move is appended to the
registered model's `champion_history` tag so `rollback` can restore the previous champion.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from crypto_mlops.config import Settings, get_settings
from crypto_mlops.data.errors import InvalidInput

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion
    from mlflow.tracking import MlflowClient

HISTORY_TAG = "champion_history"


def get_client(settings: Settings | None = None) -> MlflowClient:
    import mlflow
    from mlflow.tracking import MlflowClient

    settings = settings or get_settings()
    # Fail fast when a remote server is down instead of retrying for minutes (override via env).
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    mlflow.set_registry_uri(settings.mlflow_tracking_uri)
    return MlflowClient(tracking_uri=settings.mlflow_tracking_uri, registry_uri=settings.mlflow_tracking_uri)


def champion_version(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        if "RESOURCE_DOES_NOT_EXIST" in str(exc.error_code) or "not found" in str(exc).lower():
            return None
        raise


def current_champion(settings: Settings | None = None) -> ModelVersion | None:
    """The champion version of the configured model (None when there is none, or no model yet)."""
    settings = settings or get_settings()
    client = get_client(settings)
    try:
        return champion_version(client, settings.model_name, settings.model_alias)
    except Exception as exc:
        if "RESOURCE_DOES_NOT_EXIST" in str(exc):  # no registered model yet
            return None
        raise


def run_backtest_json(run_id: str) -> dict[str, Any] | None:
    """The `backtest.json` a training logged in its run (None when absent or unreadable)."""
    import mlflow

    try:
        return cast(dict[str, Any], mlflow.artifacts.load_dict(f"runs:/{run_id}/backtest.json"))
    except Exception:
        return None


def _history(client: MlflowClient, name: str) -> list[str]:
    raw = client.get_registered_model(name).tags.get(HISTORY_TAG, "[]")
    try:
        return [str(v) for v in json.loads(raw)]
    except ValueError:
        return []


def set_champion(client: MlflowClient, name: str, alias: str, version: str, reason: str) -> None:
    """Point `alias` at `version` and remember it for rollback."""
    current = champion_version(client, name, alias)
    history = _history(client, name)
    if current is not None and (not history or history[-1] != str(current.version)):
        history.append(str(current.version))  # alias was moved outside this module
    if not history or history[-1] != str(version):
        history.append(str(version))
    client.set_registered_model_alias(name, alias, str(version))
    client.set_registered_model_tag(name, HISTORY_TAG, json.dumps(history[-50:]))
    now = datetime.now(UTC).isoformat()
    client.set_model_version_tag(name, str(version), "promoted_at", now)
    client.set_model_version_tag(name, str(version), "promotion_reason", reason)


def promote(settings: Settings | None, version: str, reason: str = "manual promotion") -> dict[str, Any]:
    """Manual promote (bypasses the gate, recorded as such)."""
    settings = settings or get_settings()
    client = get_client(settings)
    try:
        client.get_model_version(settings.model_name, str(version))
    except Exception as exc:
        raise InvalidInput(f"{settings.model_name} has no version {version}: {exc}") from None
    before = champion_version(client, settings.model_name, settings.model_alias)
    set_champion(client, settings.model_name, settings.model_alias, str(version), reason)
    return {"from": before.version if before else None, "to": str(version), "reason": reason}


def rollback(settings: Settings | None = None) -> dict[str, Any]:
    """Move the champion back to the version it replaced."""
    settings = settings or get_settings()
    client = get_client(settings)
    name, alias = settings.model_name, settings.model_alias
    current = champion_version(client, name, alias)
    if current is None:
        raise InvalidInput(f"{name} has no {alias!r} to roll back")
    history = _history(client, name)
    if not history or history[-1] != str(current.version):
        history.append(str(current.version))
    if len(history) < 2:
        raise InvalidInput(f"{name}@{alias} v{current.version} has no previous champion to roll back to")
    history.pop()
    target = history[-1]
    client.set_registered_model_alias(name, alias, target)
    client.set_registered_model_tag(name, HISTORY_TAG, json.dumps(history))
    client.set_model_version_tag(name, target, "rolled_back_from", str(current.version))
    return {"from": str(current.version), "to": target}


def list_versions(settings: Settings | None = None) -> list[dict[str, Any]]:
    settings = settings or get_settings()
    client = get_client(settings)
    name = settings.model_name
    try:
        versions = client.search_model_versions(f"name='{name}'")
    except Exception as exc:
        if "RESOURCE_DOES_NOT_EXIST" in str(exc):
            return []
        raise
    current = champion_version(client, name, settings.model_alias) if versions else None
    rows = []
    for v in sorted(versions, key=lambda v: int(v.version)):
        tags = dict(v.tags or {})
        rows.append(
            {
                "version": str(v.version),
                "champion": current is not None and str(current.version) == str(v.version),
                "model_type": tags.get("model_type", ""),
                "qlike": tags.get("gate.candidate_qlike", ""),
                "decision": "promoted"
                if tags.get("gate.promote") == "True"
                else ("rejected" if tags.get("gate.promote") == "False" else tags.get("promotion_reason", "")),
                "reason": tags.get("gate.reason", tags.get("promotion_reason", "")),
                "created": datetime.fromtimestamp(v.creation_timestamp / 1000, UTC).isoformat(),
                "run_id": v.run_id,
            }
        )
    return rows


def version_info(settings: Settings | None = None, version: str | None = None) -> dict[str, Any]:
    """Details of one version (default: the champion): tags, run metrics, data fingerprint."""
    settings = settings or get_settings()
    client = get_client(settings)
    name = settings.model_name
    if version is None:
        v = champion_version(client, name, settings.model_alias)
        if v is None:
            raise InvalidInput(f"{name} has no {settings.model_alias!r}; train one with `crypto-mlops train`")
    else:
        try:
            v = client.get_model_version(name, str(version))
        except Exception:
            raise InvalidInput(f"{name} has no version {version}") from None
    run = client.get_run(v.run_id) if v.run_id else None
    return {
        "name": name,
        "version": str(v.version),
        "aliases": list(v.aliases or []),
        "source": v.source,
        "run_id": v.run_id,
        "tags": dict(v.tags or {}),
        "metrics": dict(run.data.metrics) if run else {},
        "params": dict(run.data.params) if run else {},
        "history": _history(client, name),
    }
