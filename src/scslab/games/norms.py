"""Assessment norms as tables, the built-in ones written as data from their papers.

A norm says how an observer judges a donor after one donation, and which action a discriminator
takes. Indices are values: an action is 0 for defect (D) and 1 for cooperate (C); a reputation is 0
for bad (B) and 1 for good (G).

- A **second-order** norm is a 2×2 table ``assessment[action][recipient]``: the donor's new
  reputation from what it did and whom it did it to.
- A **third-order** norm adds the donor's own reputation in front: a 2×2×2 table
  ``assessment[donor][action][recipient]``, and an action rule ``action[donor][recipient]``.
- An **image score** norm (``kind: score``) holds, in a 2×2 table ``assessment[action][recipient]``,
  the change of the donor's integer image score (-10 to 10; the score is kept within [-5, 5]); a
  discriminator helps recipients whose score is at least its threshold k (Nowak & Sigmund 1998).
  Image scores are public reputations only.

A second-order norm's discriminator cooperates with good recipients and defects against bad ones,
unless the norm gives another ``action``. Users write their own norms in a YAML or JSON file with
the keys ``name``, ``assessment``, ``action`` (optional), ``kind`` (``binary``, the default, or
``score``); entries are ``G``/``B`` (or 1/0) for judgements, ``C``/``D`` (or 1/0) for actions::

    name: my-stern-judging
    assessment:        # [action][recipient]
      - [G, B]         # defect against a bad recipient: good; against a good one: bad
      - [B, G]         # cooperate with a bad recipient: bad; with a good one: good
"""

from __future__ import annotations

from difflib import get_close_matches
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from scslab._yaml import located_errors, read_located
from scslab.errors import ScenarioError

D, C = 0, 1
BAD, GOOD = 0, 1

_JUDGEMENTS = {"G": GOOD, "B": BAD}
_ACTIONS = {"C": C, "D": D}

#: How the shapes are read, for messages.
_SHAPES = {
    "assessment": "2×2 (action × recipient) or 2×2×2 (donor × action × recipient)",
    "action": "2 (recipient) or 2×2 (donor × recipient)",
}


def _shape(value: Any) -> tuple[int, ...] | None:
    """The shape of a nested list; None if ragged or if it mixes lists and scalars."""
    if not isinstance(value, list | tuple):
        return ()
    shapes = {_shape(v) for v in value}
    if len(shapes) != 1:
        return None if shapes else (0,)
    inner = shapes.pop()
    return None if inner is None else (len(value), *inner)


def _entries(value: Any, letters: dict[str, int], what: str, score: bool) -> Any:
    """Letters and booleans to integers, recursively; anything else is refused."""
    if isinstance(value, list | tuple):
        return [_entries(v, letters, what, score) for v in value]
    if isinstance(value, str) and value.upper() in letters and not score:
        return letters[value.upper()]
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int) and (value in (0, 1) or (score and abs(value) <= 10)):
        return value
    allowed = "integers from -10 to 10" if score else f"{' or '.join(letters)} (or 1/0)"
    raise ValueError(f"{what} entries must be {allowed}, not {value!r}")


class Norm(BaseModel):
    """One norm: an assessment table, an action rule, and where it comes from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100)
    kind: Literal["binary", "score"] = "binary"
    assessment: list[Any]
    action: list[Any] | None = None
    source: str = Field(default="user", description="the paper (or file) the table comes from")

    @field_validator("assessment", mode="before")
    @classmethod
    def _assessment(cls, value: Any, info: ValidationInfo) -> Any:
        score = info.data.get("kind") == "score"
        table = _entries(_listed(value), _JUDGEMENTS, "assessment", score)
        shape = _shape(table)
        if shape not in ((2, 2), (2, 2, 2)):
            raise ValueError(f"a norm table is {_SHAPES['assessment']}; {_said(shape)}")
        if score and shape != (2, 2):
            raise ValueError(f"an image score norm is 2×2 (action × recipient); {_said(shape)}")
        return table

    @field_validator("action", mode="before")
    @classmethod
    def _action(cls, value: Any) -> Any:
        if value is None:
            return None
        rule = _entries(_listed(value), _ACTIONS, "action", False)
        shape = _shape(rule)
        if shape not in ((2,), (2, 2)):
            raise ValueError(f"an action rule is {_SHAPES['action']}; {_said(shape)}")
        return rule

    @property
    def order(self) -> int:
        """2 if judgements depend on action and recipient only, 3 if on the donor's too."""
        return 3 if _shape(self.assessment) == (2, 2, 2) else 2

    def table(self) -> np.ndarray:
        """int8[2, 2, 2]: ``[donor good, action, recipient good]`` -> judgement or score change."""
        t = np.asarray(self.assessment, np.int8)
        return np.broadcast_to(t, (2, 2, 2)).copy()

    def rule(self) -> np.ndarray:
        """int8[2, 2]: ``[donor good, recipient good]`` -> 1 if a discriminator cooperates.

        Without an ``action``, a second-order discriminator cooperates with good recipients only;
        a third-order one cooperates where cooperating is judged better than defecting, the rule
        by which Ohtsuki & Iwasa (2004) pair each leading-eight assessment with its action.
        """
        if self.action is None:
            if self.order == 2:
                return np.array([[D, C], [D, C]], np.int8)
            t = self.table()
            return (t[:, C, :] > t[:, D, :]).astype(np.int8)
        r = np.asarray(self.action, np.int8)
        return np.broadcast_to(r, (2, 2)).copy()


