"""YAML reading with positions, so that every complaint can say ``path:line:column``.

PyYAML's composer keeps the start mark of every node. :func:`load_located` builds plain Python data
(``dict``, ``list``, scalars) with the safe constructor and, beside it, a map from each value's path
(a tuple of keys and indices, the same shape pydantic uses for ``loc``) to its position. Validation
errors are then turned into located messages by :func:`located_errors`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
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


def _build(
    node: yaml.Node, loc: Loc, positions: dict[Loc, tuple[int, int]]
) -> Any:
    positions[loc] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        seen: dict[Any, int] = {}
        for knode, vnode in node.value:
            key = yaml.SafeLoader.construct_scalar(_LOADER, knode)  # type: ignore[arg-type]
            if key in seen:
                raise _UniqueKeyError(
                    str(key), knode.start_mark.line + 1, knode.start_mark.column + 1, seen[key]
                )
            seen[key] = knode.start_mark.line + 1
            out[key] = _build(vnode, (*loc, key), positions)
            # A misspelt key is reported where the key itself stands.
            positions[(*loc, key, "__key__")] = (
                knode.start_mark.line + 1,
                knode.start_mark.column + 1,
            )
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*loc, i), positions) for i, item in enumerate(node.value)]
    return _LOADER.construct_object(node, deep=True)


_LOADER = yaml.SafeLoader("")


def load_located(text: str | bytes, source: str, error: type[Exception]) -> Located:
    """Parse one YAML document; raise ``error`` with a located message if it cannot be read."""
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
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise error(f"{source}:{line}:{col}: this is not valid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise error(f"{source}:1:1: this is not valid YAML: {exc}") from None
    if node is None:
        raise error(f"{source}:1:1: the file is empty; expected a YAML mapping")
    positions: dict[Loc, tuple[int, int]] = {}
    try:
        data = _build(node, (), positions)
    except _UniqueKeyError as exc:
        raise error(
            f"{source}:{exc.line}:{exc.col}: the key '{exc.key}' is given twice "
            f"(first on line {exc.first}); keep one"
        ) from None
    except yaml.YAMLError as exc:
        raise error(f"{source}:1:1: this YAML cannot be read safely: {exc}") from None
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise error(f"{source}:1:1: expected a YAML mapping of keys to values, found a {kind}")
    return Located(data, source, positions)


def read_located(path: Path, error: type[Exception]) -> Located:
    """Read ``path`` and parse it with :func:`load_located`."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise error(f"{path}: cannot read the file ({exc.strerror})") from None
    return load_located(raw, str(path), error)


def _describe(err: ErrorDetails) -> str:
    kind = err["type"]
    msg = str(err["msg"])
    if kind == "extra_forbidden":
        return "unknown key; check the spelling against the scheme language in docs/schemes.md"
    if kind == "missing":
        return "this key is required but missing"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    return msg


def located_errors(errors: Sequence[ErrorDetails], doc: Located, limit: int = 10) -> str:
    """Render pydantic errors as one ``path:line:col: message`` line per problem."""
    lines = []
    for err in errors[:limit]:
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
        if err["type"] == "extra_forbidden" and (*loc, "__key__") in doc.positions:
            where = doc.where((*loc, "__key__"))
        elif err["type"] == "missing":
            where = doc.where(loc[:-1])
        else:
            where = doc.where(loc)
        dotted = ".".join(str(p) for p in loc) or "(top level)"
        lines.append(f"{where}: {dotted}: {_describe(err)}")
    more = len(errors) - limit
    if more > 0:
        lines.append(f"... and {more} more problem(s)")
    return "\n".join(lines)
