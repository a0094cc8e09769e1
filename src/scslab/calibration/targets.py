"""Targets: what was published about a scheme, as data, each matched by one observable of a run.

A targets file is YAML, checked like a scheme file (``path:line:column`` for every problem)::

    reference_population: 1400000000     # the people (or firms) the published counts are of
    targets:
      - id: listed-2017-02
        source: spc-2017                 # an anchor in docs/sources.md
        date: 2017-02                    # read at the end of this month
        observable: entries              # see OBSERVABLES
        of: judgment-defaulters          # the list, act, grade or life domain it is about
        figure: 6730000
        unit: count                      # count, share or ratio
        tolerance: 0.05                  # relative; or sd: an absolute standard error
        role: fit                        # fit, or check: held out of the fit
    fit:                                 # what `scslab calibrate` varies, and how hard it tries
      parameters:
        rates.unpaid-judgment: {range: [0.0005, 0.02]}

See ``docs/calibration.md``. This module knows nothing of runs: :mod:`scslab.calibration.observe`
reads a run's monthly counts for each target.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from scslab._yaml import Located, load_located, located_errors, looks_like_path, read_located
from scslab.engine.scenario import TARGETS_SUFFIX, builtin_path, builtin_scenarios
from scslab.errors import ScenarioError
from scslab.sweep.spec import Parameter

#: The observables a target may name, and what each one reads from a run.
OBSERVABLES: dict[str, str] = {
    "stock": "people (or firms) on the list `of` at the end of the month",
    "entries": "entries onto the list `of`, summed from the run's first month (or `since`)",
    "exits": "exits from the list `of` (all, or by `reason`), summed like entries",
    "blocked": "purchase attempts of the act `of` blocked by a ban, summed like entries",
    "grade": "share of subjects in the grade `of` at the end of the month",
    "tax": "share of firms with the tax rating `of` at the end of the month",
    "sanctioned": "people under a sanction in the life domain `of` at the end of the month",
}
Observable = Literal["stock", "entries", "exits", "blocked", "grade", "tax", "sanctioned"]
#: Observables that add up a flow over months; the others are read at the end of the month.
FLOWS = ("entries", "exits", "blocked")
#: Observables that are shares by nature: their unit is ``share``.
SHARES = ("grade", "tax")
Reason = Literal["expiry", "repair", "fulfilment", "appeal"]
Unit = Literal["count", "share", "ratio"]

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def month_number(text: str) -> int:
    """``"2017-02"`` → months since year 0 (2017 * 12 + 1)."""
    m = _MONTH.match(text)
    if m is None:
        raise ValueError(f"'{text}' is not a month; give YYYY-MM, e.g. 2017-02")
    return int(m.group(1)) * 12 + int(m.group(2)) - 1


def month_text(number: int) -> str:
    """Months since year 0 → ``"YYYY-MM"``."""
    return f"{number // 12:04d}-{number % 12 + 1:02d}"


def _month(value: Any) -> Any:
    """A ``YYYY-MM`` month; a full date (YAML reads 2017-02-01 as one) is refused plainly."""
    if value is None:
        return value
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a month; give YYYY-MM, e.g. 2017-02")
    month_number(value)
    return value


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Measure(_Spec):
    """What a target (or a ratio's denominator) reads from a run."""

    observable: Observable = Field(description="what is measured; see OBSERVABLES")
    of: str = Field(min_length=1, description="the list, act, grade, tax rating or domain")
    reason: Reason | None = Field(default=None, description="exits only: why people left")
    since: str | None = Field(
        default=None, description="flows only: count from this month (YYYY-MM) on"
    )

    _months = field_validator("since", mode="before")(_month)

    @model_validator(mode="after")
    def _fits(self) -> Measure:
        if self.reason is not None and self.observable != "exits":
            raise ValueError(f"`reason` goes with observable exits, not {self.observable}")
        if self.since is not None and self.observable not in FLOWS:
            raise ValueError(
                f"`since` goes with a flow ({', '.join(FLOWS)}); {self.observable} is read at "
                "the end of the month"
            )
        return self


class Target(Measure):
    """One published figure, the observable it is matched by, and how close ours must come."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)]
    source: str = Field(min_length=1, description="an anchor in docs/sources.md")
    date: str = Field(description="the month the figure is of (YYYY-MM), read at its end")
    figure: float = Field(ge=0, description="the published figure")
    unit: Unit = Field(
        description="count (of the reference population), share (of all subjects) or ratio "
        "(to the measure `per`)"
    )
    population: Annotated[int, Field(gt=0)] | None = Field(
        default=None, description="count only: the population the figure is of, if not the file's"
    )
    per: Measure | None = Field(default=None, description="ratio only: the denominator")
    tolerance: Annotated[float, Field(gt=0, le=10)] | None = Field(
        default=None, description="relative: ours within this share of the published figure"
    )
    sd: Annotated[float, Field(gt=0)] | None = Field(
        default=None, description="an absolute standard error: ours within two of them"
    )
    role: Literal["fit", "check"] = Field(description="fit, or check: held out of the fit")
    note: str | None = None

    _date = field_validator("date", mode="before")(_month)

    @field_validator("figure")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("give a finite number")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Target:
        if (self.tolerance is None) == (self.sd is None):
            raise ValueError("give tolerance (relative) or sd (absolute), exactly one")
        if self.observable in SHARES and self.unit != "share":
            raise ValueError(f"observable {self.observable} is a share: give unit: share")
        if (self.unit == "ratio") != (self.per is not None):
            raise ValueError("unit: ratio needs `per:` (the denominator), and only it does")
        if self.population is not None and self.unit != "count":
            raise ValueError("`population` scales a count; this target's unit is " + self.unit)
        if self.unit == "share" and self.figure > 1:
            raise ValueError(f"figure {self.figure:g}: a share lies between 0 and 1")
        if self.tolerance is not None and self.figure == 0:
            raise ValueError("a relative tolerance of a figure of 0 is 0; give sd instead")
        for m in (self, self.per):
            if (
                m is not None
                and m.since is not None
                and month_number(m.since) > month_number(self.date)
            ):
                raise ValueError(f"since {m.since} comes after the target's date {self.date}")
        return self

    @property
    def scale(self) -> float:
        """The distance that counts as one tolerance: the relative one, or two standard errors."""
        if self.tolerance is not None:
            return self.tolerance * abs(self.figure)
        assert self.sd is not None
        return 2 * self.sd

    def within(self, value: float) -> bool:
        return abs(value - self.figure) <= self.scale * (1 + 1e-9)


class Fit(_Spec):
    """What ``scslab calibrate`` varies, and how much work it does."""

    parameters: dict[str, Parameter] = Field(
        min_length=1, max_length=16, description="dotted scenario paths with a `range` each"
    )
    agents: Annotated[int, Field(gt=0, le=2_000_000_000)] | None = Field(
        default=None, description="subjects in each candidate run; default: the scenario's"
    )
    particles: Annotated[int, Field(ge=4, le=100_000)] = Field(
        default=24, description="the ABC-SMC population size"
    )
    generations: Annotated[int, Field(ge=1, le=100)] = Field(
        default=4, description="most ABC-SMC generations"
    )
    min_epsilon: Annotated[float, Field(ge=0)] = Field(
        default=1.0,
        description="stop once the acceptance threshold is this small (1: every fit target "
        "within one tolerance)",
    )
    replicates: Annotated[int, Field(ge=1, le=1000)] = Field(
        default=3, description="seeds the final estimate is run with"
    )
    level: Annotated[float, Field(gt=0, lt=1)] = Field(
        default=0.9, description="probability of the posterior intervals reported"
    )


class Targets(_Spec):
    """A targets file: published figures and, optionally, what to fit to them."""

    scenario: str | None = Field(default=None, description="the scenario these targets are for")
    reference_population: Annotated[int, Field(gt=0)] | None = Field(
        default=None, description="the population published counts are of"
    )
    targets: tuple[Target, ...] = Field(min_length=1)
    fit: Fit | None = None

    @model_validator(mode="after")
    def _ids(self) -> Targets:
        seen: set[str] = set()
        for t in self.targets:
            if t.id in seen:
                raise ValueError(f"target id '{t.id}' is given twice; ids must be unique")
            seen.add(t.id)
        return self

    def reference(self, target: Target) -> int | None:
        return target.population if target.population is not None else self.reference_population

    @property
    def fitted(self) -> tuple[Target, ...]:
        return tuple(t for t in self.targets if t.role == "fit")


@dataclass(frozen=True)
class TargetsFile:
    """A checked targets file and the located document its positions come from."""

    targets: Targets
    doc: Located

    @property
    def source(self) -> str:
        return self.doc.source

    def where(self, *loc: str | int) -> str:
        return self.doc.where(loc)

    def where_target(self, k: int, *loc: str | int) -> str:
        return self.doc.where(("targets", k, *loc))


def _keys_at(loc: tuple[str | int, ...]) -> list[str]:
    model: type[BaseModel] | None = Targets
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(part)
        model = None
        if field is not None:
            for cls in (Target, Measure, Fit, Parameter):
                if cls.__name__ in str(field.annotation):
                    model = cls
                    break
    return list(model.model_fields) if model is not None else []


def parse_targets(doc: Located) -> TargetsFile:
    """Validate a located document into targets, every problem at its line and column."""
    if isinstance(doc.data, dict) and "layers" in doc.data:
        raise ScenarioError(
            f"{doc.where(('layers', '__key__'))}: layers: these are a layered scenario's targets, "
            "which `scslab validate` reads (docs/calibration.md#layered-scenarios); nothing "
            "calibrates a layered scenario: calibrate a layer's scheme in a one-scheme scenario"
        )
    try:
        targets = Targets.model_validate(doc.data)
    except ValidationError as exc:
        raise ScenarioError(located_errors(exc.errors(), doc, keys_at=_keys_at)) from None
    for k, t in enumerate(targets.targets):
        if t.unit == "count" and targets.reference(t) is None:
            raise ScenarioError(
                f"{doc.where(('targets', k, 'unit'))}: targets.{k}.unit: a count needs the "
                "population it is of: give `reference_population` at the top (or `population`)"
            )
    if targets.fit is not None:
        for path, p in targets.fit.parameters.items():
            if p.range is None:
                raise ScenarioError(
                    f"{doc.where(('fit', 'parameters', path))}: fit.parameters.{path}: "
                    "calibration needs a `range: [low, high]` to draw from"
                )
    return TargetsFile(targets, doc)


def targets_from_text(text: str | bytes, source: str = "<targets>") -> TargetsFile:
    return parse_targets(load_located(text, source, ScenarioError))


def targets_doc(spec: str | Path) -> Located:
    """A targets file, read but not checked: by path, or a built-in scenario's by its name."""
    path = Path(spec)
    if not looks_like_path(spec) and str(spec) in builtin_scenarios():
        path = builtin_path(str(spec), TARGETS_SUFFIX)
        if not path.is_file():
            raise ScenarioError(f"{spec}: this built-in scenario ships no targets")
    return read_located(path, ScenarioError, "targets file")


def load_targets(spec: str | Path) -> TargetsFile:
    """A targets file by path, or the targets of a built-in scenario by its name."""
    return parse_targets(targets_doc(spec))
