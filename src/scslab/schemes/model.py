"""The scheme language: typed, validated models of a social credit scheme.

A scheme is data. It names whom it scores, the score's range, the events it scores and by how much,
the grades the score falls into, the lists people are put on, and the sanctions and rewards that
follow, each in a named life domain. Every rule that carries a number says where the number comes
from: ``source:`` names an entry of the scheme's ``sources:``, or ``assumed: true`` owns up that no
source gives it.

The models only hold and check; the engine compiles them into arrays. ``docs/schemes.md`` is the
reference for users.
"""

from __future__ import annotations

import math
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from scslab.months import calendar_month, month_index
from scslab.schemes import units

Loc = tuple[str | int, ...]

#: The units of the scheme being validated, for the rules inside it that round in them (the
#: mean points of severity levels): set by :class:`Scheme` around its fields' validation.
_UNITS: ContextVar[units.ScoreUnits] = ContextVar("_UNITS", default=units.UNIT)

#: Contexts that scored behaviour comes from and life domains that sanctions and rewards act in.
#: They share one vocabulary so that an audit can tell when a consequence lands in another context
#: than the behaviour that caused it (EU AI Act Art. 5(1)(c)(i)).
Domain = Literal[
    # where behaviour is observed
    "finance",
    "taxes",
    "social-security",
    "commerce",
    "courts",
    "transport",
    "family",
    "online-speech",
    "religion",
    "public-order",
    "environment",
    "labour",
    "product-quality",
    "consumption",
    "civic",
    "relationships",
    # where consequences land (some contexts above are also life domains: finance, transport)
    "education",
    "employment",
    "welfare",
    "public-office",
    "travel-abroad",
    "hotels-leisure",
    "internet",
    "procurement",
    "housing",
    "utilities",
    "health",
    "customs",
    "business",
    "social-life",
]
DOMAINS: tuple[str, ...] = get_args(Domain)

#: Protected activity. An event with a rights tag scores something that touches a right.
Right = Literal["religion", "petition", "expression", "association", "reproduction"]
RIGHTS: tuple[str, ...] = get_args(Right)

#: Observation channels: who records an act (the act catalogue says how likely each one is).
ChannelId = Literal["court", "bank", "tax", "camera", "social-media", "informant"]
CHANNELS: tuple[str, ...] = get_args(ChannelId)

Slug = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$", min_length=1, max_length=48),
    Field(description="lower-case letters, digits and hyphens"),
]
GradeId = Annotated[str, StringConstraints(min_length=1, max_length=16, strip_whitespace=True)]


def _number(value: Any) -> Any:
    """A score-valued number as written: an integer stays one, a fraction is a float (whether
    it is a multiple of the score's resolution is checked with the whole scheme)."""
    if isinstance(value, bool):
        raise ValueError("Input should be a number")
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                raise ValueError("Input should be a number") from None
    return value


#: A score-valued number, in score units: a multiple of the scheme's ``score.resolution``
#: (an integer at the default resolution 1); the engine scales it to integers
#: (:mod:`scslab.schemes.units`).
ScoreNumber = Annotated[int | float, BeforeValidator(_number), Field(allow_inf_nan=False)]


def is_score_number(metadata: Iterable[Any], annotation: Any = None) -> bool:
    """Whether a field (its pydantic ``metadata``, and its ``annotation`` for one that may be
    None) holds a :data:`ScoreNumber`: a sweep varies such a number in whole points, which any
    resolution allows."""
    found = list(metadata)
    if get_origin(annotation) in (Union, UnionType):
        for part in get_args(annotation):
            if get_origin(part) is Annotated:
                found += get_args(part)[1:]
    return any(isinstance(m, BeforeValidator) and m.func is _number for m in found)


