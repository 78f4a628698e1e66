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
from typing import TYPE_CHECKING, TypeVar, cast

import strawberry
from pydantic import BaseModel
from strawberry.scalars import JSON

from crypto_mlops.service import results

G = TypeVar("G")


def from_model(model: type[BaseModel]) -> Callable[[type[G]], type[G]]:
    """Declare a GraphQL object type with every field of `model`."""
    return cast(Callable[[type[G]], type[G]], strawberry.experimental.pydantic.type(model=model, all_fields=True))


def to_graphql(gql_type: type[G], result: BaseModel) -> G:
    """The GraphQL object of a service result; nested results become their GraphQL types too."""
    return cast(G, gql_type.from_pydantic(result))  # type: ignore[attr-defined]  # added by `from_model`


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
    if TYPE_CHECKING:  # the generated field holds an MLVsHeuristic with the model's field names
        ml_vs_heuristic: results.MLVsHeuristic

    @strawberry.field(description="Seed's flat copy of mlVsHeuristic.volatilityDiff.")
    def volatility_diff(self) -> float:
        return self.ml_vs_heuristic.volatility_diff

    @strawberry.field(description="Seed's flat copy of mlVsHeuristic.regimeMatch.")
    def regime_match(self) -> bool:
        return self.ml_vs_heuristic.regime_match


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

    if TYPE_CHECKING:  # the generated fields hold GraphQL objects with the models' field names
        heuristic: results.CompareHeuristic
        ml: results.CompareML
        comparison: results.CompareDetail

    error: str | None = None

    @strawberry.field
    def heuristic_risk_score(self) -> float:
        return self.heuristic.risk_score

    @strawberry.field
    def heuristic_vol_regime(self) -> str:
        return self.heuristic.vol_regime

    @strawberry.field
    def heuristic_volatility(self) -> float:
        return self.heuristic.volatility

    @strawberry.field
    def ml_predicted_volatility(self) -> float:
        return self.ml.predicted_volatility

    @strawberry.field
    def ml_vol_regime(self) -> str:
        return self.ml.vol_regime

    @strawberry.field
    def ml_confidence(self) -> float:
        return self.ml.confidence

    @strawberry.field
    def ml_risk_level(self) -> str:
        return self.ml.risk_level

    @strawberry.field
    def volatility_diff(self) -> float:
        return self.comparison.volatility_diff

    @strawberry.field
    def regime_agreement(self) -> bool:
        return self.comparison.regime_agreement


# -- model and health -----------------------------------------------------------------------------
@from_model(results.HealthResult)
class HealthStatus:
    pass


@from_model(results.ModelInfo)
class ModelInfo:
    metrics: JSON
    backtest: JSON | None
