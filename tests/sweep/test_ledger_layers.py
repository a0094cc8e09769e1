"""The assumption ledger of a layered scenario: the catalogue's and the scenario's assumed numbers
once, each layer's scheme's as that layer's (``layers.<n>.scheme_values.<...>``), the numbers the
scenario gives a layer held; each layer's headline outputs ranked; audit and report print each
layer's notes, and refuse a ledger of another scenario."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_ledger import CATALOGUE, SCHEME
from typer.testing import CliRunner

from scslab.engine.layers import LayeredSimulation
from scslab.engine.scenario import Scenario, load_scenario
from scslab.errors import ScslabError
from scslab.sweep.ledger import LEDGER, Sizes, assumed_factors, build_ledger

#: The planted scheme's act scored in a city layer, its points assumed; a second act's points
#: assumed too, and given by the scenario (held).
CITY = SCHEME.replace("id: planted", "id: city-points", 1).replace(
    "  - {id: drive, category: finance, points: -10, domain: finance, source: paper}",
    "  - {id: drive, category: finance, points: -10, domain: finance, assumed: true}\n"
    "  - {id: noise-a, category: finance, points: -5, domain: finance, assumed: true}",
)

LAYERED = """\
acts: acts.yaml
years: 0.5
panel: 0
population: {agents: 300}
adaptation: {deterrence: {enabled: false}, chilling: {enabled: false}}
layers:
  - id: court
    scheme: planted.yaml
  - id: city
    scheme: city.yaml
    where: [city-centre]
    scheme_values: {events: {noise-a: {points: -7}}}
"""

SIZES = Sizes(agents=300, years=0.5, trajectories=2, sobol_samples=4, top=1)


def cli(*args: str | Path) -> Any:
    from scslab.cli import _register, app

    _register()
    return CliRunner().invoke(app, [str(a) for a in args])


def layered(folder: Path) -> Scenario:
    (folder / "acts.yaml").write_text(CATALOGUE, encoding="utf-8")
    (folder / "planted.yaml").write_text(SCHEME, encoding="utf-8")
    (folder / "city.yaml").write_text(CITY, encoding="utf-8")
    (folder / "layered.yaml").write_text(LAYERED, encoding="utf-8")
    return Scenario.from_yaml(folder / "layered.yaml")


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The tiny layered scenario's ledger, written into the folder of a run of it."""
    tmp = tmp_path_factory.mktemp("ledger-layers")
    scenario = layered(tmp)
    from scslab.layered import run_layered

    run_layered(LayeredSimulation(scenario), tmp / "run")
    return tmp, build_ledger(scenario, tmp / "run", name="layered", sizes=SIZES)


def test_patchwork_has_each_layers_assumed_numbers_as_its_factors() -> None:
    """patchwork-2018: the catalogue's and the scenario's numbers once, each layer's scheme's
    under ``layers.<n>.scheme_values``; the listing and repair the scenario gives the court's
    layer (fitted by calibration) are held at its values; Sesame's link to the court's list, a
    number of the layer's scheme file, is found."""
    factors = assumed_factors(load_scenario("patchwork-2018"))
    names = [f.name for f in factors]
    assert len(names) == len(set(names))
    paths = [f.path for f in factors if f.varied]
    assert len(paths) == len(set(paths))
    by = {f.name: f for f in factors}
    assert by["catalogue: acts.loan-default.rate"].path == "rates.loan-default"
    assert by["catalogue: acts.loan-default.rate"].layer is None
    for k, lid in enumerate(("spc", "sesame", "rongcheng")):
        mine = [f for f in factors if f.layer == lid]
        assert mine and all(f.name.startswith(f"layer {lid}, scheme ") for f in mine)
        assert all(f.path.startswith(f"layers.{k}.scheme_values.") for f in mine if f.varied)
    sesame = by["layer sesame, scheme sesame-credit-linked: events.loan-default.points"]
    assert sesame.path == "layers.1.scheme_values.events.loan-default.points"
    assert sesame.value == -229 and sesame.varied
    rongcheng = by["layer rongcheng, scheme rongcheng-2014-linked: events.volunteering.points"]
    assert rongcheng.path == "layers.2.scheme_values.events.volunteering.points"
    held = by["layer spc, scheme defaulter-blacklist: lists.judgment-defaulters.exit.after_months"]
    assert not held.varied and held.value == 60 and "the scenario gives it" in str(held.fixed)
    repair = by["layer spc, scheme defaulter-blacklist: repair.monthly_probability"]
    assert not repair.varied and repair.value == pytest.approx(0.1366)
    assert not any("exit.after_months" in p and p.startswith("layers.0.") for p in paths)
    assert "layers.0.scheme_values.repair.clean_months" in paths  # not given: assumed, varied
    link = by[
        "layer sesame, scheme sesame-credit-linked: sanctions.defaulter-points.effects.0.points"
    ]
    assert link.path == "layers.1.scheme_values.sanctions.defaulter-points.effects.0.points"
    assert (link.value, link.low, link.high, link.stated) == (-143, -286, -57, True)


