"""Resolver plumbing: service messages speak GraphQL argument names."""

from __future__ import annotations

from crypto_mlops.gql.calls import graphql_wording


def test_argument_names_are_camel_cased_in_messages() -> None:
    message = "horizon_min must be between 1 and 10080, got 0"
    assert graphql_wording(message) == "horizonMin must be between 1 and 10080, got 0"


def test_other_words_are_left_alone() -> None:
    message = "invalid exchange 'binance_us': no CSV under DATA_CSV_PATH for limit"
    assert graphql_wording(message) == message
