"""From a spec to the runs it asks for: design points, replicates, seeds and run keys.

Everything a user can get wrong is checked here, before any run starts: unknown parameters, ranges
outside a setting's domain (the scenario is validated at both ends of each range, and the engine
is set up there), design points the scenario refuses, and outputs that no run would produce.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from scslab._yaml import Located
from scslab.engine.scenario import Scenario
from scslab.errors import ScenarioError, ScslabError
from scslab.optional import need
from scslab.rng import STREAM_DESIGN, step_key, uniforms
from scslab.schemes.units import ScoreUnits
from scslab.sweep.outputs import output_names
from scslab.sweep.spec import (
    RESERVED,
    Grid,
    Kind,
    Morris,
    Parameter,
    Random,
    Sobol,
    SweepSpec,
    base_scenario,
    layer_path,
    read_spec,
    score_setting,
    setting_kind,
    spec_from_text,
    with_values,
)

#: Most runs one sweep may plan; a bigger study is several sweeps.
MAX_RUNS = 1_000_000


@dataclass(frozen=True)
class Setting:
    """A varied scenario setting: its dotted path, its type and how the spec varies it."""

    path: str
    kind: Kind
    parameter: Parameter
    #: an ``int`` setting's step: 1, or a score-valued number's scheme resolution (0.5, 0.1...)
    step: int | float = 1

    @property
    def bounds(self) -> tuple[float, float]:
        """The range in the space it is sampled in: the logarithms of its ends on a log scale."""
        lo, hi = self.parameter.range or (0.0, 0.0)
        return (math.log(lo), math.log(hi)) if self.parameter.scale == "log" else (lo, hi)

    def typed(self, value: Any) -> Any:
        """A number sampled within :attr:`bounds` as the setting's value: back from the
        logarithm on a log scale (kept within the range), and rounded to the nearest integer
        for an integer setting (to the nearest multiple of its :attr:`step`, a score-valued
        number of a scheme with a finer resolution)."""
        if self.parameter.range is None:
            return value
        if self.parameter.scale == "log":
            lo, hi = self.parameter.range
            value = min(max(math.exp(value), lo), hi)
        if self.kind == "int" and self.step != 1:
            scale = ScoreUnits(self.step).scale
            return int(np.rint(value * scale)) / scale
        return int(np.rint(value)) if self.kind == "int" else float(value)


@dataclass(frozen=True)
class PlannedRun:
    """One run: a design point, a replicate, and the whole scenario it runs."""

    key: str
    point: int
    replicate: int
    seed: int
    scenario: str  # JSON of the resolved scenario


@dataclass(frozen=True)
class Sweep:
    """A checked spec and every run it asks for. ``Sweep.from_yaml(path)`` reads one."""

    spec: SweepSpec
    base: Scenario
    settings: tuple[Setting, ...]
    points: tuple[tuple[Any, ...], ...]  # the settings' values at each design point
    samples: np.ndarray | None  # Sobol, Morris: the sample matrix, in the sampled space (log
    # for a log scale), before integers are rounded
    runs: tuple[PlannedRun, ...]
    outputs: tuple[str, ...]  # the outputs to analyse
    available: tuple[str, ...]  # every output a run produces

    @classmethod
    def from_yaml(cls, path: str | Path) -> Sweep:
        spec, doc = read_spec(path)
        return plan(spec, doc, Path(path).parent)

    @classmethod
    def from_text(cls, text: str, folder: str | Path = ".", source: str = "<sweep>") -> Sweep:
        spec, doc = spec_from_text(text, source)
        return plan(spec, doc, Path(folder))

    @property
    def parameters(self) -> tuple[str, ...]:
        return tuple(s.path for s in self.settings)

    @property
    def identity(self) -> str:
        """What fixes the runs and their numbering: all of the spec except the outputs."""
        doc = self.spec.model_dump(mode="json", exclude={"outputs"})
        doc["base"] = self.base.model_dump(mode="json")
        return json.dumps(doc, sort_keys=True)


def run_key(scenario_json: str) -> str:
    """A run's identity: a stable hash of its whole scenario, seed included."""
    return hashlib.sha256(scenario_json.encode()).hexdigest()[:20]


