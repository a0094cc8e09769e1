"""The assumption ledger: which of a scenario's assumed numbers its headline figures rest on.

Every number that the scheme, the act catalogue or the scenario marks ``assumed`` becomes a
*factor*: a dotted path a sweep can set, and a range. The range is the one the file states
(``ranges: {field: [low, high]}`` beside ``assumed: true``), or by default the number divided and
multiplied by :data:`SPREAD` (1.5), ``[x / 1.5, x · 1.5]``, sampled evenly in the logarithm, so
that halving and doubling are equally far from the value; it is cut to the number's domain (a
probability stops at 1). A negative number (a deduction of points) is varied over the same
multiplicative range of its size, evenly. A number no scenario setting can reach yet (an act's
trait multipliers and detection probabilities, most channels' false-record ratios) is listed as
fixed, with the reason, never dropped.

:func:`build_ledger` runs two sweeps with the sweep machinery (designs, runner, store): a Morris
screening of every factor, then a Sobol design on the factors that matter most to each headline
output, the others held at their values. It writes ``assumptions.json``, which ``scslab audit``
and ``scslab report`` read to print beside a headline figure the assumptions it rests on
(:func:`find_ledger`, :func:`headline_notes`). ``docs/audit.md`` ("The assumption ledger").

Of a layered scenario (``layers:``), the catalogue's and the scenario's numbers are factors once
(the layers share them), each layer's scheme's are that layer's, set by
``layers.<n>.scheme_values.<...>``, and the headline outputs are each layer's,
``<layer id>:<output>``; audit and report find its ledger in the layered run's folder
(:func:`find_layered_ledger`) and print each layer's notes (``ledger_notes(..., layer=id)``).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from difflib import get_close_matches
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from scslab.behaviour.model import Act, Catalogue, Observation
from scslab.engine.scenario import Scenario
from scslab.errors import ScenarioError, ScslabError
from scslab.files import write_text
from scslab.schemes import units
from scslab.schemes.model import Scheme, Score, Sourced
from scslab.sweep.spec import score_setting

#: The default range of an assumed number x: [x / SPREAD, x · SPREAD], even in log(x).
SPREAD = 1.5
#: The ledger's file, in the output folder (and, for audit and report, beside a run's file).
LEDGER = "assumptions.json"
#: Runs of the scenario as it is, with consecutive seeds: their spread is the seed's noise.
SEEDS = 5
#: The shortest horizon, in years, of the ledger's runs unless ``--years`` says otherwise: the
#: headline figures count people ever sanctioned or listed over the run, and a points scheme's
#: sanctions build up over years (a scenario of a few months, fitted to a first published list,
#: sanctions almost nobody). Five years is the audit's own horizon (``docs/audit.md``).
HORIZON = 5.0
#: An output whose sd over seeds is above this share of its sd over the Morris design is flagged:
#: the seed moves it nearly as much as every assumption together, so its ranking is mostly noise.
NOISY = 0.5
#: Headline outputs ranked by default (sweep outputs; ``docs/sweeps.md``).
HEADLINES = (
    "audit.rights_share",
    "audit.rights_share_of_list_entries",
    "audit.sanctioned_rate",
    "audit.listed_rate",
)
#: Scenario settings whose defaults are scslab's assumptions (their docs say so), and the switch
#: that turns each off (an off setting is not varied).
SCENARIO_ASSUMED: dict[str, str | None] = {
    "adaptation.deterrence.elasticity": "adaptation.deterrence.enabled",
    "adaptation.deterrence.sanctioned_salience": "adaptation.deterrence.enabled",
    "adaptation.chilling.elasticity": "adaptation.chilling.enabled",
    "adaptation.tie_cutting.probability": "adaptation.tie_cutting.enabled",
    "adaptation.reward_seeking.elasticity": "adaptation.reward_seeking.enabled",
    "adaptation.gaming.share": "adaptation.gaming.enabled",
    "adaptation.gaming.shift": "adaptation.gaming.enabled",
    "adaptation.avoidance.share": "adaptation.avoidance.enabled",
    "adaptation.list_entry_points": None,
    "observation.camera_reach": None,
}


class AssumptionError(ScenarioError):
    """A mistake in asking for a ledger: a size out of range, an unknown output, a bad range."""


@dataclass(frozen=True)
class Factor:
    """An assumed number: where it is, its value, and the range it is varied over.

    ``path`` is the sweep's dotted path to it, or ``None`` where no scenario setting reaches it
    yet (then ``fixed`` says why and it keeps its value)."""

    name: str  # where the number is written, e.g. "catalogue: acts.religious-practice.rate"
    origin: str  # catalogue, scheme or scenario
    value: float
    path: str | None = None
    low: float | None = None
    high: float | None = None
    scale: str = "log"  # how the range is sampled: log or linear
    stated: bool = False  # the range is the file's, not the default
    integer: bool = False
    fixed: str | None = None
    layer: str | None = None  # a layered scenario's layer whose scheme has it (its id)

    @property
    def varied(self) -> bool:
        return self.fixed is None


def _limits(info: FieldInfo | None) -> tuple[float, float]:
    """The closed domain a field's constraints allow (an open end moved in by a hair)."""
    lo, hi = -math.inf, math.inf
    for m in info.metadata if info is not None else ():
        if isinstance(m, Ge):
            lo = max(lo, float(m.ge))  # type: ignore[arg-type]
        elif isinstance(m, Gt):
            lo = max(lo, float(m.gt) + 1e-9)  # type: ignore[arg-type]
        elif isinstance(m, Le):
            hi = min(hi, float(m.le))  # type: ignore[arg-type]
        elif isinstance(m, Lt):
            hi = min(hi, float(m.lt) - 1e-9)  # type: ignore[arg-type]
    return lo, hi


