"""Shared CLI plumbing: one-line errors instead of tracebacks, a console, and common options."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from crypto_mlops.data.errors import CryptoMLOpsError, DataUnavailable, InvalidInput

console = Console()
err_console = Console(stderr=True, soft_wrap=True)
F = TypeVar("F", bound=Callable[..., Any])

EXIT_INVALID_INPUT = 2
EXIT_UNAVAILABLE = 3
EXIT_CONFIG = 2


def settings_error(exc: ValidationError) -> str:
    """One line naming each refused variable and why (pydantic's report spans many lines)."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()))
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


def refuse_bad_settings(exc: ValidationError) -> typer.Exit:
    """Print the one-line refusal of a settings error and return the exit to raise."""
    err_console.print(f"[bold red]configuration refused:[/] {settings_error(exc)}", markup=True, highlight=False)
    return typer.Exit(EXIT_CONFIG)


def friendly_errors(func: F) -> F:
    """Turn the project's errors into a one-line message and a non-zero exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except InvalidInput as exc:
            err_console.print(f"[bold red]error:[/] {exc}")
            raise typer.Exit(EXIT_INVALID_INPUT) from None
        except DataUnavailable as exc:
            err_console.print(f"[bold red]unavailable:[/] {exc}")
            raise typer.Exit(EXIT_UNAVAILABLE) from None
        except CryptoMLOpsError as exc:
            err_console.print(f"[bold red]error:[/] {exc}")
            raise typer.Exit(1) from None
        except ValidationError as exc:
            if not exc.title.endswith("Settings"):
                raise
            raise refuse_bad_settings(exc) from None

    return wrapper  # type: ignore[return-value]


def quiet_libraries() -> None:
    for name in ("ccxt", "urllib3", "mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)


def counting_progress(out: Console) -> Progress:
    """A transient 'description, bar, done/total, elapsed' progress display for long loops."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=out,
        transient=True,
    )
