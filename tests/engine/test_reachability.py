"""Conformance: every event, list, sanction and reward of a built-in can happen in a tiny run.

Two tiny runs per scheme, with all scored acts always recorded: one where people mostly offend
(deductions, grades falling, lists, sanctions) and one where they mostly do good (rewards).
"""

from __future__ import annotations

import pytest

from conftest import NO_ADAPTATION
from scslab.behaviour.model import Catalogue
from scslab.behaviour.rates import load_catalogue
from scslab.engine.scenario import Scenario
from scslab.engine.simulation import Record, Simulation
from scslab.population import Children, PopulationSpec
from scslab.population.firms import FirmSpec
from scslab.population.network import NetworkSpec
from scslab.schemes import builtin_names, load_scheme
from scslab.schemes.model import Scheme


def _boosted(catalogue: Catalogue, scheme: Scheme, sign: int) -> Catalogue:
    """Scored acts with points of ``sign`` at 4 a year, the others at 0.1; all always recorded."""
    points = {e.act_id: e.points for e in scheme.events}
    acts = []
    for a in catalogue.acts:
        if a.id not in points:
            acts.append(a)
            continue
        p = points[a.id]
        rate = 4.0 if (p * sign > 0 or (p == 0 and sign < 0)) else 0.1
        acts.append(a.model_copy(update={"rate": rate, "channels": {"court": 1.0}}))
    return catalogue.model_copy(update={"acts": tuple(acts)})


def _run(scheme: Scheme, catalogue: Catalogue) -> tuple[Simulation, Record]:
    firms = scheme.subject == "enterprises"
    sc = Scenario(
        scheme=scheme.id,
        # children, where a consequence falls on them only
        population=PopulationSpec(
            agents=3000,
            children=Children() if any(c.reaches == "children" for c in scheme.sanctions) else None,
        ),
        years=3,
        seed=11,
        panel=0,
        adaptation=NO_ADAPTATION,
        network=NetworkSpec(mean_degree=8) if scheme.network else None,
        # many firms, so that some are run by people on the people's blacklists
        firms=FirmSpec(per_thousand_people=200, history_months=0) if firms else None,
    )
    sim = Simulation(sc, scheme=scheme, catalogue=catalogue)
    record, _ = sim.execute()
    return sim, record


@pytest.mark.parametrize("name", builtin_names())
def test_every_rule_of_a_built_in_fires_in_a_tiny_run(name: str) -> None:
    """Each event is recorded, each list entered, each sanction and reward started at least once."""
    scheme = load_scheme(name)
    firms = scheme.subject == "enterprises"
    catalogue = load_catalogue(builtin="firm_acts.yaml" if firms else "acts.yaml")
    runs = [_run(scheme, _boosted(catalogue, scheme, sign)) for sign in (-1, +1)]
    sim = runs[0][0]
    unreached = []
    for e in scheme.events:
        a = sim.rates.act_ids.index(e.act_id)
        if not any(rec.ev_rec[:, :, a].sum() > 0 for _, rec in runs):
            unreached.append(f"event {e.id}")
    L = len(sim.layout.lists)
    for li, lid in enumerate(sim.layout.lists):
        if not any(rec.flow[:, 0, li].sum() > 0 for _, rec in runs):
            unreached.append(f"list {lid}")
    for q, c in sim.layout.consequences:
        # started in the run, or running at month 0: started in the scheme's history (after
        # Sesame's 240 months, its low scorers are under their sanctions from the start)
        if not any(
            rec.flow[:, 0, L + q].sum() > 0 or rec.grp_active[0, :, q].sum() > 0 for _, rec in runs
        ):
            unreached.append(f"{'sanction' if c in scheme.sanctions else 'reward'} {c.id}")
    assert not unreached, f"{name}: never reached: {', '.join(unreached)}"
