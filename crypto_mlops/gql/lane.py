"""The GraphQL fast lane: a repeated single-signal operation with a current answer skips strawberry.

Even with parsing and validation cached, executing a document through strawberry costs several times
a REST answer. Most traffic repeats the same few documents (`generateMlSignal(input: {...}) {...}`),
and such an operation's response is a function of its one answer (`service.answers`) and of the time
stamp. So, for a POST whose bytes are a document the lane has seen answered:

1. the normal path (strawberry) answers the first time; the resolver notes the answer it used
   (`note_answer`). When the operation used exactly one answer and succeeded, the lane executes the
   same document once more with a marker for the timestamp and nothing recorded, and keeps the encoded
   response split on the marker: the *template*, kept only if it reproduces the normal path's response
   byte for byte;
2. later, while that answer is still the current one, the lane answers from the template with the
   time stamped in, records the answer (`Answers.serve`), and charges the rate limit as the operation
   would (one market call; a refusal goes through strawberry, told not to charge again).

Anything else, or any doubt, takes the normal path.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql import OperationDefinitionNode, parse
from pydantic_core import to_json
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.schema.base import BaseSchema

from crypto_mlops.gql.http_limits import client_key, read_body, replay_body
from crypto_mlops.gql.limits import fragments_of, root_fields
from crypto_mlops.service import CryptoService
from crypto_mlops.service.answers import Answer, Answers, answers_for
from crypto_mlops.service.memo import LruMemo
from crypto_mlops.service.ratelimit import RateLimiter

KNOWN_DOCUMENTS = 256  # request bodies with a template, per app
MAX_BODY = 2048  # longer bodies always take the normal path
STAMP_MARK = "@@answer-timestamp@@"
ANSWERS_KEY = "crypto_mlops.gql_answers"  # scope: the answers the operation's resolvers used
REFUSED_KEY = "crypto_mlops.gql_refused"  # scope: the lane refused the call (seconds to wait)
ADAPTER = "graphql"


@dataclass(frozen=True)
class Template:
    lookup: Callable[[Answers], Answer[Any] | None]
    answer: Answer[Any]
    parts: list[bytes]  # the response split on the timestamp marker
    headers: list[tuple[bytes, bytes]]  # the normal path's headers, content-length left out


def note_answer(
    request: Request | None, lookup: Callable[[Answers], Answer[Any] | None], answer: Answer[Any], stamp: str
) -> None:
    """Called by a resolver that answered from `answer` (found again by `lookup`), stamped `stamp`."""
    if request is not None:
        request.scope.setdefault(ANSWERS_KEY, []).append((lookup, answer, stamp))


class GraphQLLane:
    """ASGI middleware in front of an app that serves `schema` at `path`."""

    def __init__(
        self,
        app: ASGIApp,
        schema: BaseSchema,
        service: CryptoService,
        limiter: RateLimiter | None,
        path: str = "/graphql",
        observe: bool = False,
    ) -> None:
        self.app = app
        self.observe = observe  # count answered requests in the service's request metrics (the API does)
        self.schema = schema
        self.service = service
        self.limiter = limiter
        self.path = path
        self.templates: LruMemo[tuple[bytes, bytes], Template] = LruMemo(KNOWN_DOCUMENTS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != self.path or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        length = _content_length(scope)
        if length is None or length > MAX_BODY:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        body = await read_body(receive)
        if body is None:
            return
        receive = replay_body(body, receive)
        key = (_header(scope, b"content-type"), body)
        template = self.templates.peek(key)
        if template is not None and await self._answer(template, scope, send):
            if self.observe:
                self.service.telemetry.observe_request(self.path, "POST", 200, time.perf_counter() - started)
            return
        await self._normal(key, scope, receive, send)

    async def _answer(self, template: Template, scope: Scope, send: Send) -> bool:
        answers = answers_for(self.service)
        if template.lookup(answers) is not template.answer:
            return False
        if self.limiter is not None and self.limiter.enabled:
            wait = self.limiter.acquire(client_key(Request(scope)), 1.0)
            if wait > 0:
                scope[REFUSED_KEY] = wait  # strawberry answers the 429 without charging again
                return False
        body = answers.serve(template.answer, ADAPTER).encode().join(template.parts)
        headers = [(b"content-length", str(len(body)).encode()), *template.headers]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return True

    async def _normal(self, key: tuple[bytes, bytes], scope: Scope, receive: Receive, send: Send) -> None:
        sent: list[Message] = []

        async def capture(message: Message) -> None:
            sent.append(message)
            await send(message)

        await self.app(scope, receive, capture)
        used = scope.get(ANSWERS_KEY) or []
        if len(used) == 1 and len(sent) == 2 and sent[0].get("status") == 200 and not sent[1].get("more_body"):
            lookup, answer, stamp = used[0]
            template = await self._template(key[1], lookup, answer, sent[0].get("headers", []))
            if template is not None and stamp.encode().join(template.parts) == sent[1]["body"]:
                self.templates.put_many([(key, template)])

    async def _template(
        self, body: bytes, lookup: Callable[[Answers], Answer[Any] | None], answer: Answer[Any], headers: Any
    ) -> Template | None:
        try:
            request = json.loads(body)
            if _root_fields(request["query"], request.get("operationName")) != 1:
                return None  # the response must be a function of the one answer alone
            context = {"service": self.service, "limiter": None, "request": None, "answer_stamp": STAMP_MARK}
            result = await self.schema.execute(
                request["query"],
                variable_values=request.get("variables"),
                context_value=context,
                operation_name=request.get("operationName"),
            )
        except Exception:
            return None
        if result.errors or result.extensions or context.get("answer_used") is not answer:
            return None
        kept = [(k, v) for k, v in headers if k.lower() != b"content-length"]
        return Template(lookup, answer, to_json({"data": result.data}).split(STAMP_MARK.encode()), kept)


def _root_fields(query: str, operation_name: str | None) -> int:
    """Root fields (introspection aside) of the operation that runs; -1 when that is not clear."""
    document = parse(query)
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [op for op in operations if op.name is not None and op.name.value == operation_name]
    if len(operations) != 1:
        return -1
    return len(list(root_fields(operations[0].selection_set, fragments_of(document))))


def _header(scope: Scope, name: bytes) -> bytes:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return b""


def _content_length(scope: Scope) -> int | None:
    if _header(scope, b"transfer-encoding"):
        return None
    value = _header(scope, b"content-length")
    return int(value) if value.isdigit() else None
