"""What calibration observes: list entries and exits by reason, purchases blocked by a ban, and
calendar dates, in the record, the ``steps`` table and the summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helpers import stopped
from scslab.behaviour.model import Catalogue
from scslab.behaviour.rates import load_catalogue
from scslab.engine.compiled import ALL_CAUSES
from scslab.engine.kernels import APPEAL, ENTRY, EXPIRY, FULFILMENT, REPAIR
from scslab.engine.scenario import Scenario
from scslab.engine.simulation import Record
from scslab.errors import ScenarioError, SchemeError
from scslab.population import PopulationSpec
from scslab.runs import Simulation, resume_run
from scslab.schemes import load_scheme, parse_scheme
from scslab.schemes.model import Scheme

LIST = "judgment-defaulters"


def defaulters(**kw: Any) -> Scenario:
    """The defaulter list on 20,000 people, for two years unless told otherwise."""
    return Scenario(
        scheme="defaulter-blacklist",
        population=PopulationSpec(agents=20_000),
        seed=11,
        panel=200,
        **{"years": 2, **kw},
    )


@pytest.fixture(scope="module")
def busy() -> tuple[Simulation, Record]:
    """The defaulter list with unpaid judgments twenty times as common, so that every exit
    reason and both bans have plenty to count."""
    cat = load_catalogue()
    acts = [
        a.model_copy(update={"rate": a.rate * 20}) if a.id == "unpaid-judgment" else a
        for a in cat.acts
    ]
    sim = Simulation(defaulters(years=3), catalogue=cat.model_copy(update={"acts": tuple(acts)}))
    record, _ = sim.execute()
    return sim, record


def test_list_flows_by_reason_add_up_to_the_flows_and_the_stock(
    busy: tuple[Simulation, Record],
) -> None:
    """Entries per month equal the flows table's; exits by expiry, repair, fulfilment and appeal
    (the defaulter list has an objection procedure) add up
    to its exits; and the stock is cumulative entries minus exits, month by month."""
    _, rec = busy
    flows = rec.flow[:, :2, 0, ALL_CAUSES].sum(axis=-1)  # [step, entry/exit]
    by_reason = rec.lflow[:, :, 0].sum(axis=1)  # [step, way]
    assert (by_reason[:, ENTRY] == flows[:, 0]).all()
    assert (by_reason[:, [EXPIRY, REPAIR, FULFILMENT, APPEAL]].sum(axis=1) == flows[:, 1]).all()
    stock = rec.listed[:, :, 0].sum(axis=1)
    assert (np.cumsum(by_reason[:, 0] - by_reason[:, 1:].sum(axis=1)) == stock).all()
    totals = by_reason.sum(axis=0)
    # three years: every reason has its turn, repair (after six clean months at 10 % a month)
    # and fulfilment (2 % a month) before expiry (24 months)
    assert totals[ENTRY] > 300 and totals[REPAIR] > 50 and totals[FULFILMENT] > 20
    assert totals[EXPIRY] > 0
    # fulfilment is about 2 % of the listed each month, counted from the second month
    at_risk = stock[:-1].sum()  # listed at the end of one month, so at risk in the next
    assert totals[FULFILMENT] == pytest.approx(0.02 * at_risk, rel=0.35)


def test_blocked_purchases_are_the_banned_peoples_attempts_at_their_own_rates(
    busy: tuple[Simulation, Record],
) -> None:
    """A ban refuses attempts: blocked flights and rail tickets are drawn for the people under
    each ban, at their cell's rate of trying, and the two counts differ."""
    sim, rec = busy
    layout = sim.layout
    assert layout.blocked == ("buy-flight-ticket", "buy-rail-ticket")
    assert rec.blocked.shape[2] == len(layout.attempts) == 2
    flight = next(q for q, g in enumerate(layout.groups) if any(c.id == "flight-ban" for c in g))
    banned = rec.grp_active[:, :, flight].sum(axis=0)  # person-months under the ban, per cell
    for v, act in enumerate(layout.attempts):
        expected = float((banned * sim.rates.attempt_rate[:, v]).sum())
        got = int(rec.blocked[:, :, v].sum())
        assert expected > 30
        assert abs(got - expected) < 4 * np.sqrt(expected), act
    flights, rails = (int(rec.blocked[:, :, v].sum()) for v in range(2))
    assert flights > 1.5 * rails  # flights are tried more often than fast trains, as the SPC found


def test_attempts_change_nobody_elses_draws(tmp_path: Path) -> None:
    """Attempt acts come from streams of their own: a catalogue without them gives the same
    acts, records and list flows for everything else, bit for bit."""
    cat = load_catalogue()
    without = Catalogue.model_validate(
        {
            "acts": [a.model_dump() for a in cat.acts if not a.attempt],
            "channels": [c.model_dump() for c in cat.channels],
        }
    )
    doc = load_scheme("defaulter-blacklist").model_dump()
    for s in doc["sanctions"]:
        s["blocks"] = s["effects"] = ()
    a, _ = Simulation(defaulters()).execute()
    b, _ = Simulation(defaulters(), catalogue=without, scheme=Scheme.model_validate(doc)).execute()
    keep = [i for i, act in enumerate(load_catalogue().acts) if not act.attempt]
    assert np.array_equal(a.ev_true[:, :, keep], b.ev_true)
    assert np.array_equal(a.ev_rec[:, :, keep], b.ev_rec)
    assert np.array_equal(a.listed, b.listed) and np.array_equal(a.lflow, b.lflow)
    assert a.ev_true[:, :, len(keep) :].sum() > 0  # the attempts themselves were drawn
    assert b.blocked.shape[2] == 0