#: Scores are held as int16 columns by the engine: these bounds are those of the scaled value.
ScoreValue = Annotated[ScoreNumber, Field(ge=-10_000, le=30_000)]
Months = Annotated[int, Field(gt=0, le=1200)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Sourced(_Strict):
    """A rule that carries numbers: it names its source or says that it is assumed."""

    source: str | None = None
    assumed: bool = False
    ranges: dict[str, tuple[float, float]] = Field(
        default_factory=dict,
        description=(
            "an assumed rule's plausible range for a number in it, by its field (dotted below "
            "the rule), e.g. {rate: [0.2, 2]}; `scslab assumptions` varies the number across it "
            "(default: from a third below to half above; docs/audit.md)"
        ),
    )

    def _needs_source(self) -> bool:
        return True


def range_problems(rule: BaseModel, ranges: dict[str, tuple[float, float]]) -> Iterator[str]:
    """What is wrong with the ``ranges`` a rule states: each names a number of this rule (not of a
    rule inside it), as a finite ``[low, high]`` with low < high; only an assumed rule has any."""
    if ranges and not getattr(rule, "assumed", False):
        yield "ranges: only an assumed rule states ranges (a sourced number is not varied)"
    for key, (lo, hi) in ranges.items():
        node: Any = rule
        for name in key.split("."):
            fields = type(node).model_fields if isinstance(node, BaseModel) else {}
            if name not in fields:
                have = ", ".join(f for f in fields if f not in ("source", "assumed", "ranges"))
                yield f"ranges.{key}: the rule has no number '{key}' (it has {have or 'none'})"
                break
            node = getattr(node, name)
            if node is not rule and isinstance(node, Sourced):
                yield f"ranges.{key}: '{name}' is a rule of its own; state its ranges there"
                break
        else:
            if isinstance(node, bool) or not isinstance(node, int | float):
                yield f"ranges.{key}: '{key}' is not a number"
            elif not (math.isfinite(lo) and math.isfinite(hi)) or lo >= hi:
                yield (
                    f"ranges.{key}: [{lo:g}, {hi:g}] is an empty range; give two finite "
                    "numbers, low < high"
                )


#: A month a scheduled rule comes into or goes out of force (:class:`InForce`): a month of the
#: run (0: the first recorded month; a layer counts from its own first month) or a calendar
#: month, ``YYYY-MM``, placed on the run by the scenario's ``start``.
RuleMonth = Annotated[
    Annotated[int, Field(ge=0, le=1200), Tag("month[]")]
    | Annotated[str, BeforeValidator(calendar_month), Tag("calendar[]")],
    Discriminator(lambda v: "month[]" if isinstance(v, int) else "calendar[]"),
]


class InForce(Sourced):
    """When a rule is in force: from ``from`` (included) until ``until`` (excluded); either may
    be left out (from the scheme's start, to the run's end). Outside its months the rule does
    nothing: an event scores nothing, a list admits nobody, a sanction or reward starts for
    nobody, a network or collective rule charges nobody; what runs when it goes out of force
    ends then (``docs/schemes.md``, "Scheduled changes"). ``from`` is written ``start_at`` in
    Python."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, serialize_by_alias=True
    )

    start_at: RuleMonth | None = Field(
        default=None,
        alias="from",
        description="the month the rule comes into force: YYYY-MM (with the scenario's "
        "`start`), or a month of the run (0 the first)",
    )
    until: RuleMonth | None = Field(
        default=None,
        description="the month the rule goes out of force (it is not in force in it)",
    )

    @model_validator(mode="after")
    def _some_month(self) -> InForce:
        if self.start_at is None and self.until is None:
            raise ValueError("give from, until or both (or leave in_force out: always in force)")
        return self

    @property
    def calendar(self) -> bool:
        """Whether its months are calendar months (placed on a run by its ``start``)."""
        return isinstance(self.start_at, str) or isinstance(self.until, str)

    def months(self, start: str | None) -> tuple[int | None, int | None]:
        """``(from, until)`` as months of a run starting at ``start`` (``YYYY-MM``; calendar
        months need it), ``None`` where not given; a month before the start is negative."""

        def run_month(value: int | str | None) -> int | None:
            if value is None or isinstance(value, int):
                return value
            assert start is not None, "a calendar month needs the run's start"
            return month_index(value) - month_index(start)

        return run_month(self.start_at), run_month(self.until)

    def words(self) -> str:
        """When it is in force, in words: ``from 2015-07``, ``until month 12``, both."""
        given = (("from", self.start_at), ("until", self.until))
        return " ".join(
            f"{key} {value if isinstance(value, str) else f'month {value}'}"
            for key, value in given
            if value is not None
        )


#: Where a rule says when it is in force (:class:`InForce`); default: always.
IN_FORCE_DOC = (
    "when the rule is in force, {from: YYYY-MM or month, until: ...}, with its source or "
    "assumed: true (default: always)"
)


class Factor(_Strict):
    """One factor of a weighted-factor score: its own score on the scheme's range, from base."""

    id: Slug
    name: str = ""
    weight: Annotated[float, Field(gt=0, le=1)]


class Score(Sourced):
    base: ScoreValue
    min: ScoreValue
    max: ScoreValue
    resolution: int | float = Field(
        default=1,
        description=(
            "the smallest step of a score: 1, 0.5, 0.1, 0.01 or 0.001. Every score-valued "
            "number of the scheme (range, points, grade bounds, thresholds, caps, decay steps, "
            "restore_to) is a multiple of it, and scores move in steps of it"
        ),
    )
    factors: tuple[Factor, ...] = Field(
        default=(),
        max_length=16,
        description=(
            "a weighted-factor score: each event moves one factor's score (on min..max, from "
            "base) and the score is base + the weighted sum of the factors' distances from base, "
            "rounded; the weights sum to 1. None: the points move the score itself"
        ),
    )
    cap_window_months: Months = 12
    history_months: Annotated[int, Field(ge=0, le=1200)] = Field(
        default=0,
        description=(
            "months subjects have lived under the scheme before a run's month 0, run but not "
            "recorded, so that a mature scheme starts where its steady state is; 0: everyone "
            "starts at base on the scheme's first day (a scenario's history_months overrides it)"
        ),
    )

    @field_validator("resolution")
    @classmethod
    def _resolution(cls, value: int | float) -> int | float:
        if isinstance(value, bool) or not units.allowed(value):
            listed = ", ".join(f"{r:g}" for r in units.RESOLUTIONS)
            raise ValueError(f"resolution {value} is not one of {listed}")
        return value

    @model_validator(mode="after")
    def _range(self) -> Score:
        if not self.min < self.max:
            raise ValueError(f"min ({self.min}) must be below max ({self.max})")
        if not self.min <= self.base <= self.max:
            raise ValueError(
                f"base ({self.base}) must lie within min..max ({self.min}..{self.max})"
            )
        return self


class Category(Sourced):
    id: Slug
    name: str = ""
    group: str | None = Field(default=None, description="a label for display, e.g. a Table 1 block")
    cap: Annotated[ScoreNumber, Field(gt=0)] | None = Field(
        default=None,
        description="most points that events of this category may move a score per cap window",
    )

    def _needs_source(self) -> bool:
        return self.cap is not None


Points = Annotated[ScoreNumber, Field(ge=-30_000, le=30_000)]


class Severity(_Strict):
    """One severity level of an act: the share of its records at this level and their points."""

    share: Annotated[float, Field(gt=0, le=1)]
    points: Points


class PointsBy(Sourced):
    """One act scored differently by the channel that recorded it or by its severity.

    ``channel:`` maps channels to points, in order of precedence: a record is the first listed
    channel's that saw the act (a court finding before a camera's); records that no listed
    channel made (and false records of unlisted channels) score the event's ``points``.
    ``severity:`` maps levels to their share of records and points; each record's level is
    drawn, and the shares sum to 1."""

    channel: dict[ChannelId, Points] = Field(default_factory=dict)
    severity: dict[Slug, Severity] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_way(self) -> PointsBy:
        if bool(self.channel) == bool(self.severity):
            raise ValueError("give exactly one of channel and severity")
        return self


class Event(Sourced):
    id: Slug
    name: str = ""
    act: Slug | None = Field(
        default=None, description="the behaviour that is scored; defaults to the event's id"
    )
    category: Slug
    points: Points = Field(
        description=(
            "points of a record; with points_by.channel, of a record no listed channel made; "
            "with points_by.severity, left out: the mean over the levels, rounded to the "
            "score's resolution (what deterrence and the audit read)"
        )
    )
    points_by: PointsBy | None = Field(
        default=None, description="points by the recording channel or by a drawn severity"
    )
    factor: Slug | None = Field(
        default=None, description="the factor it scores, in a weighted-factor score"
    )
    domain: Domain
    rights: tuple[Right, ...] = ()
    in_force: InForce | None = Field(default=None, description=IN_FORCE_DOC)

    @model_validator(mode="before")
    @classmethod
    def _mean_points(cls, data: Any) -> Any:
        """With severity levels, ``points`` is their mean: given, it would say something else."""
        if isinstance(data, dict):
            by = data.get("points_by")
            levels = by.get("severity") if isinstance(by, dict) else None
            if isinstance(levels, dict) and levels:
                # the mean in the engine's integers, rounded there: a multiple of the resolution
                unit = _UNITS.get()
                try:
                    pairs = [(float(v["share"]), _number(v["points"])) for v in levels.values()]
                except (KeyError, TypeError, ValueError):
                    return data  # the levels' own validation says what is wrong
                if all(unit.multiple(p) for _, p in pairs):
                    points = unit.units(math.floor(sum(w * unit.engine(p) for w, p in pairs) + 0.5))
                else:  # the scheme's check refuses the level's points; carry on meanwhile
                    points = unit.round_units(sum(w * p for w, p in pairs))
                if data.get("points", points) != points:  # a written-out scheme repeats it
                    raise ValueError(
                        "with points_by.severity, points is the levels' mean "
                        f"({points}); leave it out"
                    )
                data = {**data, "points": points}
        return data

    @property
    def act_id(self) -> str:
        return self.act or self.id


class Grade(Sourced):
    id: GradeId
    min: ScoreValue
    max: ScoreValue

    @model_validator(mode="after")
    def _order(self) -> Grade:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        return self


KINDS = (
    "events",
    "grades",
    "list",
    "score_below",
    "score_at_least",
    "representative_listed",
    "at_least",
    "all",
    "any",
    "not",
)
#: How deep ``all:`` / ``any:`` / ``not:`` may nest (a condition at the top is at depth 1).
MAX_DEPTH = 4
#: The most recorded events a count (``at_least:``) may ask for.
MAX_AT_LEAST = 32


class Condition(_Strict):
    """Exactly one of: recorded events, grades, a list, a score below, a score at least, (for
    firms) a legal representative on a blacklist, a count of records in a window, or a
    composition of conditions with ``all:``, ``any:`` or ``not:``.

    ``of: household`` makes a trigger hold for everyone whose household has a member (oneself
    included) who meets it: a parent's listing that bars the children from private schools.
    ``representative_listed: true`` holds for a firm whose legal representative is on a blacklist
    of the people's scheme: joint punishment from the person to the firm.
    ``at_least: N, of: EVENT, within_months: W`` holds while at least N records of the event fall
    in the month and the W - 1 before it.
    ``layer: ID`` with ``list:`` or ``grades:`` reads another layer of a layered scenario: that
    layer's list, or its grades, as they stand after that layer's step of the same month.
    """

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, serialize_by_alias=True
    )

    events: tuple[Slug, ...] = ()
    grades: tuple[GradeId, ...] = ()
    list: Slug | None = None
    score_below: ScoreValue | None = None
    score_at_least: ScoreValue | None = None
    representative_listed: Literal[True] | None = None
    at_least: Annotated[int, Field(ge=1, le=MAX_AT_LEAST)] | None = Field(
        default=None, description="with of: EVENT and within_months: records of the event, at least"
    )
    within_months: Months | None = Field(
        default=None, description="the window of at_least: this month and the ones before it"
    )
    all_: tuple[Condition, ...] | None = Field(
        default=None, alias="all", description="holds when every condition listed holds"
    )
    any_: tuple[Condition, ...] | None = Field(
        default=None, alias="any", description="holds when at least one condition listed holds"
    )
    not_: Condition | None = Field(
        default=None, alias="not", description="holds when the condition does not"
    )
    of: str = Field(
        default="self",
        description="self or household; with at_least, the event whose records are counted",
    )
    layer: Slug | None = Field(
        default=None,
        description="another layer of a layered scenario: with list: or grades:, that layer's "
        "list or grades (checked when a scenario puts the layers together)",
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> Condition:
        given = [
            self._key(k)
            for k in self.model_fields_set
            if k not in ("of", "within_months", "layer")
            and (
                getattr(self, k) not in ((), None)
                or (k in ("all_", "any_") and getattr(self, k) == ())
            )
        ]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of events, grades, list, score_below, score_at_least, "
                "representative_listed, at_least, all, any or not"
                + (f" (found {', '.join(sorted(given))})" if given else "")
            )
        if self.layer is not None:
            if self.list is None and not self.grades:
                raise ValueError(
                    f"layer: {self.layer} goes with list: or grades: (that layer's list or grades)"
                )
            if self.of != "self":
                raise ValueError(
                    "a condition on another layer is about the person; remove `of:` "
                    "(of: household reads this layer's own lists and grades)"
                )
        if self.at_least is not None:
            if self.within_months is None:
                raise ValueError("at_least needs within_months: the window the records fall in")
            if self.of in ("self", "household"):
                raise ValueError("at_least needs of: EVENT, the event whose records are counted")
        else:
            if self.within_months is not None:
                raise ValueError("within_months goes with at_least")
            if self.of not in ("self", "household"):
                raise ValueError(
                    f"of: is self or household, not '{self.of}' (an event is named with at_least)"
                )
        return self

    @staticmethod
    def _key(field: str) -> str:
        return field.rstrip("_")

    @property
    def kind(self) -> str:
        for key in KINDS:
            value = getattr(self, key + "_" if key in ("all", "any", "not") else key)
            if value not in ((), None):
                return key
            if key in ("all", "any") and value == ():
                return key
        raise AssertionError("validated condition has no kind")

    @property
    def parts(self) -> tuple[Condition, ...]:
        """The conditions a composition is made of (none for a leaf)."""
        if self.all_ is not None:
            return self.all_
        if self.any_ is not None:
            return self.any_
        return (self.not_,) if self.not_ is not None else ()

    @property
    def composed(self) -> bool:
        return self.all_ is not None or self.any_ is not None or self.not_ is not None

    def leaves(self) -> Iterator[Condition]:
        """The simple conditions this one is made of, in order (itself if it is one)."""
        if self.composed:
            for part in self.parts:
                yield from part.leaves()
        else:
            yield self

    def holds(self, leaf: Any) -> bool:
        """Evaluate the composition, given ``leaf(c)``: whether the simple condition ``c`` holds."""
        if self.all_ is not None:
            return all(p.holds(leaf) for p in self.all_)
        if self.any_ is not None:
            return any(p.holds(leaf) for p in self.any_)
        if self.not_ is not None:
            return not self.not_.holds(leaf)
        return bool(leaf(self))

    @property
    def external(self) -> bool:
        """Whether this is a leaf on another layer's list or grades (``layer:``)."""
        return self.layer is not None

    def positive_events(self) -> bool:
        """Whether recorded events (this month's, not a count) appear outside a ``not:``."""
        if self.not_ is not None:
            return False
        return bool(self.events) or any(p.positive_events() for p in self.parts)


