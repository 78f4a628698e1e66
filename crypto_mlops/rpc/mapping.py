"""Service results -> protobuf messages by field name: one generic mapping instead of per-message copies.

The result is dumped to JSON-ready data and parsed into the message (`json_format.ParseDict`): fields
the proto does not carry are dropped, None leaves a field at its proto3 default, nested results and
lists of results fill nested and repeated messages. Where the proto keeps a seed name that differs
from the result's field, `PROTO_NAMES` says so.
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

from google.protobuf import json_format
from google.protobuf.message import Message
from pydantic import BaseModel

from crypto_mlops.service import results

M = TypeVar("M", bound=Message)

# result model -> {result field: proto field}
PROTO_NAMES: dict[type[BaseModel], dict[str, str]] = {
    results.OHLCVBar: {"ts": "timestamp"},
    results.SignalResult: {"explain": "explanation"},
}


def proto_dict(result: BaseModel) -> dict[str, Any]:
    """`result` as JSON-ready data keyed by proto field names (at every nesting level)."""
    return cast(dict[str, Any], _renamed(result, result.model_dump(mode="json")))


def _renamed(value: object, dumped: object) -> object:
    # Walks the result next to its dump, so a rename applies to its own model only (not to dict payloads).
    if isinstance(value, BaseModel) and isinstance(dumped, dict):
        names = PROTO_NAMES.get(type(value), {})
        return {names.get(key, key): _renamed(getattr(value, key), item) for key, item in dumped.items()}
    if isinstance(value, list) and isinstance(dumped, list):
        return [_renamed(v, d) for v, d in zip(value, dumped, strict=True)]
    return dumped


def to_message(result: BaseModel, message_type: type[M]) -> M:
    """A new `message_type` filled from `result`."""
    message: M = message_type()
    json_format.ParseDict(proto_dict(result), message, ignore_unknown_fields=True)
    return message
