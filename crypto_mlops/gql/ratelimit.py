"""Per-client rate limit of GraphQL: an operation costs one call per service call it makes.

Checked after validation and before execution, so a refused operation runs nothing. The cost counts the
root fields that do market work (`health`, `modelInfo` and introspection are free), which keeps probes
such as `{ __typename }` and GraphiQL's introspection out of the budget. A refused operation is HTTP 429
with Retry-After and a GraphQL error coded RATE_LIMITED.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import ExecutionResult, GraphQLError, OperationDefinitionNode
from strawberry.extensions import SchemaExtension

from crypto_mlops.gql.lane import REFUSED_KEY
from crypto_mlops.gql.limits import fragments_of, market_calls
from crypto_mlops.service.ratelimit import RateLimiter, retry_after_header


class RateLimitCalls(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        context = ctx.context if isinstance(ctx.context, dict) else {}
        limiter: RateLimiter | None = context.get("limiter")
        request = context.get("request")
        document = ctx.graphql_document
        if limiter is not None and limiter.enabled and request is not None and document is not None:
            cost = sum(
                market_calls(op.selection_set, fragments_of(document))
                for op in document.definitions
                if isinstance(op, OperationDefinitionNode)
                and (ctx.operation_name is None or (op.name and op.name.value == ctx.operation_name))
            )
            client = request.client.host if request.client else "unknown"
            refused = request.scope.get(REFUSED_KEY)  # the GraphQL lane refused this call already
            wait = refused if refused is not None else limiter.acquire(client, cost) if cost else 0.0
            if wait > 0:
                response = context.get("response")
                if response is not None:
                    response.status_code = 429
                    response.headers["Retry-After"] = retry_after_header(wait)
                message = f"rate limit: too many heavy requests from this client; retry in {retry_after_header(wait)} s"
                ctx.result = ExecutionResult(
                    data=None, errors=[GraphQLError(message, extensions={"code": "RATE_LIMITED"})]
                )
        yield