def test_steps_and_summary_carry_dates_flows_and_blocked_purchases(tmp_path: Path) -> None:
    """`start` dates every step; the steps table has entries, exits by reason and blocked
    attempts per cell; the summary totals them (what `scslab run --json` prints)."""
    r = Simulation(defaulters(start="2013-10")).run(tmp_path / "run")
    dates = r.sql("SELECT DISTINCT step, date FROM steps ORDER BY step").fetchall()
    assert [str(d) for _, d in dates[:4]] == [
        "2013-10-01",
        "2013-11-01",
        "2013-12-01",
        "2014-01-01",
    ]
    assert str(dates[-1][1]) == "2015-09-01" and len(dates) == 24
    s = r.summary()
    assert s["start"] == "2013-10"
    entries, exits = r.sql(
        f'SELECT sum("entries__{LIST}"), sum("exits__{LIST}__expiry") + '
        f'sum("exits__{LIST}__repair") + sum("exits__{LIST}__fulfilment") + '
        f'sum("exits__{LIST}__appeal") FROM steps'
    ).fetchall()[0]
    assert s["list_entries"] == {LIST: entries} and entries > 0
    assert sum(s["list_exits"][LIST].values()) == exits
    assert set(s["list_exits"][LIST]) == {"expiry", "repair", "fulfilment", "appeal"}
    assert s["lists"][LIST] == entries - exits
    blocked = r.sql(
        'SELECT sum("blocked__buy-flight-ticket"), sum("blocked__buy-rail-ticket") FROM steps'
    ).fetchall()[0]
    assert s["blocked"] == {"buy-flight-ticket": blocked[0], "buy-rail-ticket": blocked[1]}
    json.dumps(s)  # all of it is JSON


def test_without_a_start_the_date_is_null_and_a_scheme_without_bans_blocks_nothing(
    tmp_path: Path,
) -> None:
    """No start: dates are NULL and the summary's start is null. A scheme whose sanctions block
    nothing writes no blocked columns, though people still try to buy tickets."""
    sc = Scenario(scheme="rongcheng-2014", population=PopulationSpec(agents=3000), years=0.25)
    r = Simulation(sc).run(tmp_path / "run")
    assert r.sql("SELECT count(*) FROM steps WHERE date IS NOT NULL").fetchall()[0][0] == 0
    s = r.summary()
    assert s["start"] is None and s["blocked"] == {}
    assert not [c for c in r.columns if c.startswith("blocked__")]
    assert r.sql('SELECT sum("true__buy-flight-ticket") FROM steps').fetchall()[0][0] > 0


@pytest.mark.parametrize("bad", ["2013-13", "2013-00", "13-10", "2013-10-01", "201310", "soon"])
def test_a_bad_start_is_one_located_line(bad: str, tmp_path: Path) -> None:
    """A start that is not YYYY-MM is refused with the file, line and column."""
    path = tmp_path / "s.yaml"
    path.write_text(f"scheme: defaulter-blacklist\nyears: 1\nstart: {bad}\n")
    with pytest.raises(ScenarioError) as err:
        Scenario.from_yaml(path)
    message = str(err.value)
    assert message.startswith(f"{path}:3:8: start: ") and "YYYY-MM" in message
    assert "\n" not in message


def test_blocks_and_fulfilment_are_checked_where_they_are_written() -> None:
    """A reward cannot block; a sanction blocks attempts the catalogue has; a fulfilment rule
    carries a number and so a source."""
    base = """
id: x
name: x
subject: individuals
description: x
sources: {paper: p}
score: {base: 0, min: 0, max: 1, assumed: true}
categories: [{id: c}]
events: [{id: unpaid-judgment, category: c, points: 0, domain: courts, source: paper}]
lists:
  - id: l
    kind: black
    entry: {events: [unpaid-judgment]}
    exit: {after_months: 3, fulfilment: {monthly_probability: 0.1%s}}
    assumed: true
%s
"""
    with pytest.raises(SchemeError, match="fulfilment: this rule carries a number"):
        parse_scheme(base % ("", ""), "x.yaml")
    reward = "rewards: [{id: r, trigger: {list: l}, domain: transport, effect: e, "
    reward += "blocks: [buy-flight-ticket], source: paper}]"
    with pytest.raises(SchemeError, match="a reward blocks nothing"):
        parse_scheme(base % (", assumed: true", reward), "x.yaml")
    ban = "sanctions: [{id: s, trigger: {list: l}, domain: transport, effect: e, "
    ban += "blocks: [%s], source: paper}]"
    for act, why in (("jaywalking", "is not an attempt"), ("buy-a-yacht", "is not in it")):
        scheme = parse_scheme(base % (", assumed: true", ban % act), "x.yaml")
        sc = Scenario(population=PopulationSpec(agents=100), years=0.1)
        with pytest.raises(ScenarioError, match=f"blocks the act '{act}', which .*{why}"):
            Simulation(sc, scheme=scheme)


def test_a_checkpointed_run_resumes_to_the_same_flows_and_blocked_purchases(
    tmp_path: Path,
) -> None:
    """Stopped after month 7 with checkpoints every 5 months, then resumed: every table equals
    an uninterrupted run's, the new columns included."""
    whole = Simulation(defaulters(start="2014-01")).run(tmp_path / "whole")
    sim = Simulation(defaulters(start="2014-01"))
    resumed = resume_run(stopped(sim, tmp_path / "stopped", after=7, every=5))
    query = "SELECT * EXCLUDE (mean_score) FROM steps ORDER BY ALL"
    assert resumed.sql(query).fetchall() == whole.sql(query).fetchall()
    assert resumed.summary()["blocked"] == whole.summary()["blocked"]
