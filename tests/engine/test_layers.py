"""Layered runs: several schemes over one population, sharing one world of acts.

A scenario's ``layers:`` lists schemes with their regions and months (docs/layers.md). The
population is drawn once; each layer is a run of its own over its regions' rows, with draws
keyed by the person's row in the whole population and, in a run of several layers, the run's
month, at rates every layer in force over the person deters: the layers see the same acts and
records. A run of one layer gives exactly what its scheme gives alone, and a scenario without
``layers:`` runs exactly as it always did.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest

from conftest import catalogue
from helpers import Tables, assert_same_tables
from helpers import tables as stored_tables
from scslab import Simulation
from scslab.behaviour.rates import catalogue_text
from scslab.engine.compiled import FLAG_PANEL, FLAG_SANCTIONED
from scslab.engine.layers import LayeredSimulation
from scslab.engine.scenario import Scenario, load_scenario
from scslab.errors import ScenarioError, ScslabError
from scslab.layered import run_layered
from scslab.store.results import Results

GRADED = """
id: graded
name: Arrears and a C grade
subject: individuals
description: deductions, two grades, a sanction on the lower, a list, decay
sources: {paper: the seed paper}
score: {base: 1000, min: 0, max: 1000, cap_window_months: 12, source: paper, history_months: 3}
categories: [{id: finance, cap: 400, assumed: true}]
events:
  - {id: payment-arrears, category: finance, points: -100, domain: finance, source: paper}
grades:
  - {id: A, min: 900, max: 1000, source: paper}
  - {id: C, min: 0, max: 899, source: paper}
lists:
  - id: arrears
    kind: black
    entry: {score_below: 850}
    exit: {after_months: 3}
    assumed: true
sanctions:
  - id: no-loans
    trigger: {grades: [C]}
    domain: finance
    effect: no bank loans
    duration_months: 4
    source: paper
decay: {points_per_month: 20, after_clean_months: 1, assumed: true}
"""

#: every table's rows, and these columns of ``runs`` (the rest: the scenario's text, times)
RUN_COLUMNS = "scheme, subjects, scheme_yaml, acts_yaml, seed, agents, steps, steps_done, start"


def tables(results: Results) -> Tables:
    """Every table of a run's results, its rows sorted; ``runs`` without text and times."""
    return stored_tables(results, sort=True, runs=RUN_COLUMNS)


def digest(rows: dict[str, list[Any]]) -> str:
    return hashlib.sha256(repr(sorted(rows.items())).encode()).hexdigest()


def files(tmp_path: Path) -> tuple[Path, Path]:
    """The test scheme and its act catalogue, as files a scenario names."""
    scheme, acts = tmp_path / "graded.yaml", tmp_path / "acts.yaml"
    scheme.write_text(GRADED)
    acts.write_text(catalogue_text(catalogue({"payment-arrears": 1.5}, detect=0.8)))
    return scheme, acts


def plain(tmp_path: Path, **kw: Any) -> Scenario:
    scheme, acts = files(tmp_path)
    data = {
        "scheme": str(scheme),
        "acts": str(acts),
        "population": {"agents": 2500},
        "years": 0.5,
        "seed": 11,
        "panel": 60,
        **kw,
    }
    return Scenario.model_validate(data)


#: the tables of ``plain``'s run, as scslab wrote them before layers existed (every table
#: except the runs row's text and times): a scenario without layers runs exactly as before
PINNED = "a696591a7df3182945f5d8fc6e11051fc3d87e27a1cc7a4faaf17248ce60a15d"


def test_a_scenario_without_layers_runs_exactly_as_before(tmp_path: Path) -> None:
    """The tables of a one-scheme scenario are bit-identical to those written before layers."""
    results = Simulation(plain(tmp_path)).run(tmp_path / "run")
    assert digest(tables(results)) == PINNED


