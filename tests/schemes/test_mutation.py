"""Mutated schemes are either valid or refused with a located SchemeError; the loader never crashes.

Hypothesis takes valid schemes (the built-ins and the test fixture), breaks them at random, in
their data (delete, retype, duplicate, rename, swap, insert junk) or in their text (truncate, flip
bytes, insert junk, repeat a line), and feeds the result to ``parse_scheme``. Any exception other
than SchemeError is a bug in the loader or the scheme model.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scslab.errors import SchemeError
from scslab.schemes import builtin_names, builtin_text, parse_scheme

DATA = Path(__file__).parent / "data"
SOURCE = "mutant.yaml"
LOCATED = re.compile(rf"^{re.escape(SOURCE)}:\d+:\d+: |^\.\.\. and \d+ more problem")


def _seeds() -> list[str]:
    texts = [(DATA / "tiny.yaml").read_text(encoding="utf-8")]
    for name in builtin_names():
        text = builtin_text(name)
        try:
            parse_scheme(text, name)
        except SchemeError:
            continue  # a broken built-in is the conformance suite's to report
        texts.append(text)
    return texts


SEEDS = _seeds()
TREES = [yaml.safe_load(text) for text in SEEDS]

# Values of every kind YAML can carry, including the awkward ones.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["", "-", "A", "black", "finance", "religion", "0", "1e9", "yes", "~"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=6,
)
junk = st.one_of(
    st.text(max_size=20),
    st.sampled_from([":", "- ", "{", "]", "&a", "*a", "!!python/object:os.system", "\t", "\x00"]),
)


def _slots(node: Any) -> list[tuple[Any, Any]]:
    """Every (container, key or index) in a data tree, depth first."""
    out: list[tuple[Any, Any]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            out.append((node, key))
            out.extend(_slots(value))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out.append((node, i))
            out.extend(_slots(value))
    return out


def _mutate_data(data: Any, draw: st.DrawFn) -> None:
    """Apply one random structural mutation to ``data`` in place."""
    slots = _slots(data)
    container, key = draw(st.sampled_from(slots))
    op = draw(
        st.sampled_from(["delete", "retype", "duplicate", "rename", "swap", "junk", "insert"])
    )
    if op == "delete":
        del container[key]
    elif op == "retype":
        container[key] = draw(values)
    elif op == "duplicate":
        lists = [(c, k) for c, k in slots if isinstance(c, list)]
        if lists:
            lst, i = draw(st.sampled_from(lists))
            lst.insert(i, lst[i])
    elif op == "rename" and isinstance(container, dict):
        new = draw(st.one_of(st.text(max_size=15), st.sampled_from(list(container))))
        container[new + draw(st.sampled_from(["", "s", "_"]))] = container.pop(key)
    elif op == "swap":
        numbers = [(c, k) for c, k in slots if isinstance(c[k], int | float)]
        if len(numbers) >= 2:
            (c1, k1), (c2, k2) = draw(st.permutations(numbers))[:2]
            c1[k1], c2[k2] = c2[k2], c1[k1]
    elif op == "junk":
        container[key] = draw(junk)
    elif op == "insert" and isinstance(container, list):
        container.insert(key, draw(values))


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_mutated_scheme_data_is_accepted_or_refused_with_a_scheme_error(
    data: st.DataObject,
) -> None:
    """Structural mutations of valid schemes give a Scheme or a located SchemeError, no crash."""
    tree = copy.deepcopy(data.draw(st.sampled_from(TREES), label="seed"))
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        _mutate_data(tree, data.draw)
    text = yaml.safe_dump(tree, sort_keys=False, allow_unicode=True)
    _check(text)


def _mutate_text(raw: bytes, draw: st.DrawFn) -> bytes:
    """Apply one random textual mutation to ``raw``."""
    op = draw(st.sampled_from(["truncate", "flip", "junk", "repeat-line", "drop-line", "indent"]))
    at = draw(st.integers(0, len(raw)))
    if op == "truncate":
        return raw[:at]
    if op == "flip" and raw:
        i = min(at, len(raw) - 1)
        return raw[:i] + bytes([raw[i] ^ draw(st.integers(1, 255))]) + raw[i + 1 :]
    if op == "junk":
        return raw[:at] + draw(junk).encode("utf-8", "surrogatepass") + raw[at:]
    lines = raw.splitlines(keepends=True)
    if not lines:
        return raw
    i = draw(st.integers(0, len(lines) - 1))
    if op == "repeat-line":
        return b"".join([*lines[: i + 1], lines[i], *lines[i + 1 :]])
    if op == "drop-line":
        return b"".join(lines[:i] + lines[i + 1 :])
    return b"".join([*lines[:i], b"  " + lines[i], *lines[i + 1 :]])


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_mutated_scheme_text_is_accepted_or_refused_with_a_scheme_error(
    data: st.DataObject,
) -> None:
    """Truncated, bit-flipped or garbled scheme text gives a Scheme or a located SchemeError."""
    raw = data.draw(st.sampled_from(SEEDS), label="seed").encode("utf-8")
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        raw = _mutate_text(raw, data.draw)
    _check(raw)
    if data.draw(st.booleans(), label="as str"):
        _check(raw.decode("utf-8", "replace"))


def _check(text: str | bytes) -> None:
    try:
        parse_scheme(text, SOURCE)
    except SchemeError as exc:
        for line in str(exc).split("\n"):
            assert LOCATED.match(line), f"message line is not located: {line!r}"
    # Any other exception propagates and fails the test.


@pytest.mark.parametrize(
    "text",
    [
        "id: tiny\nevents: &e [*e]\n",
        "? [a]\n: 1\n",
        "id: " + "[" * 400 + "]" * 400,
        "id: !!set {a, b}\n",
        "id: 2020-01-01\nname: .nan\nscore: {base: .inf, min: -.inf, max: 1e999}\n",
    ],
)
def test_known_crashers_are_refused_with_a_scheme_error(text: str) -> None:
    """Inputs that once crashed the loader (recursion, odd keys, odd tags) now give SchemeError."""
    with pytest.raises(SchemeError):
        parse_scheme(text, SOURCE)