class Fulfilment(Sourced):
    """Leaving a list early by performing the obligation behind the listing (paying the judgment):
    each month on the list after the first, with ``monthly_probability``."""

    monthly_probability: Annotated[float, Field(gt=0, le=1)]


class ListExit(_Strict):
    """How a listing ends. Exits are counted by reason: *expiry* (this rule: ``after_months``,
    ``clean_months`` or ``condition_ends``), *repair* (the scheme's ``repair:``) and *fulfilment*
    (``fulfilment:``, the obligation performed)."""

    after_months: Months | None = Field(default=None, description="months on the list at least")
    clean_months: Months | None = Field(
        default=None, description="months without a negative record, at least"
    )
    condition_ends: bool = Field(default=False, description="leave once the entry condition fails")
    when: Condition | None = Field(
        default=None,
        description="leave once this condition holds (with the other rules given, once they all "
        "allow it), e.g. `{layer: sesame, grades: [excellent]}`: off the list through another "
        "scheme",
    )
    fulfilment: Fulfilment | None = Field(
        default=None, description="leave early by performing the obligation (an extra exit)"
    )

    @model_validator(mode="after")
    def _some_rule(self) -> ListExit:
        if (
            self.after_months is None
            and self.clean_months is None
            and not self.condition_ends
            and self.when is None
        ):
            raise ValueError(
                "a list needs an exit rule: after_months, clean_months, condition_ends: true "
                "or when"
            )
        return self


class ListRule(Sourced):
    id: Slug
    name: str = ""
    kind: Literal["black", "red"]
    entry: Condition
    exit: ListExit
    in_force: InForce | None = Field(default=None, description=IN_FORCE_DOC)

    @model_validator(mode="after")
    def _entry_kind(self) -> ListRule:
        if self.entry.list is not None and self.entry.layer is None:
            raise ValueError("a list's entry cannot be another list; use events, grades or a score")
        if self.entry.of == "household":
            raise ValueError("a list's entry is about the person listed; remove `of:`")
        if self.entry.representative_listed:
            raise ValueError(
                "a list's entry is the firm's own record; a representative's listing can "
                "trigger sanctions, not a listing"
            )
        return self


class IncomeEffect(_Strict):
    """Income band moves: each month under the consequence, with ``monthly_probability``, one
    moves ``bands`` income bands (negative: down), within the lowest and highest band."""

    monthly_probability: Annotated[float, Field(gt=0, le=1)]
    bands: Annotated[int, Field(ge=-4, le=4)] = -1

    @model_validator(mode="after")
    def _moves(self) -> IncomeEffect:
        if self.bands == 0:
            raise ValueError("bands: 0 moves nobody; give a move of -4..-1 or 1..4 bands")
        return self


class TiesEffect(_Strict):
    """Public shaming: each month under the consequence, each friend of the person cuts the tie
    with ``monthly_probability`` (and befriends someone of their own kind instead)."""

    monthly_probability: Annotated[float, Field(gt=0, le=1)]


class ContractsEffect(_Strict):
    """Partners refuse: of the contracts the person would sign (the contract game), the share
    ``refused`` is refused by the partner and never made."""

    refused: Annotated[float, Field(gt=0, le=1)]


#: An act's rate multiplier under an effect: 0 stops the act (refuses every attempt), 1 leaves it.
Multiplier = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]

