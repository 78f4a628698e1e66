"""The fast path of the signal routes: a repeated request with a current answer skips the framework's work.

A cached `ml-signal` used to spend most of its time in FastAPI around a ~25 µs service call: the
middleware stack and the router, solving dependencies, parsing and validating the body, a trip through
the threadpool, building the pydantic results again and encoding them. `FastPathRoute` keeps the route
exactly as declared (OpenAPI, validation, errors: the *standard path*). `FastLane`, the outermost
middleware, answers a request on the event loop when

1. its bytes (content type and body, or the query string) are ones the standard path of that route
   has already validated: the route remembers the validated arguments (`remember_args`);
2. the service holds a current answer for those arguments (`service.answers.Answers.lookup_*`, which
   never waits on a fetch or a model load);
3. the caller is within its rate budget (heavy routes), else it sends the standard path's 429.

The answer is sent as bytes encoded once per answer, only its `timestamp` (whole seconds) written in per
request; `Answers.serve` records the history row and counts it, and the lane observes the request
metrics, as the standard path does. Anything else (a new body, a stale answer, an error) goes through the
standard path, which computes, validates, maps errors to 4xx/503 as before, and stores the answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crypto_mlops.gql.http_limits import check_rate, read_body, replay_body
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
    """The route's own app: remembers which request bytes the standard path validated, then runs it."""

    def __init__(self, standard: ASGIApp, spec: FastSpec) -> None:
        self.standard = standard
        self.spec = spec
        self.known: LruMemo[tuple[bytes, bytes], object] = LruMemo(KNOWN_ARGS_SIZE)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method == "POST":
            body = await read_body(receive)
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
            scope[_SCOPE_KEY] = (self.known, key)
        await self.standard(scope, receive, send)

    async def answer(self, key: tuple[bytes, bytes], api: FastAPI, scope: Scope, send: Send) -> int | None:
        """Send the current answer for `key` (200, or the 429 of a spent rate budget): its status; else None."""
        args = self.known.peek(key)
        if args is None:
            return None
        answers = answers_for(api.state.service)
        answer = self.spec.lookup(answers, args)
        if answer is None:
            return None
        if self.spec.heavy:
            request = Request(scope)
            try:
                check_rate(api.state.rate_limiter, request)
            except HTTPException as exc:
                refusal = await http_exception_handler(request, exc)
                await refusal(scope, _no_receive, send)
                return refusal.status_code
        body = answer_json(answer, answers.serve(answer, "rest"))
        headers = [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return 200


class FastLane:
    """Outermost middleware: a fast-path route's repeated request is answered before the middleware stack
    and the router (a third of a cached answer's time), and counted in the request metrics as they would.

    Only bodies with a Content-Length up to `MAX_KEY_BYTES` are read here; everything else, and every
    request without a current answer, continues down the stack with its body replayed.
    """

    def __init__(self, app: ASGIApp, api: FastAPI) -> None:
        self.app = app
        self.api = api
        self._lanes: dict[tuple[str, str], tuple[str, FastPath]] | None = None

    def lanes(self) -> dict[tuple[str, str], tuple[str, FastPath]]:
        if self._lanes is None:
            self._lanes = {
                (method, route.path): (route.path, route.app)
                for route in self.api.routes
                if isinstance(route, FastPathRoute) and isinstance(route.app, FastPath)
                for method in route.methods & {"GET", "POST"}
            }
        return self._lanes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lane = None
        if scope["type"] == "http" and not scope.get("root_path"):
            lane = self.lanes().get((scope["method"], scope["path"]))
        if lane is None:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        key: tuple[bytes, bytes] | None = None
        if scope["method"] == "GET":
            key = (b"", scope.get("query_string", b""))
        else:
            length = _content_length(scope)
            if length is not None and length <= MAX_KEY_BYTES:
                body = await read_body(receive)
                if body is None:
                    return
                receive = replay_body(body, receive)
                key = (_content_type(scope), body)
        if key is not None:
            status = await lane[1].answer(key, self.api, scope, send)
            if status is not None:
                telemetry = self.api.state.service.telemetry
                telemetry.observe_request(lane[0], scope["method"], status, time.perf_counter() - started)
                return
        await self.app(scope, receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


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


def _content_length(scope: Scope) -> int | None:
    """The declared body length (0 without one: no body); None when malformed or chunked (left to the body
    size limit)."""
    length: int | None = 0
    for name, value in scope["headers"]:
        if name == b"transfer-encoding":
            return None
        if name == b"content-length":
            length = int(value) if value.isdigit() else None
    return length


def _content_type(scope: Scope) -> bytes:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return bytes(value)
    return b""