def plan(spec: SweepSpec, doc: Located, folder: Path) -> Sweep:
    """Check the spec against the scenario and the engine, and list its runs."""
    base = base_scenario(spec, doc, folder)
    settings = _settings(spec, doc, base)
    data = base.model_dump(mode="json")
    if layered(base):
        data.pop("scheme")  # the first layer's, which `layers.0.scheme` may vary
    available = _check_domains(settings, data, doc, folder)
    outputs = _outputs(spec, doc, available)

    samples: np.ndarray | None = None
    design = spec.design
    # the size is known from the spec: refuse a sweep too large before a point is drawn
    count = point_count(settings, design)
    total = count * spec.replicates
    if total > MAX_RUNS:
        raise ScenarioError(
            f"{doc.where(('design',))}: design: {count:,} points × {spec.replicates} "
            f"replicates is {total:,} runs; at most {MAX_RUNS:,} in one sweep"
        )
    if isinstance(design, Grid):
        points = list(itertools.product(*(_axis(s) for s in settings)))
    elif isinstance(design, Random):
        points = _random(settings, design)
    else:
        samples = (
            _morris(settings, design) if isinstance(design, Morris) else _saltelli(settings, design)
        )
        points = [tuple(s.typed(v) for s, v in zip(settings, row, strict=True)) for row in samples]
    last = base.seed + spec.replicates - 1
    if last >= 2**63:
        raise ScenarioError(
            f"{doc.where(('replicates',))}: replicates: seeds run from the base seed {base.seed} "
            f"to {last}, beyond the largest seed (2**63 - 1); lower the base seed"
        )

    runs = []
    for i, values in enumerate(points):
        point = with_values(data, {s.path: v for s, v in zip(settings, values, strict=True)})
        try:
            scenario = Scenario.model_validate(point).anchored(folder)
        except ValidationError as exc:
            shown = ", ".join(f"{s.path}={v!r}" for s, v in zip(settings, values, strict=True))
            raise ScenarioError(
                f"{doc.where(('parameters',))}: design point {i} ({shown}) is not a valid "
                f"scenario: {_first_error(exc)}"
            ) from None
        for r in range(spec.replicates):
            text = scenario.model_copy(update={"seed": base.seed + r}).model_dump_json()
            runs.append(PlannedRun(run_key(text), i, r, base.seed + r, text))
    return Sweep(
        spec=spec,
        base=base,
        settings=settings,
        points=tuple(points),
        samples=samples,
        runs=tuple(runs),
        outputs=outputs,
        available=available,
    )


