"""A sweep spec: a base scenario, the parameters to vary, a design, replicates and outputs.

A spec is plain data read from YAML with ``path:line:column`` errors, like a scenario::

    base: scenario.yaml            # or an inline scenario mapping; default: the default scenario
    parameters:
      observation.camera_reach: {range: [1, 20]}
      adaptation.deterrence.elasticity: {range: [0, 3]}
      scheme: {values: [rongcheng-2014, suining-2010]}
    design: {kind: sobol, samples: 64, seed: 1}
    replicates: 2
    outputs: [events.false, grades.D]

Parameters are named by dotted paths into :class:`~scslab.engine.scenario.Scenario`. Their domains
are the scenario's own: a range is checked by validating the scenario at both of its ends, so no
bound is written down twice. A layered base's layers are named by their place in ``layers:``,
e.g. ``layers.1.until`` (:func:`layer_path`).
"""

from __future__ import annotations

import math
import types
import typing
from difflib import get_close_matches
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from scslab._yaml import Located, load_located, located_errors, read_located
from scslab.engine.scenario import Layer, Scenario
from scslab.errors import ScenarioError

#: Scenario settings a sweep sets itself: replicates choose the seeds.
RESERVED = ("seed",)


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Scalar = bool | int | float | str | None


class Parameter(_Spec):
    """One varied setting: a numeric ``range`` (with ``steps`` for a grid), or listed ``values``."""

    range: tuple[float, float] | None = Field(
        default=None, description="lowest and highest value; sampled, or evenly spaced in a grid"
    )
    steps: Annotated[int, Field(ge=2, le=10_000)] | None = Field(
        default=None, description="grid only: evenly spaced values across the range, ends included"
    )
    values: tuple[Any, ...] | None = Field(
        default=None, min_length=1, description="the values to take, in order"
    )
    scale: Literal["linear", "log"] = Field(
        default="linear",
        description="log: the range is sampled (and a grid spaced) evenly in the logarithm",
    )

    @model_validator(mode="after")
    def _check(self) -> Parameter:
        if (self.range is None) == (self.values is None):
            raise ValueError("give either `range: [low, high]` or `values: [...]`")
        if self.range is not None:
            lo, hi = self.range
            if not (math.isfinite(lo) and math.isfinite(hi)) or lo >= hi:
                raise ValueError(f"range [{lo:g}, {hi:g}]: give two finite numbers, low < high")
            if self.scale == "log" and lo <= 0:
                raise ValueError(f"range [{lo:g}, {hi:g}]: a log scale needs a low end above 0")
        if self.scale == "log" and self.range is None:
            raise ValueError("`scale: log` goes with a `range`")
        if self.steps is not None and self.range is None:
            raise ValueError("`steps` goes with a `range`; listed `values` are taken as they are")
        return self


class Grid(_Spec):
    """Every combination of the parameters' values (a range needs ``steps``)."""

    kind: Literal["grid"]


class Random(_Spec):
    """``samples`` points drawn uniformly (ranges) or with equal chance (values)."""

    kind: Literal["random"]
    samples: Annotated[int, Field(ge=1, le=1_000_000)]
    seed: Annotated[int, Field(ge=0, lt=2**63)] = 0


class Sobol(_Spec):
    """Saltelli's sampling for Sobol indices: ``samples × (parameters + 2)`` points."""

    kind: Literal["sobol"]
    samples: Annotated[int, Field(ge=2, le=2**20)] = Field(
        description="N, the base sample; a power of two"
    )
    seed: Annotated[int, Field(ge=0, lt=2**32)] = 0
    confidence: Annotated[float, Field(gt=0, lt=1)] = Field(
        default=0.95, description="level of the bootstrap confidence intervals"
    )
    resamples: Annotated[int, Field(ge=10, le=100_000)] = Field(
        default=100, description="bootstrap resamples for the confidence intervals"
    )

    @model_validator(mode="after")
    def _power_of_two(self) -> Sobol:
        n = self.samples
        if n & (n - 1):
            lower = 1 << (n.bit_length() - 1)
            raise ValueError(
                f"samples: {n} is not a power of two; Sobol sequences need one "
                f"(e.g. {lower} or {2 * lower})"
            )
        return self


