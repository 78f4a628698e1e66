"""GraphQL object types, generated from the service's result models (one declaration of every field).

Each type takes all fields of its pydantic model (`all_fields=True`; strawberry camelCases the names), so
a field added to a result shows up here by itself. The class bodies hold only what GraphQL does
differently: the seed's type names, two renamed fields (`OHLCVData.timestamp` is the bar's `ts` as a
Float, because epoch ms does not fit GraphQL's 32-bit Int; `Signal.explanation` is the result's
`explain`), JSON for free-form dicts, the seed's flat fields (derived from the nested ones) and the
seed's `error` fields (kept for compatibility, always null: failures are GraphQL errors).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import strawberry
from pydantic import BaseModel
from strawberry.scalars import JSON
from strawberry.types.field import StrawberryField
from strawberry.utils.str_converters import to_camel_case

from crypto_mlops.service import results

G = TypeVar("G")


def from_model(model: type[BaseModel]) -> Callable[[type[G]], type[G]]:
    """Declare a GraphQL object type with every field of `model`."""
    return cast(Callable[[type[G]], type[G]], strawberry.experimental.pydantic.type(model=model, all_fields=True))


def to_graphql(gql_type: type[G], result: BaseModel) -> G:
    """The GraphQL object of a service result; nested results become their GraphQL types too."""
    return cast(G, gql_type.from_pydantic(result))  # type: ignore[attr-defined]  # added by `from_model`


def seed_copy(model: type[BaseModel], path: str) -> StrawberryField:
    """A seed field repeating the nested field `path` (e.g. "heuristic.risk_score") of `model` at the top.

    Its GraphQL type is the nested model field's type; the value is read from the nested object.
    """
    nested, name = path.split(".")
    nested_model = model.model_fields[nested].annotation
    if not (isinstance(nested_model, type) and issubclass(nested_model, BaseModel)):
        raise TypeError(f"{model.__name__}.{nested} is not a nested result model")

    def resolve(root: Any) -> Any:
        return getattr(getattr(root, nested), name)

    field = strawberry.field(
        resolver=resolve,
        graphql_type=nested_model.model_fields[name].annotation,
        description=f"Seed's flat copy of {to_camel_case(nested)}.{to_camel_case(name)}.",
    )
    return cast(StrawberryField, field)


# -- market data ----------------------------------------------------------------------------------
@from_model(results.OHLCVBar)
class OHLCVData:
    ts: float = strawberry.field(name="timestamp")


@from_model(results.OHLCVResult)
class OHLCVResponse:
    error: str | None = None


# -- heuristic signal -----------------------------------------------------------------------------
@from_model(results.FeatureRow)
class FeatureData:
    pass


@from_model(results.SignalExplanation)
class SignalExplanation:
    inputs: JSON


@from_model(results.SignalResult)
class Signal:
    explain: SignalExplanation | None = strawberry.field(name="explanation")
    error: str | None = None


# -- ML signal ------------------------------------------------------------------------------------
@from_model(results.MLPredictionOut)
class MLPrediction:
    error: str | None = None


@from_model(results.MLVsHeuristic)
class MLVsHeuristic:
    pass


@from_model(results.HeuristicComparison)
class HeuristicComparison:
    volatility_diff = seed_copy(results.HeuristicComparison, "ml_vs_heuristic.volatility_diff")
    regime_match = seed_copy(results.HeuristicComparison, "ml_vs_heuristic.regime_match")


@from_model(results.MLSignalResult)
class MLSignal:
    error: str | None = None


# -- heuristic vs ML ------------------------------------------------------------------------------
@from_model(results.CompareHeuristic)
class HeuristicSummary:
    pass


@from_model(results.CompareML)
class MLSummary:
    pass


@from_model(results.CompareDetail)
class ComparisonDetail:
    pass


@from_model(results.CompareResult)
class SignalComparison:
    """The REST-shaped nested fields plus the seed's flat ones (its type existed but was never exposed)."""

    error: str | None = None
    heuristic_risk_score = seed_copy(results.CompareResult, "heuristic.risk_score")
    heuristic_vol_regime = seed_copy(results.CompareResult, "heuristic.vol_regime")
    heuristic_volatility = seed_copy(results.CompareResult, "heuristic.volatility")
    ml_predicted_volatility = seed_copy(results.CompareResult, "ml.predicted_volatility")
    ml_vol_regime = seed_copy(results.CompareResult, "ml.vol_regime")
    ml_confidence = seed_copy(results.CompareResult, "ml.confidence")
    ml_risk_level = seed_copy(results.CompareResult, "ml.risk_level")
    volatility_diff = seed_copy(results.CompareResult, "comparison.volatility_diff")
    regime_agreement = seed_copy(results.CompareResult, "comparison.regime_agreement")


# -- model and health -----------------------------------------------------------------------------
@from_model(results.HealthResult)
class HealthStatus:
    pass


@from_model(results.ModelInfo)
class ModelInfo:
    metrics: JSON
    backtest: JSON | None


# -- many pairs -------------------------------------------------------------------------------------
@from_model(results.PairForecast)
class PairForecast:
    pass


@from_model(results.ScreenerResult)
class ScreenerResult:
    skipped: JSON


@from_model(results.PairsResult)
class Pairs:
    pass


# -- forecast history of a live pair ----------------------------------------------------------------
@from_model(results.ForecastRow)
class ForecastRow:
    pass


@from_model(results.ForecastHistoryResult)
class ForecastHistory:
    pass
