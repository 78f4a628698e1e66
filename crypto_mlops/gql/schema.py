"""The strawberry schema: the seed's GraphQL API (SPEC-SEED §2) over the in-process service.

Module map: `types` (object types generated from the service results), `inputs`, `queries` (Query and
Mutation), `calls` (service call, error translation, result mapping), `app` (router and standalone app).
Field names are the seed's (camelCased by strawberry); every field is filled. Failures are GraphQL
errors with a clear message and `extensions.code` (BAD_USER_INPUT / UNAVAILABLE). Documents over the
limits of `limits` are refused before any resolver runs.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import strawberry
from graphql import GraphQLError

from crypto_mlops.gql.calls import EXPECTED_CODES, CallRunner
from crypto_mlops.gql.limits import GraphQLLimits, limit_extensions
from crypto_mlops.gql.queries import Mutation, Query
from crypto_mlops.gql.ratelimit import RateLimitCalls
from crypto_mlops.service import CryptoService
from crypto_mlops.service.ratelimit import RateLimiter


class CryptoSchema(strawberry.Schema):
    """Logs only unexpected errors: bad input, refused documents (syntax, limits) and upstream outages are
    the caller's answer, not a bug (and logging a refused 16 KiB document would let callers flood the log)."""

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        unexpected = [
            e for e in errors if (e.extensions or {}).get("code") not in EXPECTED_CODES and e.original_error is not None
        ]
        if unexpected:
            super().process_errors(unexpected, execution_context)


@lru_cache(maxsize=8)
def build_schema(limits: GraphQLLimits = GraphQLLimits()) -> CryptoSchema:
    """The schema with its document limits (one per distinct set of limits)."""
    return CryptoSchema(query=Query, mutation=Mutation, extensions=[*limit_extensions(limits), RateLimitCalls])


schema = build_schema()


def context_for(
    service: CryptoService, runner: CallRunner | None = None, limiter: RateLimiter | None = None
) -> dict[str, Any]:
    return {"service": service, "runner": runner or CallRunner(), "limiter": limiter}