def test_an_effect_of_a_consequence_is_named_by_its_place() -> None:
    """A consequence's effects have no ids: ``scheme_values`` names one by its place, from 0
    (how the ledger varies the points Sesame takes when the court lists someone)."""
    from scslab.schemes.loader import load_scheme
    from scslab.schemes.values import RefusedValue, with_scheme_values

    layers = load_scenario("patchwork-2018").layers
    assert layers is not None
    sesame = load_scheme(layers[1].scheme)
    moved = with_scheme_values(
        sesame, {"sanctions": {"defaulter-points": {"effects": {"0": {"points": -200}}}}}
    )
    points = [x.effects[0].points for x in moved.sanctions if x.id == "defaulter-points"]
    assert points == [-200]
    with pytest.raises(RefusedValue, match="has no effects '1'; it has 0"):
        with_scheme_values(
            sesame, {"sanctions": {"defaulter-points": {"effects": {"1": {"points": -5}}}}}
        )


def test_a_layers_scheme_values_reach_the_layer_in_a_sweep() -> None:
    """``layers.<n>.scheme_values.<...>`` sets that layer's scheme's number at each point."""
    from scslab.sweep import Sweep

    sweep = Sweep.from_text(
        "base:\n  population: {agents: 300}\n  years: 0.5\n  panel: 0\n  layers:\n"
        "    - {id: spc, scheme: defaulter-blacklist}\n"
        "    - {id: city, scheme: rongcheng-2014, where: [city-centre]}\n"
        "parameters:\n"
        "  layers.0.scheme_values.repair.monthly_probability: {values: [0.01, 0.5]}\n"
        "  layers.1.scheme_values.events.blood-donation.points: {values: [40]}\n"
        "design: {kind: grid}\noutputs: [spc:audit.listed_rate]\n"
    )
    got = []
    for run in sweep.runs:
        sim = LayeredSimulation(Scenario.model_validate_json(run.scenario))
        spc, city = (ls.sim.scheme for ls in sim.layers)
        blood = next(e for e in city.events if e.id == "blood-donation")
        got.append((spc.repair.monthly_probability if spc.repair else None, blood.points))
    assert got == [(0.01, 40), (0.5, 40)]


def test_a_tiny_layered_ledger_ranks_each_layers_outputs(
    ledger: tuple[Path, dict[str, Any]],
) -> None:
    """The file says it is layered and lists the layers; each layer's headline outputs are
    ranked as ``<layer>:<output>``: the act both schemes score drives both layers' lists; the
    city's held number is listed fixed, its varied one under ``layers.1.``."""
    _, doc = ledger
    assert doc["layered"] is True and doc["scheme"] is None
    assert doc["layers"] == [
        {"id": "court", "scheme": "planted"},
        {"id": "city", "scheme": "city-points"},
    ]
    for lid in ("court", "city"):
        ranking = doc["outputs"][f"{lid}:audit.listed_rate"]["ranking"]
        assert ranking[0]["path"] == "rates.drive"
    varied = {f["path"] for f in doc["factors"]}
    assert "layers.1.scheme_values.events.drive.points" in varied
    held = [f for f in doc["fixed"] if f["name"].endswith("events.noise-a.points")]
    assert held and held[0]["layer"] == "city" and held[0]["value"] == -7


