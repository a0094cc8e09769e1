"""`scslab compare` with a layered scenario beside a scheme: the same people, a column per layer
as the layered run's audit gives it, and one column of all layers about the whole population.

One comparison of a small run (300 people, 6 months) is shared by the tests: the court's list
alone against a patchwork of the court's list everywhere, a Sesame that reads it in three regions,
and a city score in the towns that comes into force in month 2 and is abandoned in month 4.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from scslab.analysis.compare import (
    ALL_LAYERS,
    LAYER,
    NOT_ACROSS_LAYERS,
    base_of,
    checked,
    common_base,
)
from scslab.engine.scenario import Scenario, builtin_path, load_scenario
from scslab.errors import ScenarioError
from scslab.store.layered import open_layered
from scslab.store.results import Results

SESAME = builtin_path("patchwork-2018/sesame")  # the Sesame that reads the court's list

PATCHWORK = f"""\
start: 2018-01
years: 1
seed: 4
population: {{agents: 5000}}
network: {{mean_degree: 20}}
rates: {{unpaid-judgment: 0.2}}   # far above the court's, so that the list and its links act
layers:
  - {{id: spc, scheme: defaulter-blacklist}}
  - {{id: sesame, scheme: {SESAME}, where: [city-centre, suburbs, towns]}}
  - {{id: city, scheme: rongcheng-2014, where: [towns], from: 2018-03, until: 2018-05}}