def _first_error(exc: ValidationError, path: str = "") -> str:
    """The first problem pydantic found, with its setting unless that is ``path``."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"] if not (isinstance(p, str) and "[" in p))
    return f"{where}: {err['msg']}" if where and where != path else str(err["msg"])


def _settings(spec: SweepSpec, doc: Located, base: Scenario) -> tuple[Setting, ...]:
    out = []
    steps: dict[str, int | float] = {}  # each scheme's resolution, read once if needed
    sobol = isinstance(spec.design, Sobol | Morris)
    for path, parameter in spec.parameters.items():
        where = doc.where(("parameters", path, "__key__"))
        if path in RESERVED:
            raise ScenarioError(
                f"{where}: parameters.{path}: the sweep sets seeds itself (base seed + replicate); "
                "use `replicates` for more seeds"
            )
        try:
            kind = setting_kind(path)
        except KeyError as exc:
            raise ScenarioError(f"{where}: {exc.args[0]}") from None
        _check_layer_path(path, base, where)
        if parameter.range is not None and kind not in ("int", "float"):
            raise ScenarioError(
                f"{doc.where(('parameters', path, 'range'))}: parameters.{path}: this setting "
                f"is not a number ({kind}); list its `values` instead of a range"
            )
        if sobol and parameter.range is None:
            raise ScenarioError(
                f"{doc.where(('parameters', path))}: parameters.{path}: a "
                f"{spec.design.kind.capitalize()} design needs a `range` for every parameter; "
                "vary listed values with a grid or random design"
            )
        if isinstance(spec.design, Grid) and parameter.range is not None and not parameter.steps:
            raise ScenarioError(
                f"{doc.where(('parameters', path, 'range'))}: parameters.{path}: a grid needs "
                "`steps` with a range (how many evenly spaced values), or listed `values`"
            )
        step: int | float = 1
        if score_setting(path):  # in steps of the resolution of its scheme: a layer's, or the one
            from scslab.schemes.loader import load_scheme

            layer = layer_path(path)
            scheme = base.layers[layer[0]].scheme if layer and base.layers else base.scheme
            if scheme not in steps:
                steps[scheme] = load_scheme(scheme).score.resolution
            step = steps[scheme]
        out.append(Setting(path, kind, parameter, step))
    return tuple(out)


def _check_layer_path(path: str, base: Scenario, where: str) -> None:
    """A path into a layer names one of the base's layers; a layered base's schemes are its
    layers'."""
    layer = layer_path(path)
    layers = base.layers
    if layer is None:
        if path == "scheme" and layers is not None:
            raise ScenarioError(
                f"{where}: parameters.scheme: the base has `layers:`, each naming its scheme; "
                "vary a layer's, e.g. layers.0.scheme"
            )
        return
    if layers is None:
        raise ScenarioError(
            f"{where}: unknown parameter '{path}': the base scenario has no `layers:` (it runs "
            "one scheme everywhere: vary `scheme`)"
        )
    if layer[0] >= len(layers):
        known = ", ".join(f"layers.{k} ({x.id})" for k, x in enumerate(layers))
        raise ScenarioError(
            f"{where}: unknown parameter '{path}': the base has {len(layers)} layer(s), {known}"
        )


def layered(scenario: Scenario) -> bool:
    """Whether runs of ``scenario`` are layered runs (:mod:`scslab.engine.layers`): a scenario
    with ``layers:``, whose outputs are each layer's, named ``<layer id>:<output>``."""
    return scenario.layers is not None


def _check_domains(
    settings: tuple[Setting, ...],
    data: dict[str, Any],
    doc: Located,
    folder: Path,
) -> tuple[str, ...]:
    """Validate the scenario, and set up the engine, at each end of each range and at each listed
    value; return the outputs that every one of those runs produces."""
    from scslab.engine.layers import LayeredSimulation
    from scslab.engine.simulation import Simulation
    from scslab.sweep.outputs import layered_output_names

    common: tuple[str, ...] | None = None
    for s in settings:
        p = s.parameter
        ends: list[tuple[Any, tuple[str | int, ...]]]
        if p.range is not None:
            ends = [(s.typed(v), ("range", k)) for k, v in enumerate(s.bounds)]
        else:
            ends = [(v, ("values", k)) for k, v in enumerate(p.values or ())]
        for value, loc in ends:
            where = doc.where(("parameters", s.path, *loc))
            what = "is outside this setting's domain" if p.range else "is not a valid value"
            try:
                scenario = Scenario.model_validate(with_values(data, {s.path: value}))
            except ValidationError as exc:
                raise ScenarioError(
                    f"{where}: parameters.{s.path}: {value!r} {what}: {_first_error(exc, s.path)}"
                ) from None
            try:
                if layered(scenario):
                    names = layered_output_names(LayeredSimulation(scenario.anchored(folder)))
                else:
                    names = output_names(Simulation(scenario.anchored(folder)))
            except ScslabError as exc:
                raise ScenarioError(f"{where}: parameters.{s.path}: at {value!r}: {exc}") from None
            common = names if common is None else tuple(n for n in common if n in names)
    return common or ()


