"""A scenario: which scheme, which population, how acts are observed and how people adapt.

A scenario is plain data, read from YAML (with ``path:line:column`` errors) or built in Python.
Every default names its source or is marked assumed in its field description.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from scslab._yaml import Located, load_located, looks_like_path, read_located
from scslab.behaviour.model import Adaptation, Observation
from scslab.engine.contracts import Contracts
from scslab.errors import ScenarioError
from scslab.months import calendar_month as _calendar_month
from scslab.months import month_index
from scslab.population.firms import FirmSpec
from scslab.population.individuals import PopulationSpec
from scslab.population.network import NetworkSpec
from scslab.schemes.loader import problem_lines
from scslab.schemes.model import Slug, _Problems

#: The package that holds the built-in scenarios, each ``NAME.yaml``, most with their targets.
BUILTIN = "scslab.scenarios"
TARGETS_SUFFIX = ".targets.yaml"


def builtin_scenarios() -> list[str]:
    """Names of the built-in scenarios (``NAME.yaml``, most with ``NAME.targets.yaml`` beside)."""
    files = resources.files(BUILTIN).iterdir()
    return sorted(
        f.name.removesuffix(".yaml")
        for f in files
        if f.name.endswith(".yaml") and not f.name.endswith(TARGETS_SUFFIX)
    )


def builtin_path(name: str, suffix: str = ".yaml") -> Path:
    """The file of a built-in scenario (``.yaml``) or of its targets (``.targets.yaml``)."""
    return Path(str(resources.files(BUILTIN).joinpath(f"{name}{suffix}")))


def load_scenario(spec: str | Path) -> Scenario:
    """A scenario from a file, or a built-in scenario by name (``spc-defaulters``); a built-in
    name wins unless the argument looks like a path."""
    if not looks_like_path(spec) and str(spec) in builtin_scenarios():
        return Scenario.from_yaml(builtin_path(str(spec)))
    return Scenario.from_yaml(spec)


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _shown(value: int | str | None) -> str:
    return f"'{value}'" if isinstance(value, str) else f"month {value}"


#: A rate: acts per agent-year.
Rate = Annotated[float, Field(ge=0, le=120)]
#: The month a piece of a dated rate begins, ``YYYY-MM``.
Month = Annotated[str, BeforeValidator(_calendar_month)]
#: A rate, or its dated pieces: the form written chooses which is checked, so that a mistake in
#: one is not reported against the other too (the tags' brackets keep them out of locations).
RateOrPieces = Annotated[
    Annotated[float, Field(ge=0, le=120), Tag("rate[]")]
    | Annotated[dict[Month, Rate], Tag("pieces[]")],
    Discriminator(lambda v: "pieces[]" if isinstance(v, dict) else "rate[]"),
]


#: A month of the run: a month index (0: the first recorded month) or a calendar month,
#: ``YYYY-MM``, where the scenario has a ``start``.
RunMonth = Annotated[
    Annotated[int, Field(ge=0, le=1200), Tag("month[]")] | Annotated[Month, Tag("calendar[]")],
    Discriminator(lambda v: "calendar[]" if isinstance(v, str | date) else "month[]"),
]


class Layer(_Spec):
    """One scheme over the scenario's population: where it applies and when it is in force.

    ``docs/layers.md`` describes layered runs; ``from`` is written ``start_at`` in Python."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, serialize_by_alias=True
    )

    id: Slug = Field(description="the layer's name: its results are in OUT/layers/<id>/")
    scheme: str = Field(description="a built-in name or a scheme file")
    where: tuple[str, ...] | None = Field(
        default=None,
        description="the regions of the population the scheme applies in, adjacent in "
        "population.regions (default: everywhere); people elsewhere are not scored by it (a "
        "layer of firms: the firms whose legal representative lives there)",
    )
    start_at: RunMonth | None = Field(
        default=None,
        alias="from",
        description="the month the scheme comes into force: a month of the run (0 the first) "
        "or YYYY-MM with the scenario's `start` (default: from the start, with its history)",
    )
    until: RunMonth | None = Field(
        default=None,
        description="the month the scheme is abandoned: it scores nobody from then on, and its "
        "lists and consequences end (default: in force to the end)",
    )
    people: Slug | None = Field(
        default=None,
        description="a layer of firms (a scheme that scores enterprises): the people's layer "
        "whose blacklists reach the firms' managers (docs/firms.md#a-layer-of-firms)",
    )
    scheme_values: dict[str, Any] | None = Field(
        default=None,
        description="this layer's values for numbers its scheme marks assumed, as a scenario's "
        "`scheme_values` (same paths, same checks), for this layer's scheme only",
    )
    channels: tuple[str, ...] | None = Field(
        default=None,
        description="the observation channels whose records the layer takes, ids of the act "
        "catalogue's `channels` (e.g. [court, bank]); [] takes none; default: every channel. "
        "People feel the layer's deterrence through these channels only",
    )
    history_months: Annotated[int, Field(ge=0, le=1200)] | None = Field(
        default=None,
        description="months this layer lives before month 0, unrecorded, in place of the "
        "scenario's `history_months` or its scheme's score.history_months (a layer in force "
        "from month 0 only; not for a layer of firms)",
    )


