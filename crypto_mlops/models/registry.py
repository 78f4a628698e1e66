"""Model registry on MLflow 3: champion aliases (global and per pair), manual promote, rollback, listing.

Aliases: the global `champion` (MODEL_ALIAS) serves every pair without its own; `champion-<pair>`
(`pair_alias`: the symbol lower-cased, non-alphanumerics removed, e.g. `champion-ethusdt`) serves
that pair. Serving resolves a pair as `champion-<pair>`, then `champion`, then a baseline.
The default pair (DEFAULT_SYMBOL) follows the global champion: whatever moves one moves both.

The gate that moves aliases after a training is `crypto_mlops.models.promotion` (the one
promotion path); this module only reads and moves them. Every alias move is appended to a history
tag of the registered model (`champion_history` for the global alias, `champion_history.<alias>`
for a pair's) so `rollback` can restore the previous champion.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from crypto_mlops.config import Settings, get_settings
from crypto_mlops.data.errors import InvalidInput
from crypto_mlops.data.schema import normalize_symbol

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion
    from mlflow.tracking import MlflowClient

HISTORY_TAG = "champion_history"


def pair_slug(symbol: str) -> str:
    """'BTC/USDT', 'btcusdt' or 'BTC/USDT:USDT' (freqtrade futures) -> 'btcusdt'."""
    pair = normalize_symbol(symbol.split(":", 1)[0])
    return "".join(ch for ch in pair.lower() if ch.isalnum())


def pair_alias(symbol: str, base: str = "champion") -> str:
    """The alias of `symbol`'s own champion: `champion-btcusdt`."""
    return f"{base}-{pair_slug(symbol)}"


def is_default_pair(symbol: str, settings: Settings) -> bool:
    return pair_slug(symbol) == pair_slug(settings.default_symbol)


def lookup_aliases(pairs: Sequence[str], settings: Settings) -> list[str]:
    """Aliases that decide which model serves `pairs`, in resolution order (one pair: its own, then global)."""
    if len(pairs) == 1:
        return [pair_alias(pairs[0], settings.model_alias), settings.model_alias]
    return [settings.model_alias]


def target_aliases(pairs: Sequence[str], settings: Settings) -> list[str]:
    """Aliases a promotion for `pairs` moves: one pair its own (and the global one for the default pair);
    a model of several pairs (pooled), or of none named, the global one."""
    if len(pairs) == 1:
        own = pair_alias(pairs[0], settings.model_alias)
        return [own, settings.model_alias] if is_default_pair(pairs[0], settings) else [own]
    return [settings.model_alias]


def history_tag(alias: str, settings: Settings) -> str:
    return HISTORY_TAG if alias == settings.model_alias else f"{HISTORY_TAG}.{alias}"


def alias_map(client: MlflowClient, name: str) -> dict[str, str]:
    """Every alias of the registered model -> its version, in one registry call ({} when there is no model)."""
    from mlflow.exceptions import MlflowException

    try:
        model = client.get_registered_model(name)
    except MlflowException as exc:
        if "RESOURCE_DOES_NOT_EXIST" in str(exc.error_code) or "not found" in str(exc).lower():
            return {}
        raise
    return {str(alias): str(version) for alias, version in (model.aliases or {}).items()}


def resolve_version(client: MlflowClient, name: str, aliases: Sequence[str]) -> ModelVersion | None:
    """The version behind the first of `aliases` that exists (None: none does)."""
    for alias in aliases:
        version = champion_version(client, name, alias)
        if version is not None:
            return version
    return None


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


def current_champion(settings: Settings | None = None, pair: str | None = None) -> ModelVersion | None:
    """The global champion, or the one serving `pair` (its own, else the global one); None when there is none."""
    settings = settings or get_settings()
    client = get_client(settings)
    try:
        return resolve_version(client, settings.model_name, lookup_aliases([pair] if pair else [], settings))
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


def _history(client: MlflowClient, name: str, tag: str = HISTORY_TAG) -> list[str]:
    raw = client.get_registered_model(name).tags.get(tag, "[]")
    try:
        return [str(v) for v in json.loads(raw)]
    except ValueError:
        return []