"""
#: the figures of a column of its own (what a row is aside)
FIGURES = (
    "sanctioned_share",
    "listed_share",
    "rewarded_share",
    "sanction_months_per_person",
    "cross_context_share",
    "wrongful_sanctions_per_100k",
    "listed_only_by_false_records",
    "rights_share_of_sanctions",
    "chilling",
    "deterrence",
    "worst_four_fifths_ratio",
    "true_acts",
    "records",
    "false_records",
)
#: each person of a run's panel (everyone here) as drawn: the same people have the same rows
PEOPLE = (
    "SELECT person, household, region, hukou, age, income FROM panel WHERE step = 0 ORDER BY person"
)


def cli(*args: str | Path) -> Any:
    from scslab.cli import _register, app

    _register()
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("compare")
    (tmp / "patchwork.yaml").write_text(PATCHWORK, encoding="utf-8")
    done = cli(
        "compare",
        "defaulter-blacklist",
        tmp / "patchwork.yaml",
        "--agents",
        "300",
        "--years",
        "0.5",
        "--out",
        tmp / "cmp",
        "--json",
    )
    assert done.exit_code == 0, done.output
    out: dict[str, Any] = json.loads(done.stdout)
    return out


def test_the_flags_set_the_layered_scenarios_people_and_months_and_it_sets_the_rest(
    report: dict[str, Any],
) -> None:
    """--agents and --years override the scenario's; its calendar and seed are every column's."""
    assert (report["agents"], report["months"], report["start"], report["seed"]) == (
        300,
        6,
        "2018-01",
        4,
    )
    item = report["items"]["patchwork"]
    assert item["kind"] == "layered"
    assert item["columns"] == ["patchwork/spc", "patchwork/sesame", "patchwork/city", "patchwork"]
    assert report["items"]["defaulter-blacklist"]["columns"] == ["defaulter-blacklist"]
    with open_layered(item["path"]) as run:
        assert run.agents == 300 and run.months == 6
        for layer in run.layers:
            row = report["schemes"][f"patchwork/{layer.id}"]
            assert (row["kind"], row["layer"], row["people"]) == (LAYER, layer.id, layer.people)
            assert (row["from"], row["until"]) == (layer.first, layer.end)
    assert (
        report["schemes"]["patchwork/city"]["from"],
        report["schemes"]["patchwork/city"]["until"],
    ) == (2, 4)
    assert report["schemes"]["patchwork/sesame"]["people"] < 300


def test_the_court_alone_runs_on_the_patchworks_people_calendar_and_rates(
    report: dict[str, Any],
) -> None:
    """The scheme named alone runs on what the layered scenario (with the flags) sets: its stored
    scenario is the patchwork's without the layers, and its people are the court layer's (a
    layer everywhere), person by person."""
    folder = report["items"]["patchwork"]["path"]
    with Results(report["schemes"]["defaulter-blacklist"]["path"]) as alone:
        stored = Scenario.from_text(alone.run()["scenario"])
        people = alone.sql(PEOPLE).fetchall()
    with open_layered(folder) as run:
        layered = Scenario.from_text(run.scenario)
        layer_people = run.results("spc").sql(PEOPLE).fetchall()
    assert base_of(stored) == base_of(layered)
    assert (stored.start, stored.years, stored.seed, stored.population.agents) == (
        "2018-01",
        0.5,
        4,
        300,
    )
    assert stored.rates == {"unpaid-judgment": 0.2} and stored.network is not None
    assert len(people) == 300 and people == layer_people
    alone_row = report["schemes"]["defaulter-blacklist"]
    assert alone_row["listed_share"] > 0 and alone_row["sanction_months_per_person"] > 0


def test_the_court_alone_and_the_patchworks_court_layer_are_not_the_same_run(
    report: dict[str, Any],
) -> None:
    """docs/layers.md ("The same acts"): the one scheme named alone and the same scheme as a
    layer everywhere that reads no other layer have the same people and months, but the layer's
    people share the patchwork's acts, deterred by Sesame and the city as well: not the same
    run."""
    alone, layer = report["schemes"]["defaulter-blacklist"], report["schemes"]["patchwork/spc"]
    for key in ("people", "from", "until"):
        assert alone[key] == layer[key], key
    assert alone["true_acts"] != layer["true_acts"]


def test_each_layers_figures_are_what_scslab_audit_reports_on_the_layered_run(
    report: dict[str, Any],
) -> None:
    folder = report["items"]["patchwork"]["path"]
    done = cli("audit", folder, "--json")
    assert done.exit_code == 0, done.output
    audits = json.loads(done.stdout)["layers"]
    for lid, a in audits.items():
        row = report["schemes"][f"patchwork/{lid}"]
        assert row["cross_context_share"] == a["cross_context"]["share"]
        assert (
            row["wrongful_sanctions_per_100k"]
            == a["wrongful"]["sanctions_with_a_false_record_among_causes_per_100k"]
        )
        assert row["deterrence"] == a["deterrence"]["change_in_scored_offences"]
        assert row["chilling"] == a["rights"]["chilling"]["change_in_lawful_rights_activity"]
        assert (
            row["listed_only_by_false_records"]
            == a["counterfactual"]["share_of_listed_at_end_not_listed_without_false_records"]
        )
    # Sesame's bans on the court's defaulters make its sanctions out of context
    assert report["schemes"]["patchwork/sesame"]["cross_context_share"] > 0


def test_all_layers_counts_each_person_once_among_everyone(report: dict[str, Any]) -> None:
    """People under a sanction, on a list, holding a reward of any layer in force at the end
    (the city layer was abandoned in month 4), read back person by person from each layer's
    panel (everyone is in it); sums over the layers."""
    rows = report["schemes"]
    everyone = rows["patchwork"]
    assert everyone["kind"] == ALL_LAYERS and everyone["people"] == 300
    assert all(everyone[key] is None for key in NOT_ACROSS_LAYERS)
    ids = ("spc", "sesame", "city")
    folder = Path(report["items"]["patchwork"]["path"])
    for kind, key in (
        ("sanction", "sanctioned_share"),
        ("list", "listed_share"),
        ("reward", "rewarded_share"),
    ):
        held: set[int] = set()
        for lid in ("spc", "sesame"):  # the layers in force at the end
            with Results(folder / "layers" / lid) as r:
                held |= {
                    int(p)
                    for (p,) in r.sql(
                        f"SELECT DISTINCT person FROM panel_spells WHERE kind = '{kind}' "
                        "AND end_step IS NULL"
                    ).fetchall()
                }
        assert everyone[key] * 300 == pytest.approx(len(held)), kind
        for lid in ("spc", "sesame"):
            row = rows[f"patchwork/{lid}"]
            assert everyone[key] * 300 >= row[key] * row["people"] - 1e-9, (kind, lid)
    assert everyone["sanctioned_share"] > 0 and everyone["rewarded_share"] > 0
    months = [
        rows[f"patchwork/{lid}"]["sanction_months_per_person"] * rows[f"patchwork/{lid}"]["people"]
        for lid in ids
    ]
    assert everyone["sanction_months_per_person"] * 300 == pytest.approx(sum(months))
    assert everyone["records"] == sum(rows[f"patchwork/{lid}"]["records"] for lid in ids)
    shares = [rows[f"patchwork/{lid}"]["cross_context_share"] for lid in ids]
    assert min(shares) <= everyone["cross_context_share"] <= max(shares)


def test_the_table_shows_each_columns_people_and_months(report: dict[str, Any]) -> None:
    from rich.console import Console

    from scslab.cli import compare as command

    shown = Console(width=250, record=True)
    old, command.console = command.console, shown
    try:
        command.show(report)
    finally:
        command.console = old
    text = shown.export_text()
    lines = {line.split("│")[0].strip(): line for line in text.splitlines() if "│" in line}
    assert "patchwork/city" in text and "(all layers)" in text
    assert "2018-03 to 2018-04" in lines["months of the run"]
    assert lines["true acts"].rstrip().endswith("—")
    people = [c.strip() for c in lines["people"].split("│")[1:]]
    assert people[0] == people[1] == people[-1] == "300"


def test_layered_scenarios_must_share_everything_but_their_layers(tmp_path: Path) -> None:
    """Two layered scenarios with the same settings run on one base; different ones, a scenario
    of one scheme, an unknown name, are refused before anything runs."""
    patchwork = load_scenario("patchwork-2018")
    assert patchwork.layers is not None
    (tmp_path / "court.yaml").write_text(
        Scenario.model_validate(
            {
                **patchwork.model_dump(),
                "scheme": "defaulter-blacklist",
                "layers": [patchwork.layers[0].model_dump()],
            }
        ).to_yaml(),
        encoding="utf-8",
    )
    items = checked(["patchwork-2018", str(tmp_path / "court.yaml"), "financial-only"])
    base = common_base(items, Scenario())
    assert base.layers is None and base.start == "2018-01" and base.rates == patchwork.rates
    for names, says in (
        (["patchwork-2018", "suining-2010-2011"], "differ in population, network, start"),
        (["spc-defaulters", "patchwork-2018"], "name its scheme, defaulter-blacklist"),
        (["patchwrk-2018", "financial-only"], "did you mean 'patchwork-2018'?"),
        (["corporate-scs", "patchwork-2018"], "enterprises (corporate-scs) and individuals"),
        (["patchwork-2018", "patchwork-2018"], "named twice"),
    ):
        with pytest.raises(ScenarioError, match=re.escape(says)):
            common_base(checked(names), Scenario())
    done = cli("compare", "financial-only", "suining-2010-2011", "--years", "0.25")
    assert isinstance(done.exception, ScenarioError)
    assert str(done.exception).startswith("suining-2010-2011 with --years 0.25: layers.1.from")