def _listed(value: Any) -> Any:
    return value.tolist() if isinstance(value, np.ndarray) else value


def _said(shape: tuple[int, ...] | None) -> str:
    if shape is None:
        return "this one is ragged (rows of different lengths)"
    if shape == ():
        return "this one is a single value"
    return "this one is " + "×".join(map(str, shape))


def _leading(assess: str, action: str, name: str) -> Norm:
    """A third-order norm from the paper's layout: judgements in the order GGC GGD GBC GBD BGC
    BGD BBC BBD (donor, recipient, action) and actions in the order GG GB BG BB."""
    a, p = assess.split(), action.split()
    cells = {}
    for n, pair in enumerate(("GG", "GB", "BG", "BB")):
        d, r = pair[0], pair[1]
        cells[d, r, C], cells[d, r, D] = _JUDGEMENTS[a[2 * n]], _JUDGEMENTS[a[2 * n + 1]]
    rep = {GOOD: "G", BAD: "B"}
    table = [[[cells[rep[d], rep[r], x] for r in (BAD, GOOD)] for x in (D, C)] for d in (BAD, GOOD)]
    acts = dict(zip(("GG", "GB", "BG", "BB"), p, strict=True))
    rule = [[_ACTIONS[acts[rep[d] + rep[r]]] for r in (BAD, GOOD)] for d in (BAD, GOOD)]
    return Norm(
        name=name,
        assessment=table,
        action=rule,
        source="Ohtsuki & Iwasa (2004) J. Theor. Biol. 231:107, Table 2; (2006) 239:435",
    )


#: The leading eight (Ohtsuki & Iwasa 2004). Columns: GGC GGD GBC GBD BGC BGD BBC BBD | GG GB BG BB.
_LEADING_EIGHT = {
    "L1": ("G B G G G B G B", "C D C C"),
    "L2": ("G B B G G B G B", "C D C C"),
    "L3": ("G B G G G B G G", "C D C D"),
    "L4": ("G B G G G B B G", "C D C D"),
    "L5": ("G B B G G B G G", "C D C D"),
    "L6": ("G B B G G B B G", "C D C D"),
    "L7": ("G B G G G B B B", "C D C D"),
    "L8": ("G B B G G B B B", "C D C D"),
}

_SECOND_ORDER_SOURCE = (
    "Santos, Santos & Pacheco (2018) Nature 555:242; Ohtsuki & Iwasa (2004); "
    "Nowak & Sigmund (1998) for scoring"
)

#: Second-order norms: assessment[action][recipient], rows D then C, columns bad then good.
_SECOND_ORDER = {
    "stern-judging": [["G", "B"], ["B", "G"]],
    "simple-standing": [["G", "B"], ["G", "G"]],
    "scoring": [["B", "B"], ["G", "G"]],
    "shunning": [["B", "B"], ["B", "G"]],
}


def _builtins() -> dict[str, Norm]:
    norms = {name: _leading(*cols, name=name) for name, cols in _LEADING_EIGHT.items()}
    for name, table in _SECOND_ORDER.items():
        norms[name] = Norm(name=name, assessment=table, source=_SECOND_ORDER_SOURCE)
    norms["image-scoring"] = Norm(
        name="image-scoring",
        kind="score",
        assessment=[[-1, -1], [1, 1]],
        source="Nowak & Sigmund (1998) Nature 393:573: helping raises the image score by one, "
        "refusing lowers it by one, within [-5, 5]",
    )
    return norms


#: Every built-in norm by name.
NORMS: dict[str, Norm] = _builtins()


def _key(name: str) -> str:
    return name.strip().lower().replace("_", "-").replace(" ", "-")


_BY_KEY = {_key(n): n for n in NORMS}


def norm_names() -> list[str]:
    return list(NORMS)


def load_norm(path: str | Path) -> Norm:
    """Read a user's norm from a YAML or JSON file; mistakes are reported at ``file:line:col``."""
    doc = read_located(Path(path), ScenarioError, "norm file")
    data = {"name": Path(path).stem, "source": str(path), **doc.data}
    try:
        norm = Norm.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(located_errors(exc.errors(), doc)) from None
    return norm


def resolve_norm(spec: str | Path | Norm | dict[str, Any]) -> Norm:
    """A norm from a built-in name (any case, ``_`` for ``-``), a file path, a mapping or a Norm.

    An unknown name raises :class:`ValueError` naming the built-ins and the closest one.
    """
    if isinstance(spec, Norm):
        return spec
    if isinstance(spec, dict):
        return Norm.model_validate(spec)
    text = str(spec)
    if _key(text) in _BY_KEY:
        return NORMS[_BY_KEY[_key(text)]]
    if text.endswith((".yaml", ".yml", ".json")) or "/" in text or Path(text).is_file():
        return load_norm(text)
    near = get_close_matches(_key(text), list(_BY_KEY), n=1)
    hint = f"did you mean '{_BY_KEY[near[0]]}'? " if near else ""
    raise ValueError(
        f"unknown norm '{text}'; {hint}the built-in norms are {', '.join(NORMS)}, "
        "or give a norm file (.yaml or .json)"
    )