def test_one_layer_everywhere_gives_the_tables_of_the_one_scheme_run(tmp_path: Path) -> None:
    """`layers: [{id, scheme}]` writes OUT/layers/<id>/results.duckdb with exactly the tables of
    `scheme:` alone, and OUT/layers.json says the run is layered."""
    alone = plain(tmp_path)
    layered = Scenario.model_validate(
        {
            **alone.model_dump(exclude={"scheme", "layers"}),
            "layers": [{"id": "g", "scheme": alone.scheme}],
        }
    )
    results = run_layered(LayeredSimulation(layered), tmp_path / "layered")
    assert set(results) == {"g"}
    assert results["g"].path == tmp_path / "layered" / "layers" / "g" / "results.duckdb"
    assert not (tmp_path / "layered" / "results.duckdb").exists()
    assert (tmp_path / "layered" / "layers.json").is_file()
    reference = Simulation(alone).run(tmp_path / "alone")
    assert_same_tables(tables(results["g"]), tables(reference))


def test_two_layers_without_links_each_give_their_scheme_alone_given_the_same_acts(
    tmp_path: Path,
) -> None:
    """Rongcheng's score and the defaulter list over one population, with nothing that makes
    one scheme's people act otherwise than the other's (no deterrence or chilling): each
    layer's tables equal those of its scheme run alone with the same seed drawing the same acts
    person by person (both schemes' acts), every table, every row."""
    base: dict[str, Any] = {
        "population": {"agents": 3000},
        "years": 0.5,
        "seed": 4,
        "panel": 40,
        "history_months": 2,
        "adaptation": {"deterrence": {"enabled": False}, "chilling": {"enabled": False}},
    }
    layered = Scenario.model_validate(
        {
            **base,
            "layers": [
                {"id": "city", "scheme": "rongcheng-2014"},
                {"id": "spc", "scheme": "defaulter-blacklist"},
            ],
        }
    )
    lsim = LayeredSimulation(layered)
    acts = lsim.layers[0].sim.also_personal or lsim.layers[1].sim.also_personal
    results = run_layered(lsim, tmp_path / "layered")
    together = duckdb.connect(str(tmp_path / "layered" / "layers.duckdb"), read_only=True)
    for lid, scheme in (("city", "rongcheng-2014"), ("spc", "defaulter-blacklist")):
        scenario = Scenario.model_validate({**base, "scheme": scheme})
        reference = Simulation(scenario, also_personal=acts).run(tmp_path / lid)
        got = tables(results[lid])
        assert_same_tables(got, tables(reference), lid)
        # layers.duckdb: every layer's steps and flows, with the layer's id and the run's month
        for table in ("steps", "flows"):
            columns = [r[0] for r in results[lid].con.execute(f"DESCRIBE {table}").fetchall()]
            listed = ", ".join(f'"{c}"' for c in columns)
            rows = together.execute(
                f"SELECT {listed} FROM {table} WHERE layer = ? AND month = step ORDER BY ALL",
                [lid],
            ).fetchall()
            assert rows == got[table], (lid, table)
    together.close()


def deeds(record: Any, first: int) -> dict[tuple[int, int], list[tuple[int, int, int]]]:
    """A layer's panel's acts, by (the run's month, person): each act with whether it was a
    false record and whether it was recorded, in the order drawn (rules' points left out)."""
    out: dict[tuple[int, int], list[tuple[int, int, int]]] = {}
    rows = np.concatenate(record.panel_events)
    for t, person, act, false, recorded, *_ in rows.tolist():
        if act >= 0:
            out.setdefault((t + first, person), []).append((act, false, recorded))
    return out


