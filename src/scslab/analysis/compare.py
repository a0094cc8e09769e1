"""Comparing schemes on the same people with the same acts (common random numbers).

Each scheme runs on the same population (same seed). Every act that any of the schemes scores is
drawn person by person in every run, so a person who pays late in one run pays late in all of them,
unless a scheme deters it. Differences between the runs are then the schemes' doing, not noise.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from scslab.analysis.audit import audit
from scslab.engine.scenario import Scenario
from scslab.errors import ScenarioError
from scslab.population.network import NetworkSpec
from scslab.runs import Simulation
from scslab.schemes.loader import load_scheme
from scslab.store.results import Results

Progress = Callable[[str, int, int], None]


def compare(
    schemes: list[str],
    base: Scenario,
    out: Path,
    *,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run and audit each scheme on ``base``'s population; return one row of figures per scheme."""
    if len(schemes) < 2:
        raise ScenarioError("compare needs at least two schemes")
    if len(set(schemes)) != len(schemes):
        raise ScenarioError("each scheme may be named once")
    loaded = {name: load_scheme(name) for name in schemes}
    subjects = {s.subject for s in loaded.values()}
    if len(subjects) > 1:
        raise ScenarioError(
            "compare runs every scheme on the same subjects; these score "
            + " and ".join(f"{s.subject} ({s.id})" for s in loaded.values())
            + ": compare schemes of individuals, or schemes of enterprises, with each other"
        )
    common = tuple(sorted({a for s in loaded.values() for a in s.acts()}))
    network = base.network
    if network is None and any(s.network for s in loaded.values()):
        network = NetworkSpec()  # every run gets the same network, as one of them needs it
    sims = {}
    for name, scheme in loaded.items():
        scenario = base.model_copy(update={"scheme": name, "network": network})
        also = tuple(a for a in common if a not in scheme.acts())
        sims[name] = Simulation(scenario, scheme=scheme, also_personal=also)
    folders = {
        name: sim.prepare(out / sims[name].scheme.id, overwrite=overwrite)
        for name, sim in sims.items()
    }
    rows: dict[str, Any] = {}
    for name, sim in sims.items():

        def step(done: int, total: int, name: str = name) -> None:
            if progress is not None:
                progress(name, done, total)

        results = sim.run(folders[name], progress=step)
        rows[sim.scheme.id] = _row(results)
        results.close()
    return {
        "agents": base.population.agents,
        "years": base.years,
        "seed": base.seed,
        "schemes": rows,
    }


def _row(results: Results) -> dict[str, Any]:
    s = results.summary()
    a = audit(results)
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