def _factor(
    name: str,
    origin: str,
    value: float,
    path: str | None,
    info: FieldInfo | None,
    stated: tuple[float, float] | None,
    integer: bool,
) -> Factor:
    """A factor for ``value`` with its stated or default range, checked against its domain."""
    base = Factor(name, origin, float(value), path, integer=integer)
    if path is None:
        return _fixed(base, "no scenario setting reaches it yet")
    lo, hi = _limits(info)
    if stated is not None:
        low, high = stated
        if low < lo or high > hi:
            raise AssumptionError(
                f"{name}: ranges [{low:g}, {high:g}] goes outside what the number may be "
                f"([{lo:g}, {hi:g}])"
            )
        scale = "log" if low > 0 else "linear"
    elif value == 0:
        return _fixed(base, "it is 0, which no multiplicative range moves; state a range")
    else:
        size = abs(value)
        low, high = sorted(
            (math.copysign(size / SPREAD, value), math.copysign(size * SPREAD, value))
        )
        low, high = max(low, lo), min(high, hi)
        scale = "log" if low > 0 else "linear"
    if integer and round(low) == round(high):
        return _fixed(base, f"a whole number whose range [{low:g}, {high:g}] holds one value")
    if not low < high:
        return _fixed(base, f"its range [{low:g}, {high:g}] is empty within its domain")
    return Factor(name, origin, float(value), path, low, high, scale, stated is not None, integer)


def _fixed(f: Factor, why: str) -> Factor:
    return Factor(f.name, f.origin, f.value, None, integer=f.integer, fixed=why, layer=f.layer)


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


# --- the factors ---------------------------------------------------------------------------------


def _catalogue_factors(catalogue: Catalogue, scenario: Scenario) -> Iterator[Factor]:
    for act in catalogue.acts:
        if not act.assumed:
            continue
        where = f"catalogue: acts.{act.id}"
        path = f"rates.{act.id}"
        if path in scenario.fitted:
            continue  # fitted to the record, not assumed
        given = scenario.rates.get(act.id)
        if isinstance(given, dict):
            yield _fixed(Factor(f"{where}.rate", "catalogue", act.rate), "dated rate pieces")
        else:
            value = act.rate if given is None else float(given)
            info = Act.model_fields["rate"]
            stated = act.ranges.get("rate")
            yield _factor(f"{where}.rate", "catalogue", value, path, info, stated, False)
        for trait, levels in act.multipliers.items():
            for level, m in levels.items():
                yield _fixed(
                    Factor(f"{where}.multipliers.{trait}.{level}", "catalogue", m),
                    "no scenario setting reaches it yet",
                )
        for channel, p in act.channels.items():
            yield _fixed(
                Factor(f"{where}.channels.{channel}", "catalogue", p),
                "no scenario setting reaches it yet",
            )
    for ch in catalogue.channels:
        if not ch.assumed:
            continue
        name = f"catalogue: channels.{ch.id}.false_record_ratio"
        if ch.id == "camera":
            path = "observation.camera_false_match_rate"
            if path in scenario.fitted:
                continue
            given = scenario.observation.camera_false_match_rate
            value = ch.false_record_ratio if given is None else given
            info = Observation.model_fields["camera_false_match_rate"]
            stated = ch.ranges.get("false_record_ratio")
            yield _factor(name, "catalogue", value, path, info, stated, False)
        else:
            yield _fixed(
                Factor(name, "catalogue", ch.false_record_ratio),
                "no scenario setting reaches it yet",
            )