def _outputs(spec: SweepSpec, doc: Located, available: tuple[str, ...]) -> tuple[str, ...]:
    if spec.outputs is None:
        return available
    from difflib import get_close_matches

    layers = sorted({n.split(":", 1)[0] for n in available if ":" in n})
    for k, name in enumerate(spec.outputs):
        if name not in available and layers:
            lid, sep, _ = name.partition(":")
            if sep and lid not in layers:
                raise ScenarioError(
                    f"{doc.where(('outputs', k))}: outputs: '{name}' names layer '{lid}', which "
                    f"the base does not have; its layers are {', '.join(layers)}"
                )
            have = [lid for lid in layers if f"{lid}:{name}" in available]
            if not sep and have:
                raise ScenarioError(
                    f"{doc.where(('outputs', k))}: outputs: '{name}': a layered run's outputs are "
                    f"each layer's, named <layer id>:<output>, e.g. '{have[0]}:{name}'"
                )
        if name not in available:
            near = get_close_matches(name, available, n=1)
            hint = (
                f"did you mean '{near[0]}'?" if near else f"the outputs are: {', '.join(available)}"
            )
            raise ScenarioError(
                f"{doc.where(('outputs', k))}: outputs: '{name}' is not an output of these runs; "
                f"{hint}"
            )
    return spec.outputs


def _axis(s: Setting) -> list[Any]:
    """A grid axis: listed values, or ``steps`` evenly spaced values (integers without repeats)."""
    p = s.parameter
    if p.range is None:
        return list(p.values or ())
    assert p.steps is not None
    values = [s.typed(v) for v in np.linspace(*s.bounds, p.steps)]
    return list(dict.fromkeys(values))


def point_count(settings: tuple[Setting, ...], design: Grid | Random | Sobol | Morris) -> int:
    """How many points ``design`` has, from the spec alone (nothing is sampled): a grid's
    product of axis lengths, a random design's samples, Morris's ``R × (D + 1)`` or Saltelli's
    ``N × (D + 2)``."""
    if isinstance(design, Grid):
        return math.prod(len(_axis(s)) for s in settings)  # an axis has at most 10,000 values
    if isinstance(design, Random):
        return design.samples
    if isinstance(design, Morris):
        return design.trajectories * (len(settings) + 1)
    return design.samples * (len(settings) + 2)


def _random(settings: tuple[Setting, ...], design: Random) -> list[tuple[Any, ...]]:
    """Uniform draws from scslab's counter-based generator: point i, parameter j."""
    key = step_key(design.seed, STREAM_DESIGN, 0)
    columns = []
    for j, s in enumerate(settings):
        u = uniforms(key, design.samples, j)
        p = s.parameter
        if p.range is not None:
            lo, hi = s.bounds
            columns.append([s.typed(lo + x * (hi - lo)) for x in u])
        else:
            values = p.values or ()
            columns.append([values[min(int(x * len(values)), len(values) - 1)] for x in u])
    return list(zip(*columns, strict=True))


def problem(settings: tuple[Setting, ...]) -> dict[str, Any]:
    """SALib's description of the parameter space."""
    return {
        "num_vars": len(settings),
        "names": [s.path for s in settings],
        "bounds": [list(s.bounds) for s in settings],
    }


def _saltelli(settings: tuple[Setting, ...], design: Sobol) -> np.ndarray:
    """Saltelli's extension of the Sobol sequence: N × (D + 2) points (first and total order)."""
    need("SALib", feature="a Sobol design", extra="sensitivity")
    from SALib.sample import sobol as saltelli

    return np.asarray(
        saltelli.sample(
            problem(settings), design.samples, calc_second_order=False, seed=design.seed
        ),
        dtype=np.float64,
    )


def _morris(settings: tuple[Setting, ...], design: Morris) -> np.ndarray:
    """Morris's trajectories: R × (D + 1) points, one parameter moving at a time."""
    need("SALib", feature="a Morris design", extra="sensitivity")
    from SALib.sample import morris

    return np.asarray(
        morris.sample(
            problem(settings), design.trajectories, num_levels=design.levels, seed=design.seed
        ),
        dtype=np.float64,
    )
