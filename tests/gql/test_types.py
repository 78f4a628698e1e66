"""The GraphQL types come from the service results: every result field is in the schema and resolves.

A result model GraphQL does not serve must be listed in REST_ONLY, so a new model or field cannot
drift away from the GraphQL API unnoticed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from graphql import GraphQLList, GraphQLNonNull, GraphQLObjectType, GraphQLSchema, GraphQLType, build_schema
from pydantic import BaseModel
from strawberry.types.base import get_object_definition

from crypto_mlops.gql import types as gql_types
from crypto_mlops.gql.schema import schema
from crypto_mlops.service import CryptoService, results

# Served by REST only (reload is an admin action; metrics and chart feed the dashboard; the pairlist is
# freqtrade's); DataOrigin is a base.
REST_ONLY = {
    results.DataOrigin,
    results.ReloadResult,
    results.MetricsResult,
    results.ChartSeries,
    results.VolatilityPoint,
    results.PairlistResult,  # freqtrade's RemotePairList reads it over REST
}


def _result_models() -> set[type[BaseModel]]:
    return {
        value
        for value in vars(results).values()
        if isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == results.__name__
    }


def _graphql_types() -> dict[type[BaseModel], type]:
    """Result model -> the GraphQL type generated from it."""
    return {
        value._pydantic_type: value
        for value in vars(gql_types).values()
        if isinstance(value, type) and hasattr(value, "_pydantic_type")
    }


def _client_schema() -> GraphQLSchema:
    return build_schema(schema.as_str())  # what clients see (SDL), not strawberry's internals


def test_every_result_model_has_a_graphql_type_or_is_rest_only() -> None:
    served = set(_graphql_types())
    assert not served & REST_ONLY
    assert _result_models() == served | REST_ONLY


def test_every_result_field_is_in_the_graphql_schema() -> None:
    client_types = _client_schema().type_map
    names = schema.config.name_converter
    for model, gql_type in _graphql_types().items():
        definition = get_object_definition(gql_type, strict=True)
        graphql_names = {field.python_name: names.get_graphql_name(field) for field in definition.fields}
        client_type = client_types[definition.name]
        assert isinstance(client_type, GraphQLObjectType)
        for field in model.model_fields:
            assert field in graphql_names, f"{model.__name__}.{field} missing from GraphQL type {definition.name}"
            assert graphql_names[field] in client_type.fields, f"{definition.name}.{graphql_names[field]}"


def test_seed_renames_keep_the_seed_field_names() -> None:
    client_types = _client_schema().type_map
    ohlcv, signal = client_types["OHLCVData"], client_types["Signal"]
    assert isinstance(ohlcv, GraphQLObjectType) and isinstance(signal, GraphQLObjectType)
    assert str(ohlcv.fields["timestamp"].type) == "Float!" and "ts" not in ohlcv.fields
    assert str(signal.fields["explanation"].type) == "SignalExplanation" and "explain" not in signal.fields


def _selection(gql_type: GraphQLType) -> str:
    """Every field of an object type, recursively (a query that asks for everything)."""
    while isinstance(gql_type, GraphQLNonNull | GraphQLList):
        gql_type = gql_type.of_type
    if not isinstance(gql_type, GraphQLObjectType):
        return ""
    return "{ " + " ".join(f"{name} {_selection(field.type)}" for name, field in gql_type.fields.items()) + " }"


def test_every_field_resolves_from_a_real_result(service: CryptoService) -> None:
    client = _client_schema()
    assert client.query_type is not None and client.mutation_type is not None
    query_fields, mutation_fields = client.query_type.fields, client.mutation_type.fields
    query = (
        f"{{ health {_selection(query_fields['health'].type)} "
        f"modelInfo {_selection(query_fields['modelInfo'].type)} "
        f"ohlcvData(input: {{limit: 60}}) {_selection(query_fields['ohlcvData'].type)} "
        f"compareSignals {_selection(query_fields['compareSignals'].type)} }}"
    )
    mutation = (
        f"mutation {{ generateSignal(input: {{explain: true}}) {_selection(mutation_fields['generateSignal'].type)} "
        f"generateMlSignal {_selection(mutation_fields['generateMlSignal'].type)} }}"
    )
    data: dict[str, Any] = {}
    for operation in (query, mutation):
        result = asyncio.run(schema.execute(operation, context_value={"service": service}))
        assert result.errors is None, result.errors
        assert result.data is not None
        data.update(result.data)
    assert len(data["ohlcvData"]["data"]) == data["ohlcvData"]["limit"] == 60
    assert data["ohlcvData"]["data"][-1]["timestamp"] > 1.5e12
    explanation = data["generateSignal"]["explanation"]
    assert isinstance(explanation["inputs"], dict) and explanation["inputs"]
    assert explanation["featuresTail"][-1]["volPerHour"] is not None
    hc = data["generateMlSignal"]["heuristicComparison"]
    assert hc["volatilityDiff"] == hc["mlVsHeuristic"]["volatilityDiff"]
    assert hc["regimeMatch"] == hc["mlVsHeuristic"]["regimeMatch"]
    c = data["compareSignals"]
    assert c["mlPredictedVolatility"] == c["ml"]["predictedVolatility"] and c["mlVolRegime"] == c["ml"]["volRegime"]
    assert c["heuristicVolatility"] == c["heuristic"]["volatility"]
    assert isinstance(data["modelInfo"]["featureColumns"], list) and data["health"]["database"]