def _walk(
    node: BaseModel, loc: tuple[str, ...], rule: Sourced | None
) -> Iterator[tuple[tuple[str, ...], Any, FieldInfo | None, Sourced | None, bool]]:
    """Each number in a scheme: its path (rules by id), value, field, innermost rule, and whether
    a scenario could reach it (a field of a rule, not an entry of a mapping or a list)."""
    if isinstance(node, Sourced):
        rule = node
    for name, info in type(node).model_fields.items():
        # the score's resolution is the unit the scheme's numbers are written in, not a number
        # of the scheme's to vary
        if name in ("source", "assumed", "ranges") or (
            isinstance(node, Score) and name == "resolution"
        ):
            continue
        value = getattr(node, name)
        here = (*loc, name)
        if isinstance(value, BaseModel):
            yield from _walk(value, here, rule)
        elif isinstance(value, tuple) and value and all(isinstance(x, BaseModel) for x in value):
            for k, x in enumerate(value):
                yield from _walk(x, (*here, str(getattr(x, "id", k))), rule)
        elif _number(value):
            yield here, value, info, rule, True
        elif isinstance(value, dict):
            for key, v in value.items():
                if _number(v):
                    yield (*here, str(key)), v, None, rule, False
        elif isinstance(value, tuple):
            for k, v in enumerate(value):
                if _number(v):
                    yield (*here, str(k)), v, None, rule, False


def _scheme_factors(
    scheme: Scheme, scenario: Scenario, layer: int | None = None
) -> Iterator[Factor]:
    """The scheme's assumed numbers: the one scheme's, set by ``scheme_values.<...>``, or the
    scheme of ``scenario.layers[layer]``, set by ``layers.<layer>.scheme_values.<...>``. A
    number the scenario gives a layer (its own ``scheme_values``, fitted or set there) is held
    at that value, as a ``fitted:`` number is."""
    can = "scheme_values" in Scenario.model_fields
    if layer is None:
        given = dict(getattr(scenario, "scheme_values", {}) or {})
        prefix, who, lid = "", f"scheme {scheme.id}", None
    else:
        own = (scenario.layers or ())[layer]
        given = dict(own.scheme_values or {})
        prefix, who, lid = f"layers.{layer}.", f"layer {own.id}, scheme {scheme.id}", own.id
    for loc, value, info, rule, reachable in _walk(scheme, (), None):
        if rule is None or not rule.assumed:
            continue
        name = f"{who}: {'.'.join(loc)}"
        path = f"{prefix}scheme_values.{'.'.join(loc)}"
        if path in scenario.fitted:
            continue
        if not (can and reachable):
            yield _fixed(
                Factor(name, "scheme", value, layer=lid), "no scenario setting reaches it yet"
            )
            continue
        node: Any = given
        for part in loc:
            node = node.get(part) if isinstance(node, dict) else None
        if _number(node) and layer is not None:
            yield _fixed(
                Factor(name, "scheme", float(node), layer=lid),
                f"the scenario gives it ({prefix}scheme_values): fitted or set there, so held",
            )
            continue
        if _number(node):
            value = node
        key = ".".join(loc[_rule_depth(loc, rule, scheme) :])
        f = _factor(
            name,
            "scheme",
            value,
            path,
            info,
            rule.ranges.get(key),
            isinstance(value, int),
        )
        if lid is not None:
            f = replace(f, layer=lid)
        # a score-valued number of a scheme with a finer resolution moves in steps of it
        unit = units.of(scheme) if score_setting(path) else units.UNIT
        if f.varied and unit.scale != 1:
            assert f.low is not None and f.high is not None
            if unit.round_units(f.low) == unit.round_units(f.high):
                f = _fixed(f, f"its range [{f.low:g}, {f.high:g}] holds one step of the resolution")
        if f.varied:
            f = _scheme_checked(f, scheme, loc, unit)
        yield f