def test_the_layers_of_a_run_see_the_same_deeds_and_the_same_records(tmp_path: Path) -> None:
    """The court's list everywhere and Rongcheng's score in the towns from month 2, deterring
    and sanctioning: a person in both layers' panels does, in every month both are in force,
    the same acts in the same order in both, false or true alike, recorded alike; and each
    layer's tallies count the same acts of the people they share."""
    layered = Scenario.model_validate(
        {
            "population": {"agents": 3000},
            "years": 0.5,
            "seed": 7,
            "panel": 400,
            "layers": [
                {"id": "spc", "scheme": "defaulter-blacklist"},
                {"id": "city", "scheme": "rongcheng-2014", "where": ["towns"], "from": 2},
            ],
        }
    )
    lsim = LayeredSimulation(layered)
    run = lsim.execute()
    spc, city = (deeds(r.record, ls.first) for ls, r in zip(lsim.layers, run.runs, strict=True))
    both = {
        (t, p)
        for t in range(2, 6)
        for p in set(run.runs[0].record.panel_people + lsim.layers[0].lo)
        & set(run.runs[1].record.panel_people + lsim.layers[1].lo)
    }
    assert len({p for _, p in both}) > 20
    shared = [k for k in both if k in spc or k in city]
    assert len(shared) > 20  # people with acts, some in each month
    for key in shared:
        assert spc.get(key) == city.get(key), key
    # both draw every act of either scheme person by person: the town cells' acts of month 3
    towns = lsim.layers[0].sim.cells.region_of() == 2
    a = run.runs[0].record.ev_true[3][towns]
    b = run.runs[1].record.ev_true[1][towns]
    assert a.sum() > 0 and (a == b).all()
    # one rate class a person, read by every layer's step: under a sanction of any layer in
    # force over them (the court's alone before the city's from)
    world = lsim.world
    assert world is not None
    states = [r.state for r in run.runs]
    held = [(ls, ls.lo, r.state) for ls, r in zip(lsim.layers, run.runs, strict=True)]
    court = states[0].flags & FLAG_SANCTIONED
    lo, hi = lsim.layers[1].lo, lsim.layers[1].hi
    world.classes(1, held, world.cls, 0)
    assert (world.cls == court).all()
    world.classes(5, held, world.cls, 0)
    either = court.copy()
    either[lo:hi] |= states[1].flags & FLAG_SANCTIONED
    assert (world.cls == either).all() and court.any()
    for ls, r in zip(lsim.layers, run.runs, strict=True):
        assert np.shares_memory(r.traits.cls, world.cls) and len(r.traits.cls) == ls.hi - ls.lo
        assert (r.traits.cls == world.cls[ls.lo : ls.hi]).all()


def test_a_person_under_several_layers_acts_as_the_one_that_deters_most(tmp_path: Path) -> None:
    """The shared rates: in the towns, where the court's list and Rongcheng's score are both in
    force, each act is drawn at the rate of the layer that deters it more; elsewhere at the
    court's; a run of one layer draws as its scheme alone, with no world."""
    layered = Scenario.model_validate(
        {
            "population": {"agents": 500},
            "years": 0.25,
            "layers": [
                {"id": "spc", "scheme": "defaulter-blacklist"},
                {"id": "city", "scheme": "rongcheng-2014", "where": ["towns"]},
            ],
        }
    )
    lsim = LayeredSimulation(layered)
    assert lsim.world is not None
    world = lsim.world
    D = world.draws(0, 0)
    rate = -np.log(D.cdf[:, :, 0])[:, :, None] * np.diff(D.cum, prepend=0.0, axis=-1)
    (spc, city) = (ls.sim.rates for ls in lsim.layers)
    assert list(spc.personal) == list(city.personal) == list(D.act)
    det = [r.deterrence[:, :, r.personal] for r in (spc, city)]
    towns = world.cell_region == 2
    stronger = np.where(det[1] < det[0], city.rate, spc.rate)
    assert np.allclose(rate[towns], stronger[towns], rtol=1e-9, atol=0)
    assert np.allclose(rate[~towns], spc.rate[~towns], rtol=1e-9, atol=0)
    assert (det[1][towns] < det[0][towns]).any() and (det[0][towns] < det[1][towns]).any()
    # both layers read the same tables; each its own points by channel
    assert world.draws(1, 0).cum is D.cum and world.draws(1, 0).cdf is D.cdf
    one = Scenario.model_validate({**layered.model_dump(), "layers": layered.layers[:1]})
    assert LayeredSimulation(one).world is None


