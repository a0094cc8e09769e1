"""Sweeps of a layered base scenario: parameters into its layers, each layer's outputs and those
over all layers, the same file from Dask as from one process, and refused mistakes."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pytest

from scslab.engine.layers import LayeredSimulation
from scslab.engine.scenario import Scenario
from scslab.errors import ScenarioError
from scslab.sweep import Sweep, run_sweep
from scslab.sweep.outputs import run_outputs
from scslab.sweep.task import run_one

#: Two layers over 500 people for a year: the court's list everywhere, and Rongcheng's score in
#: the city centre from month 3 until month 9 (two schemes with sanctions, so that some people
#: are under both).
LAYERED = """\
base:
  population: {agents: 500}
  years: 1
  panel: 0
  layers:
    - id: spc
      scheme: defaulter-blacklist
    - id: city
      scheme: rongcheng-2014
      where: [city-centre]
      from: 3
      until: 9
"""

GRID = LAYERED + (
    "parameters:\n"
    "  layers.1.until: {values: [6, 10]}\n"
    "design: {kind: grid}\n"
    "replicates: 2\n"
    "outputs: [city:events.recorded, spc:lists.judgment-defaulters, layers.sanctioned]\n"
)


def table(path: Path, sql: str) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def grid() -> Sweep:
    return Sweep.from_text(GRID, source="grid.yaml")


def test_each_layers_outputs_are_its_scheme_run_alone(grid: Sweep) -> None:
    """A layered point's outputs under ``<layer id>:`` are exactly what that layer of the
    layered run gives (its scheme over the acts the layers share), its months placed at the
    run's months; the figures over all layers add up person by person."""
    sweep = grid
    scenario = Scenario.model_validate_json(sweep.runs[0].scenario)
    got = run_one("k", sweep.runs[0].scenario)
    assert got.status == "complete", got.error
    months = scenario.steps
    sanctioned_alone = np.zeros(months)
    sanction_months = 0
    ever_alone = []
    lsim = LayeredSimulation(scenario)
    done = lsim.execute()
    for layer, ls, run in zip(scenario.layers or (), lsim.layers, done.runs, strict=True):
        sim, record, first, end = ls.sim, run.record, ls.first, ls.end
        assert layer.id == ls.id
        alone, monthly = run_outputs(sim, record)
        assert {
            k.split(":", 1)[1]: v for k, v in got.outputs.items() if k.startswith(f"{layer.id}:")
        } == alone
        for name, series in monthly.items():
            mine = got.steps[f"{layer.id}:{name}"]
            assert np.array_equal(mine[first:end], series, equal_nan=True), name
            assert np.isnan(mine[:first]).all() and np.isnan(mine[end:]).all()
        under = record.anyc[: record.done, :, 0].sum(axis=1)
        sanctioned_alone[first:end] = np.maximum(sanctioned_alone[first:end], under)
        sanction_months += int(under.sum())
        ever_alone.append(int(np.count_nonzero(sim.last_run.ever & 1)))
    # each person once: at least the most any layer has, at most the sum
    union = got.steps["layers.sanctioned"]
    assert (union >= sanctioned_alone).all()
    assert got.outputs["layers.sanctioned"] == union[-1]
    assert got.outputs["layers.sanction_months"] == sanction_months
    assert got.steps["layers.sanction_months"].sum() == sanction_months
    both = sanction_months - union.sum()  # sanction-months of people under both layers' at once
    assert both >= 0
    n = scenario.population.agents
    ever = got.outputs["layers.audit.sanctioned_rate"] * n
    assert max(ever_alone) <= ever <= sum(ever_alone)
    assert sum(ever_alone) > 0


def test_a_layered_sweep_fills_its_file_as_one_layer_sweeps_do(
    grid: Sweep, cluster: str, tmp_path: Path
) -> None:
    """A grid over ``layers.1.until``, two replicates: the runs table holds each point's value
    and seeds base + r, the outputs of every layer and over all layers, the steps in the run's
    months (a layer's from its ``from``), and Dask writes what this process writes."""
    sweep = grid
    assert sweep.outputs[0] == "city:events.recorded"
    here = run_sweep(sweep, tmp_path / "here", serial=True)
    assert here.complete and here.outcome.done == 4
    db = here.database
    rows = table(
        db, 'SELECT point, replicate, seed, "layers.1.until" FROM runs ORDER BY point, replicate'
    )
    assert rows == [(p, r, r, (6, 10)[p]) for p in range(2) for r in range(2)]
    # a later `until` keeps the city's scheme in force longer: its months end later
    ends = dict(
        table(
            db,
            'SELECT r."layers.1.until", max(s.step) FROM steps s JOIN runs r USING (run) '
            "WHERE s.output = 'city:events.true' GROUP BY ALL",
        )
    )
    assert ends == {6: 5, 10: 9}
    firsts = table(
        db,
        "SELECT DISTINCT split_part(output, ':', 1), min(step) FROM steps "
        "WHERE output LIKE '%:events.true' GROUP BY ALL ORDER BY 1",
    )
    assert firsts == [("city", 3), ("spc", 0)]
    names = {str(n) for (n,) in table(db, "SELECT DISTINCT output FROM outputs")}
    assert {"layers.sanctioned", "layers.sanction_months", "layers.audit.listed_rate"} <= names
    assert {n.split(":")[0] for n in names if ":" in n} == {"spc", "city"}
    # each analysed output per point, over its replicates; the court's list does not read the
    # city's scheme, so when the city's ends changes nothing there
    court = here.means["spc:lists.judgment-defaulters"]
    assert court.shape == (2,) and court[0] == court[1]
    assert here.means["city:events.recorded"][0] < here.means["city:events.recorded"][1]
    on_dask = run_sweep(sweep, tmp_path / "dask", cluster=cluster)
    assert on_dask.complete
    query = "SELECT run, output, value FROM outputs ORDER BY run, output"
    assert table(on_dask.database, query) == table(db, query)
    query = "SELECT run, output, step, value FROM steps ORDER BY run, output, step"
    assert table(on_dask.database, query) == table(db, query)


