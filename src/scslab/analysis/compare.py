"""Comparing schemes, and layered scenarios, on the same people (common random numbers).

Every item runs on one population (the same seed, the same people). An item is a scheme, run
alone everywhere, or a layered scenario (``layers:``, ``docs/layers.md``), run as ``scslab run``
runs it. Every act that any of the schemes named alone scores is drawn person by person in each of
their runs, so a person who pays late in one run pays late in all of them, unless a scheme deters
it: differences between those runs are the schemes' doing, not noise. A layered scenario's layers
draw their acts as its run does: each layer person by person the acts its own scheme scores, as
its scheme alone would, so a scheme named alone (and alone among the schemes named) draws exactly
what a layer of it over the whole population draws.

A layered scenario sets what the items share besides their schemes (population, calendar, months,
rates, network, ...): :func:`common_base`. Each of its layers gives one row of figures, as its
one-layer audit (:func:`~scslab.analysis.audit.audit_layered`) gives them, over the layer's
people and months; a last row, ``all layers``, gives the figures about the whole population.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scslab.analysis.audit import audit, audit_layered
from scslab.engine.compiled import FLAG_SANCTIONED
from scslab.engine.layers import LayeredSimulation
from scslab.engine.scenario import Scenario, builtin_scenarios, load_scenario
from scslab.errors import ScenarioError
from scslab.population.network import NetworkSpec
from scslab.runs import Simulation
from scslab.schemes.loader import builtin_names, load_scheme
from scslab.schemes.model import Scheme
from scslab.store.results import Results

Progress = Callable[[str, int, int], None]

#: The kind of each row: a scheme alone, a layer of a layered scenario, or all its layers.
SCHEME, LAYER, ALL_LAYERS = "scheme", "layer", "all layers"
#: Figures of the ``all layers`` row that have no meaning across layers (``None`` there): acts
#: are drawn by each layer (so they do not add up), and the rest need each layer's replays.
NOT_ACROSS_LAYERS = (
    "true_acts",
    "listed_only_by_false_records",
    "rights_share_of_sanctions",
    "chilling",
    "deterrence",
    "worst_four_fifths_ratio",
)


@dataclass(frozen=True)
class Item:
    """One argument of ``scslab compare``: a scheme (run alone) or a layered scenario."""

    #: the scheme's id, or the layered scenario's built-in name or file stem: its column's name,
    #: or the start of its columns' names (``patchwork-2018/spc``), and its folder's
    name: str
    scheme: Scheme | None = None
    scenario: Scenario | None = None
    #: the argument as given (a file's path)
    spec: str = ""

    @property
    def given(self) -> str:
        return self.spec or self.name


def resolve(spec: str | Item) -> Item:
    """A scheme (a built-in name or a scheme file) or a layered scenario (a built-in name or a
    scenario file with ``layers:``). A scenario of one scheme is refused with its scheme's name."""
    if isinstance(spec, Item):
        return spec
    from scslab._yaml import looks_like_path, read_located

    name = str(spec)
    if not looks_like_path(name) and name in builtin_names():
        scheme = load_scheme(name)
        return Item(scheme.id, scheme=scheme)
    if not looks_like_path(name) and name in builtin_scenarios():
        return _layered(name, name, load_scenario(name))
    path = Path(name)
    if not path.is_file():
        raise ScenarioError(_unknown(name))
    data = read_located(path, ScenarioError, "file").data
    keys = set(data) if isinstance(data, dict) else set()
    if "layers" in keys or "scheme" in keys:  # a scheme has neither at its top
        return _layered(name, path.stem, load_scenario(path))
    scheme = load_scheme(name)
    return Item(scheme.id, scheme=scheme)


def _layered(spec: str, name: str, scenario: Scenario) -> Item:
    if scenario.layers is None:
        raise ScenarioError(
            f"{spec}: a scenario of one scheme ({scenario.scheme}); compare takes schemes and "
            f"scenarios with `layers:`: name its scheme, {scenario.scheme}, to compare it"
        )
    return Item(name, scenario=scenario, spec=spec)