def test_a_layer_over_some_regions_scores_their_people_as_the_scheme_everywhere_does(
    tmp_path: Path,
) -> None:
    """A layer `where: [suburbs, towns]` holds exactly the rows of those regions: each of their
    people ends in the state the scheme everywhere leaves them in, its steps are those regions'
    rows of the run everywhere, and nobody elsewhere is scored (counted) by it."""
    everywhere = plain(tmp_path)
    layered = Scenario.model_validate(
        {
            **everywhere.model_dump(exclude={"scheme", "layers"}),
            "layers": [
                {"id": "g", "scheme": everywhere.scheme, "where": ["suburbs", "towns"]},
                {"id": "all", "scheme": everywhere.scheme},
            ],
        }
    )
    lsim = LayeredSimulation(layered)
    run = lsim.execute()
    part, whole = run.runs
    region = lsim.population().region
    inside = np.flatnonzero((region == 1) | (region == 2))
    lo, hi = lsim.layers[0].lo, lsim.layers[0].hi
    assert (lo, hi) == (inside[0], inside[-1] + 1) and len(inside) == hi - lo
    for name in part.state._fields:
        a, b = getattr(part.state, name), getattr(whole.state, name)
        if name == "flags":  # the panels differ: a panel of the layer's own people
            a, b = a & ~FLAG_PANEL, b & ~FLAG_PANEL
        if b.shape[:1] == (lsim.agents,):
            assert (a == b[lo:hi]).all(), name
    results = run_layered(LayeredSimulation(layered), tmp_path / "layered")
    some, every = tables(results["g"])["steps"], tables(results["all"])["steps"]
    assert {r[2] for r in some} == {"suburbs", "towns"}  # step, date, region, ...
    assert some == [r for r in every if r[2] in ("suburbs", "towns")]


