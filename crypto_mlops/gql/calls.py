"""How a resolver calls the service: in a worker thread, errors translated, the result mapped to its GraphQL type.

The service checks every input; this module only translates its errors into GraphQL errors with
`extensions.code` (BAD_USER_INPUT / UNAVAILABLE) and says argument names the way GraphQL clients
write them (`horizon_min` -> `horizonMin`).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import TypeVar

from graphql import GraphQLError
from pydantic import BaseModel
from strawberry.types import Info
from strawberry.types.base import get_object_definition
from strawberry.utils.str_converters import to_camel_case

from crypto_mlops.data.errors import DataUnavailable, InvalidInput
from crypto_mlops.gql.inputs import INPUT_TYPES
from crypto_mlops.gql.types import to_graphql
from crypto_mlops.service import CryptoService

G = TypeVar("G")
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


async def resolve(info: Info, gql_type: type[G], call: Callable[[CryptoService], BaseModel]) -> G:
    """Run `call` on the request's service (off the event loop) and return its result as `gql_type`."""
    service: CryptoService = info.context["service"]
    try:
        result = await asyncio.to_thread(call, service)
    except InvalidInput as exc:
        raise GraphQLError(graphql_wording(str(exc)), extensions={"code": "BAD_USER_INPUT"}) from exc
    except DataUnavailable as exc:
        raise GraphQLError(str(exc), extensions={"code": "UNAVAILABLE"}) from exc
    return to_graphql(gql_type, result)
