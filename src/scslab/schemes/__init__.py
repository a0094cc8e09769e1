"""Schemes as data: the typed scheme language, its loader and the built-in schemes."""

from scslab.schemes.loader import (
    builtin_names,
    builtin_text,
    dump_scheme,
    load_scheme,
    parse_scheme,
)
from scslab.schemes.model import DOMAINS, RIGHTS, Scheme

__all__ = [
    "DOMAINS",
    "RIGHTS",
    "Scheme",
    "builtin_names",
    "builtin_text",
    "dump_scheme",
    "load_scheme",
    "parse_scheme",
]