def test_a_layered_morris_design_screens_each_layers_outputs(tmp_path: Path) -> None:
    """Morris over the month the city's scheme is abandoned: the city's records move with it,
    and so do the court's, which does not read the city: its people in the city centre share
    their acts with the city's layer, and the city deters them while it is in force."""
    spec = LAYERED + (
        "parameters:\n"
        "  layers.1.until: {range: [4, 12]}\n"
        "design: {kind: morris, trajectories: 2, levels: 4, seed: 1}\n"
        "outputs: [city:events.recorded, spc:events.recorded]\n"
    )
    report = run_sweep(Sweep.from_text(spec, source="m.yaml"), tmp_path / "m", serial=True)
    assert report.screening is not None
    city = report.screening["city:events.recorded"]["layers.1.until"]
    court = report.screening["spc:events.recorded"]["layers.1.until"]
    assert city["mu_star"] is not None and city["mu_star"] > 0
    assert court["mu_star"] is not None and court["mu_star"] > 0


@pytest.mark.parametrize(
    ("body", "where", "message"),
    [
        (
            "parameters:\n  layers.2.until: {values: [5]}\n",
            "s.yaml:14:3",
            "unknown parameter 'layers.2.until': the base has 2 layer(s), layers.0 (spc), "
            "layers.1 (city)",
        ),
        (
            "parameters:\n  layers.1.untl: {values: [5]}\n",
            "s.yaml:14:3",
            "did you mean 'layers.1.until'?",
        ),
        (
            "parameters:\n  layers.0.id: {values: [court]}\n",
            "s.yaml:14:3",
            "a layer's id names its outputs",
        ),
        (
            "parameters:\n  layers.1.until: {range: [2, 9], steps: 2}\n",
            "s.yaml:14:28",
            "until month 2 is not after from month 3",
        ),
        (
            "parameters:\n  layers.1.where: {values: [[towns], [centre]]}\n",
            "s.yaml:14:38",
            "the population has no region 'centre'",
        ),
        (
            "parameters:\n  scheme: {values: [sesame-credit]}\n",
            "s.yaml:14:3",
            "vary a layer's, e.g. layers.0.scheme",
        ),
        (
            "parameters:\n  years: {values: [1]}\noutputs: [town:grades.A]\n",
            "s.yaml:15:11",
            "'town:grades.A' names layer 'town', which the base does not have; its layers are "
            "city, spc",
        ),
        (
            "parameters:\n  years: {values: [1]}\noutputs: [grades.A]\n",
            "s.yaml:15:11",
            "e.g. 'city:grades.A'",
        ),
    ],
    ids=["no-layer", "misspelt", "id", "until-before-from", "region", "scheme", "output", "bare"],
)
def test_layered_mistakes_are_refused_where_they_are(body: str, where: str, message: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        Sweep.from_text(LAYERED + body + "design: {kind: grid}\n", source="s.yaml")
    text = str(caught.value)
    assert text.startswith(f"{where}: "), text
    assert message in text


def test_a_layered_path_into_a_one_scheme_base_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """On the command line (its entry point, in this process): one line, status 2, nothing
    written."""
    from scslab.cli import main

    spec = tmp_path / "s.yaml"
    spec.write_text(
        "base: {years: 0.5, population: {agents: 300}}\n"
        "parameters:\n  layers.0.until: {values: [3]}\ndesign: {kind: grid}\n",
        encoding="utf-8",
    )
    monkeypatch.setattr("sys.argv", ["scslab", "sweep", str(spec), "--out", str(tmp_path / "o")])
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "s.yaml:3:3: unknown parameter 'layers.0.until': the base scenario has no" in err
    assert not (tmp_path / "o").exists()


def test_the_docs_show_the_layered_example_spec_as_its_file_has_it() -> None:
    """docs/sweeps.md's layered spec is, line for line, examples/sweep-layers.yaml (whose sweep
    the doc tests run)."""
    root = Path(__file__).resolve().parents[2]
    lines = (root / "docs" / "sweeps.md").read_text(encoding="utf-8").splitlines()
    (k,) = [k for k, line in enumerate(lines) if line.startswith("<!-- snippet: ")]
    path = lines[k][len("<!-- snippet: ") : -len(" -->")]
    assert path == "examples/sweep-layers.yaml"
    end = lines.index("```", k + 2)
    assert "\n".join(lines[k + 2 : end]) in (root / path).read_text(encoding="utf-8")
