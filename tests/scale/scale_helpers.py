"""The scale tests' helpers are the whole suite's (tests/helpers.py): a results file's tables,
two runs' tables compared, a run stopped and resumed, the CLI run."""

from __future__ import annotations

from helpers import assert_same_tables, scslab, stopped, stopped_and_resumed, tables

__all__ = ["assert_same_tables", "scslab", "stopped", "stopped_and_resumed", "tables"]