def test_audit_and_report_print_each_layers_notes(ledger: tuple[Path, dict[str, Any]]) -> None:
    """With the ledger in the layered run's folder, the audit gives each layer's notes (its
    figures this run's), of the whole run and of one layer's folder; report.html prints them; a
    ledger of another scenario named with --ledger is refused in one line."""
    tmp, doc = ledger
    run = tmp / "run"
    assert (run / LEDGER).is_file()
    done = cli("audit", run, "--json")
    assert done.exit_code == 0, done.output
    layers = json.loads(done.stdout)["layers"]
    for lid in ("court", "city"):
        notes = layers[lid]["assumptions"]
        assert f"{lid}:audit.listed_rate" in [n["output"] for n in notes]
        listed = next(n for n in notes if n["output"] == f"{lid}:audit.listed_rate")
        assert listed["label"] == "share of people ever listed"
        assert listed["value_from"] == "this run"
        assert "rates.drive" in listed["note"]
    text = cli("audit", run)
    assert text.exit_code == 0, text.output
    assert text.output.count("What the headline figures rest on") == 2
    one = cli("audit", run / "layers" / "city", "--json")
    assert one.exit_code == 0, one.output
    outputs = [n["output"] for n in json.loads(one.stdout)["assumptions"]]
    assert outputs and all(o.startswith("city:") for o in outputs)
    page = cli("report", run)
    assert page.exit_code == 0, page.output
    html = (run / "report.html").read_text(encoding="utf-8")
    assert html.count("What the headline figures rest on") == 2
    other = tmp / "other.json"
    theirs = {**doc, "layers": [doc["layers"][0], {"id": "city", "scheme": "rongcheng-2014"}]}
    other.write_text(json.dumps(theirs), encoding="utf-8")
    # a ScslabError: `scslab` prints its one line and exits 2 (cli.main)
    refused = cli("audit", run, "--ledger", other).exception
    assert isinstance(refused, ScslabError) and "\n" not in str(refused)
    assert "is a ledger of layers court (planted), city (rongcheng-2014), not this run's" in (
        str(refused)
    )
    single = tmp / "single.json"
    single.write_text(json.dumps({**doc, "layered": None, "scheme": "planted"}), encoding="utf-8")
    refused = cli("report", run, "--ledger", single).exception
    assert isinstance(refused, ScslabError) and "is for scheme 'planted'" in str(refused)


def test_notes_are_each_layers_or_those_over_all_layers() -> None:
    """A layered ledger's notes: a layer's outputs for that layer, labelled as one scheme's, and
    those over all layers (``layers.*``) without a layer; a one-scheme ledger's are unchanged."""
    from scslab.sweep.ledger import ledger_notes

    row = {"path": "rates.drive", "name": "x", "S1": 0.5, "ST": 0.6, "share_of_effects": 0.9}
    entry = {"value": 0.2, "ranking": [row]}
    doc = {
        "agents": 300,
        "outputs": {
            "court:audit.listed_rate": entry,
            "city:audit.listed_rate": entry,
            "layers.listed": entry,
        },
    }
    court = ledger_notes(doc, layer="court")
    assert [(n["output"], n["label"]) for n in court] == [
        ("court:audit.listed_rate", "share of people ever listed")
    ]
    assert [n["output"] for n in ledger_notes(doc)] == ["layers.listed"]
    one = {"agents": 300, "outputs": {"audit.listed_rate": entry}}
    assert [n["output"] for n in ledger_notes(one)] == ["audit.listed_rate"]