#: the kinds of effect on lives, in the order the engine keeps them
LIFE_EFFECTS: tuple[str, ...] = ("income", "ties", "contracts")
#: The kinds an :class:`Effect` may have; each is a field of it, and an effect gives exactly one.
EFFECT_KINDS: tuple[str, ...] = ("acts", *LIFE_EFFECTS, "points")


class Effect(Sourced):
    """What a consequence does while it runs, from the month after it starts until it ends.

    Exactly one kind: ``acts`` multiplies the rates of named catalogue acts (0 stops an act; on
    an attempt act, such as buying a flight ticket, a multiplier ``m`` refuses a share ``1 - m``
    of the attempts, counted as blocked); ``income`` moves income bands; ``ties`` makes friends
    cut ties (public shaming); ``contracts`` makes partners refuse. ``points`` is the one kind
    that acts in the month the consequence starts, and once: the person's score moves by that
    many points (within ``category``'s cap and the score's range; a weighted-factor score's
    ``factor``)."""

    acts: dict[Slug, Multiplier] | None = Field(
        default=None,
        min_length=1,
        description="rate multipliers by catalogue act: 0 stops the act, 2 doubles it",
    )
    income: IncomeEffect | None = None
    ties: TiesEffect | None = None
    contracts: ContractsEffect | None = None
    points: Points | None = Field(
        default=None,
        description=(
            "points the person's score moves by once, in the month the consequence starts "
            "(negative: a deduction), within the category's cap and the score's range"
        ),
    )
    category: Slug | None = Field(
        default=None, description="points: the category whose cap the points count against"
    )
    factor: Slug | None = Field(
        default=None, description="points: the factor they move, in a weighted-factor score"
    )

    @model_validator(mode="after")
    def _one_kind(self) -> Effect:
        given = [k for k in EFFECT_KINDS if getattr(self, k, None) is not None]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of {', '.join(EFFECT_KINDS)}"
                + (f" (found {', '.join(given)})" if given else "")
            )
        if given != ["points"]:
            for key in ("category", "factor"):
                if getattr(self, key) is not None:
                    raise ValueError(f"`{key}:` goes with `points:`, not with `{given[0]}:`")
        elif self.points == 0:
            raise ValueError("points: 0 moves no score; give the points it moves")
        return self

    @property
    def kind(self) -> str:
        for k in EFFECT_KINDS:
            if getattr(self, k, None) is not None:
                return k
        raise AssertionError("validated effect has no kind")


class Consequence(Sourced):
    """A sanction or a reward: a trigger, the life domain it acts in, its effect and duration."""

    id: Slug
    name: str = ""
    trigger: Condition
    domain: Domain
    effect: str = Field(min_length=1)
    duration_months: Months | None = Field(
        default=None,
        description="how long it lasts once started; none: exactly as long as the trigger holds",
    )
    blocks: tuple[Slug, ...] = Field(
        default=(),
        description=(
            "acts refused while it runs (sanctions only): each attempt, drawn at the act's own "
            "rate, is counted as blocked; the acts are marked `attempt: true` in the catalogue. "
            "Short for an effect `acts: {ACT: 0}` under the consequence's own source"
        ),
    )
    effects: tuple[Effect, ...] = Field(
        default=(),
        description="what it does while it runs, each with its source or assumed: true",
    )
    reaches: Literal["subject", "representative", "all", "children", "spouse"] = Field(
        default="subject",
        description=(
            "whom it restricts: the subject scored, or (for firms) the firm's legal "
            "representative, the joint punishment of a listed firm's managers; of a household "
            "trigger (`of: household`): all its members (`all`, as `subject` there), its "
            "children under 18 (`children`), or its adults other than the one who set it off "
            "(`spouse`)"
        ),
    )
    in_force: InForce | None = Field(default=None, description=IN_FORCE_DOC)

    @model_validator(mode="after")
    def _trigger_kind(self) -> Consequence:
        if self.trigger.positive_events() and self.duration_months is None:
            raise ValueError(
                "a trigger on recorded events holds only in the month they are recorded; "
                "give duration_months"
            )
        return self

    def points_effect(self) -> Effect | None:
        """The effect that moves the score as this starts (``points:``), if any; a consequence
        has at most one (the validator sees to it)."""
        return next((e for e in self.effects if e.points is not None), None)

    def act_multipliers(self) -> dict[str, float]:
        """Each act's rate multiplier while this runs: ``blocks:`` as 0, ``acts`` effects as
        given (an act is named once per consequence; the validator sees to it)."""
        out = {a: 0.0 for a in self.blocks}
        for e in self.effects:
            out.update(e.acts or {})
        return out


#: What makes a friend count for a network rule, each read from last month's state: a score
#: below ``threshold``, a place on the scheme's list ``list``, a grade among ``grades``.
NETWORK_KINDS: dict[str, str] = {
    "friends-below": "threshold",
    "friends-listed": "list",
    "friends-in-grade": "grades",
}


class NetworkRule(Sourced):
    """Points when at least ``share`` of one's friends were, last month, below a score
    (``friends-below``), on one of the scheme's lists (``friends-listed``) or in one of its
    grades (``friends-in-grade``). Each kind takes its own key: ``threshold``, ``list`` or
    ``grades``."""

    id: Slug
    kind: Literal["friends-below", "friends-listed", "friends-in-grade"] = "friends-below"
    threshold: ScoreValue | None = Field(
        default=None, description="friends-below: a friend counts below this score"
    )
    list: Slug | None = Field(
        default=None, description="friends-listed: a friend counts while on this list"
    )
    grades: tuple[GradeId, ...] | None = Field(
        default=None, description="friends-in-grade: a friend counts while in one of these grades"
    )
    share: Annotated[float, Field(gt=0, le=1)] = Field(
        description="the rule applies when at least this share of one's friends count"
    )
    points: Points
    category: Slug | None = None
    factor: Slug | None = None
    in_force: InForce | None = Field(default=None, description=IN_FORCE_DOC)


class Collective(Sourced):
    """Collective responsibility (baojia): when one member of a group has a negative record, every
    member of the group, the offender included, is charged ``points`` the month after."""

    id: Slug
    group: Literal["household", "neighbourhood"]
    points: Points
    category: Slug | None = None
    factor: Slug | None = None
    in_force: InForce | None = Field(default=None, description=IN_FORCE_DOC)


class Decay(Sourced):
    """Old records fade: each month a score moves toward base by a fixed number of points
    (``points_per_month``) or by a share of its distance from base (``half_life_months``).

    A fixed step lets a person whose records lift the score faster than the step climb for
    ever; a share of the distance does not: every score settles where the records coming in
    balance the fading, so the scheme has a steady state."""

    points_per_month: Annotated[ScoreNumber, Field(gt=0)] | None = None
    half_life_months: Annotated[float, Field(gt=0, le=1200)] | None = Field(
        default=None,
        description="months in which a score's distance from base halves, without new records",
    )
    after_clean_months: Annotated[int, Field(ge=0, le=1200)] = 0
    direction: Literal["up", "down", "both"] = Field(
        default="up",
        description="up: scores below base recover; down: scores above base fade; both",
    )

    @model_validator(mode="after")
    def _one_speed(self) -> Decay:
        if (self.points_per_month is None) == (self.half_life_months is None):
            raise ValueError("give exactly one of points_per_month and half_life_months")
        return self

    @property
    def share_per_month(self) -> float:
        """The share of its distance from base that a score loses each month (0: fixed steps)."""
        if self.half_life_months is None:
            return 0.0
        return float(1.0 - 2.0 ** (-1.0 / self.half_life_months))


class Repair(Sourced):
    clean_months: Months
    monthly_probability: Annotated[float, Field(gt=0, le=1)]
    restore_to: ScoreValue | None = None
    lists: tuple[Slug, ...] = ()


