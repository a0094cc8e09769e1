"""Finding, reading and writing schemes: a built-in name or a user's file work alike."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ValidationError

from scslab._yaml import (
    KeysAt,
    Loc,
    Located,
    load_located,
    located_errors,
    looks_like_path,
    read_input,
    read_located,
)
from scslab.errors import SchemeError
from scslab.schemes.model import Scheme, problems_of

_BUILTIN = "scslab.schemes.builtin"


def builtin_names() -> list[str]:
    """Names of the built-in schemes, sorted."""
    files = resources.files(_BUILTIN).iterdir()
    return sorted(f.name.removesuffix(".yaml") for f in files if f.name.endswith(".yaml"))


def builtin_text(name: str) -> str:
    """The YAML text of a built-in scheme, exactly as shipped."""
    if name not in builtin_names():
        raise SchemeError(_unknown_name(name))
    return resources.files(_BUILTIN).joinpath(f"{name}.yaml").read_text(encoding="utf-8")


def _unknown_name(name: str) -> str:
    from difflib import get_close_matches

    names = builtin_names()
    near = get_close_matches(name, names, n=1)
    hint = f"did you mean '{near[0]}'? " if near else ""
    return (
        f"{name}: no built-in scheme has this name and no such file exists; {hint}"
        f"built-ins: {', '.join(names)}"
    )


def resolve(spec: str | Path) -> tuple[str | bytes, str]:
    """The text of a scheme given as a built-in name or a path, and a label for messages.

    A built-in name wins over a file or folder of the same name unless the argument looks like
    a path (:func:`looks_like_path`); a bare name that is no built-in may still name a file.
    """
    name = str(spec)
    if not looks_like_path(name) and (name in builtin_names() or not Path(name).is_file()):
        return builtin_text(name), f"builtin:{name}.yaml"
    return read_input(Path(spec), SchemeError, "scheme file"), name


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model class inside a field's type (``Event`` in ``tuple[Event, ...]``), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def keys_at(loc: Loc) -> list[str]:
    """The keys the scheme language allows in the mapping at ``loc``; empty if not a model."""
    model: type[BaseModel] | None = Scheme
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if model is not None else None
        model = _model_in(field.annotation) if field is not None else None
    return list(model.model_fields) if model is not None else []


def validate_located(doc: Located) -> Scheme:
    """Validate parsed YAML into a :class:`Scheme`, reporting problems at their line and column."""
    try:
        scheme = Scheme.model_validate(doc.data)
        scheme.remember_origin(doc.where)
        return scheme
    except ValidationError as exc:
        raise SchemeError(problem_lines(exc, doc, keys_at=keys_at)) from None


def problem_lines(exc: ValidationError, doc: Located, keys_at: KeysAt | None = None) -> str:
    """A scheme's or scenario's validation errors as ``path:line:column: ...`` lines: pydantic's
    own first, then the problems that validators found at places of their own (``problems_of``)."""
    lines: list[str] = []
    plain = []
    for err in exc.errors():
        found = problems_of(err.get("ctx"))
        if found is None:
            plain.append(err)
            continue
        lines += [f"{doc.where(loc)}: {'.'.join(map(str, loc))}: {m}" for loc, m in found]
    if plain:
        lines.insert(0, located_errors(plain, doc, keys_at=keys_at))
    return "\n".join(lines)


def parse_scheme(text: str | bytes, source: str = "<scheme>") -> Scheme:
    """Read a scheme from YAML text."""
    return validate_located(load_located(text, source, SchemeError))


def load_scheme(spec: str | Path | Scheme) -> Scheme:
    """A scheme from a built-in name, a path to a YAML file, or an already built :class:`Scheme`."""
    if isinstance(spec, Scheme):
        return spec
    if isinstance(spec, Path):
        return validate_located(read_located(spec, SchemeError, "scheme file"))
    text, source = resolve(spec)
    return parse_scheme(text, source)


def scheme_to_data(scheme: Scheme) -> dict[str, Any]:
    """Plain data for YAML: defaults left out so that the text stays close to what people write."""
    return scheme.model_dump(mode="json", exclude_defaults=True)


def dump_scheme(scheme: Scheme) -> str:
    """A scheme as YAML text that :func:`parse_scheme` reads back to an equal scheme."""
    return yaml.safe_dump(scheme_to_data(scheme), sort_keys=False, allow_unicode=True, width=100)
