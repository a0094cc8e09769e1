"""The audit's appeals section, on a small run where every appeal of a false record wins."""

from __future__ import annotations

from pathlib import Path

from scslab import PopulationSpec, Results, Scenario, Simulation
from scslab.analysis.audit import audit
from scslab.behaviour.model import Catalogue
from scslab.report.html import build

LISTED = """
id: listed
name: A listing on record, open to appeal
subject: individuals
description: an unpaid judgment lists; appeals of false records win, of true ones lose
sources: {paper: the seed paper}
score: {base: 0, min: 0, max: 1, assumed: true}
categories: [{id: judgments}]
events:
  - {id: unpaid-judgment, category: judgments, points: 0, domain: courts, source: paper}
lists:
  - id: defaulters
    name: Defaulters
    kind: black
    entry: {events: [unpaid-judgment]}
    exit: {after_months: 24}
    source: paper
sanctions:
  - id: rail-ban
    trigger: {list: defaulters}
    domain: transport
    effect: no rail tickets
    source: paper
appeals:
  objection: 1.0
  success_if_false: 1.0
  success_if_true: 0.0
  delay_months: 2
  assumed: true
"""


def _catalogue() -> Catalogue:
    return Catalogue.model_validate(
        {
            "acts": [
                {
                    "id": "unpaid-judgment",
                    "name": "unpaid judgment",
                    "domain": "courts",
                    "lawful": False,
                    "rate": 0.1,
                    "channels": {"court": 1.0},
                    "assumed": True,
                }
            ],
            "channels": [
                {"id": "court", "name": "court", "false_record_ratio": 1.0, "assumed": True}
            ],
        }
    )


def test_every_wrongful_listing_appealed_is_corrected_after_the_delay(tmp_path: Path) -> None:
    """Every listing that changes something is appealed while none is pending; all false ones
    win, no true one does: each listing of a false record is corrected after exactly the delay,
    the figures add up, and the report shows them."""
    from scslab.schemes import parse_scheme

    sc = Scenario(population=PopulationSpec(agents=3000), years=1, seed=3)
    sim = Simulation(sc, scheme=parse_scheme(LISTED), catalogue=_catalogue())
    results: Results = sim.run(tmp_path / "run")
    report = audit(results)
    a = report["appeals"]
    assert a["lodged"] > 50
    assert a["won"]["true_records"] == 0 and a["lost"]["false_records"] == 0
    assert a["won"]["false_records"] > 10 and a["lost"]["true_records"] > 10
    assert a["success_rate"] == {"false_records": 1.0, "true_records": 0.0}
    assert a["decided"] + a["pending_at_end"] == a["lodged"]
    # a won appeal removes the listing its false record entered, two months on
    assert a["wrongful_listings_corrected"] == a["won"]["false_records"]
    assert a["mean_months_before_correction"] == 2.0
    assert 0 < a["wrongful_listings_corrected"] <= a["wrongful_list_entries"]
    assert a["true_listings_removed"] == 0 and a["consequences_ended"] == 0
    exits = results.sql('SELECT sum("exits__defaulters__appeal") FROM steps').fetchall()[0][0]
    assert exits == a["wrongful_listings_corrected"]
    assert results.summary()["appeals"]["won_false"] == a["won"]["false_records"]
    page = build(results, report)
    assert "Appeals over the run" in page and "wrongful list entries corrected on appeal" in page


def test_a_scheme_without_appeals_has_no_appeals_section(tmp_path: Path) -> None:
    """No `appeals:`: the audit says null, the summary too, and the steps have no such columns."""
    from scslab.schemes import parse_scheme

    text = LISTED[: LISTED.index("appeals:")]
    sc = Scenario(population=PopulationSpec(agents=1000), years=0.5, seed=3)
    sim = Simulation(sc, scheme=parse_scheme(text), catalogue=_catalogue())
    results = sim.run(tmp_path / "run")
    assert audit(results)["appeals"] is None
    assert results.summary()["appeals"] is None
    assert not [c for c in results.columns if "appeal" in c]