Probability = Annotated[float, Field(ge=0, le=1)]


class Appeals(Sourced):
    """Due process: a person may object to a negative record (a deduction or a listing).

    Each negative record is objected to with ``objection``; while one objection is pending a
    person lodges no other. After ``delay_months`` the appeal is decided: it succeeds with
    ``success_if_false`` for a false record and ``success_if_true`` for a true one. A record
    corrected on appeal has its points reversed (exactly what was applied, after caps), the
    listings it entered removed, and the consequences those listings started ended."""

    objection: Probability = Field(description="the share of negative records objected to")
    success_if_false: Probability = Field(
        description="chance that an appeal of a false record wins"
    )
    success_if_true: Probability = Field(description="chance that an appeal of a true record wins")
    delay_months: Months = Field(description="months from the record to the decision")


class Unrated(Sourced):
    """The grade of subjects too new to rate: the tax authority's M for firms under a year old."""

    id: GradeId
    months: Months = Field(description="subjects younger than this many months get this grade")


class TaxRating(_Strict):
    """A second scale read off the same score: bands that tile the score range, plus a grade for
    subjects too new to rate. The corporate scheme reports the STA's A/B/C/D/M with it."""

    name: str = Field(min_length=1)
    grades: tuple[Grade, ...] = Field(min_length=1)
    unrated: Unrated | None = None


class _Problems(ValueError):
    """Several located problems found by the cross-reference checks of a whole scheme."""

    def __init__(self, problems: list[tuple[Loc, str]]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, loc))}: {msg}" for loc, msg in problems))
        self.problems = problems


