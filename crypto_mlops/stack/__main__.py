"""`python -m crypto_mlops.stack up [--full]`: the supervisor without the command line's imports.

The supervisor lives as long as the stack, so what it imports stays in memory for hours. The full
`crypto-mlops` command line imports every command group (pandas, SQLAlchemy, the service layer:
~140 MB); this entry point imports only the stack package (~45 MB). `crypto-mlops stack up`
replaces its own process with this one (same pid, same arguments).
"""

from __future__ import annotations

import argparse
import sys

from rich.console import Console

from crypto_mlops.stack.supervisor import StackSupervisor


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crypto_mlops.stack", description="Run the local stack.")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="Start the stack in the foreground; Ctrl-C stops every child.")
    up.add_argument("--full", action="store_true", help="Also PostgreSQL, SeaweedFS S3, MLflow on PG+S3, Airflow.")
    args = parser.parse_args(argv)
    console = Console()
    if not console.is_terminal:  # logs and `make` output: do not wrap the status table at 80 columns
        console = Console(width=150)
    return StackSupervisor(full=args.full, console=console).run()


if __name__ == "__main__":
    sys.exit(main())
