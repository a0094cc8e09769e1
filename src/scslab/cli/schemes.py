"""``scslab schemes``: list, show and validate schemes."""

from __future__ import annotations

import typer

app = typer.Typer(help="List, show and validate scoring schemes.", no_args_is_help=True)