class Morris(_Spec):
    """Morris's elementary-effects screening: ``trajectories × (parameters + 1)`` points, each
    trajectory moving one parameter at a time across a grid of ``levels``."""

    kind: Literal["morris"]
    trajectories: Annotated[int, Field(ge=2, le=10_000)] = Field(
        description="R, the number of one-at-a-time paths through the space"
    )
    levels: Annotated[int, Field(ge=2, le=100)] = Field(
        default=4, description="grid levels of each parameter; even numbers are usual"
    )
    seed: Annotated[int, Field(ge=0, lt=2**32)] = 0
    confidence: Annotated[float, Field(gt=0, lt=1)] = Field(
        default=0.95, description="level of the bootstrap confidence interval of mu*"
    )
    resamples: Annotated[int, Field(ge=10, le=100_000)] = Field(
        default=100, description="bootstrap resamples for the confidence interval"
    )


Design = Annotated[Grid | Random | Sobol | Morris, Field(discriminator="kind")]


class SweepSpec(_Spec):
    """What a sweep runs; see ``docs/sweeps.md``."""

    base: str | dict[str, Any] | None = Field(
        default=None, description="a scenario file, or an inline scenario; default: the default"
    )
    parameters: dict[str, Parameter] = Field(min_length=1, max_length=1024)
    design: Design
    replicates: Annotated[int, Field(ge=1, le=10_000)] = Field(
        default=1, description="runs per design point, with seeds base seed + 0, 1, ..."
    )
    outputs: tuple[str, ...] | None = Field(
        default=None, description="summary outputs to analyse; default: all of them"
    )


# --- parameter paths -----------------------------------------------------------------------------

Kind = Literal["int", "float", "bool", "str", "other"]