def _unknown(name: str) -> str:
    from difflib import get_close_matches

    layered = [n for n in builtin_scenarios() if load_scenario(n).layers is not None]
    near = get_close_matches(name, [*builtin_names(), *layered], n=1)
    hint = f"did you mean '{near[0]}'? " if near else ""
    return (
        f"{name}: no built-in scheme or layered scenario has this name and no such file exists; "
        f"{hint}schemes: {', '.join(builtin_names())}; layered scenarios: {', '.join(layered)}"
    )


def base_of(scenario: Scenario) -> Scenario:
    """A scenario's settings without its schemes: its layers (and their scheme_values, which
    belong to its one layer's scheme, and the ``firms`` of its layer of firms) left out."""
    data = scenario.model_dump()
    for key in ("scheme", "layers", "scheme_values", "fitted", "firms"):
        del data[key]
    return Scenario.model_validate(data)


def common_base(items: Sequence[Item], default: Scenario) -> Scenario:
    """What every item runs on: the layered scenarios' settings besides their layers, which must
    be the same, or ``default`` where no item is a layered scenario."""
    layered = [it for it in items if it.scenario is not None]
    if not layered:
        return default
    bases = [base_of(it.scenario) for it in layered if it.scenario is not None]
    first = bases[0].model_dump()
    for it, other in zip(layered[1:], bases[1:], strict=True):
        differ = [k for k, v in other.model_dump().items() if first[k] != v]
        if differ:
            raise ScenarioError(
                f"{layered[0].given} and {it.given} differ in {', '.join(differ)}: compare runs "
                "every item on one population, calendar and rates; give layered scenarios that "
                "differ in their layers only"
            )
    return bases[0]


def checked(items: Sequence[str | Item]) -> list[Item]:
    """The items, each found (:func:`resolve`), once checked that they make two columns or more,
    that no name is given twice, and that they all score individuals or all enterprises."""
    resolved = [resolve(x) for x in items]
    columns = sum(1 if it.scenario is None else len(it.scenario.layers or ()) for it in resolved)
    if len(resolved) < 2 and columns < 2:
        raise ScenarioError(
            "compare needs at least two schemes, or a layered scenario of two layers or more"
        )
    names = [it.name for it in resolved]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ScenarioError(f"{twice[0]}: named twice; each scheme or scenario may be named once")
    alone = [it.scheme for it in resolved if it.scheme is not None]
    layered = [it.given for it in resolved if it.scenario is not None]
    kinds = {s.subject for s in alone} | ({"individuals"} if layered else set())
    if len(kinds) > 1:
        raise ScenarioError(
            "compare runs every scheme on the same subjects; these score "
            + " and ".join(
                [f"{s.subject} ({s.id})" for s in alone]
                + [f"individuals ({n}'s layers)" for n in layered]
            )
            + ": compare schemes of individuals, or schemes of enterprises, with each other"
        )
    return resolved


