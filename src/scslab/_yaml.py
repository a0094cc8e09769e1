"""YAML reading with positions, so that every complaint can say ``path:line:column``.

PyYAML's composer (libyaml's, where PyYAML has it) keeps the start mark of every node.
:func:`load_located` builds plain Python data (``dict``, ``list``, scalars) with the safe
constructor and, beside it, a map from each value's path (a tuple of keys and indices, the same
shape pydantic uses for ``loc``) to its position. Validation errors are then turned into located
messages by :func:`located_errors`.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path
from typing import Any

import yaml
from pydantic_core import ErrorDetails

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Located:
    """Data read from a YAML document and the position of every value in it."""

    data: Any
    source: str
    positions: dict[Loc, tuple[int, int]] = field(default_factory=dict)

    def where(self, loc: Sequence[str | int]) -> str:
        """``source:line:column`` of the deepest known value on ``loc`` (1-based)."""
        loc = tuple(loc)
        while loc and loc not in self.positions:
            loc = loc[:-1]
        line, col = self.positions.get(loc, (1, 1))
        return f"{self.source}:{line}:{col}"


class _UniqueKeyError(Exception):
    def __init__(self, key: str, line: int, col: int, first: int) -> None:
        super().__init__(key)
        self.key, self.line, self.col, self.first = key, line, col, first


class _ShapeError(Exception):
    """A document that is valid YAML but cannot be data for us (a located message)."""

    def __init__(self, node: yaml.Node, message: str) -> None:
        super().__init__(message)
        self.line, self.col = node.start_mark.line + 1, node.start_mark.column + 1


#: The only tags a list or a mapping may carry: the plain ones, which YAML gives by default.
_PLAIN_TAGS = frozenset({"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"})

#: Most values a document may expand to; aliases can make a short text expand exponentially.
_MAX_VALUES = 200_000

_INT_TAG = "tag:yaml.org,2002:int"
#: Longest integer scalar read (Python's own limit for decimal text).
_MAX_INT_CHARS = 4300

#: Largest input file or text read (bytes). Built-in schemes are about 10 KB; a scenario, sweep
#: spec or scheme a thousand times that size is a mistake, not an input.
MAX_INPUT_BYTES = 8 * 2**20


class _Builder:
    """Builds plain data from a composed node graph, recording where every value stands."""

    def __init__(self) -> None:
        # A fresh constructor per document: it caches what it builds.
        self.loader = yaml.SafeLoader("")
        self.positions: dict[Loc, tuple[int, int]] = {}
        self.open: set[int] = set()

    def build(self, node: yaml.Node, loc: Loc) -> Any:
        if len(self.positions) >= _MAX_VALUES:
            raise _ShapeError(node, f"the document expands to more than {_MAX_VALUES} values")
        positions = self.positions
        positions[loc] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            if id(node) in self.open:
                raise _ShapeError(node, "an alias (*name) refers to a value that contains it")
            if node.tag not in _PLAIN_TAGS:
                raise _ShapeError(node, f"the tag '{node.tag}' is not supported; remove it")
            self.open.add(id(node))
            try:
                return self._collection(node, loc)
            finally:
                self.open.discard(id(node))
        if node.tag == _INT_TAG and len(node.value) > _MAX_INT_CHARS:
            # YAML 1.1 reads 1:30:00 as base 60, and PyYAML builds such a number in time that
            # grows with the square of its length (0.3 MB: 9 s); decimal ones hit Python's limit
            raise _ShapeError(node, f"this integer has more than {_MAX_INT_CHARS:,} digits")
        try:
            return self.loader.construct_object(node, deep=True)
        except ValueError as exc:  # e.g. an integer past Python's 4,300-digit limit
            if "integer string conversion" in str(exc):
                raise _ShapeError(
                    node, f"this integer has more than {sys.get_int_max_str_digits():,} digits"
                ) from None
            raise _ShapeError(node, f"this value cannot be read ({_first_line(exc)})") from None

    def _collection(self, node: yaml.Node, loc: Loc) -> Any:
        positions = self.positions
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*loc, i)) for i, item in enumerate(node.value)]
        out: dict[Any, Any] = {}
        seen: dict[Any, int] = {}
        for knode, vnode in node.value:
            if not isinstance(knode, yaml.ScalarNode):
                raise _ShapeError(knode, "a key must be a plain name, not a list or a mapping")
            key = self.loader.construct_scalar(knode)
            if key in seen:
                raise _UniqueKeyError(
                    str(key), knode.start_mark.line + 1, knode.start_mark.column + 1, seen[key]
                )
            seen[key] = knode.start_mark.line + 1
            out[key] = self.build(vnode, (*loc, key))
            # A misspelt key is reported where the key itself stands.
            positions[(*loc, key, "__key__")] = (
                knode.start_mark.line + 1,
                knode.start_mark.column + 1,
            )
        return out


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _line_col(text: str, position: int) -> tuple[int, int]:
    """1-based line and column of a character offset into ``text``."""
    before = text[:position]
    return before.count("\n") + 1, position - (before.rfind("\n") + 1) + 1


#: libyaml's parser, where PyYAML was built with it: it composes a document ten times faster
#: than the pure-Python one and gives its nodes the same positions
_FAST_LOADER: type[yaml.SafeLoader] | None = getattr(yaml, "CSafeLoader", None)


def _compose(text: str) -> yaml.Node | None:
    """The node graph of one YAML document, composed by libyaml where it is available.

    A text libyaml refuses is composed again by PyYAML's own parser, so that what a mistake is
    called, and where it stands, does not depend on how PyYAML was built."""
    if _FAST_LOADER is not None:
        try:
            return yaml.compose(text, Loader=_FAST_LOADER)
        except Exception:  # PyYAML's own parser says what is wrong, below
            pass
    node: yaml.Node | None = yaml.compose(text, Loader=yaml.SafeLoader)
    return node


def load_located(text: str | bytes, source: str, error: type[Exception]) -> Located:
    """Parse one YAML document; raise ``error`` with a located message if it cannot be read.

    Text over :data:`MAX_INPUT_BYTES` (an upload, say) is refused before it is parsed."""
    if len(text) > MAX_INPUT_BYTES:
        raise error(f"{source}:1:1: {_too_large('text')}")
    if isinstance(text, bytes):
        if b"\x00" in text:
            raise error(f"{source}:1:1: this is a binary file, not YAML text")
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise error(f"{source}:1:1: the file is not UTF-8 text ({exc.reason})") from None
    if not text.strip():
        raise error(f"{source}:1:1: the file is empty; expected a YAML mapping")
    try:
        node = _compose(text)
    except RecursionError:
        raise error(f"{source}:1:1: this YAML is nested too deeply to read") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise error(f"{source}:{line}:{col}: this is not valid YAML: {exc.problem}") from None
    except yaml.reader.ReaderError as exc:
        line, col = _line_col(text, exc.position)
        raise error(
            f"{source}:{line}:{col}: this text holds a character YAML does not allow "
            f"(#x{exc.character:04x}); remove it"
        ) from None
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise error(f"{source}:1:1: this is not valid YAML: {first}") from None
    if node is None:
        raise error(f"{source}:1:1: the file is empty; expected a YAML mapping")
    builder = _Builder()
    try:
        data = builder.build(node, ())
    except _UniqueKeyError as exc:
        raise error(
            f"{source}:{exc.line}:{exc.col}: the key '{exc.key}' is given twice "
            f"(first on line {exc.first}); keep one"
        ) from None
    except _ShapeError as exc:
        raise error(f"{source}:{exc.line}:{exc.col}: {exc}") from None
    except RecursionError:
        raise error(f"{source}:1:1: this YAML is nested too deeply to read") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or "an unsupported tag or value"
        raise error(f"{source}:{line}:{col}: this YAML cannot be read safely: {problem}") from None
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise error(f"{source}:1:1: this YAML cannot be read safely: {first}") from None
    positions = builder.positions
    if not isinstance(data, dict):
        kind = {type(None): "null", list: "list", str: "string"}.get(type(data), "single value")
        raise error(f"{source}:1:1: expected a YAML mapping of keys to values, found a {kind}")
    return Located(data, source, positions)


def looks_like_path(spec: str | Path) -> bool:
    """Whether a scheme or catalogue argument names a file by its looks: it ends in ``.yaml`` or
    ``.yml`` or holds a path separator (``./mine``, ``schemes/mine``). Anything else is a
    built-in name first, so that a folder named like a built-in never hides it."""
    text = str(spec)
    seps = [sep for sep in ("/", os.sep, os.altsep) if sep]
    return text.endswith((".yaml", ".yml")) or any(sep in text for sep in seps)


def read_input(path: str | Path, error: type[Exception], what: str = "file") -> bytes:
    """The bytes of a user's input file (a scenario, scheme, catalogue, sweep spec...).

    Only a regular file of at most :data:`MAX_INPUT_BYTES` is read: a folder, a device such as
    ``/dev/zero``, a FIFO or a socket is refused before anything is read (a FIFO is opened without
    waiting for a writer), and so is a file that is or grows too large. ``what`` names the input
    in messages ("no such scheme file").
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise error(f"{path}: no such {what}") from None
    except IsADirectoryError:
        raise error(f"{path}: this is a folder, not a {what}") from None
    except OSError as exc:
        raise error(f"{path}: cannot read the {what} ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)
        mode = info.st_mode
        if stat.S_ISDIR(mode):
            raise error(f"{path}: this is a folder, not a {what}")
        if not stat.S_ISREG(mode):
            raise error(
                f"{path}: this is not a regular file (a device, pipe or socket); give a {what}"
            )
        if info.st_size > MAX_INPUT_BYTES:
            raise error(f"{path}: {_too_large(what)}")
        chunks, size = [], 0  # a file may grow while it is read: read one byte past the limit
        while size <= MAX_INPUT_BYTES:
            chunk = os.read(fd, min(1 << 20, MAX_INPUT_BYTES + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise error(f"{path}: cannot read the {what} ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
    if size > MAX_INPUT_BYTES:
        raise error(f"{path}: {_too_large(what)}")
    return b"".join(chunks)


def _too_large(what: str) -> str:
    return f"the {what} is larger than {MAX_INPUT_BYTES // 2**20} MiB, the most scslab reads"


def read_located(path: Path, error: type[Exception], what: str = "file") -> Located:
    """Read ``path`` with :func:`read_input` and parse it with :func:`load_located`."""
    return load_located(read_input(path, error, what), str(path), error)


#: The keys a mapping at a location may hold, if known; used to suggest a spelling.
KeysAt = Callable[[Loc], Sequence[str]]


def describe_error(err: ErrorDetails) -> str:
    """A pydantic error's message in the words used across scslab."""
    kind = err["type"]
    msg = str(err["msg"])
    if kind == "extra_forbidden":
        return "unknown key; check its spelling"
    if kind == "missing":
        return "this key is required but missing"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    return msg


def _show(part: str | int) -> str:
    """A key as it may stand in a one-line message: quoted escapes for unprintable text."""
    text = str(part)
    return text if text.isprintable() else repr(text)


def _quoted(part: str | int) -> str:
    text = str(part)
    return f"'{text}'" if text.isprintable() else repr(text)


def clean_loc(loc: Sequence[str | int]) -> Loc:
    """Drop pydantic's own steps (``function-after[...]``) from an error location."""
    return tuple(p for p in loc if not (isinstance(p, str) and "[" in p))


def _misspellings(errors: Sequence[tuple[ErrorDetails, Loc]]) -> tuple[dict[int, str], set[Loc]]:
    """Unknown keys that are a misspelling of a required key missing beside them: the hint for
    each (by error index), and the 'missing' errors they explain. Linear in the errors: the
    missing keys are grouped by the mapping they belong to."""
    missing: dict[Loc, list[Loc]] = {}
    for err, loc in errors:
        if err["type"] == "missing" and loc:
            missing.setdefault(loc[:-1], []).append(loc)
    hints: dict[int, str] = {}
    explained: set[Loc] = set()
    for i, (err, loc) in enumerate(errors):
        if err["type"] != "extra_forbidden" or not loc or loc[:-1] not in missing:
            continue
        parent, key = loc[:-1], str(loc[-1])
        absent = [str(m[-1]) for m in missing[parent] if m not in explained]
        near = get_close_matches(key, absent, n=1)
        if near:
            explained.add((*parent, near[0]))
            hints[i] = f"unknown key {_quoted(key)}; did you mean '{near[0]}'?"
    return hints, explained


def _unknown_key_hint(
    loc: Loc, keys_at: KeysAt, allowed_at: dict[Loc, Sequence[str]]
) -> str | None:
    """The hint for an unknown key from the keys allowed beside it (``allowed_at`` caches them)."""
    parent, key = loc[:-1], str(loc[-1])
    if parent not in allowed_at:
        allowed_at[parent] = keys_at(parent)
    allowed = allowed_at[parent]
    near = get_close_matches(key, list(allowed), n=1)
    if near:
        return f"unknown key {_quoted(key)}; did you mean '{near[0]}'?"
    if allowed:
        return f"unknown key {_quoted(key)}; the keys here are: {', '.join(allowed)}"
    return None


def located_errors(
    errors: Sequence[ErrorDetails],
    doc: Located,
    limit: int = 10,
    keys_at: KeysAt | None = None,
) -> str:
    """Render pydantic errors as one ``path:line:col: message`` line per problem.

    A misspelt key is one problem, not two: when an unknown key is close to a required key that
    is missing beside it, only the unknown key is reported, with the spelling it should have.
    ``keys_at`` (the keys allowed at a location) lets other unknown keys get a suggestion too.
    """
    located = [(err, clean_loc(err["loc"])) for err in errors]
    hints, explained = _misspellings(located)
    kept = [
        (err, loc, hints.get(i))
        for i, (err, loc) in enumerate(located)
        if not (err["type"] == "missing" and loc in explained)
    ]
    lines = []
    allowed_at: dict[Loc, Sequence[str]] = {}
    for err, loc, hint in kept[:limit]:
        if hint is None and keys_at is not None and err["type"] == "extra_forbidden" and loc:
            hint = _unknown_key_hint(loc, keys_at, allowed_at)  # only for the problems shown
        if err["type"] == "extra_forbidden" and (*loc, "__key__") in doc.positions:
            where = doc.where((*loc, "__key__"))
        elif err["type"] == "missing":
            where = doc.where(loc[:-1])
        else:
            where = doc.where(loc)
        dotted = ".".join(_show(p) for p in loc) or "(top level)"
        lines.append(f"{where}: {dotted}: {hint or describe_error(err)}")
    more = len(kept) - limit
    if more > 0:
        lines.append(f"... and {more} more problem(s)")
    return "\n".join(lines)
