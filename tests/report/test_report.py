"""report.html: one self-contained page with the run's figures, audit and timelines."""

from __future__ import annotations

import re
from pathlib import Path

from helpers import scslab
from scslab import PopulationSpec, Results, Scenario, Simulation


def test_the_report_is_self_contained_and_holds_every_part(tmp_path: Path) -> None:
    """Plotly's JavaScript is embedded once, no script is fetched, and every figure is there."""
    sc = Scenario(scheme="defaulter-blacklist", population=PopulationSpec(agents=5000), years=2)
    Simulation(sc).run(tmp_path / "run")
    done = scslab("report", tmp_path / "run")  # a wide terminal: the path is not wrapped
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "run" / "report.html").read_text()
    assert page.count("plotly.js v") == 1  # the library, once
    assert not re.search(r"<script[^>]+src=", page)  # nothing loaded from elsewhere
    for title in (
        "Score distribution over time",
        "List sizes over time",
        "List entries, exits by reason, and blocked attempts",
        "People under sanctions and rewards, by life domain",
        "True, recorded and false events over the run",
        "Cross-context punishment",
        "Three panel people",
    ):
        assert title in page, title
    # scores, lists, list flows, sanctions and rewards, events (this scheme has no grades), three
    # timelines
    assert page.count("Plotly.newPlot") == 8
    assert "report.html" in done.stdout


def test_panel_people_with_the_most_happening_are_shown(tmp_path: Path) -> None:
    """The three timelines are of panel people with the most spells."""
    from scslab.report.html import panel_people

    sc = Scenario(scheme="suining-2010", population=PopulationSpec(agents=3000), years=2)
    results = Simulation(sc).run(tmp_path / "run")
    people = panel_people(results)
    assert len(people) == 3
    counts = dict(
        Results(tmp_path / "run")
        .sql("SELECT person, count(*) FROM panel_spells GROUP BY person")
        .fetchall()
    )
    top = [*sorted(counts.values(), reverse=True), 0, 0, 0][:3]
    assert sorted((counts.get(p, 0) for p in people), reverse=True) == top


def test_a_run_with_a_start_month_dates_the_time_axes(tmp_path: Path) -> None:
    """With `start:` the report's time axes show calendar months, and its first table says the
    first month; list flows and blocked purchases get their own figure."""
    from scslab.report.html import build, list_flows, score_distribution

    sc = Scenario(
        scheme="defaulter-blacklist",
        population=PopulationSpec(agents=3000),
        years=0.5,
        start="2013-11",
        panel=10,
    )
    r = Simulation(sc).run(tmp_path / "run")
    assert list(score_distribution(r).data[0].x) == [
        "2013-11",
        "2013-12",
        "2014-01",
        "2014-02",
        "2014-03",
        "2014-04",
    ]
    flows = list_flows(r)
    assert flows is not None
    names = {trace.name for trace in flows.data}
    assert "entries: judgment-defaulters" in names and "blocked: buy-flight-ticket" in names
    assert all(trace.x[-1] == "2014-04" for trace in flows.data)
    assert "<td>first month</td><td>2013-11</td>" in build(r).replace("\n", "")


def test_a_layered_run_has_one_report_with_every_layer(tmp_path: Path) -> None:
    """`scslab report` on a layered run's folder writes one self-contained page at its top: the
    layers, their sanctions and lists together by month, then each layer's figures, audit and
    panel people; the page of one layer's folder is that layer's own report."""
    from scslab.engine.layers import LayeredSimulation
    from scslab.layered import run_layered

    scenario = Scenario.model_validate(
        {
            "population": {"agents": 1500},
            "years": 0.5,
            "panel": 50,
            "layers": [
                {"id": "spc", "scheme": "defaulter-blacklist"},
                {"id": "city", "scheme": "suining-2010", "where": ["city-centre"]},
            ],
        }
    )
    run_layered(LayeredSimulation(scenario), tmp_path / "run")
    done = scslab("report", tmp_path / "run")
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "run" / "report.html").read_text()
    assert page.count("plotly.js v") == 1 and not re.search(r"<script[^>]+src=", page)
    assert "People under sanctions and list places, by layer and month" in page
    assert "Sanction-months per 1,000 people over the run" in page
    # the villages are outside the city's layer: they bear the court's alone
    villages = re.search(r"<tr><td>villages</td>(.*?)</tr>", page)
    assert villages is not None and villages.group(1).count("not covered") == 1
    for lid in ("spc", "city"):
        assert f"<h2>Layer {lid}: " in page, lid
    assert page.count("Cross-context punishment") == 2
    assert page.count("Three panel people") == 2
    refused = scslab("report", tmp_path / "run", "--ledger", tmp_path / "x.json")
    assert refused.returncode == 2 and "--ledger" in refused.stderr