def compare(
    items: Sequence[str | Item],
    base: Scenario,
    out: Path,
    *,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run and audit each item on ``base``'s population; return one row of figures per scheme,
    per layer of a layered scenario, and per layered scenario's ``all layers``.

    A layered scenario's layers run over ``base`` (its population, calendar, months, rates...):
    :func:`common_base` gives the base that a layered scenario sets."""
    resolved = checked(items)
    alone = {it.name: it.scheme for it in resolved if it.scheme is not None}
    network = base.network
    if network is None and any(s.network for s in alone.values()):
        network = NetworkSpec()  # every run gets the same network, as one of them needs it
    base = base.model_copy(update={"network": network})
    common = tuple(sorted({a for s in alone.values() for a in s.acts()}))
    sims: dict[str, Simulation | LayeredSimulation] = {}
    for it in resolved:
        if it.scheme is not None:
            scenario = base.model_copy(update={"scheme": it.name})
            also = tuple(a for a in common if a not in it.scheme.acts())
            sims[it.name] = Simulation(scenario, scheme=it.scheme, also_personal=also)
        elif it.scenario is not None:
            sims[it.name] = LayeredSimulation(with_layers(base, it.scenario))
    from scslab.store.writer import prepare_out

    folders = {}
    for name, sim in sims.items():  # every folder checked before anything runs
        if isinstance(sim, Simulation):
            folders[name] = sim.prepare(out / name, overwrite=overwrite)
        else:
            prepare_out(out / name, overwrite)
            folders[name] = out / name
    rows: dict[str, Any] = {}
    made: dict[str, Any] = {}
    for name in list(sims):
        sim = sims.pop(name)  # a layered run's people and states are let go once it is read

        def step(done: int, total: int, name: str = name) -> None:
            if progress is not None:
                progress(name, done, total)

        if isinstance(sim, Simulation):
            results = sim.run(folders[name], progress=step)
            rows[name] = {
                **_identity(SCHEME, None, sim.agents, 0, sim.scenario.steps, sim.subjects),
                **_row(results),
            }
            results.close()
            made[name] = {"kind": SCHEME, "path": str(folders[name]), "columns": [name]}
        else:
            got = _layered_rows(name, sim, folders[name], overwrite, step)
            rows.update(got)
            made[name] = {"kind": "layered", "path": str(folders[name]), "columns": list(got)}
    return {
        "agents": base.population.agents,
        "years": base.years,
        "months": base.steps,
        "start": base.start,
        "seed": base.seed,
        "items": made,
        "schemes": rows,
    }


def with_layers(base: Scenario, layered: Scenario) -> Scenario:
    """``layered``'s layers (and their scheme_values, and its layer of firms' ``firms``) over
    ``base``."""
    data = base.model_dump()
    del data["scheme"]  # the first layer's
    data["layers"] = [x.model_dump() for x in layered.layers or ()]
    data["scheme_values"] = layered.scheme_values
    data["firms"] = layered.firms.model_dump() if layered.firms is not None else None
    return Scenario.model_validate(data)


def _identity(
    kind: str, layer: str | None, people: int, first: int, end: int, subjects: str = "people"
) -> dict[str, Any]:
    """What a row is: its kind, layer, people (``subjects``: ``firms`` for a layer of firms,
    whose ``people`` are then its firms) and months of the run ``[from, until)``."""
    return {
        "kind": kind,
        "layer": layer,
        "subjects": subjects,
        "people": people,
        "from": first,
        "until": end,
    }


def _layered_rows(
    name: str,
    lsim: LayeredSimulation,
    folder: Path,
    overwrite: bool,
    step: Callable[[int, int], None],
) -> dict[str, Any]:
    """The layered run in ``folder``: a row per layer, from its results and its audit among the
    layered run's (as ``scslab audit FOLDER`` gives them), then the row of all layers, which
    leaves a layer of firms out (its rows are firms, not people)."""
    from scslab.layered import run_layered

    results = run_layered(lsim, folder, overwrite=overwrite, progress=step)
    end = _at_end(lsim)
    del lsim  # its runs are done with: the audit replays the run
    audits = audit_layered(folder)
    rows: dict[str, Any] = {}
    for lid, r in results.items():
        n, first, until = end["layers"][lid]
        rows[f"{name}/{lid}"] = {
            **_identity(LAYER, lid, n, first, until, r.run()["subjects"]),
            **_row(r, audits[lid]),
        }
        r.close()
    people = {k: row for k, row in rows.items() if row["subjects"] == "people"}
    of_people = {row["layer"]: audits[row["layer"]] for row in people.values()}
    rows[name] = _all_layers(folder, people, of_people, end)
    return rows


def _all_layers(
    folder: Path, rows: dict[str, Any], audits: dict[str, Any], end: dict[str, Any]
) -> dict[str, Any]:
    """The figures of a layered run about its whole population, over all its layers: people
    under a sanction, on a list, holding a reward of any layer at the end (counted once);
    sanction-months, wrongful sanctions, records and false records summed over the layers; the
    share of the sanction-months out of context among all of them."""
    n = end["people"]
    layers = list(rows.values())
    months = [r["sanction_months_per_person"] * r["people"] for r in layers]
    wrongful = sum(
        a["wrongful"]["sanctions_with_a_false_record_among_causes"] for a in audits.values()
    )
    out_of_context = sum(r["cross_context_share"] * m for r, m in zip(layers, months, strict=True))
    return {
        **_identity(ALL_LAYERS, None, n, 0, end["steps"]),
        "path": str(folder),
        "sanctioned_share": end["sanctioned"] / n,
        "rewarded_share": end["rewarded"] / n,
        "listed_share": end["listed"] / n,
        "sanction_months_per_person": sum(months) / n,
        "records": sum(r["records"] for r in layers),
        "false_records": sum(r["false_records"] for r in layers),
        "cross_context_share": out_of_context / sum(months) if sum(months) else 0.0,
        "wrongful_sanctions_per_100k": wrongful * 100_000 / n,
        **dict.fromkeys(NOT_ACROSS_LAYERS),
    }


def _at_end(lsim: LayeredSimulation) -> dict[str, Any]:
    """Who is under a sanction, on a list, holding a reward, in any layer in force in the run's
    last month (a layer abandoned before it lists and sanctions nobody): counts of people, a
    layer of firms left out; and each layer's people (firms) and months."""
    n = lsim.agents
    sanctioned, listed, rewarded = (np.zeros(n, bool) for _ in range(3))
    for ls in lsim.layers:
        if ls.end < lsim.steps or ls.sim.people is not None:
            continue
        run = ls.sim.last_run
        state, arrays = run.state, ls.sim.arrays
        rows = slice(ls.lo, ls.hi)
        sanctioned[rows] |= (state.flags & FLAG_SANCTIONED) != 0
        listed[rows] |= (state.list_since >= 0).any(axis=1)
        gives = (arrays.grp_sanction == 0) & (arrays.grp_domains != 0)
        rewarded[rows] |= (state.grp_until[:, gives] >= 0).any(axis=1)
    return {
        "sanctioned": int(sanctioned.sum()),
        "listed": int(listed.sum()),
        "rewarded": int(rewarded.sum()),
        "layers": {ls.id: (ls.sim.agents, ls.first, ls.end) for ls in lsim.layers},
        "people": n,
        "steps": lsim.steps,
    }


