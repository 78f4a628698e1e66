"""Why a pipeline run stopped, in words a person can act on."""

from __future__ import annotations

from crypto_mlops.data.errors import CryptoMLOpsError


class PipelineFailed(CryptoMLOpsError):
    """A step failed for a reason that retrying will not fix; `step` names it."""

    def __init__(self, step: str, reason: str) -> None:
        super().__init__(f"{step} failed: {reason}")
        self.step = step
        self.reason = reason


class ValidationFailed(PipelineFailed):
    """The candles of a run did not pass the quality checks; nothing was committed."""

    def __init__(self, reason: str, report_key: str | None = None) -> None:
        super().__init__("validate", reason)
        self.report_key = report_key
