"""`python -m crypto_mlops.stack.mlflow_exec server ...`: `mlflow server` as one process instead of two.

`mlflow server` prepares its stores and environment, then starts uvicorn as a child and stays alive
only to wait for it and forward signals: ~250 MB resident for nothing. This launcher runs the same
command (MLflow's own CLI, every check and setting unchanged) but replaces the launcher process with
the uvicorn command when MLflow starts it (`os.execve`, same pid). The stack then sees one process
and stops it directly. When this MLflow version starts its server some other way, the launcher
changes nothing and MLflow runs as usual.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any


def _exec_instead(command: Sequence[str], extra_env: Mapping[str, str] | None = None, **_: Any) -> None:
    """Stand-in for MLflow's process helper: become the server instead of starting it as a child."""
    env = {**os.environ, **(extra_env or {})}
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(command[0], list(command), env)


def main(argv: list[str]) -> None:
    import mlflow.server
    from mlflow.cli import cli

    if hasattr(mlflow.server, "_exec_cmd"):  # MLflow 3.x: the one place `mlflow server` starts uvicorn
        mlflow.server._exec_cmd = _exec_instead  # type: ignore[assignment]  # a narrower stand-in, same call
    cli.main(args=argv, prog_name="mlflow")


if __name__ == "__main__":
    main(sys.argv[1:])