def _unwrap(annotation: Any) -> list[Any]:
    """The plain types a field may hold: ``Annotated`` stripped and unions (``X | None``) split."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return [t for a in typing.get_args(annotation) for t in _unwrap(a)]
    return [annotation]


def _model_of(annotation: Any) -> type[BaseModel] | None:
    for t in _unwrap(annotation):
        if isinstance(t, type) and issubclass(t, BaseModel):
            return t
    return None


def _dict_values(annotation: Any) -> Any:
    """The value type of a ``dict[str, X]`` field, or ``None`` for any other field."""
    for t in _unwrap(annotation):
        if typing.get_origin(t) is dict:
            return typing.get_args(t)[1]
    return None


def _kind_of(annotation: Any) -> Kind:
    # a setting that is a number or dated pieces of it (`rates.<act id>`) is a number here
    plain = [
        t for t in _unwrap(annotation) if t is not type(None) and typing.get_origin(t) is not dict
    ]
    if plain == [bool]:
        return "bool"
    if plain == [int]:
        return "int"
    if plain in ([float], [int, float], [float, int]):
        return "float"
    if plain == [str] or all(typing.get_origin(t) is Literal for t in plain):
        return "str"
    return "other"


def setting_paths(model: type[BaseModel] = Scenario, prefix: str = "") -> list[str]:
    """Every dotted path a sweep may vary, e.g. ``observation.camera_reach``."""
    out = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        out.append(path)
        sub = _model_of(field.annotation)
        if sub is not None:
            out += setting_paths(sub, f"{path}.")
    return out


def _rules_of(annotation: Any) -> type[BaseModel] | None:
    """The rule type of a ``tuple[Rule, ...]`` field: rules named by id (a scheme's lists), or
    by place where they have none (a consequence's effects)."""
    for t in _unwrap(annotation):
        if typing.get_origin(t) is tuple:
            sub = _model_of(typing.get_args(t)[0])
            if sub is not None:
                return sub
    return None


def setting_kind(path: str) -> Kind:
    """The type of the setting at ``path``; raises ``KeyError`` with a message if there is none.

    Below ``scheme_values`` the path goes on into the scheme (:mod:`scslab.schemes.values`):
    its rules are named by id, e.g. ``scheme_values.lists.judgment-defaulters.exit.after_months``;
    the engine checks that the scheme has the number and marks it assumed.
    """
    return _resolve(path)[0]


def score_setting(path: str) -> bool:
    """Whether ``path`` is a score-valued number of the scheme (points, a threshold, a grade
    bound...): swept in steps of the scheme's ``score.resolution`` (``int`` at resolution 1)."""
    try:
        return _resolve(path)[1]
    except KeyError:
        return False


#: A layer's settings a sweep may vary, by their names in a scenario file (``from`` is
#: ``Layer.start_at``); its ``id`` names its outputs and cannot vary.
LAYER_SETTINGS = {"scheme": "scheme", "where": "where", "from": "start_at", "until": "until"}
#: A layer's numbers of its scheme, ``layers.<n>.scheme_values.<path into the scheme>``, named
#: below it as a one-scheme scenario's ``scheme_values`` (:mod:`scslab.schemes.values`).
LAYER_VALUES = "scheme_values"


def layer_path(path: str) -> tuple[int, str] | None:
    """``(index, setting)`` of a path into a layer, ``layers.<index>.<setting>``; ``None`` for
    any other path. Raises ``KeyError`` with a message for a path into ``layers`` that names no
    layer's setting."""
    parts = path.split(".")
    if parts[0] != "layers":
        return None
    if len(parts) < 3 or not parts[1].isdigit():
        raise KeyError(
            f"unknown parameter '{path}': name a layer by its place and one of its settings, "
            f"layers.<n>.<setting> (e.g. layers.0.until), the settings being "
            f"{', '.join([*LAYER_SETTINGS, LAYER_VALUES + '.<...>'])}"
        )
    name = ".".join(parts[2:])
    if parts[2] == LAYER_VALUES:
        return int(parts[1]), name  # a number of the layer's scheme, checked as the scenario's
    if name not in LAYER_SETTINGS:
        shown = [f"layers.{parts[1]}.{k}" for k in LAYER_SETTINGS]
        near = get_close_matches(path, shown, n=1, cutoff=0.6)
        why = (
            "a layer's id names its outputs and stays as the base has it"
            if name == "id"
            else f"a layer has no setting '{name}'"
        )
        hint = f"; did you mean '{near[0]}'?" if near and name != "id" else ""
        raise KeyError(
            f"unknown parameter '{path}': {why}{hint} (a layer's settings: "
            f"{', '.join([*LAYER_SETTINGS, LAYER_VALUES + '.<...>'])})"
        )
    return int(parts[1]), name


def _resolve(path: str) -> tuple[Kind, bool]:
    """The kind of the setting at ``path`` and whether it is score-valued."""
    from scslab.schemes.model import Scheme, is_score_number
    from scslab.schemes.values import FIELD

    layer = layer_path(path)
    if layer is not None:
        # a layer's months (`from`, `until`) are numbers here: months of the run, or listed
        # values that may be calendar months (YYYY-MM)
        setting = layer[1]
        if setting.split(".")[0] == LAYER_VALUES:
            try:  # as the one scheme's, `scheme_values.<...>`
                return _resolve(setting)
            except KeyError as exc:
                said = str(exc.args[0]).replace(f"'{setting}'", f"'{path}'", 1)
                raise KeyError(said) from None
        if setting in ("from", "until"):
            return "int", False
        return _kind_of(Layer.model_fields[LAYER_SETTINGS[setting]].annotation), False

    model: type[BaseModel] = Scenario
    parts = path.split(".")
    i = 0
    while i < len(parts):
        name = parts[i]
        field = model.model_fields.get(name)
        if field is None:
            where = ".".join(parts[:i]) or "a scenario"
            near = get_close_matches(path, setting_paths(), n=1, cutoff=0.6)
            hint = f"; did you mean '{near[0]}'?" if near else ""
            raise KeyError(f"unknown parameter '{path}': {where} has no setting '{name}'{hint}")
        if model is Scenario and name == FIELD:
            if i == len(parts) - 1:
                raise KeyError(f"unknown parameter '{path}': name a number of the scheme inside it")
            model, i = Scheme, i + 1
            continue
        if i == len(parts) - 1:
            if is_score_number(field.metadata, field.annotation):
                return "int", True  # points, thresholds...: whole steps of the resolution
            return _kind_of(field.annotation), False
        rules = _rules_of(field.annotation)
        if rules is not None:  # a scheme's rules, by id
            if i + 1 == len(parts) - 1:
                raise KeyError(f"unknown parameter '{path}': name a number inside the rule")
            model, i = rules, i + 2
            continue
        keyed = _dict_values(field.annotation)
        if keyed is not None and i == len(parts) - 2:
            return _kind_of(keyed), False  # e.g. `rates.<act id>`: the engine checks the key
        if keyed is not None and i == len(parts) - 3 and _dict_values(keyed) is not None:
            # a dated piece, `rates.<act id>.<YYYY-MM>`: the scenario checks the month
            return _kind_of(_dict_values(keyed)), False
        sub = _model_of(field.annotation)
        if sub is None:
            raise KeyError(
                f"unknown parameter '{path}': '{'.'.join(parts[: i + 1])}' is a single value "
                "with no settings inside it"
            )
        model, i = sub, i + 1
    raise AssertionError("unreachable")


def with_values(base: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """A copy of a scenario's data with each dotted path set; absent sections are created."""
    data: dict[str, Any] = _copy(base)
    for path, value in values.items():
        *parents, leaf = path.split(".")
        node: Any = data
        for k, name in enumerate(parents):
            if isinstance(node, list):  # `layers.1.until`: a layer, by its place in the list
                node = node[int(name)]
                continue
            child = node.get(name)
            if isinstance(child, list) and _index(parents[k + 1 :], len(child)):
                node = child
                continue
            if not isinstance(child, dict):
                node[name] = {}  # e.g. `network` is None in the base: the setting turns it on
            node = node[name]
        node[leaf] = value
    return data


def _index(rest: list[str], length: int) -> bool:
    """Whether the path's next part names an item of a list of ``length`` by its place."""
    return bool(rest) and rest[0].isdigit() and int(rest[0]) < length


def _copy(data: Any) -> Any:
    """A deep copy of plain data (dicts, lists, scalars)."""
    if isinstance(data, dict):
        return {k: _copy(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_copy(v) for v in data]
    return data


# --- reading -------------------------------------------------------------------------------------


def read_spec(path: str | Path) -> tuple[SweepSpec, Located]:
    """Read and validate a spec file; the located document is kept for later messages."""
    return parse_spec(read_located(Path(path), ScenarioError, "sweep spec"))


def parse_spec(doc: Located) -> tuple[SweepSpec, Located]:
    try:
        return SweepSpec.model_validate(doc.data), doc
    except ValidationError as exc:
        raise ScenarioError(located_errors(exc.errors(), doc)) from None


def spec_from_text(text: str, source: str = "<sweep>") -> tuple[SweepSpec, Located]:
    return parse_spec(load_located(text, source, ScenarioError))


def base_scenario(spec: SweepSpec, doc: Located, folder: Path) -> Scenario:
    """The scenario every design point starts from, with errors located in the spec or its file."""
    if spec.base is None:
        return Scenario()
    if isinstance(spec.base, str):
        file = Path(spec.base)
        return Scenario.from_yaml(file if file.is_absolute() else folder / file)
    try:
        scenario = Scenario.model_validate(spec.base)
    except ValidationError as exc:
        errors = [{**e, "loc": ("base", *e["loc"])} for e in exc.errors()]
        raise ScenarioError(located_errors(errors, doc)) from None  # type: ignore[arg-type]
    return scenario.anchored(folder)