def test_a_layer_from_a_month_is_its_scheme_from_then_without_history(
    tmp_path: Path,
) -> None:
    """`from: 2014-04, until: 2014-09` in a run from 2014-01: the layer is its scheme from
    2014-04 for 5 months with no history (a new scheme starts everyone at base), over the run's
    acts of those months; the layer's dates are the run's, and nothing is recorded outside its
    months."""
    whole = plain(tmp_path, start="2014-01", years=1)
    layered = Scenario.model_validate(
        {
            **whole.model_dump(exclude={"scheme", "layers"}),
            "layers": [
                {"id": "late", "scheme": whole.scheme, "from": "2014-04", "until": "2014-09"},
                {"id": "months", "scheme": whole.scheme, "from": 3, "until": 8},
            ],
        }
    )
    assert layered.layer_months() == {"late": (3, 8), "months": (3, 8)}
    results = run_layered(LayeredSimulation(layered), tmp_path / "layered")
    got = tables(results["late"])
    assert_same_tables(got, tables(results["months"]))
    first = [r for r in got["panel"] if r[0] == 0]
    assert first and all(r[-2] == 1000 for r in first)  # score_before: everyone at the base
    dates = sorted({str(r[1]) for r in got["steps"]})
    assert dates[0].startswith("2014-04-01") and dates[-1].startswith("2014-08-01")
    assert len(dates) == 5


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "layered.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        (
            "layers:\n  - {id: a, scheme: suining-2010}\n  - {id: a, scheme: rongcheng-2014}\n",
            "3:10",
            "layers.1.id: two layers are called 'a'",
        ),
        (
            "start: 2010-01\nlayers:\n  - id: a\n    scheme: suining-2010\n"
            "    from: 2010-06\n    until: 2010-03\n",
            "6:12",
            "layers.0.until: until '2010-03' is not after from '2010-06'",
        ),
        (
            "layers:\n  - id: a\n    scheme: suining-2010\n    where: [city-centre, vilages]\n",
            "4:26",
            "layers.0.where.1: the population has no region 'vilages'; did you mean 'villages'?",
        ),
        (
            "layers:\n  - id: a\n    scheme: suining-2011\n",
            "3:13",
            "layers.0.scheme: suining-2011:",
        ),
        (
            "scheme: rongcheng-2014\nlayers:\n  - {id: a, scheme: suining-2010}\n",
            "1:9",
            "scheme: a scenario with `layers:` names each layer's scheme there",
        ),
        (
            "layers:\n  - {id: a, scheme: suining-2010, where: [city-centre, towns]}\n",
            "2:42",
            "layers.0.where: a layer's regions must be adjacent",
        ),
        (
            "layers:\n  - {id: a, scheme: corporate-scs}\n",
            "2:21",
            "layers.0.scheme: layer 'a' scores firms: name the people's layer whose blacklists "
            "reach their managers with `people: <layer id>`",
        ),
        (
            "layers:\n  - {id: a, scheme: suining-2010, from: 2010-03}\n",
            "2:41",
            "layers.0.from: '2010-03' is a calendar month, and the scenario has no `start:",
        ),
        (
            "years: 1\nlayers:\n  - {id: a, scheme: suining-2010, from: 12}\n",
            "3:41",
            "layers.0.from: from month 12 is after the run's last month (11)",
        ),
    ],
)
def test_a_wrong_layer_is_refused_at_its_place_before_anything_runs(
    tmp_path: Path, text: str, where: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert f"{path}:{where}: {message}" in str(caught.value)


def test_a_layer_s_results_are_the_run_of_the_scenario_they_store(tmp_path: Path) -> None:
    """A layer over some regions from a month on stores its own one-layer scenario, and running
    that scenario alone (as `scslab audit` replays it) writes the same tables, with people
    numbered as rows of the whole population."""
    layered = plain(tmp_path).model_dump(exclude={"scheme", "layers"})
    layered["layers"] = [{"id": "towns", "scheme": plain(tmp_path).scheme, "where": ["towns"]}]
    layered["layers"][0]["from"] = 2
    results = run_layered(LayeredSimulation(Scenario.model_validate(layered)), tmp_path / "out")
    stored = Scenario.from_text(results["towns"].run()["scenario"])
    assert stored.layers is not None and stored.layers[0].where == ("towns",)
    assert stored.history_months == 0 and stored.steps == 4
    again = Simulation(stored).run(tmp_path / "again")
    got = tables(results["towns"])
    assert_same_tables(got, tables(again))
    region = LayeredSimulation(Scenario.model_validate(layered)).population().region
    towns = np.flatnonzero(region == 2)
    people = {r[1] for r in got["panel"]}  # step, person, ...
    assert people and people <= set(towns.tolist())


def test_run_json_has_each_layer_s_summary_and_refuses_what_layers_lack(tmp_path: Path) -> None:
    """`scslab run --json` on a layered scenario prints {"layers": {id: summary}}, each the
    summary a one-layer run prints; shards, checkpoints and --scheme are refused in one line
    with status 2, and leave no folder behind."""
    import json
    import subprocess
    import sys

    path = write(
        tmp_path,
        "years: 0.5\npopulation: {agents: 2000}\nlayers:\n"
        "  - {id: spc, scheme: defaulter-blacklist}\n"
        "  - {id: city, scheme: suining-2010, where: [towns], from: 2}\n",
    )

    def scslab(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "scslab", "run", str(path), *args]
        return subprocess.run(command, capture_output=True, text=True)

    done = scslab("--out", str(tmp_path / "out"), "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["layered"] is True and set(doc["layers"]) == {"spc", "city"}
    city = doc["layers"]["city"]
    assert city["scheme"] == "suining-2010" and city["steps"] == 4
    with Results(tmp_path / "out" / "layers" / "city") as r:
        assert city == {**r.summary(), "seconds": city["seconds"]}
        assert city["agents"] == r.run()["agents"] < 2000
    with pytest.raises(ScslabError, match="a layered run, with results per layer; give one of"):
        Results(tmp_path / "out")  # what every command opens
    for flags, said in (
        (("--shards", "9"), "--shards 9: the population has 4 regions with people"),
        (("--checkpoint-every", "0"), "--checkpoint-every 0: give 1 month or more"),
        (("--scheme", "suining-2010"), "--scheme suining-2010: the scenario has layers"),
    ):
        refused = scslab("--out", str(tmp_path / "no"), *flags)
        assert refused.returncode == 2 and said in refused.stderr, refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
        assert not (tmp_path / "no").exists()


def test_suining_starts_and_is_abandoned_within_the_built_in_run(tmp_path: Path) -> None:
    """`suining-2010-2011`: the pilot is in force from 2010-01 (sourced) until 2011-01 (assumed)
    in a run from 2009-07 to 2011-06; its results hold exactly its twelve months, starting at
    the base, while the bureau score beside it runs all 24."""
    scenario = load_scenario("suining-2010-2011")
    assert scenario.layer_months() == {"bureau": (0, 24), "suining": (6, 18)}
    small = scenario.model_copy(
        update={"population": scenario.population.model_copy(update={"agents": 1500})}
    )
    results = run_layered(LayeredSimulation(small), tmp_path / "out")
    suining = tables(results["suining"])
    dates = sorted({str(r[1])[:7] for r in suining["steps"]})
    assert dates == [f"2010-{m:02d}" for m in range(1, 13)]
    assert {r[1] for r in suining["panel"]}  # a panel, whose scores all start at the base
    first = [r for r in suining["panel"] if r[0] == 0]
    assert all(r[-2] == 1000 for r in first)  # score_before
    assert len({str(r[1])[:7] for r in tables(results["bureau"])["steps"]}) == 24


def test_the_ledger_of_a_layered_scenario_names_outputs_by_layer_in_one_line(
    tmp_path: Path,
) -> None:
    """`scslab assumptions` of a layered scenario ranks each layer's outputs (its ledger:
    tests/sweep/test_ledger_layers.py); a one-layer output name is refused in one line, status 2,
    with the layered name, before any run."""
    from helpers import scslab as cli

    (tmp_path / "layered.yaml").write_text(
        "population: {agents: 2000}\nyears: 0.5\nlayers:\n"
        "  - {id: spc, scheme: defaulter-blacklist}\n"
        "  - {id: city, scheme: suining-2010, where: [city-centre]}\n"
    )
    done = cli(
        "assumptions",
        "layered.yaml",
        "--outputs",
        "audit.listed_rate",
        "--out",
        "out",
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert "named <layer id>:<output>, e.g. 'spc:audit.listed_rate'" in done.stderr
    assert not (tmp_path / "out").exists()


def test_a_layer_of_several_is_replayed_with_its_whole_layered_run(tmp_path: Path) -> None:
    """A layer that reads no other layer, in a run of two layers, shared their acts: its replay
    (as `scslab audit` makes it) is the whole layered run's, and gives the layer's record bit for
    bit; its stored one-layer scenario run alone is another run."""
    from scslab.analysis.replay import replay, source

    layered = Scenario.model_validate(
        {
            "population": {"agents": 500},
            "years": 2 / 12,
            "seed": 3,
            "panel": 0,
            "layers": [
                {"id": "spc", "scheme": "defaulter-blacklist"},
                {"id": "city", "scheme": "rongcheng-2014", "where": ["towns"]},
            ],
        }
    )
    results = run_layered(LayeredSimulation(layered), tmp_path / "out")
    held = LayeredSimulation(layered).execute().runs[1].record
    assert source(results["city"])["layered"]["layer"] == "city"
    _, again = replay(results["city"])
    for name in ("ev_true", "ev_rec", "grade", "listed", "flow"):
        assert np.array_equal(getattr(again, name), getattr(held, name)), name
    alone, _ = Simulation(Scenario.from_text(results["city"].run()["scenario"])).execute()
    assert not np.array_equal(alone.ev_true, held.ev_true)
    # so its folder copied away from the run's is refused rather than replayed as another run
    away = tmp_path / "away"
    shutil.copytree(tmp_path / "out" / "layers" / "city", away)
    with Results(away) as r, pytest.raises(ScslabError, match="needs that run's folder"):
        replay(r)
    assert results["city"].run()["with_layers"]