def _row(results: Results, a: dict[str, Any] | None = None) -> dict[str, Any]:
    """The figures of one run (a scheme alone, or one layer) from its results and its audit
    (``a``; default: :func:`~scslab.analysis.audit.audit` of it)."""
    s = results.summary()
    a = audit(results) if a is None else a
    agents = s["agents"]
    last = results.sql(
        "SELECT sum(sanctioned)::BIGINT, sum(rewarded)::BIGINT FROM steps "
        "WHERE step = (SELECT max(step) FROM steps)"
    ).fetchall()[0]
    months = results.sql(
        "SELECT coalesce(sum(people), 0)::BIGINT FROM exposure WHERE kind = 'sanction'"
    ).fetchall()[0][0]
    return {
        "path": s["path"],
        "sanctioned_share": last[0] / agents,
        "rewarded_share": last[1] / agents,
        "listed_share": sum(s["lists"].values()) / agents,
        "sanction_months_per_person": months / agents,
        "true_acts": s["events"]["true"],
        "records": s["events"]["recorded"],
        "false_records": s["events"]["false"],
        "cross_context_share": a["cross_context"]["share"],
        "wrongful_sanctions_per_100k": a["wrongful"][
            "sanctions_with_a_false_record_among_causes_per_100k"
        ],
        "listed_only_by_false_records": a["counterfactual"][
            "share_of_listed_at_end_not_listed_without_false_records"
        ],
        "rights_share_of_sanctions": a["rights"]["share_of_sanctions"],
        "chilling": a["rights"]["chilling"]["change_in_lawful_rights_activity"],
        "deterrence": a["deterrence"]["change_in_scored_offences"],
        "worst_four_fifths_ratio": min(
            (
                r["four_fifths"]["ratio"]
                for by_attr in a["risk_ratio"].values()
                for comparison in by_attr.values()
                for r in comparison["groups"]
                if r["four_fifths"]["ratio"] is not None
            ),
            default=1.0,
        ),
    }