def set_champion(
    client: MlflowClient, name: str, alias: str, version: str, reason: str, history: str = HISTORY_TAG
) -> None:
    """Point `alias` at `version` and remember it (in the `history` tag) for rollback."""
    current = champion_version(client, name, alias)
    past = _history(client, name, history)
    if current is not None and (not past or past[-1] != str(current.version)):
        past.append(str(current.version))  # alias was moved outside this module
    if not past or past[-1] != str(version):
        past.append(str(version))
    client.set_registered_model_alias(name, alias, str(version))
    client.set_registered_model_tag(name, history, json.dumps(past[-50:]))
    now = datetime.now(UTC).isoformat()
    client.set_model_version_tag(name, str(version), "promoted_at", now)
    client.set_model_version_tag(name, str(version), "promotion_reason", reason)


def move_aliases(client: MlflowClient, settings: Settings, aliases: Sequence[str], version: str, reason: str) -> None:
    for alias in aliases:
        set_champion(client, settings.model_name, alias, version, reason, history_tag(alias, settings))


def _manual_aliases(pair: str | None, settings: Settings) -> list[str]:
    """A manual move without a pair is the default pair's: the global champion and its pair alias."""
    return target_aliases([pair or settings.default_symbol], settings)


def promote(
    settings: Settings | None, version: str, reason: str = "manual promotion", pair: str | None = None
) -> dict[str, Any]:
    """Manual promote (bypasses the gate, recorded as such) of `pair`'s champion (default: the global one)."""
    settings = settings or get_settings()
    client = get_client(settings)
    try:
        client.get_model_version(settings.model_name, str(version))
    except Exception as exc:
        raise InvalidInput(f"{settings.model_name} has no version {version}: {exc}") from None
    aliases = _manual_aliases(pair, settings)
    before = champion_version(client, settings.model_name, aliases[-1])
    move_aliases(client, settings, aliases, str(version), reason)
    return {"from": before.version if before else None, "to": str(version), "reason": reason, "aliases": aliases}


def rollback(settings: Settings | None = None, pair: str | None = None) -> dict[str, Any]:
    """Move `pair`'s champion (default: the global one) back to the version it replaced."""
    settings = settings or get_settings()
    client = get_client(settings)
    aliases = _manual_aliases(pair, settings)
    name, alias = settings.model_name, aliases[-1]  # the global alias leads when the default pair follows it
    current = champion_version(client, name, alias)
    if current is None:
        raise InvalidInput(f"{name} has no {alias!r} to roll back")
    tag = history_tag(alias, settings)
    past = _history(client, name, tag)
    if not past or past[-1] != str(current.version):
        past.append(str(current.version))
    if len(past) < 2:
        raise InvalidInput(f"{name}@{alias} v{current.version} has no previous champion to roll back to")
    past.pop()
    target = past[-1]
    client.set_registered_model_alias(name, alias, target)
    client.set_registered_model_tag(name, tag, json.dumps(past))
    client.set_model_version_tag(name, target, "rolled_back_from", str(current.version))
    for follower in aliases[:-1]:  # the default pair's alias follows the global one
        set_champion(client, name, follower, target, f"rollback of {alias}", history_tag(follower, settings))
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
    by_version: dict[str, list[str]] = {}
    for alias, number in (alias_map(client, name) if versions else {}).items():
        by_version.setdefault(number, []).append(alias)
    rows = []
    for v in sorted(versions, key=lambda v: int(v.version)):
        tags = dict(v.tags or {})
        aliases = sorted(by_version.get(str(v.version), []))
        rows.append(
            {
                "version": str(v.version),
                "champion": settings.model_alias in aliases,
                "aliases": aliases,
                "pairs": tags.get("data.pairs", tags.get("data.symbol", "")),
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


def version_info(
    settings: Settings | None = None, version: str | None = None, pair: str | None = None
) -> dict[str, Any]:
    """Details of one version (default: the champion serving `pair`, or the global one): tags, metrics, data."""
    settings = settings or get_settings()
    client = get_client(settings)
    name = settings.model_name
    tag = HISTORY_TAG
    if version is None:
        aliases = lookup_aliases([pair], settings) if pair else [settings.model_alias]
        tag = history_tag(aliases[0], settings)
        v = resolve_version(client, name, aliases)
        if v is None:
            raise InvalidInput(f"{name} has no {aliases[-1]!r}; train one with `crypto-mlops train`")
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
        "history": _history(client, name, tag),
    }
