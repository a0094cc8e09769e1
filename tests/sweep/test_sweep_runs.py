"""Running sweeps: what the DuckDB file holds, reruns that skip, and Dask that changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pytest
from sweep_helpers import TINY_BASE

from scslab.engine.scenario import Scenario
from scslab.errors import ResourceError
from scslab.population import PopulationSpec
from scslab.population.network import NetworkSpec
from scslab.runs import Simulation
from scslab.sweep import Sweep, run_sweep
from scslab.sweep.outputs import flatten, output_names, run_outputs
from scslab.sweep.sobol import sobol_indices
from scslab.sweep.task import run_one

GRID = TINY_BASE + (
    "parameters:\n"
    "  observation.camera_reach: {range: [1, 9], steps: 2}\n"
    "  adaptation.deterrence.enabled: {values: [true, false]}\n"
    "design: {kind: grid}\n"
    "replicates: 2\n"
    "outputs: [events.recorded, grades.B]\n"
)

SOBOL = TINY_BASE + (
    "parameters:\n"
    "  observation.camera_reach: {range: [1, 20]}\n"
    "  observation.camera_false_match_rate: {range: [0, 0.05]}\n"
    "  adaptation.deterrence.elasticity: {range: [0, 3]}\n"
    "design: {kind: sobol, samples: 4, seed: 2}\n"
    "outputs: [events.false, grades.D]\n"
)


def table(path: Path, sql: str) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def sizes(path: Path) -> dict[str, int]:
    return {t: table(path, f"SELECT count(*) FROM {t}")[0][0] for t in ("runs", "outputs", "steps")}


@pytest.mark.parametrize(
    "scenario",
    [
        Scenario(population=PopulationSpec(agents=3000), years=1, seed=3, panel=0),
        Scenario(
            scheme="sesame-credit",
            population=PopulationSpec(agents=2000),
            network=NetworkSpec(mean_degree=6),
            years=0.5,
            panel=0,
        ),
        Scenario(scheme="corporate-scs", population=PopulationSpec(agents=6000), years=0.5),
    ],
    ids=["default", "network", "firms"],
)
def test_a_runs_outputs_are_the_figures_of_scslab_run(scenario: Scenario, tmp_path: Path) -> None:
    """What a worker sends back equals ``Results.summary`` of the same run written to disk, and
    the outputs known before a run are exactly those it produces."""
    results = Simulation(scenario).run(tmp_path / "run")
    expected = flatten(results.summary())
    results.close()
    got = run_one("k", scenario.model_dump_json())
    assert got.status == "complete", got.error
    assert {k: v for k, v in got.outputs.items() if not k.startswith("audit.")} == expected
    # a risk ratio or difference is left out where its groups are empty
    names = set(output_names(Simulation(scenario)))
    optional = ("audit.rr.", "audit.rd.")
    assert {n for n in names if not n.startswith(optional)} <= set(got.outputs) <= names
    # month by month: event counts add up to the run's, the last month's state is the run's
    for kind in ("true", "recorded", "false"):
        assert got.steps[f"events.{kind}"].sum() == got.outputs[f"events.{kind}"]
    for name, value in got.outputs.items():
        if name.startswith(("grades.", "lists.", "sanctions.", "rewards.")):
            assert got.steps[name][-1] == value, name
    assert all(len(series) == scenario.steps for series in got.steps.values())


def test_a_run_after_one_with_other_rates_uses_the_catalogues_own_rates() -> None:
    """A worker keeps the act catalogue it parsed for the next runs, but not the rates a run
    set: a run without ``rates`` after one with them gives what a fresh engine gives."""
    plain = Scenario(population=PopulationSpec(agents=1500), years=0.5, panel=0)
    faster = plain.model_copy(update={"rates": {"jaywalking": 3.0}})
    varied = run_one("a", faster.model_dump_json())
    after = run_one("b", plain.model_dump_json())
    sim = Simulation(plain)
    record, _ = sim.execute()
    fresh, _ = run_outputs(sim, record)
    assert after.outputs == fresh
    assert varied.outputs["events.true"] > fresh["events.true"]


def test_the_file_holds_each_run_with_its_parameters_outputs_and_months(tmp_path: Path) -> None:
    """A 2 × 2 grid with 2 replicates: 8 rows in ``runs`` with the points' values and seeds,
    every output of every run, and every month."""
    sweep = Sweep.from_text(GRID, source="grid.yaml")
    report = run_sweep(sweep, tmp_path / "out", serial=True)
    db = report.database
    assert report.outcome.done == 8 and report.complete
    rows = table(
        db,
        'SELECT point, replicate, seed, "observation.camera_reach", '
        '"adaptation.deterrence.enabled", status FROM runs ORDER BY point, replicate',
    )
    assert rows == [
        (p, r, r, reach, enabled, "complete")
        for p, (reach, enabled) in enumerate([(1.0, True), (1.0, False), (9.0, True), (9.0, False)])
        for r in range(2)
    ]
    # every run has every output but a risk ratio or difference left out where its groups are
    # empty (docs/audit.md); the audit figures are the run's alone, with no months
    optional = ("audit.rr.", "audit.rd.")
    required = {n for n in sweep.available if not n.startswith(optional)}
    monthly = {n for n in sweep.available if not n.startswith("audit.")}
    stored_by_run: dict[str, set[str]] = {}
    for key, name in table(db, "SELECT run, output FROM outputs"):
        stored_by_run.setdefault(str(key), set()).add(str(name))
    assert len(stored_by_run) == 8
    for names in stored_by_run.values():
        assert required <= names <= set(sweep.available)
    months = table(db, "SELECT run, output, count(*), min(step), max(step) FROM steps GROUP BY ALL")
    assert sorted((str(k), str(n)) for k, n, *_ in months) == sorted(
        (k, n) for k in stored_by_run for n in monthly
    )
    assert {tuple(m[2:]) for m in months} == {(6, 0, 5)}
    n_rows = sum(len(names) for names in stored_by_run.values())
    assert sizes(db) == {"runs": 8, "outputs": n_rows, "steps": 8 * len(monthly) * 6}
    # each run's outputs are what that run gives on its own
    run = sweep.runs[5]
    alone = run_one(run.key, run.scenario).outputs
    stored = dict(table(db, f"SELECT output, value FROM outputs WHERE run = '{run.key}'"))
    assert stored == alone
    # cameras that reach more people record more acts: the per-point means in the report
    recorded = report.means["events.recorded"]
    assert recorded[2] > recorded[0] and recorded[3] > recorded[1]


def test_a_rerun_of_the_same_spec_skips_every_finished_run(tmp_path: Path) -> None:
    """The second run does no run at all and leaves the file's row counts as they were."""
    sweep = Sweep.from_text(GRID, source="grid.yaml")
    first = run_sweep(sweep, tmp_path / "out", serial=True)
    before = sizes(first.database)
    again = run_sweep(Sweep.from_text(GRID, source="grid.yaml"), tmp_path / "out", serial=True)
    assert (again.outcome.done, again.outcome.skipped, again.outcome.planned) == (0, 8, 8)
    assert sizes(again.database) == before
    np.testing.assert_array_equal(again.means["grades.B"], first.means["grades.B"])


