"""The one error family a user sees.

Every mistake a user can make (a bad scheme, a bad scenario, a bad argument, a run too big for the
machine) raises a :class:`ScslabError`. Its message says what is wrong and where, and the CLI prints
it without a traceback and exits with status 2.
"""

from __future__ import annotations

import errno


class ScslabError(Exception):
    """A user's mistake, reported with what is wrong and, where known, ``path:line:column``."""


class SchemeError(ScslabError):
    """A scheme file or scheme name that cannot be used."""


class ScenarioError(ScslabError):
    """A scenario file or scenario setting that cannot be used."""


class PersonError(ScslabError):
    """A person (``--agent``) a run cannot explain: not in the population, outside a layer's
    regions, or not in the panel of people whose histories the run kept."""


class ResourceError(ScslabError):
    """A run that this machine cannot hold, or an output folder that may not be written."""


class StorageError(ResourceError):
    """A file or folder the operating system would not let scslab read or write: a full disk, no
    permission, a read-only file system, a damaged file. :meth:`of` words an ``OSError`` so."""

    @classmethod
    def of(cls, exc: OSError, path: object = None, action: str = "") -> StorageError:
        """One line for ``exc``: ``PATH: cannot ACTION: the disk is full (No space left...)``."""
        where = path if path is not None else exc.filename
        reason = exc.strerror or str(exc) or type(exc).__name__
        advice = f"; {_ADVICE[exc.errno]}" if exc.errno in _ADVICE else ""
        head = f"{where}: " if where is not None else ""
        doing = f"cannot {action}: " if action else ""
        return cls(f"{head}{doing}{reason}{advice}")


#: What to do about the faults a user can fix, by errno.
_ADVICE = {
    errno.ENOSPC: "the disk is full: free some space or write elsewhere (--out)",
    errno.EDQUOT: "the disk quota is used up: free some space or write elsewhere (--out)",
    errno.EROFS: "write elsewhere (--out)",
    errno.EACCES: "check the permissions of the file and its folder, or write elsewhere",
    errno.EPERM: "check the permissions of the file and its folder, or write elsewhere",
    errno.EISDIR: "give a file, not a folder",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.ENAMETOOLONG: "give a shorter path",
    errno.EIO: "the disk reported an input/output error",
}


class LibraryMissing(ScslabError, ImportError):
    """An optional library (networkx, igraph, ...) that a feature needs is not installed."""


class CheckpointError(ScslabError):
    """A checkpoint that is missing, truncated, corrupted or of another run: never resumed from."""