def _rule_depth(loc: tuple[str, ...], rule: Sourced, scheme: Scheme) -> int:
    """How many parts of ``loc`` lead to ``rule`` (the rest name the number within it)."""
    node: Any = scheme
    k = 0
    while node is not rule and k < len(loc):
        nxt = getattr(node, loc[k])
        k += 1
        if isinstance(nxt, tuple):
            nxt = next(x for j, x in enumerate(nxt) if str(getattr(x, "id", j)) == loc[k])
            k += 1
        node = nxt
    return k


def _scheme_checked(
    f: Factor, scheme: Scheme, loc: tuple[str, ...], unit: units.ScoreUnits = units.UNIT
) -> Factor:
    """The factor, or fixed if the scheme refuses either end of its range alone (rounded as a
    sweep rounds it: to a whole number, or to ``unit``'s resolution for a score-valued one)."""
    from scslab.schemes.values import with_scheme_values

    for end in (f.low, f.high):
        assert end is not None
        value: Any = unit.round_units(end) if unit.scale != 1 else round(end) if f.integer else end
        nested: dict[str, Any] = {}
        node = nested
        for part in loc[:-1]:
            node = node.setdefault(part, {})
        node[loc[-1]] = value
        try:
            with_scheme_values(scheme, nested)
        except ScslabError as exc:
            return _fixed(f, f"the scheme refuses {value:g} there: {exc}")
    return f


def _scenario_factors(scenario: Scenario) -> Iterator[Factor]:
    for path, switch in SCENARIO_ASSUMED.items():
        if path in scenario.fitted:
            continue
        model: Any = scenario
        info: FieldInfo | None = None
        for part in path.split("."):
            info = type(model).model_fields[part]
            model = getattr(model, part)
        name = f"scenario: {path}"
        if switch is not None and not _get(scenario, switch):
            continue  # switched off: the number plays no part
        yield _factor(name, "scenario", model, path, info, None, isinstance(model, int))


def _get(model: Any, path: str) -> Any:
    for part in path.split("."):
        model = getattr(model, part)
    return model


def assumed_factors(scenario: Scenario) -> list[Factor]:
    """Every number the scenario's scheme, act catalogue and settings mark assumed."""
    from scslab.behaviour.rates import load_catalogue
    from scslab.schemes.loader import load_scheme

    if scenario.firms is not None:
        raise AssumptionError(
            "the assumption ledger covers people runs; this scenario runs firms (firms:)"
        )
    catalogue = load_catalogue(scenario.acts)
    if scenario.layers is None:
        schemes = list(_scheme_factors(load_scheme(scenario.scheme), scenario))
    else:  # the layers share the catalogue and the settings (one world of acts): once
        schemes = []
        for k, layer in enumerate(scenario.layers):
            if layer.people is not None:
                raise AssumptionError(
                    f"layers.{k}: the assumption ledger covers people runs; layer "
                    f"'{layer.id}' scores firms"
                )
            schemes += _scheme_factors(load_scheme(layer.scheme), scenario, k)
    return [
        *_catalogue_factors(catalogue, scenario),
        *schemes,
        *_scenario_factors(scenario),
    ]


# --- the sweeps ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    """How big the ledger's runs and designs are."""

    agents: int = 5000
    years: float | None = None  # default: the scenario's, at least HORIZON
    trajectories: int = 4
    levels: int = 4
    sobol_samples: int = 16
    top: int = 3
    seed: int = 0

    def check(self) -> None:
        if self.agents < 100:
            raise AssumptionError(f"--agents {self.agents}: give at least 100 people")
        if self.years is not None and not (0 < self.years <= 100):
            raise AssumptionError(f"--years {self.years:g}: give a horizon above 0, up to 100")
        if self.trajectories < 2:
            raise AssumptionError(
                f"--trajectories {self.trajectories}: Morris screening needs at least 2"
            )
        n = self.sobol_samples
        if n < 2 or n & (n - 1):
            raise AssumptionError(
                f"--sobol-samples {n}: give a power of two, at least 2 (e.g. 16 or 64)"
            )
        if self.top < 1:
            raise AssumptionError(f"--top {self.top}: give at least 1 factor per output")


Progress = Callable[[str, int, int], None]


def horizon(scenario: Scenario, years: float | None) -> tuple[float, str]:
    """The years the ledger's runs cover, and where that comes from: ``years`` if given, else
    the scenario's horizon, raised to :data:`HORIZON` if shorter."""
    if years is not None:
        return years, f"{years:g} years, as asked (--years)"
    if scenario.years >= HORIZON:
        return scenario.years, f"the scenario's {scenario.years:g} years"
    return HORIZON, (
        f"{HORIZON:g} years, the ledger's shortest default horizon: the scenario runs "
        f"{scenario.years:g} years (--years sets it)"
    )