class Fitted(_Spec):
    """A setting fitted by ``scslab calibrate``: its value, its posterior interval, and to what."""

    value: float
    interval: tuple[float, float] = Field(description="the posterior's central interval")
    level: Annotated[float, Field(gt=0, lt=1)] = Field(
        default=0.9, description="the interval's probability"
    )
    targets: str = Field(description="the targets file the setting was fitted to")


class Scenario(_Spec):
    """Everything a run needs besides the code: scheme, population, horizon, seed, behaviour."""

    scheme: str = Field(default="rongcheng-2014", description="a built-in name or a scheme file")
    layers: tuple[Layer, ...] | None = Field(
        default=None,
        description="several schemes over the one population, each with its regions and months "
        "(docs/layers.md); in place of `scheme`",
    )
    population: PopulationSpec = PopulationSpec()
    network: NetworkSpec | None = Field(
        default=None, description="draw a friendship network; needed by network rules"
    )
    contracts: Contracts = Field(
        default=Contracts(),
        description="contracts between people as reputation games; their breaches are scored",
    )
    firms: FirmSpec | None = Field(
        default=None,
        description="the firms of the population, for schemes that score enterprises; "
        "default: FirmSpec() when the scheme scores enterprises",
    )
    start: str | None = Field(
        default=None,
        description=(
            "the calendar month of the first step, YYYY-MM (e.g. 2013-10): months then carry "
            "dates in results and reports; dated targets need it"
        ),
    )
    years: Annotated[float, Field(gt=0, le=100)] = 5
    history_months: Annotated[int, Field(ge=0, le=1200)] | None = Field(
        default=None,
        description=(
            "months people live under the scheme before month 0, run but not recorded; "
            "default: the scheme's score.history_months (0: everyone starts at base). A firm "
            "run's history is firms.history_months"
        ),
    )
    seed: Annotated[int, Field(ge=0, lt=2**63)] = 0
    observation: Observation = Observation()
    adaptation: Adaptation = Adaptation()
    panel: Annotated[int, Field(ge=0, le=100_000)] = Field(
        default=1000, description="people whose whole trajectories are kept"
    )
    acts: str | None = Field(default=None, description="an act catalogue file; default: built-in")
    rates: dict[str, RateOrPieces] = Field(
        default_factory=dict,
        description="acts per agent-year by act id, in place of the catalogue's base rates "
        "(calibration varies them as `rates.<act id>`); or dated pieces, {YYYY-MM: rate, ...}, "
        "each in force from its month until the next piece (needs `start`, and a piece that "
        "begins by then; calibration varies a piece as `rates.<act id>.<YYYY-MM>`)",
    )
    scheme_values: dict[str, Any] = Field(
        default_factory=dict,
        description="this scenario's values for numbers its scheme marks assumed, by their path "
        "into the scheme with rules named by id, e.g. {repair: {monthly_probability: 0.05}} "
        "(calibration varies them as `scheme_values.repair.monthly_probability`); a number "
        "the scheme sources, or lacks, is refused",
    )
    fitted: dict[str, Fitted] = Field(
        default_factory=dict,
        description="settings `scslab calibrate` fitted, by dotted path, with their intervals; "
        "written by calibrate, read by people (the run uses the settings themselves)",
    )

    @model_validator(mode="before")
    @classmethod
    def _layered_scheme(cls, data: Any) -> Any:
        """With ``layers:``, ``scheme`` is the first layer's (as a scenario written back has
        it); a ``scheme:`` of its own is refused."""
        if not isinstance(data, dict) or not data.get("layers"):
            return data
        layers = data["layers"]
        first = layers[0] if isinstance(layers, list | tuple) else None
        own = first.scheme if isinstance(first, Layer) else None
        if isinstance(first, dict):
            own = first.get("scheme")
        if not isinstance(own, str):
            return data  # the layer's own check says what is wrong
        if "scheme" in data and data["scheme"] != own:
            raise _Problems(
                [
                    (
                        ("scheme",),
                        "a scenario with `layers:` names each layer's scheme there; remove "
                        "`scheme:` (or `layers:` for a run of one scheme everywhere)",
                    )
                ]
            )
        return {**data, "scheme": own}

    @field_validator("start", mode="before")
    @classmethod
    def _month(cls, value: Any) -> Any:
        return None if value is None else _calendar_month(value)

    @model_validator(mode="after")
    def _layers(self) -> Scenario:
        problems = list(self._layer_problems())
        if problems:
            raise _Problems(problems)
        return self

    def _layer_problems(self) -> Iterator[tuple[tuple[str | int, ...], str]]:
        """Each located problem of ``layers``, checked before anything is allocated."""
        if self.layers is None:
            return
        if not self.layers:
            yield ("layers",), "give at least one layer, or leave `layers:` out"
            return
        firms = next((x.id for x in self.layers if x.people is not None), None)
        if self.contracts.enabled and firms is not None:
            yield (
                ("contracts",),
                f"contracts in a run with a layer of firms ('{firms}'): not supported yet",
            )
        if self.scheme_values and len(self.layers) > 1:
            yield (
                ("scheme_values",),
                "scheme_values with several layers: give each layer its own "
                "(`layers.N.scheme_values`)",
            )
        if self.scheme_values and any(x.scheme_values for x in self.layers):
            yield (
                ("scheme_values",),
                "scheme_values both here and in a layer: give them in the layer",
            )
        regions = [r.id for r in self.population.regions]
        seen: dict[str, int] = {}
        for i, layer in enumerate(self.layers):
            if layer.id in seen:
                yield (
                    ("layers", i, "id"),
                    f"two layers are called '{layer.id}' (the other is layers.{seen[layer.id]}); "
                    "give each layer its own id",
                )
            seen.setdefault(layer.id, i)
            if layer.people is not None and layer.people not in {x.id for x in self.layers}:
                yield (
                    ("layers", i, "people"),
                    f"the scenario has no layer '{layer.people}'; its layers are "
                    + ", ".join(x.id for x in self.layers),
                )
            yield from self._where_problems(i, layer, regions)
            first, until = self._month_of(layer.start_at), self._month_of(layer.until)
            if layer.history_months is not None and layer.people is not None:
                yield (
                    ("layers", i, "history_months"),
                    "a layer of firms lives firms.history_months; set that instead",
                )
            elif layer.history_months and isinstance(first, int) and first > 0:
                yield (
                    ("layers", i, "history_months"),
                    f"the layer comes into force at {_shown(layer.start_at)}, after the run's "
                    "first month: a new scheme has no history",
                )
            for key, month in (("from", first), ("until", until)):
                if isinstance(month, str):
                    yield ("layers", i, key), month
            if not isinstance(first, str) and not isinstance(until, str):
                if until is not None and until <= max(first or 0, 0):
                    yield (
                        ("layers", i, "until"),
                        f"until {_shown(layer.until)} is not after "
                        + (
                            f"from {_shown(layer.start_at)}"
                            if (first or 0) > 0
                            else "the run's first month"
                        )
                        + ": the layer would never be in force",
                    )
                elif first is not None and first >= self.steps:
                    yield (
                        ("layers", i, "from"),
                        f"from {_shown(layer.start_at)} is after the run's last month "
                        f"({self.steps - 1}): the layer would never be in force",
                    )

    @staticmethod
    def _where_problems(
        i: int, layer: Layer, regions: list[str]
    ) -> Iterator[tuple[tuple[str | int, ...], str]]:
        if layer.where is None:
            return
        if not layer.where:
            yield ("layers", i, "where"), "give at least one region, or leave `where:` out"
            return
        from difflib import get_close_matches

        known = []
        for j, name in enumerate(layer.where):
            if name not in regions:
                near = get_close_matches(name, regions, n=1)
                hint = f"did you mean '{near[0]}'?" if near else f"known: {', '.join(regions)}"
                yield ("layers", i, "where", j), f"the population has no region '{name}'; {hint}"
            else:
                known.append(regions.index(name))
        if len(known) == len(layer.where):
            span = sorted(set(known))
            if span[-1] - span[0] + 1 != len(span):
                yield (
                    ("layers", i, "where"),
                    "a layer's regions must be adjacent in population.regions (people are laid "
                    "out region by region); regions apart: not supported yet",
                )

    def channel_problems(
        self, i: int, known: Sequence[str]
    ) -> Iterator[tuple[tuple[str | int, ...], str]]:
        """Each located problem of layer ``i``'s ``channels``, ``known`` the ids of its act
        catalogue's channels."""
        layer = (self.layers or ())[i]
        from difflib import get_close_matches

        for j, name in enumerate(layer.channels or ()):
            if name not in known:
                near = get_close_matches(name, list(known), n=1)
                hint = f"did you mean '{near[0]}'?" if near else f"known: {', '.join(known)}"
                yield (
                    ("layers", i, "channels", j),
                    f"the act catalogue has no channel '{name}'; {hint}",
                )
            elif name in (layer.channels or ())[:j]:
                yield ("layers", i, "channels", j), f"the channel '{name}' is named twice"

    def _month_of(self, value: int | str | None) -> int | str | None:
        """A layer's month as a month of the run (a calendar month before the start: 0,
        negative), or the problem with it as text."""
        if value is None or isinstance(value, int):
            return value
        if self.start is None:
            return f"'{value}' is a calendar month, and the scenario has no `start: YYYY-MM`"
        return month_index(value) - month_index(self.start)

    def layer_months(self) -> dict[str, tuple[int, int]]:
        """Each layer's months in force, ``(first, end)``, as months of the run (``end``
        excluded; at most the run's months)."""
        out = {}
        for layer in self.layers or ():
            first, until = self._month_of(layer.start_at), self._month_of(layer.until)
            assert not isinstance(first, str) and not isinstance(until, str)  # validated
            out[layer.id] = (
                max(first or 0, 0),
                self.steps if until is None else min(until, self.steps),
            )
        return out

    @field_validator("rates")
    @classmethod
    def _dated(
        cls, rates: dict[str, float | dict[str, float]], info: ValidationInfo
    ) -> dict[str, float | dict[str, float]]:
        dated = [act for act, r in rates.items() if isinstance(r, dict)]
        if not dated:
            return rates
        start = info.data.get("start")
        if start is None:
            if "start" in info.data:  # given, and valid: none
                raise ValueError(
                    f"rates.{dated[0]}: dated rates need `start: YYYY-MM`, the calendar month "
                    "of the first step"
                )
            return rates  # the start itself is wrong, and said so
        for act in dated:
            pieces = rates[act]
            assert isinstance(pieces, dict)
            if not pieces:
                raise ValueError(f"rates.{act}: give at least one piece, YYYY-MM: rate")
            first = min(pieces, key=month_index)
            if month_index(first) > month_index(start):
                raise ValueError(
                    f"rates.{act}: its first piece begins {first}, after the start {start}; "
                    f"give the rate in force from {start} on"
                )
        return rates

    def rate_pieces(self, history: int = 0) -> tuple[tuple[int, dict[str, float]], ...]:
        """The rates in force from each month where one changes: ``(month, rates by act id)``,
        months counted from the first recorded one (0). A month of ``history`` (``-history ..
        -1``) is its calendar month too, and takes the rates dated for it: where a rate changes
        within the history, the first piece begins at ``-history`` and the change is a piece of
        its own; before a rate's first date its first value holds. Without a change within the
        history the first piece begins at 0 (the months before it take its rates). Without
        dated rates: one piece, ``(0, rates)``."""
        if not any(isinstance(r, dict) for r in self.rates.values()):
            return ((0, {a: float(r) for a, r in self.rates.items() if not isinstance(r, dict)}),)
        assert self.start is not None  # the validator refuses dated rates without one
        first = month_index(self.start)
        begun = {
            act: sorted((month_index(m) - first, float(v)) for m, v in r.items())
            for act, r in self.rates.items()
            if isinstance(r, dict)
        }
        # a rate changes at each of its dates but the first (before it, its first value holds)
        changes = {m for pieces in begun.values() for m, _ in pieces[1:] if -history < m}
        lo = -history if any(m <= 0 for m in changes) else 0
        cuts = {lo} | {m for m in changes if lo < m < self.steps}
        out = []
        for cut in sorted(cuts):
            now: dict[str, float] = {}
            for act, r in self.rates.items():
                if isinstance(r, dict):
                    held = [v for m, v in begun[act] if m <= cut]
                    now[act] = held[-1] if held else begun[act][0][1]
                else:
                    now[act] = float(r)
            out.append((cut, now))
        return tuple(out)

    def dates(self, steps: int | None = None) -> np.ndarray | None:
        """The first day of each step's month (``datetime64[D]``), or ``None`` without a start."""
        if self.start is None:
            return None
        n = self.steps if steps is None else steps
        return (np.datetime64(self.start, "M") + np.arange(n)).astype("datetime64[D]")

    @property
    def steps(self) -> int:
        """Monthly steps in the horizon (at least one)."""
        return max(1, round(self.years * 12))

    @classmethod
    def from_yaml(cls, path: str | Path) -> Scenario:
        """Read a scenario file; relative scheme and catalogue paths are taken from its folder."""
        path = Path(path)
        doc = read_located(path, ScenarioError, "scenario file")
        scenario = cls.from_located(doc).anchored(path.parent)
        return scenario._layers_checked(doc)._values_checked(doc)

    def _layers_checked(self, doc: Located) -> Scenario:
        """This scenario, once each layer's scheme is found and scores people; a refused one
        is reported at its place in ``doc``."""
        from scslab.errors import ScslabError
        from scslab.schemes.loader import load_scheme

        subjects: dict[str, str] = {}
        for i, layer in enumerate(self.layers or ()):
            where = f"{doc.where(('layers', i, 'scheme'))}: layers.{i}.scheme"
            try:
                scheme = load_scheme(layer.scheme)
            except ScslabError as exc:
                first = str(exc).splitlines()[0]
                raise ScenarioError(f"{where}: {first}") from None
            subjects[layer.id] = scheme.subject
            if layer.channels:
                from scslab.behaviour.rates import load_catalogue

                if scheme.subject == "enterprises":
                    spec = self.firms if self.firms is not None else FirmSpec()
                    acts = load_catalogue(spec.acts, builtin="firm_acts.yaml")
                else:
                    acts = load_catalogue(self.acts)
                known = [c.id for c in acts.channels]
                for at, problem in self.channel_problems(i, known):
                    raise ScenarioError(f"{doc.where(at)}: {'.'.join(map(str, at))}: {problem}")
            if layer.scheme_values:
                from scslab.schemes.values import FIELD, RefusedValue, with_scheme_values

                try:
                    with_scheme_values(scheme, layer.scheme_values)
                except RefusedValue as exc:
                    loc: tuple[str | int, ...] = ("layers", i, FIELD, *exc.loc)
                    raise ScenarioError(f"{doc.where(loc)}: layers.{i}.{exc}") from None
        for loc, problem in firm_layer_problems(self, subjects):
            raise ScenarioError(f"{doc.where(loc)}: {'.'.join(map(str, loc))}: {problem}")
        return self

    def _values_checked(self, doc: Located) -> Scenario:
        """This scenario, once its ``scheme_values`` are checked against its scheme; a refused
        one is reported at its place in ``doc``."""
        if not self.scheme_values:
            return self
        from scslab.schemes.loader import load_scheme
        from scslab.schemes.values import FIELD, RefusedValue, with_scheme_values

        try:
            with_scheme_values(load_scheme(self.scheme), self.scheme_values)
        except RefusedValue as exc:
            raise ScenarioError(f"{doc.where((FIELD, *exc.loc))}: {exc}") from None
        return self

    def anchored(self, folder: Path) -> Scenario:
        """This scenario with relative scheme and act catalogue files taken from ``folder``."""
        updates: dict[str, Any] = {}

        def local(value: str | None) -> str | None:
            if value and looks_like_path(value):
                p = Path(value)
                return str(p if p.is_absolute() else (folder / p))
            return value

        for key in ("scheme", "acts"):
            if local(getattr(self, key)) != getattr(self, key):
                updates[key] = local(getattr(self, key))
        if self.layers is not None:
            moved_layers = tuple(
                layer.model_copy(update={"scheme": local(layer.scheme)}) for layer in self.layers
            )
            if moved_layers != self.layers:
                updates["layers"] = moved_layers
        firms = self.firms
        if firms is not None:
            moved = {k: local(getattr(firms, k)) for k in ("people_scheme", "acts")}
            if any(moved[k] != getattr(firms, k) for k in moved):
                updates["firms"] = firms.model_copy(update=moved)
        return self.model_copy(update=updates) if updates else self

    @classmethod
    def from_text(cls, text: str, source: str = "<scenario>") -> Scenario:
        # scheme_values are checked where the scheme is known: by from_yaml, and by the engine
        # (a stored scenario is read with its stored scheme, whose file may be gone)
        return cls.from_located(load_located(text, source, ScenarioError))

    @classmethod
    def from_located(cls, doc: Located) -> Scenario:
        try:
            return cls.model_validate(doc.data)
        except ValidationError as exc:
            raise ScenarioError(problem_lines(exc, doc)) from None

    def to_yaml(self) -> str:
        data = self.model_dump(mode="json")
        if self.layers is not None:
            del data["scheme"]  # each layer's is in `layers`
            data["layers"] = [x.model_dump(mode="json", exclude_none=True) for x in self.layers]
        else:
            del data["layers"]  # as written before layers existed
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def firm_layer_problems(
    scenario: Scenario, subjects: Mapping[str, str]
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Each located problem of a layered scenario's layer of firms (``subjects``: what each
    layer's scheme scores, by id): it needs ``people:``, a layer of people (its regions and
    months may be any, as its own may); one such layer at most; and ``firms:`` only beside
    it. (Links to and from it are checked with the schemes.)"""
    layers = scenario.layers
    if layers is None:
        return
    index = {x.id: i for i, x in enumerate(layers)}
    firms = [i for i, x in enumerate(layers) if subjects.get(x.id) == "enterprises"]
    if not firms and scenario.firms is not None:
        yield (
            ("firms",),
            "no layer scores enterprises; the firms settings are for a layer whose "
            "scheme does (e.g. corporate-scs)",
        )
    for i, layer in enumerate(layers):
        if subjects.get(layer.id) != "enterprises":
            if layer.people is not None:
                yield (
                    ("layers", i, "people"),
                    f"layer '{layer.id}' scores people; `people:` names the people's layer of "
                    "a layer of firms",
                )
            continue
        if i != firms[0]:
            yield (
                ("layers", i, "scheme"),
                f"a second layer of firms (the first is layers.{firms[0]}): not supported yet",
            )
            continue
        if layer.people is None:
            yield (
                ("layers", i, "scheme"),
                f"layer '{layer.id}' scores firms: name the people's layer whose blacklists "
                "reach their managers with `people: <layer id>`",
            )
            continue
        j = index.get(layer.people)
        if j is None:
            continue  # said where `people:` is checked
        people = layers[j]
        if subjects.get(people.id) != "individuals":
            yield (
                ("layers", i, "people"),
                f"layer '{people.id}' does not score people; a layer of firms reads the "
                "blacklists of a layer of people",
            )