class Scheme(_Strict):
    """One scoring scheme, validated as a whole."""

    id: Slug
    name: str = Field(min_length=1)
    subject: Literal["individuals", "enterprises"]
    description: str = Field(min_length=1, description="one line")
    sources: dict[str, str] = Field(default_factory=dict)
    score: Score
    categories: tuple[Category, ...] = Field(min_length=1)
    events: tuple[Event, ...] = Field(min_length=1)
    grades: tuple[Grade, ...] = ()
    lists: tuple[ListRule, ...] = ()
    sanctions: tuple[Consequence, ...] = ()
    rewards: tuple[Consequence, ...] = ()
    network: tuple[NetworkRule, ...] = Field(default=(), max_length=8)
    collective: tuple[Collective, ...] = Field(default=(), max_length=4)
    decay: Decay | None = None
    repair: Repair | None = None
    appeals: Appeals | None = Field(
        default=None, description="an objection procedure that corrects negative records"
    )
    tax_rating: TaxRating | None = Field(
        default=None, description="firms only: a second grade scale on the same score"
    )

    def where(self, loc: Loc) -> str:
        """``source:line:column: dotted.path`` of the value at ``loc`` (the dotted path alone
        when the scheme was not read from text): for problems found once the act catalogue is
        known, after validation."""
        dotted = ".".join(map(str, loc))
        found = _ORIGINS.get(id(self))
        return f"{found[1](loc)}: {dotted}" if found and found[0]() is self else dotted

    def remember_origin(self, where: Callable[[Loc], str]) -> None:
        """Keep where this scheme's values were read (:meth:`scslab._yaml.Located.where`), for
        as long as the scheme lives. Kept outside the model: equal schemes stay equal."""
        key = id(self)
        _ORIGINS[key] = (weakref.ref(self, lambda _: _ORIGINS.pop(key, None)), where)

    @model_validator(mode="wrap")
    @classmethod
    def _in_units(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        """Validate the rules inside in the scheme's score units (see :data:`_UNITS`)."""
        score = data.get("score") if isinstance(data, dict) else None
        resolution = score.get("resolution", 1) if isinstance(score, dict) else 1
        ok = not isinstance(resolution, bool) and units.allowed(resolution)
        token = _UNITS.set(units.ScoreUnits(resolution) if ok else units.UNIT)
        try:
            return handler(data)
        finally:
            _UNITS.reset(token)

    @model_validator(mode="after")
    def _cross_references(self) -> Scheme:
        problems = list(_check(self))
        if problems:
            raise _Problems(problems)
        return self

    # --- convenience views used by the engine and the CLI -------------------------------------
    def grades_high_to_low(self) -> tuple[Grade, ...]:
        return tuple(sorted(self.grades, key=lambda g: -g.max))

    def consequences(self) -> tuple[Consequence, ...]:
        """Sanctions first, then rewards, in file order."""
        return self.sanctions + self.rewards

    def acts(self) -> tuple[str, ...]:
        """The behaviours this scheme scores, in first-seen order."""
        return tuple(dict.fromkeys(e.act_id for e in self.events))

    def scheduled(self) -> tuple[tuple[Loc, InForce], ...]:
        """The rules with an ``in_force``, each with its location (of the rule, for
        :meth:`where`): events, lists, sanctions, rewards, network and collective rules, in
        file order."""
        return tuple(
            ((key, i), rule.in_force)
            for key in SCHEDULED
            for i, rule in enumerate(getattr(self, key))
            if rule.in_force is not None
        )

    def links(self) -> tuple[tuple[Loc, Condition], ...]:
        """The conditions on other layers (``layer:``) in list entries and triggers, each with
        its location (for :meth:`where`), in file order."""
        found: list[tuple[Loc, Condition]] = []

        def walk(loc: Loc, c: Condition) -> None:
            if c.layer is not None:
                found.append((loc, c))
            for key, parts in (("all", c.all_), ("any", c.any_)):
                for j, part in enumerate(parts or ()):
                    walk((*loc, key, j), part)
            if c.not_ is not None:
                walk((*loc, "not"), c.not_)

        for i, x in enumerate(self.lists):
            walk(("lists", i, "entry"), x.entry)
            if x.exit.when is not None:
                walk(("lists", i, "exit", "when"), x.exit.when)
        for key in ("sanctions", "rewards"):
            for i, c in enumerate(getattr(self, key)):
                walk((key, i, "trigger"), c.trigger)
        return tuple(found)


_ORIGINS: dict[int, tuple[weakref.ref[Scheme], Callable[[Loc], str]]] = {}
#: The sections whose rules may say when they are in force (``in_force:``).
SCHEDULED = ("events", "lists", "sanctions", "rewards", "network", "collective")


def _rules(s: Scheme) -> Iterator[tuple[Loc, Sourced]]:
    yield ("score",), s.score
    keys = ("categories", "events", "grades", "lists", "sanctions", "rewards", "network")
    for key in (*keys, "collective"):
        for i, rule in enumerate(getattr(s, key)):
            yield (key, i), rule
    for key in ("sanctions", "rewards"):
        for i, c in enumerate(getattr(s, key)):
            for j, effect in enumerate(c.effects):
                yield (key, i, "effects", j), effect
    for i, e in enumerate(s.events):
        if e.points_by is not None:
            yield ("events", i, "points_by"), e.points_by
    for i, x in enumerate(s.lists):
        if x.exit.fulfilment is not None:
            yield ("lists", i, "exit", "fulfilment"), x.exit.fulfilment
    for loc, in_force in s.scheduled():
        yield (*loc, "in_force"), in_force
    if s.tax_rating is not None:
        for i, g in enumerate(s.tax_rating.grades):
            yield ("tax_rating", "grades", i), g
        if s.tax_rating.unrated is not None:
            yield ("tax_rating", "unrated"), s.tax_rating.unrated
    if s.decay is not None:
        yield ("decay",), s.decay
    if s.repair is not None:
        yield ("repair",), s.repair
    if s.appeals is not None:
        yield ("appeals",), s.appeals


def _duplicates(loc: str, ids: Iterable[str]) -> Iterator[tuple[Loc, str]]:
    ids = list(ids)
    for ident, n in Counter(ids).items():
        if n > 1:
            last = len(ids) - 1 - ids[::-1].index(ident)
            yield (loc, last, "id"), f"the id '{ident}' is used {n} times; ids must be unique"


def _tiles(
    key: Loc, bands: tuple[Grade, ...], lo: float, hi: float, unit: units.ScoreUnits = units.UNIT
) -> Iterator[tuple[Loc, str]]:
    """Grade bands must cover lo..hi with no gap and no overlap (counted in steps of the score's
    resolution: a band ending at 59.9 is followed by one starting at 60 at resolution 0.1)."""
    if not bands:
        return
    text = unit.text
    order = sorted(range(len(bands)), key=lambda k: bands[k].min)
    expect = unit.engine(lo)
    for k in order:
        g = bands[k]
        g_min = unit.engine(g.min)
        if g_min > expect:
            yield (
                (*key, k, "min"),
                (
                    f"grade '{g.id}' starts at {g.min}, leaving {text(expect)}..{text(g_min - 1)} "
                    f"without a grade; start it at {text(expect)}"
                ),
            )
        elif g_min < expect:
            yield (
                (*key, k, "min"),
                (
                    f"grade '{g.id}' starts at {g.min}, overlapping the grade below; "
                    f"start it at {text(expect)}"
                ),
            )
        expect = unit.engine(g.max) + 1
    if expect - 1 != unit.engine(hi):
        yield (
            (*key, order[-1], "max"),
            (f"the top grade ends at {text(expect - 1)} but scores reach {hi}; end it at {hi}"),
        )


def _score_numbers(s: Scheme) -> Iterator[tuple[Loc, int | float, tuple[int, int]]]:
    """Every score-valued number of the scheme, with its place and the bounds of its value in the
    engine's integers (:mod:`scslab.schemes.units`)."""
    scores, points = units.ENGINE_SCORES, units.ENGINE_POINTS
    for key in ("base", "min", "max"):
        yield ("score", key), getattr(s.score, key), scores
    for i, c in enumerate(s.categories):
        if c.cap is not None:
            yield ("categories", i, "cap"), c.cap, points
    for i, e in enumerate(s.events):
        yield ("events", i, "points"), e.points, points
        by = e.points_by
        for ch, v in by.channel.items() if by else ():
            yield ("events", i, "points_by", "channel", ch), v, points
        for level, sev in by.severity.items() if by else ():
            yield ("events", i, "points_by", "severity", level, "points"), sev.points, points
    bands: list[tuple[Loc, Grade]] = [(("grades", i), g) for i, g in enumerate(s.grades)]
    if s.tax_rating is not None:
        bands += [(("tax_rating", "grades", i), g) for i, g in enumerate(s.tax_rating.grades)]
    for loc, g in bands:
        yield (*loc, "min"), g.min, scores
        yield (*loc, "max"), g.max, scores

    def condition(loc: Loc, c: Condition) -> Iterator[tuple[Loc, int | float, tuple[int, int]]]:
        for key in ("score_below", "score_at_least"):
            if getattr(c, key) is not None:
                yield (*loc, key), getattr(c, key), scores
        for j, part in enumerate(c.all_ or c.any_ or ()):
            yield from condition((*loc, "all" if c.all_ is not None else "any", j), part)
        if c.not_ is not None:
            yield from condition((*loc, "not"), c.not_)

    for i, x in enumerate(s.lists):
        yield from condition(("lists", i, "entry"), x.entry)
        if x.exit.when is not None:
            yield from condition(("lists", i, "exit", "when"), x.exit.when)
    for key in ("sanctions", "rewards"):
        for i, co in enumerate(getattr(s, key)):
            yield from condition((key, i, "trigger"), co.trigger)
            for j, eff in enumerate(co.effects):
                if eff.points is not None:
                    yield (key, i, "effects", j, "points"), eff.points, points
    for i, n in enumerate(s.network):
        if n.threshold is not None:
            yield ("network", i, "threshold"), n.threshold, scores
        yield ("network", i, "points"), n.points, points
    for i, cl in enumerate(s.collective):
        yield ("collective", i, "points"), cl.points, points
    if s.decay is not None and s.decay.points_per_month is not None:
        yield ("decay", "points_per_month"), s.decay.points_per_month, points
    if s.repair is not None and s.repair.restore_to is not None:
        yield ("repair", "restore_to"), s.repair.restore_to, scores


def _off_resolution(s: Scheme, unit: units.ScoreUnits) -> Iterator[tuple[Loc, str]]:
    """Score-valued numbers that are not multiples of the resolution, or that scaled to the
    engine's integers leave the range the engine holds."""
    r = s.score.resolution
    for loc, value, (low, high) in _score_numbers(s):
        if not unit.multiple(value):
            yield (
                loc,
                f"{value} is not a whole number; scores move in whole points unless the score "
                "sets a finer resolution (score.resolution: 0.5, 0.1, 0.01 or 0.001)"
                if unit.scale == 1
                else f"{value} is not a multiple of the score's resolution {r}",
            )
        elif not low <= unit.engine(value) <= high:
            yield (
                loc,
                f"{value} at resolution {r} is {unit.engine(value)} steps of {r}, beyond the "
                f"{low}..{high} steps the engine holds; use a coarser resolution or a "
                "narrower range",
            )


def _check(s: Scheme) -> Iterator[tuple[Loc, str]]:  # one flat list of rules
    unit = units.of(s)
    off = list(_off_resolution(s, unit))
    if off:  # the checks below count in steps of the resolution
        yield from off
        return
    lo, hi = s.score.min, s.score.max
    span_steps = unit.engine(hi) - unit.engine(lo)
    span = unit.text(span_steps)

    # sources
    for loc, rule in _rules(s):
        if rule.source is not None and rule.assumed:
            yield (*loc, "assumed"), "give either source or assumed: true, not both"
        elif rule.source is not None and rule.source not in s.sources:
            known = ", ".join(sorted(s.sources)) or "none are listed"
            yield (*loc, "source"), f"unknown source '{rule.source}'; name one of sources: {known}"
        elif rule.source is None and not rule.assumed and rule._needs_source():
            yield loc, "this rule carries a number: add source: KEY from sources, or assumed: true"
        for problem in range_problems(rule, rule.ranges):
            yield (*loc, "ranges"), problem

    yield from _schedule(s)

    # unique ids
    yield from _duplicates("categories", (c.id for c in s.categories))
    yield from _duplicates("events", (e.id for e in s.events))
    yield from _duplicates("grades", (g.id for g in s.grades))
    yield from _duplicates("lists", (x.id for x in s.lists))
    yield from _duplicates("network", (n.id for n in s.network))
    yield from _duplicates("collective", (c.id for c in s.collective))
    consequence_ids = [c.id for c in s.consequences()]
    for ident, n in Counter(consequence_ids).items():
        if n > 1:
            k = len(consequence_ids) - 1 - consequence_ids[::-1].index(ident)
            ns = len(s.sanctions)
            where: Loc = ("sanctions", k, "id") if k < ns else ("rewards", k - ns, "id")
            yield (
                where,
                (
                    f"the id '{ident}' is used {n} times across sanctions and rewards; "
                    "ids must be unique"
                ),
            )

    acts: dict[str, str] = {}
    for i, e in enumerate(s.events):
        # Two events with the same id are already reported as a duplicate id.
        if e.act_id in acts and acts[e.act_id] != e.id:
            yield (
                ("events", i, "act" if e.act else "id"),
                (
                    f"the act '{e.act_id}' is already scored by event '{acts[e.act_id]}'; "
                    "each act is scored by one event"
                ),
            )
        acts.setdefault(e.act_id, e.id)

    categories = {c.id for c in s.categories}
    events = {e.id for e in s.events}
    grades = {g.id for g in s.grades}
    lists = {x.id for x in s.lists}

    # categories and caps
    used = Counter(e.category for e in s.events)
    used.update(n.category for n in s.network if n.category)
    used.update(c.category for c in s.collective if c.category)
    used.update(e.category for c in s.consequences() for e in c.effects if e.category)
    for i, e in enumerate(s.events):
        if e.category not in categories:
            yield ("events", i, "category"), _unknown("category", e.category, categories)
        if abs(unit.engine(e.points)) > span_steps:
            yield (
                ("events", i, "points"),
                (f"{e.points} points is more than the whole score range ({span})"),
            )
    for i, e in enumerate(s.events):
        by = e.points_by
        levels = by.severity.items() if by is not None else ()
        alternatives: list[tuple[Loc, int | float]] = []
        alternatives += [(("channel", k), v) for k, v in by.channel.items()] if by else []
        alternatives += [(("severity", k, "points"), v.points) for k, v in levels]
        total = sum(v.share for _, v in levels)
        if by is not None and by.severity and abs(total - 1.0) > 1e-9:
            yield (
                ("events", i, "points_by", "severity", list(by.severity)[-1], "share"),
                f"the severity shares sum to {total:g}; they must sum to 1",
            )
        for where, pts in alternatives:
            if abs(unit.engine(pts)) > span_steps:
                yield (
                    ("events", i, "points_by", *where),
                    f"{pts} points is more than the whole score range ({span})",
                )
    yield from _factors(s)
    for i, c in enumerate(s.categories):
        if c.cap is None:
            continue
        if used[c.id] == 0:
            yield (
                ("categories", i, "cap"),
                (
                    f"no event belongs to category '{c.id}', so its cap can never be reached; "
                    "add events to it or remove the cap"
                ),
            )
        elif unit.engine(c.cap) > span_steps:
            yield (
                ("categories", i, "cap"),
                (
                    f"cap {c.cap} can never be reached within the score range {lo}..{hi}; "
                    f"use at most {span}"
                ),
            )

    # grade bands tile the score range, no gaps and no overlaps
    yield from _tiles(("grades",), s.grades, lo, hi, unit)
    if s.tax_rating is not None:
        yield from _tiles(("tax_rating", "grades"), s.tax_rating.grades, lo, hi, unit)
        yield from _duplicates(
            "tax_rating.grades",
            [g.id for g in s.tax_rating.grades]
            + ([s.tax_rating.unrated.id] if s.tax_rating.unrated else []),
        )

    # what only firms have, and what firms cannot have
    firms = s.subject == "enterprises"
    if s.tax_rating is not None and not firms:
        yield ("tax_rating",), "a tax rating is for firms; this scheme scores individuals"
    for key in ("sanctions", "rewards"):
        for i, c in enumerate(getattr(s, key)):
            if not firms and c.reaches == "representative":
                yield (key, i, "reaches"), "only a firm's sanctions reach a legal representative"
            if c.reaches in ("all", "children", "spouse") and c.trigger.of != "household":
                yield (
                    (key, i, "reaches"),
                    f"reaches: {c.reaches} names members of a household; the trigger needs "
                    "`of: household`",
                )
            if not firms and c.trigger.representative_listed:
                yield (
                    (key, i, "trigger", "representative_listed"),
                    "only firms have legal representatives; this scheme scores individuals",
                )
            if key == "rewards" and c.blocks:
                yield (key, i, "blocks"), "a reward blocks nothing; `blocks:` is for sanctions"
            for j, act in enumerate(c.blocks):
                if act in c.blocks[:j]:
                    yield (key, i, "blocks", j), f"the act '{act}' is named twice"
            named = set(c.blocks)
            for j, effect in enumerate(c.effects):
                for act in effect.acts or {}:
                    if act in named:
                        yield (
                            (key, i, "effects", j, "acts", act),
                            f"the act '{act}' is already named by this {key[:-1]}'s blocks or "
                            "effects; name each act once (multiply the multipliers)",
                        )
                    named.add(act)
            kinds = [e.kind for e in c.effects]
            for j, effect in enumerate(c.effects):
                kind = effect.kind
                if kind not in LIFE_EFFECTS:
                    continue
                if kind in kinds[:j]:
                    yield (key, i, "effects", j), f"the effect on {kind} is given twice"
                elif firms:
                    yield (
                        (key, i, "effects", j, kind),
                        f"effects on {kind} are about people; this scheme scores firms",
                    )
                elif key == "rewards" and kind in ("ties", "contracts"):
                    yield (
                        (key, i, "effects", j, kind),
                        f"an effect on {kind} is a sanction's (public shaming); a reward has none",
                    )
            yield from _points_effects(s, key, i, c, span_steps, span)
            if firms and c.trigger.of == "household":
                yield (key, i, "trigger", "of"), "firms have no households; remove `of:`"
    if firms:
        for key in ("network", "collective"):
            if getattr(s, key):
                yield (key,), f"{key} rules are about people; this scheme scores firms"

    def condition(
        loc: Loc, c: Condition, what: str, depth: int = 1, entry: bool = False
    ) -> Iterator[tuple[Loc, str]]:
        if depth > MAX_DEPTH:
            yield (
                loc,
                (f"conditions nest {depth} deep here; all/any/not nest at most {MAX_DEPTH} deep"),
            )
            return
        for key, parts in (("all", c.all_), ("any", c.any_)):
            if parts == ():
                yield (*loc, key), f"`{key}:` needs at least one condition"
        for j, part in enumerate(c.all_ or c.any_ or ()):
            key = "all" if c.all_ is not None else "any"
            yield from inner((*loc, key, j), part, what, depth + 1, entry)
        if c.not_ is not None:
            yield from inner((*loc, "not"), c.not_, what, depth + 1, entry)
        simple = ("grades", "list", "score_below", "score_at_least")
        if depth == 1 and c.of == "household" and c.kind not in simple:
            yield (*loc, "of"), "of: household goes with grades, a score or a list"
        for j, ev in enumerate(c.events):
            if ev not in events:
                yield (*loc, "events", j), _unknown("event", ev, events)
        for j, gr in enumerate(() if c.layer is not None else c.grades):  # another layer's:
            if gr not in grades:  # checked when a scenario puts the layers together
                yield (*loc, "grades", j), _unknown("grade", gr, grades)
        if c.list is not None and c.layer is None and c.list not in lists:
            yield (*loc, "list"), _unknown("list", c.list, lists)
        if c.at_least is not None and c.of not in events:
            yield (*loc, "of"), _unknown("event", c.of, events)
        for key in ("score_below", "score_at_least"):
            v = getattr(c, key)
            if v is not None and not lo < v <= hi:
                yield (*loc, key), f"{what} threshold {v} lies outside the score range {lo}..{hi}"

    def inner(
        loc: Loc, c: Condition, what: str, depth: int, entry: bool
    ) -> Iterator[tuple[Loc, str]]:
        """A condition inside all/any/not: about the person, and (in a list's entry) no list."""
        if c.of == "household":
            yield (*loc, "of"), "of: household applies to a whole trigger, not inside all/any/not"
        if c.representative_listed:
            yield (
                (*loc, "representative_listed"),
                "representative_listed triggers on its own, not inside all/any/not",
            )
        if entry and c.list is not None and c.layer is None:
            yield (
                (*loc, "list"),
                "a list's entry cannot be another list; use events, grades or a score",
            )
        yield from condition(loc, c, what, depth, entry)

    for i, x in enumerate(s.lists):
        yield from condition(("lists", i, "entry"), x.entry, "entry", entry=True)
        if x.exit.when is not None:
            w = x.exit.when
            own = [c for c in w.leaves() if c.list is not None and c.layer is None]
            if w.of == "household" or w.representative_listed:
                yield (("lists", i, "exit", "when"), "an exit is about the person listed")
            elif own:
                yield (
                    ("lists", i, "exit", "when"),
                    f"an exit cannot read this scheme's lists (here '{own[0].list}'); use "
                    "events, grades, a score, a count or another layer's list or grades",
                )
            else:
                yield from condition(("lists", i, "exit", "when"), w, "exit", entry=True)
        if x.exit.condition_ends and x.entry.events:
            yield (
                ("lists", i, "exit", "condition_ends"),
                (
                    "an entry on recorded events has no condition that ends; "
                    "use after_months or clean_months"
                ),
            )
    for key in ("sanctions", "rewards"):
        for i, c in enumerate(getattr(s, key)):
            yield from condition((key, i, "trigger"), c.trigger, "trigger")
    for i, co in enumerate(s.collective):
        if co.category is not None and co.category not in categories:
            yield ("collective", i, "category"), _unknown("category", co.category, categories)
    for i, net in enumerate(s.network):
        if net.category is not None and net.category not in categories:
            yield ("network", i, "category"), _unknown("category", net.category, categories)
        yield from _network_rule(i, net, s, lists, grades)
    if s.repair is not None:
        for j, list_id in enumerate(s.repair.lists):
            if list_id not in lists:
                yield ("repair", "lists", j), _unknown("list", list_id, lists)
        r = s.repair.restore_to
        if r is not None and not lo <= r <= hi:
            yield (
                ("repair", "restore_to"),
                (f"restore_to {r} lies outside the score range {lo}..{hi}"),
            )


def _schedule(s: Scheme) -> Iterator[tuple[Loc, str]]:
    """A rule's months in force: both of one kind (calendar or of the run), ``until`` after
    ``from``."""
    for loc, f in s.scheduled():
        if f.start_at is None or f.until is None:
            continue
        if isinstance(f.start_at, str) != isinstance(f.until, str):
            yield (
                (*loc, "in_force", "until"),
                "write from and until alike: both calendar months (YYYY-MM) or both months of "
                "the run",
            )
        else:
            first, until = f.months("0001-01" if f.calendar else None)
            assert first is not None and until is not None
            if until <= first:
                yield (
                    (*loc, "in_force", "until"),
                    f"until {f.until} is not after from {f.start_at}: the rule would never "
                    "be in force",
                )


def _network_rule(
    i: int, net: NetworkRule, s: Scheme, lists: set[str], grades: set[str]
) -> Iterator[tuple[Loc, str]]:
    """A network rule names what makes a friend count with its kind's own key, and only that."""
    own = NETWORK_KINDS[net.kind]
    for key, kind in ((k, kd) for kd, k in NETWORK_KINDS.items()):
        if key != own and getattr(net, key) is not None:
            yield (
                ("network", i, key),
                f"{key} is for kind {kind}; a {net.kind} rule takes {own}",
            )
    if getattr(net, own) is None:
        at: Loc = ("network", i, "kind") if "kind" in net.model_fields_set else ("network", i)
        yield at, f"a {net.kind} rule needs {own}"
    lo, hi = s.score.min, s.score.max
    if net.threshold is not None and net.kind == "friends-below" and not lo < net.threshold <= hi:
        yield ("network", i, "threshold"), f"threshold {net.threshold} lies outside {lo}..{hi}"
    if net.list is not None and net.kind == "friends-listed" and net.list not in lists:
        yield ("network", i, "list"), _unknown("list", net.list, lists)
    if net.grades is not None and net.kind == "friends-in-grade":
        if not grades:
            yield (
                ("network", i, "grades"),
                "this scheme has no grades; add grades: or use friends-below a score",
            )
        elif not net.grades:
            yield ("network", i, "grades"), "give at least one grade"
        for j, g in enumerate(net.grades if grades else ()):
            if g not in grades:
                yield ("network", i, "grades", j), _unknown("grade", g, grades)
            elif g in net.grades[:j]:
                yield ("network", i, "grades", j), f"the grade '{g}' is named twice"


def _points_effects(
    s: Scheme, key: str, i: int, c: Consequence, span_steps: int, span: str
) -> Iterator[tuple[Loc, str]]:
    """A consequence's ``points:`` effects: one at most, a known category, the factor a
    weighted-factor score needs (none without factors), no more than the score's range, and on
    the subject's own score."""
    unit = units.of(s)
    categories = {x.id for x in s.categories}
    factors = {f.id for f in s.score.factors}
    seen = False
    for j, e in enumerate(c.effects):
        if e.points is None:
            continue
        loc: Loc = (key, i, "effects", j)
        if seen:
            yield (*loc, "points"), "a consequence moves the score once: give one points effect"
        seen = True
        if c.reaches == "representative":
            yield (
                (*loc, "points"),
                "points move the firm's own score; a consequence that reaches its "
                "representative has none",
            )
        if e.category is not None and e.category not in categories:
            yield (*loc, "category"), _unknown("category", e.category, categories)
        if e.factor is None and factors:
            yield (
                loc,
                "the score is a weighted mean of factors: name the factor these points move "
                f"(one of {', '.join(sorted(factors))})",
            )
        elif e.factor is not None and not factors:
            yield (*loc, "factor"), "the score has no factors; add score.factors or remove"
        elif e.factor is not None and e.factor not in factors:
            yield (*loc, "factor"), _unknown("factor", e.factor, factors)
        if abs(unit.engine(e.points)) > span_steps:
            yield (*loc, "points"), f"{e.points} points is more than the whole score range ({span})"


def _factors(s: Scheme) -> Iterator[tuple[Loc, str]]:
    """A weighted-factor score: weights that sum to 1, and every rule that scores names a known
    factor; without factors, no rule names one."""
    factors = {f.id for f in s.score.factors}
    for loc, msg in _duplicates("factors", (f.id for f in s.score.factors)):
        yield ("score", *loc), msg
    total = sum(f.weight for f in s.score.factors)
    if factors and abs(total - 1.0) > 1e-9:
        yield (
            ("score", "factors", len(s.score.factors) - 1, "weight"),
            f"the factor weights sum to {total:g}; they must sum to 1",
        )
    for key in ("events", "network", "collective"):
        for i, rule in enumerate(getattr(s, key)):
            if rule.factor is None and factors:
                yield (
                    (key, i),
                    "the score is a weighted mean of factors: name this rule's factor "
                    f"(one of {', '.join(sorted(factors))})",
                )
            elif rule.factor is not None and not factors:
                yield (key, i, "factor"), "the score has no factors; add score.factors or remove"
            elif rule.factor is not None and rule.factor not in factors:
                yield (key, i, "factor"), _unknown("factor", rule.factor, factors)


def _unknown(what: str, value: str, known: set[str]) -> str:
    from difflib import get_close_matches

    near = get_close_matches(value, sorted(known), n=1)
    listed = ", ".join(sorted(known)) or "none"
    hint = f"; did you mean '{near[0]}'?" if near else f"; known: {listed}"
    return f"unknown {what} '{value}'{hint}"


def problems_of(exc_ctx: Any) -> list[tuple[Loc, str]] | None:
    """The located problems behind a pydantic ``value_error``, if they came from :class:`Scheme`."""
    err = exc_ctx.get("error") if isinstance(exc_ctx, dict) else None
    return err.problems if isinstance(err, _Problems) else None