def _spec(
    base: dict[str, Any], factors: list[Factor], design: dict[str, Any], outputs: list[str]
) -> str:
    parameters = {
        f.path: {"range": [f.low, f.high], **({"scale": "log"} if f.scale == "log" else {})}
        for f in factors
    }
    doc = {"base": base, "parameters": parameters, "design": design, "outputs": outputs}
    return yaml.safe_dump(doc, sort_keys=False)


def _outputs(scenario: Scenario, wanted: tuple[str, ...] | None) -> tuple[list[str], list[str]]:
    """The outputs to rank (checked against what a run produces), and the defaults missing: the
    headline outputs, or each layer's, ``<layer id>:<output>``, of a layered scenario."""
    from scslab.engine.layers import LayeredSimulation
    from scslab.engine.simulation import Simulation
    from scslab.sweep.outputs import layered_output_names, output_names

    if scenario.layers is None:
        available = output_names(Simulation(scenario))
        headlines = list(HEADLINES)
    else:
        available = layered_output_names(LayeredSimulation(scenario))
        headlines = [f"{x.id}:{o}" for x in scenario.layers for o in HEADLINES]
    if wanted is None:
        chosen = [o for o in headlines if o in available]
        missing = [o for o in headlines if o not in available]
        if not chosen:
            raise AssumptionError(
                f"none of the headline outputs ({', '.join(headlines)}) is an output of this "
                "scenario's runs; name some with --outputs"
            )
        return chosen, missing
    for name in wanted:
        if scenario.layers is not None and name not in available:
            have = [x.id for x in scenario.layers if f"{x.id}:{name}" in available]
            if have:
                raise AssumptionError(
                    f"--outputs: '{name}': a layered run's outputs are each layer's, named "
                    f"<layer id>:<output>, e.g. '{have[0]}:{name}'"
                )
        if name not in available:
            near = get_close_matches(name, available, n=1)
            hint = f"did you mean '{near[0]}'?" if near else "see docs/sweeps.md for the outputs"
            raise AssumptionError(f"--outputs: '{name}' is not an output of these runs; {hint}")
    return list(dict.fromkeys(wanted)), []


