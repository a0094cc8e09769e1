"""The one error family a user sees.

Every mistake a user can make (a bad scheme, a bad scenario, a bad argument, a run too big for the
machine) raises a :class:`ScslabError`. Its message says what is wrong and where, and the CLI prints
it without a traceback and exits with status 2.
"""

from __future__ import annotations


class ScslabError(Exception):
    """A user's mistake, reported with what is wrong and, where known, ``path:line:column``."""


class SchemeError(ScslabError):
    """A scheme file or scheme name that cannot be used."""


class ScenarioError(ScslabError):
    """A scenario file or scenario setting that cannot be used."""


class ResourceError(ScslabError):
    """A run that this machine cannot hold, or an output folder that may not be written."""


class LibraryMissing(ScslabError, ImportError):
    """An optional library (networkx, igraph, ...) that a feature needs is not installed."""


class CheckpointError(ScslabError):
    """A checkpoint that is missing, truncated, corrupted or of another run: never resumed from."""
