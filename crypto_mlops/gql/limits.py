"""Limits on what one GraphQL document may ask for, checked before anything runs (both ports).

Depth, aliases and tokens use strawberry's extensions. The cost rule counts the operation's service
calls: every root field (ohlcvData, compareSignals, generateMlSignal...) is one call into the service,
and aliases are the only way to repeat one, so a document cannot fan out into hundreds of calls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
)
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.query_depth_limiter import IgnoreContext

from crypto_mlops.config import Settings


@dataclass(frozen=True)
class GraphQLLimits:
    max_depth: int = 8
    max_aliases: int = 15
    max_tokens: int = 2000
    max_service_calls: int = 10

    @classmethod
    def from_settings(cls, settings: Settings) -> GraphQLLimits:
        return cls(
            max_depth=settings.graphql_max_depth,
            max_aliases=settings.graphql_max_aliases,
            max_tokens=settings.graphql_max_tokens,
            max_service_calls=settings.graphql_max_service_calls,
        )


def _is_introspection(ctx: IgnoreContext) -> bool:
    # GraphiQL's introspection query is deep by nature (ofType chains) and costs nothing.
    return ctx.field_name.startswith("__")


# Parsed documents and validation results kept per distinct document (bounded: callers choose the texts).
DOCUMENT_CACHE_SIZE = 256


def limit_extensions(limits: GraphQLLimits) -> list[Callable[[], SchemaExtension]]:
    """Factories of the limit extensions (strawberry builds fresh ones per request), with the parse and
    validation caches.

    The depth and alias limiters create a new validation rule class per instance, so a fresh limiter per
    request made every validation unique to its request and the validation cache useless: the rules are
    built once here and every request adds the same classes. Validation (with the limits) then runs once
    per distinct document and parsing once per distinct text; both were most of a GraphQL call's time.
    """
    rules = [
        *QueryDepthLimiter(max_depth=limits.max_depth, should_ignore=_is_introspection).validation_rules,
        *MaxAliasesLimiter(max_alias_count=limits.max_aliases).validation_rules,
        service_call_rule(limits.max_service_calls),
    ]
    return [
        lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),  # a parse option: part of the parse cache key
        lambda: AddValidationRules(rules),
        lambda: ParserCache(maxsize=DOCUMENT_CACHE_SIZE),
        lambda: ValidationCache(maxsize=DOCUMENT_CACHE_SIZE),
    ]


LIGHT_FIELDS = frozenset({"health", "modelInfo"})  # no market work: free for the rate limit


def fragments_of(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


def root_fields(
    selection_set: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode], seen: frozenset[str] = frozenset()
) -> Iterator[str]:
    """Names of the root fields of a selection (through fragments), introspection fields excluded."""
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            if not selection.name.value.startswith("__"):
                yield selection.name.value
        elif isinstance(selection, InlineFragmentNode):
            yield from root_fields(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is not None and name not in seen:  # cycles are reported by GraphQL's own rules
                yield from root_fields(fragment.selection_set, fragments, seen | {name})


def count_root_calls(selection_set: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode]) -> int:
    """Service calls of a selection: one per root field."""
    return sum(1 for _ in root_fields(selection_set, fragments))


def market_calls(selection_set: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode]) -> int:
    """Service calls that do market work (what the rate limit charges)."""
    return sum(1 for name in root_fields(selection_set, fragments) if name not in LIGHT_FIELDS)


def service_call_rule(max_calls: int) -> type[ValidationRule]:
    class MaxServiceCalls(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.fragments = fragments_of(context.document)

        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            calls = count_root_calls(node.selection_set, self.fragments)
            if calls > max_calls:
                self.report_error(
                    GraphQLError(
                        f"operation makes {calls} service calls (root fields); at most {max_calls} are allowed",
                        node,
                    )
                )

    return MaxServiceCalls