def build_ledger(
    scenario: Scenario,
    out: str | Path,
    *,
    name: str = "scenario",
    outputs: tuple[str, ...] | None = None,
    sizes: Sizes = Sizes(),
    workers: int = 1,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Screen every assumed number of ``scenario`` with Morris, then Sobol on the top ones, and
    write ``OUT/assumptions.json``; return the ledger. The sweeps' files are ``OUT/morris`` and
    ``OUT/sobol`` (a rerun with the same settings skips finished runs)."""
    from scslab.sweep import Sweep, run_sweep
    from scslab.sweep.morris import morris_indices
    from scslab.sweep.sobol import sobol_indices
    from scslab.sweep.task import run_one

    sizes.check()
    if workers < 1:
        raise AssumptionError(f"--workers {workers}: give at least one worker")
    years, years_from = horizon(scenario, sizes.years)
    update: dict[str, Any] = {
        "population": scenario.population.model_copy(update={"agents": sizes.agents}),
        "panel": 0,
        "seed": sizes.seed,
        "years": years,
    }
    small = scenario.model_copy(update=update)
    chosen, missing = _outputs(small, outputs)
    factors = assumed_factors(small)
    varied = [f for f in factors if f.varied]
    if not varied:
        raise AssumptionError("this scenario has no assumed number that a sweep can vary")
    folder = Path(out)
    # the scenario's scheme and catalogue files are named from here (already anchored to its
    # folder when it was read), not from the output folder
    here = Path.cwd()
    base = small.anchored(here).model_dump(mode="json")
    clock = time.perf_counter()

    def tick(phase: str) -> Callable[[int, int], None] | None:
        if progress is None:
            return None
        return lambda done, total: progress(phase, done, total)

    # 1. the figures at the assumed values, with the seed as the design's and SEEDS - 1 more:
    # how much they move with the seed alone is the noise a ranking must stand out from
    seeded = []
    for k in range(SEEDS):
        if progress is not None:
            progress("scenario's own runs", k, SEEDS)
        again = small.model_copy(update={"seed": sizes.seed + k})
        done = run_one(f"base-{k}", again.model_dump_json())
        if done.status != "complete":
            raise AssumptionError(f"the scenario's own run failed: {done.error}")
        seeded.append(done)
    result = seeded[0]
    if progress is not None:
        progress("scenario's own runs", SEEDS, SEEDS)

    # 2. Morris screening of every varied factor
    morris_design = {
        "kind": "morris",
        "trajectories": sizes.trajectories,
        "levels": sizes.levels,
        "seed": sizes.seed,
    }
    if progress is not None:  # each range's ends are checked by setting the engine up there
        progress("checking ranges", 0, 1)
    screen = Sweep.from_text(_spec(base, varied, morris_design, chosen), here, "<ledger>")
    if progress is not None:
        progress("checking ranges", 1, 1)
    done_m = run_sweep(
        screen, folder / "morris", workers=workers, serial=workers == 1, progress=tick("Morris")
    )
    complete = {k: v for k, v in done_m.means.items() if not np.isnan(v).any()}
    screening = morris_indices(screen, complete) if complete else {}

    # 3. Sobol on the top factors of each output
    top: list[str] = []
    for output in chosen:
        by = screening.get(output, {})
        ranked = sorted(by, key=lambda p: -(by[p]["mu_star"] or 0.0))
        top += [p for p in ranked[: sizes.top] if (by[p]["mu_star"] or 0.0) > 0]
    top = list(dict.fromkeys(top))
    indices: dict[str, Any] = {}
    sobol_runs = 0
    if top:
        on = [f for f in varied if f.path in top]
        sobol_design = {"kind": "sobol", "samples": sizes.sobol_samples, "seed": sizes.seed}
        sob = Sweep.from_text(_spec(base, on, sobol_design, chosen), here, "<ledger>")
        done_s = run_sweep(
            sob, folder / "sobol", workers=workers, serial=workers == 1, progress=tick("Sobol")
        )
        sobol_runs = len(sob.runs)
        ok = {k: v for k, v in done_s.means.items() if not np.isnan(v).any()}
        indices = sobol_indices(sob, ok) if ok else {}

    by_path = {f.path: f for f in varied}
    ranked_outputs: dict[str, Any] = {}
    for output in chosen:
        entry: dict[str, Any] = {"value": result.outputs.get(output)}
        if output not in screening:
            entry["not_ranked"] = "some Morris runs did not produce it"
            ranked_outputs[output] = entry
            continue
        by = screening[output]
        total = sum(v["mu_star"] or 0.0 for v in by.values())
        rows = []
        for p in sorted(by, key=lambda p: -(by[p]["mu_star"] or 0.0)):
            v, f = by[p], by_path[p]
            row: dict[str, Any] = {
                "path": p,
                "name": f.name,
                "mu_star": v["mu_star"],
                "mu_star_conf": v["mu_star_conf"],
                "sigma": v["sigma"],
                "share_of_effects": (v["mu_star"] or 0.0) / total if total else 0.0,
            }
            s = indices.get(output, {}).get(p)
            if s is not None:
                row.update({k: s[k] for k in ("S1", "S1_conf", "ST", "ST_conf")})
            rows.append(row)
        entry["ranking"] = rows
        by_seed = [r.outputs.get(output) for r in seeded]
        noise = float(np.std([v for v in by_seed if v is not None], ddof=1))
        spread = float(np.std(done_m.means[output], ddof=1))
        entry["sd_over_seeds"], entry["sd_over_design"] = noise, spread
        if total == 0:
            entry["not_ranked"] = (
                "it does not change across the design: no assumed number within its range "
                "moves it at this size"
            )
        elif noise > NOISY * spread:
            entry["warning"] = (
                f"the seed alone moves it by {noise:.3g} (sd over {SEEDS} seeds), against "
                f"{spread:.3g} over the whole design: at this size the ranking is mostly noise; "
                "raise --agents"
            )
        ranked_outputs[output] = entry

    from scslab.schemes.loader import load_scheme

    layered: dict[str, Any] = {"scheme": load_scheme(small.scheme).id}
    if small.layers is not None:  # each layer: its id and its scheme's, as its run lists them
        layered = {
            "scheme": None,
            "layered": True,
            "layers": [{"id": x.id, "scheme": load_scheme(x.scheme).id} for x in small.layers],
        }
    ledger: dict[str, Any] = {
        "scenario": name,
        **layered,
        "agents": sizes.agents,
        "years": small.years,
        "horizon": years_from,
        "seed": sizes.seed,
        "spread": SPREAD,
        "design": {
            "morris": {**morris_design, "runs": len(screen.runs)},
            "sobol": {"samples": sizes.sobol_samples, "factors": top, "runs": sobol_runs},
        },
        "seconds": round(time.perf_counter() - clock, 1),
        "outputs": ranked_outputs,
        "defaults_missing": missing,
        "factors": [_factor_dict(f) for f in varied],
        "fixed": [_factor_dict(f) for f in factors if not f.varied],
    }
    write_text(folder / LEDGER, json.dumps(ledger, indent=2) + "\n", what="the ledger")
    return ledger


def _factor_dict(f: Factor) -> dict[str, Any]:
    d = asdict(f)
    if f.layer is None:
        d.pop("layer")
    if f.varied:
        d.pop("fixed")
    else:
        for k in ("path", "low", "high", "scale", "stated"):
            d.pop(k)
    return d


# --- reading a ledger ----------------------------------------------------------------------------


def find_ledger(
    run_file: str | Path, explicit: str | Path | None, scheme: str
) -> dict[str, Any] | None:
    """The ledger for a run: ``explicit`` (refused if unreadable), else ``assumptions.json``
    beside the run's file; ``None`` if there is none or it is for another scheme."""
    from scslab.errors import ResourceError

    path = Path(explicit) if explicit is not None else Path(run_file).parent / LEDGER
    ledger = _read_ledger(path, explicit is not None)
    if ledger is None:
        return None
    if ledger.get("scheme") != scheme:
        if explicit is not None:
            what = (
                f"a layered scenario's ({_layers_said(ledger.get('layers'))})"
                if ledger.get("layered")
                else f"for scheme '{ledger.get('scheme')}'"
            )
            raise ResourceError(f"--ledger {path}: is {what}, not this run's '{scheme}'")
        return None
    return ledger


def ledger_of_run(
    run_file: str | Path, explicit: str | Path | None, scheme: str
) -> tuple[dict[str, Any] | None, str | None]:
    """The ledger for a run's results file, and the layer whose notes it gives: of one layer of
    a layered run (``OUT/layers/<id>/``), the layered scenario's ledger (``explicit``, or in the
    layered run's folder) and that layer's id; else :func:`find_ledger`'s, and ``None``."""
    from scslab.store.layered import layer_of

    within = layer_of(run_file)
    if within is not None:
        run, entry = within
        path = Path(explicit) if explicit is not None else run.path / LEDGER
        if explicit is None or (_read_ledger(path, True) or {}).get("layered"):
            layers = [(x.id, x.scheme) for x in run.layers]
            found = find_layered_ledger(run.path, explicit, layers)
            if found is not None or explicit is not None:
                return found, entry.id
    return find_ledger(run_file, explicit, scheme), None


def find_layered_ledger(
    folder: str | Path, explicit: str | Path | None, layers: Sequence[tuple[str, str]]
) -> dict[str, Any] | None:
    """The ledger for a layered run (``folder``, whose layers are ``(id, scheme id)`` in order):
    ``explicit`` (refused if unreadable or of another scenario: other layers or schemes), else
    ``assumptions.json`` in the run's folder; ``None`` if there is none or it is another's."""
    from scslab.errors import ResourceError

    path = Path(explicit) if explicit is not None else Path(folder) / LEDGER
    ledger = _read_ledger(path, explicit is not None)
    if ledger is None:
        return None
    theirs = ledger.get("layers") if ledger.get("layered") else None
    ours = [{"id": lid, "scheme": scheme} for lid, scheme in layers]
    if theirs != ours:
        if explicit is not None:
            what = (
                f"a ledger of layers {_layers_said(theirs)}"
                if theirs is not None
                else f"for scheme '{ledger.get('scheme')}'"
            )
            raise ResourceError(
                f"--ledger {path}: is {what}, not this run's layers {_layers_said(ours)}"
            )
        return None
    return ledger


def _layers_said(layers: Any) -> str:
    """``spc (defaulter-blacklist), city (rongcheng-2014)``."""
    if not isinstance(layers, list):
        return "?"
    return ", ".join(
        f"{x.get('id')} ({x.get('scheme')})" if isinstance(x, dict) else "?" for x in layers
    )


def _read_ledger(path: Path, explicit: bool) -> dict[str, Any] | None:
    from scslab.errors import ResourceError

    if not path.is_file():
        if explicit:
            raise ResourceError(f"--ledger {path}: no such file")
        return None
    try:
        ledger = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ResourceError(f"{path}: not an assumption ledger ({exc})") from None
    if not isinstance(ledger, dict) or not isinstance(ledger.get("outputs"), dict):
        raise ResourceError(f"{path}: not an assumption ledger (no outputs)")
    return ledger


#: The least first-order Sobol share a note names: below it, estimates from few samples are noise.
NOTABLE = 0.05


def headline_note(ledger: dict[str, Any], output: str, top: int = 2) -> str | None:
    """ "71 % of its variance from rates.religious-practice (assumed)" for one headline output,
    from its Sobol first-order shares of at least :data:`NOTABLE`; Morris's shares of effects
    where Sobol gives none (it did not reach the factors, or found only noise)."""
    entry = ledger.get("outputs", {}).get(output)
    if not isinstance(entry, dict) or not entry.get("ranking") or entry.get("not_ranked"):
        return None
    rows = entry["ranking"]
    parts = []
    with_sobol = sorted(
        (r for r in rows if r.get("S1") is not None and float(r["S1"]) >= NOTABLE),
        key=lambda r: -float(r["S1"]),
    )
    for r in with_sobol[:top]:
        parts.append(f"{min(float(r['S1']), 1.0):.0%} of its variance from {r['path']} (assumed)")
    if not parts:
        for r in rows[:top]:
            parts.append(
                f"{float(r['share_of_effects']):.0%} of its Morris effects from {r['path']}"
            )
    if entry.get("warning"):
        parts.append("few events at the ledger's size: mostly noise")
    return "; ".join(parts)


#: How the headline outputs are called beside a run's figures, and where an audit holds each.
LABELS = {
    "audit.rights_share": "rights share of sanctions",
    "audit.rights_share_of_list_entries": "rights share of list entries",
    "audit.sanctioned_rate": "share of people ever sanctioned",
    "audit.listed_rate": "share of people ever listed",
}
IN_AUDIT = {"audit.rights_share": ("rights", "share_of_sanctions")}


def _in_audit(audit: dict[str, Any], output: str) -> float | None:
    """The run's own figure for a headline output, where its audit holds it: the rights share
    of sanctions, or the share of people ever affected summed over one grouping's groups."""
    node: Any = audit
    for k in IN_AUDIT.get(output, ()):
        node = node.get(k) if isinstance(node, dict) else None
    if output in IN_AUDIT:
        return float(node) if _number(node) else None
    if output.startswith("audit.") and output.endswith("_rate"):
        by = audit.get("risk_ratio", {}).get(output[len("audit.") : -len("_rate")])
        if isinstance(by, dict) and by:
            groups = next(iter(by.values())).get("groups", [])
            people = sum(int(g.get("people", 0)) for g in groups)
            if people:
                return sum(int(g.get("affected", 0)) for g in groups) / people
    return None


def ledger_notes(
    ledger: dict[str, Any], audit: dict[str, Any] | None = None, layer: str | None = None
) -> list[dict[str, Any]]:
    """For each output the ledger ranks: its label, the figure (this run's where the audit holds
    it, else the ledger's own run's), and the note on what it rests on. Of a layered scenario's
    ledger: the outputs of ``layer`` (``<layer>:<output>``, ``audit`` being that layer's), or
    with no ``layer`` those over all layers (``layers.*``)."""
    out = []
    for output, entry in ledger.get("outputs", {}).items():
        own = output
        if layer is not None:
            if not output.startswith(f"{layer}:"):
                continue
            own = output[len(layer) + 1 :]
        elif ":" in output:
            continue  # a layer's own
        note = headline_note(ledger, output)
        if note is None or not isinstance(entry, dict):
            continue
        value, where = entry.get("value"), f"at {ledger.get('agents', 0):,} people in the ledger"
        here = _in_audit(audit, own) if audit is not None else None
        if here is not None:
            value, where = here, "this run"
        top = [
            {k: r.get(k) for k in ("path", "name", "S1", "ST", "share_of_effects")}
            for r in entry.get("ranking", [])[:3]
        ]
        out.append(
            {
                "output": output,
                "label": LABELS.get(own, own),
                "value": value,
                "value_from": where,
                "note": note,
                "top": top,
            }
        )
    return out


def note_line(note: dict[str, Any]) -> str:
    """ "rights share of sanctions 0.82: 71 % of its variance from rates.religious-practice
    (assumed)"."""
    value = note.get("value")
    shown = "–" if value is None else f"{float(value):.3g}"
    where = "" if note.get("value_from") == "this run" else f" ({note.get('value_from')})"
    return f"{note['label']} {shown}{where}: {note['note']}"
