"""The fast path of the signal routes: a repeated request with a current answer skips the framework's work.

A cached `ml-signal` used to spend most of its time in FastAPI around a ~25 µs service call: solving
dependencies, parsing and validating the body, a trip through the threadpool, building the pydantic
results again and encoding them. `FastPathRoute` keeps the route exactly as declared (OpenAPI, validation,
errors: the *standard path*) and puts a small ASGI app in front of it that answers on the event loop when

1. the request's bytes (content type and body, or the query string) are ones the standard path has
   already validated: it remembers the validated arguments per route (`remember_args`);
2. the service holds a current answer for those arguments (`service.answers.Answers.lookup_*`, which
   never waits on a fetch or a model load);
3. the caller is within its rate budget (heavy routes), else the same 429 as the standard path.

The answer is sent as bytes encoded once per answer, only its `timestamp` (whole seconds) written in per
request; `Answers.serve` records the history row and counts it as the standard path does. Anything else
(a new body, a stale answer, an error) goes through the standard path, which computes, validates,
maps errors to 4xx/503 as before, and stores the answer for the next request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.types import ASGIApp, Receive, Scope, Send

from crypto_mlops.gql.http_limits import check_rate, replay_body
from crypto_mlops.service.answers import Answer, Answers, answers_for
from crypto_mlops.service.memo import LruMemo

KNOWN_ARGS_SIZE = 1024  # validated request encodings remembered per route
MAX_KEY_BYTES = 2048  # longer bodies and query strings always take the standard path
_SCOPE_KEY = "crypto_mlops.fast_args"
_TIMESTAMP_MARK = "@@answer-timestamp@@"  # stands for the timestamp while an answer is encoded once

Lookup = Callable[[Answers, Any], "Answer[Any] | None"]


@dataclass(frozen=True)
class FastSpec:
    """How a route finds a current answer for its validated arguments, and whether it is rate limited."""

    lookup: Lookup
    heavy: bool = False


def fast_path(spec: FastSpec) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark an endpoint for `FastPathRoute` (apply below the router's decorator)."""

    def mark(endpoint: Callable[..., Any]) -> Callable[..., Any]:
        endpoint.__fast_path__ = spec  # type: ignore[attr-defined]
        return endpoint

    return mark


class FastPathRoute(APIRoute):
    """An `APIRoute` whose marked endpoints get the fast path in front of FastAPI's request handling."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        spec = getattr(self.endpoint, "__fast_path__", None)
        if isinstance(spec, FastSpec):
            self.app = FastPath(self.app, spec)


def remember_args(request: Request, args: object) -> None:
    """Called by a fast-path endpoint once FastAPI validated the request: the same bytes mean `args`."""
    stash = request.scope.get(_SCOPE_KEY)
    if stash is not None:
        known, key = stash
        known.put_many([(key, args)])


class FastPath:
    def __init__(self, standard: ASGIApp, spec: FastSpec) -> None:
        self.standard = standard
        self.spec = spec
        self.known: LruMemo[tuple[bytes, bytes], object] = LruMemo(KNOWN_ARGS_SIZE)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method == "POST":
            body = await _read_body(receive)
            if body is None:  # the client left while sending
                return
            receive = replay_body(body, receive)
            key = (_content_type(scope), body)
        elif method == "GET":
            key = (b"", scope.get("query_string", b""))
        else:
            await self.standard(scope, receive, send)
            return
        if len(key[1]) <= MAX_KEY_BYTES:
            args = self.known.peek(key)
            if args is not None and await self._answer(args, scope, receive, send):
                return
            scope[_SCOPE_KEY] = (self.known, key)
        await self.standard(scope, receive, send)

    async def _answer(self, args: object, scope: Scope, receive: Receive, send: Send) -> bool:
        app = scope["app"]
        answers = answers_for(app.state.service)
        answer = self.spec.lookup(answers, args)
        if answer is None:
            return False
        if self.spec.heavy:
            request = Request(scope, receive, send)
            try:
                check_rate(app.state.rate_limiter, request)
            except HTTPException as exc:
                refusal = await http_exception_handler(request, exc)
                await refusal(scope, receive, send)
                return True
        body = answer_json(answer, answers.serve(answer, "rest"))
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})
        return True


def answer_json(answer: Answer[Any], timestamp: str) -> bytes:
    """The answer's JSON with `timestamp`, as pydantic-core encodes the result; encoded once per answer."""
    parts = answer.encoded.get("rest")
    if parts is None:
        parts = answer.encoded["rest"] = _split_on_timestamp(answer.result)
    if isinstance(parts, tuple):
        return b"".join((parts[0], timestamp.encode(), parts[1]))
    return _to_json(answer.result.model_copy(update={"timestamp": timestamp}))


def json_response(answer: Answer[Any], timestamp: str) -> Response:
    return Response(answer_json(answer, timestamp), media_type="application/json")


def _split_on_timestamp(result: BaseModel) -> tuple[bytes, bytes] | bool:
    encoded = _to_json(result.model_copy(update={"timestamp": _TIMESTAMP_MARK}))
    parts = encoded.split(_TIMESTAMP_MARK.encode())
    return (parts[0], parts[1]) if len(parts) == 2 else False


def _to_json(result: BaseModel) -> bytes:
    return bytes(type(result).__pydantic_serializer__.to_json(result))


def _content_type(scope: Scope) -> bytes:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return bytes(value)
    return b""


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)
