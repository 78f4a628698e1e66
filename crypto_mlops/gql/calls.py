"""How a resolver calls the service: in a bounded worker pool, errors translated, the result mapped to its type.

Resolvers run on `CallRunner`'s few threads (GRAPHQL_WORKERS), not on the event loop nor on the
threadpool the REST routes use, so a heavy GraphQL request waits for a worker instead of starving REST.

The service checks every input; this module only translates its errors into GraphQL errors with
`extensions.code` (BAD_USER_INPUT / UNAVAILABLE) and says argument names the way GraphQL clients
write them (`horizon_min` -> `horizonMin`).
"""

from __future__ import annotations

import asyncio
import copy
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar, cast

from graphql import GraphQLError
from pydantic import BaseModel
from strawberry.types import Info
from strawberry.types.base import get_object_definition
from strawberry.utils.str_converters import to_camel_case

from crypto_mlops.data.errors import DataUnavailable, InvalidInput
from crypto_mlops.gql.inputs import INPUT_TYPES
from crypto_mlops.gql.lane import note_answer
from crypto_mlops.gql.types import to_graphql
from crypto_mlops.service import CryptoService
from crypto_mlops.service.answers import Answer, Answers, answers_for
from crypto_mlops.service.limits import clip

G = TypeVar("G")
T = TypeVar("T")
DEFAULT_WORKERS = 4
EXPECTED_CODES = frozenset({"BAD_USER_INPUT", "UNAVAILABLE"})

# Input fields whose GraphQL name differs from the service's parameter name.
_ARGUMENT_NAMES = {
    field.python_name: to_camel_case(field.python_name)
    for input_type in INPUT_TYPES
    for field in get_object_definition(input_type, strict=True).fields
    if "_" in field.python_name
}
_SNAKE_WORD = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")


def graphql_wording(message: str) -> str:
    """The service's message with argument names spelt as in the GraphQL inputs."""
    return _SNAKE_WORD.sub(lambda m: _ARGUMENT_NAMES.get(m.group(0), m.group(0)), message)


class CallRunner:
    """A fixed pool of `workers` threads for resolvers (started on first use)."""

    def __init__(self, workers: int = DEFAULT_WORKERS) -> None:
        self.workers = max(1, workers)
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    async def run(self, fn: Callable[[], T]) -> T:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="graphql")
            pool = self._pool
        return await asyncio.get_running_loop().run_in_executor(pool, fn)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


_shared_runner = CallRunner()


async def resolve(info: Info, gql_type: type[G], call: Callable[[CryptoService], BaseModel]) -> G:
    """Run `call` on the request's service in the bounded pool and return its result as `gql_type`."""
    # The mapping to GraphQL objects runs in the worker too: for big answers it is real work.
    return await call_service(info, lambda service: to_graphql(gql_type, call(service)))


async def call_service(info: Info, call: Callable[[CryptoService], T]) -> T:
    """`call(service)` in the bounded pool, the service's errors translated to GraphQL errors."""
    service: CryptoService = info.context["service"]
    runner: CallRunner = info.context.get("runner") or _shared_runner
    try:
        return await runner.run(lambda: call(service))
    except InvalidInput as exc:
        raise GraphQLError(graphql_wording(clip(str(exc))), extensions={"code": "BAD_USER_INPUT"}) from exc
    except DataUnavailable as exc:
        raise GraphQLError(clip(str(exc)), extensions={"code": "UNAVAILABLE"}) from exc


async def resolve_answer(
    info: Info,
    gql_type: type[G],
    lookup: Callable[[Answers], Answer[Any] | None],
    compute: Callable[[Answers], tuple[Answer[Any], str]],
    adapter: str,
) -> G:
    """Like `resolve` for the signal calls: a current stored answer (`service.answers`) is recorded and
    returned on the event loop, its GraphQL object mapped once per answer; otherwise `compute` runs in
    the pool as `resolve` does. The answer used is noted for the GraphQL lane (`gql.lane`); the lane's
    template run (`answer_stamp` in the context) records nothing and stamps its marker."""
    answers = answers_for(info.context["service"])
    template_stamp = info.context.get("answer_stamp")
    answer = lookup(answers)
    if template_stamp is not None:
        if answer is None:
            raise GraphQLError("no current answer for the template")
        info.context["answer_used"] = answer
        return graphql_object(gql_type, answer, template_stamp)
    if answer is None:
        used, stamp = await call_service(info, lambda _: compute(answers))
    else:
        used, stamp = answer, answers.serve(answer, adapter)
    note_answer(info.context.get("request"), lookup, used, stamp)
    return graphql_object(gql_type, used, stamp)


def graphql_object(gql_type: type[G], answer: Answer[Any], timestamp: str) -> G:
    """`to_graphql` of the answer's result with `timestamp`; the mapping is kept with the answer."""
    mapped = answer.encoded.get(gql_type.__name__)
    if mapped is None:
        mapped = answer.encoded[gql_type.__name__] = to_graphql(gql_type, answer.result)
    if getattr(mapped, "timestamp", timestamp) == timestamp:
        return cast(G, mapped)
    fresh = copy.copy(mapped)  # nested objects are shared: execution only reads them
    fresh.timestamp = timestamp  # type: ignore[attr-defined]
    return cast(G, fresh)
