"""Writing files: the one place where scslab puts a file under its name.

Every file scslab writes (results, checkpoints, reports, plots) goes through :func:`replacing`: it
is written beside its name under a hidden name ending in ``.writing`` and renamed into place only
once complete, so a file under its final name is always whole, and a failed or killed write never
touches what was there before.

The final name must be new or a regular file. A folder, a device (``/dev/null``), a pipe, a socket
or a symbolic link there is refused with a :class:`~scslab.errors.ResourceError` before anything
is written, and again just before the rename: scslab never renames over one, and never follows a
link onto another file.

While a hidden file is written, its writer holds an exclusive ``flock`` on it. A hidden file that
nobody holds is a leftover of a killed process; :func:`clean_leftovers` removes those of a run
folder, and names the ones still in use.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from scslab.errors import ResourceError


def check_output(path: Path) -> None:
    """Refuse ``path`` as a place to write a file unless it is a new name in an existing folder or
    a regular file (not a link to one)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        if not path.parent.is_dir():
            raise ResourceError(f"{path}: the folder {path.parent} does not exist") from None
        return
    except OSError as exc:
        raise ResourceError(f"{path}: cannot write here ({exc.strerror})") from None
    mode = st.st_mode
    if stat.S_ISLNK(mode):
        raise ResourceError(
            f"{path}: is a symbolic link; scslab does not write through links: give the file's "
            "own path or a new name"
        )
    if stat.S_ISDIR(mode):
        raise ResourceError(f"{path}: is a folder; give a file name")
    if not stat.S_ISREG(mode):
        raise ResourceError(
            f"{path}: is not a regular file (a device, a pipe or a socket); give a new file name"
        )


class Aside:
    """The hidden file a :func:`replacing` block writes, beside the final name."""

    def __init__(self, path: Path, final: Path) -> None:
        self.path = path
        self.final = final
        self._fd: int | None = None

    def create(self) -> None:
        """Create the file (never through a link) and hold its lock."""
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
        self._fd = os.open(self.path, flags, 0o666)
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def hold(self) -> None:
        """Hold the lock of a file that another library created at :attr:`path` (DuckDB)."""
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            fcntl.flock(self._fd, fcntl.LOCK_EX)

    def open(self, mode: str = "wb", **kwargs: Any) -> IO[Any]:
        """The created file, opened for writing (its lock stays with this object)."""
        if self._fd is None:
            self.create()
        assert self._fd is not None
        return os.fdopen(os.dup(self._fd), mode, **kwargs)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # some file systems cannot sync a folder
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def replacing(path: Path, *, create: bool = True, what: str = "the file") -> Iterator[Aside]:
    """Write ``path`` atomically: the block writes :attr:`Aside.path`; when it ends without an
    error, that file is renamed onto ``path``. On any error (or Ctrl-C) the hidden file is removed
    and ``path`` is untouched.

    ``create=False``: the block creates the file itself (DuckDB will not open an empty file) and
    calls :meth:`Aside.hold` at once. OSErrors become a one-line ResourceError naming ``what``.
    """
    path = Path(path)
    check_output(path)
    aside = Aside(path.with_name(f".{path.name}.{secrets.token_hex(4)}.writing"), path)
    try:
        if create:
            aside.create()
        yield aside
        check_output(path)  # nothing took the name's place while the block ran
        os.replace(aside.path, path)
        _fsync_dir(path.parent)
    except OSError as exc:
        raise ResourceError(f"{path}: cannot write {what} ({exc.strerror or exc})") from None
    finally:
        aside.release()
        for leftover in (aside.path, Path(f"{aside.path}.wal")):
            with contextlib.suppress(OSError):
                leftover.unlink()


def write_text(path: Path, text: str, *, what: str = "the file") -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`replacing`)."""
    with replacing(path, what=what) as aside, aside.open("w", encoding="utf-8") as f:
        f.write(text)
    return path


def _in_use(path: Path) -> bool:
    """Whether a writer holds ``path``'s lock (it is being written now)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:  # a file system without locks: we cannot tell, so leave it
        return True
    finally:
        os.close(fd)
    return False


def clean_leftovers(folder: Path, names: tuple[str, ...]) -> list[Path]:
    """Remove the hidden ``.writing`` files (and DuckDB's ``.wal`` and ``.tmp`` beside them) that
    writes of the files ``names`` (fnmatch-free prefixes) left in ``folder`` when their process was
    killed. Files still being written are kept and returned."""
    pattern = re.compile(
        r"^\.(?:" + "|".join(re.escape(n) for n in names) + r")[^/]*?\.writing(\.wal|\.tmp)?$"
    )
    busy: list[Path] = []
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return busy
    mains = [p for p in entries if pattern.match(p.name) and p.name.endswith(".writing")]
    for p in mains:
        if _in_use(p):
            busy.append(p)
    held = {p.name for p in busy}
    for p in entries:
        m = pattern.match(p.name)
        if m is None:
            continue
        owner = p.name[: -len(m.group(1))] if m.group(1) else p.name
        if owner in held:
            continue
        with contextlib.suppress(OSError):
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
    return busy
