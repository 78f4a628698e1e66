"""The strawberry schema: the seed's GraphQL API (SPEC-SEED §2) over the in-process service.

Module map: `types` (object types generated from the service results), `inputs`, `queries` (Query and
Mutation), `calls` (service call, error translation, result mapping), `app` (router and standalone app).
Field names are the seed's (camelCased by strawberry); every field is filled. Failures are GraphQL
errors with a clear message and `extensions.code` (BAD_USER_INPUT / UNAVAILABLE).
"""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError

from crypto_mlops.gql.calls import EXPECTED_CODES
from crypto_mlops.gql.queries import Mutation, Query
from crypto_mlops.service import CryptoService


class CryptoSchema(strawberry.Schema):
    """Logs only unexpected errors: bad input and upstream outages are the caller's answer, not a bug."""

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        unexpected = [e for e in errors if (e.extensions or {}).get("code") not in EXPECTED_CODES]
        if unexpected:
            super().process_errors(unexpected, execution_context)


schema = CryptoSchema(query=Query, mutation=Mutation)


def context_for(service: CryptoService) -> dict[str, Any]:
    return {"service": service}
