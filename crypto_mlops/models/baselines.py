"""The baselines, in the order of the backtest table (importing this module registers them all).

- `classic`: naive persistence, RiskMetrics EWMA, GARCH(1,1)-t;
- `har`: HAR-RV (log), calendar-aware HAR, HAR-X (range, short-horizon and calendar terms);
- `har_semiq`: SHAR (semivariances), HARQ (realized quarticity), and HAR-XSQ (HAR-X with both).
"""

from __future__ import annotations

from crypto_mlops.models.base import fit_rows
from crypto_mlops.models.classic import EWMAModel, GarchModel, NaiveModel, RuleModel
from crypto_mlops.models.har import HarCalendarModel, HarModel, HarXModel, har_design, hour_of_week_factors
from crypto_mlops.models.har_semiq import HarqModel, HarXsqModel, SharModel

BASELINES = [
    m.name
    for m in (
        NaiveModel,
        EWMAModel,
        GarchModel,
        HarModel,
        HarCalendarModel,
        HarXModel,
        SharModel,
        HarqModel,
        HarXsqModel,
    )
]
REFERENCE = HarModel.name  # the Diebold-Mariano reference of the backtest table

__all__ = [
    "BASELINES",
    "REFERENCE",
    "EWMAModel",
    "GarchModel",
    "HarCalendarModel",
    "HarModel",
    "HarXModel",
    "HarXsqModel",
    "HarqModel",
    "NaiveModel",
    "RuleModel",
    "SharModel",
    "fit_rows",
    "har_design",
    "hour_of_week_factors",
]