def test_a_stopped_sweep_keeps_its_finished_runs_and_a_rerun_does_the_rest(tmp_path: Path) -> None:
    """Ctrl-C after three runs: those three are in the file; the rerun runs the other five."""

    def stop_after_three(done: int, total: int) -> None:
        if done == 3:
            raise KeyboardInterrupt

    sweep = Sweep.from_text(GRID, source="grid.yaml")
    with pytest.raises(KeyboardInterrupt):
        run_sweep(sweep, tmp_path / "out", serial=True, progress=stop_after_three)
    db = tmp_path / "out" / "sweep.duckdb"
    assert dict(table(db, "SELECT status, count(*) FROM runs GROUP BY ALL")) == {
        "complete": 3,
        "pending": 5,
    }
    rest = run_sweep(sweep, tmp_path / "out", serial=True)
    assert (rest.outcome.done, rest.outcome.skipped) == (5, 3)
    assert rest.complete


def test_a_folder_holding_another_sweep_is_refused(tmp_path: Path) -> None:
    run_sweep(Sweep.from_text(GRID, source="grid.yaml"), tmp_path / "out", serial=True)
    other = Sweep.from_text(GRID.replace("replicates: 2", "replicates: 3"), source="grid.yaml")
    with pytest.raises(ResourceError, match=r"different sweep .*replicates"):
        run_sweep(other, tmp_path / "out", serial=True)
    # asking for other outputs is the same sweep: nothing runs again
    same = Sweep.from_text(GRID.replace("grades.B]", "grades.A]"), source="grid.yaml")
    assert run_sweep(same, tmp_path / "out", serial=True).outcome.done == 0


def test_runs_on_a_dask_cluster_equal_runs_in_this_process(cluster: str, tmp_path: Path) -> None:
    """The same sweep on the shared LocalCluster and one by one here: the same outputs, bit for
    bit, spread over both workers."""
    sweep = Sweep.from_text(GRID, source="grid.yaml")
    on_dask = run_sweep(sweep, tmp_path / "dask", cluster=cluster)
    here = run_sweep(sweep, tmp_path / "here", serial=True)
    query = "SELECT run, output, value FROM outputs ORDER BY run, output"
    assert table(on_dask.database, query) == table(here.database, query)
    workers = table(on_dask.database, "SELECT DISTINCT worker FROM runs")
    assert len(workers) == 2 and all(str(w[0]).startswith("tcp://") for w in workers)


def test_a_sobol_sweep_on_dask_gives_indices_for_each_output_and_a_plot(
    cluster: str, tmp_path: Path
) -> None:
    """Indices for every analysed output and parameter; an output that never varies has none."""
    report = run_sweep(Sweep.from_text(SOBOL, source="s.yaml"), tmp_path / "out", cluster=cluster)
    assert report.outcome.done == 4 * 5 and report.indices is not None
    params = list(report.sweep.parameters)
    false = report.indices["events.false"]
    assert list(false) == params
    assert all(v["ST"] is not None and v["ST_conf"] is not None for v in false.values())
    if np.ptp(report.means["grades.D"]) == 0:  # nobody reaches D in half a year
        assert all(v["S1"] is None for v in report.indices["grades.D"].values())
    page = (tmp_path / "out" / "sobol.html").read_text()
    assert "events.false" in page and "plotly" in page.lower()
    json.dumps(report.indices)  # JSON-ready: no NaN objects, only numbers and None


def test_sobol_indices_find_the_one_parameter_an_output_depends_on() -> None:
    """An output that is the second parameter alone: its S1 and ST near 1, the others' near 0."""
    sweep = Sweep.from_text(SOBOL.replace("samples: 4", "samples: 512"), source="s.yaml")
    assert sweep.samples is not None
    y = sweep.samples[:, 1] * 100
    indices = sobol_indices(sweep, {"y": y})["y"]
    rate = "observation.camera_false_match_rate"
    assert indices[rate]["S1"] == pytest.approx(1, abs=0.1)
    assert indices[rate]["ST"] == pytest.approx(1, abs=0.1)
    for p in ("observation.camera_reach", "adaptation.deterrence.elasticity"):
        assert abs(indices[p]["S1"] or 0) < 0.05 and abs(indices[p]["ST"] or 0) < 0.05
