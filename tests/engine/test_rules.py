"""Each scheme rule, pinned on tiny populations whose outcome can be checked by hand."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from conftest import catalogue, scenario, scheme
from scslab.engine.simulation import RunInterrupted
from scslab.errors import ResourceError, ScenarioError
from scslab.population import PopulationSpec
from scslab.population.firms import FirmSpec
from scslab.runs import Simulation
from scslab.store.results import Results

JAYWALK = """
id: jaywalk
name: Jaywalking only
subject: individuals
description: one event
sources: {paper: the seed paper}
score: {base: 1000, min: 0, max: 1000, source: paper}
categories: [{id: traffic}]
events:
  - {id: jaywalking, category: traffic, points: -20, domain: transport, source: paper}
"""


def test_a_jaywalking_record_costs_twenty_points() -> None:
    """Every recorded jaywalking takes exactly 20 points off the score, and nothing else does."""
    sim = Simulation(
        scenario(2000, 1), scheme=scheme(JAYWALK), catalogue=catalogue({"jaywalking": 6.0})
    )
    record, state = sim.execute()
    ev = record.panel_events[0]  # step, person, act, false, recorded, points, event
    assert len(ev) > 500  # about 2000 * 0.5 expected
    assert (ev[:, 5] == -20).all()
    per_person = np.bincount(ev[:, 1], minlength=2000)
    assert (state.score == 1000 - 20 * per_person).all()


def test_undetected_acts_cost_nothing_and_are_counted_as_true_only() -> None:
    """With detection 0 no act is recorded: scores stay at base; true counts are still kept."""
    sim = Simulation(
        scenario(2000, 2),
        scheme=scheme(JAYWALK),
        catalogue=catalogue({"jaywalking": 6.0}, detect=0.0),
    )
    record, state = sim.execute()
    assert record.ev_true.sum() > 0
    assert record.ev_rec.sum() == 0
    assert (state.score == 1000).all()


def test_a_category_cap_stops_deductions_within_its_window_and_resets_after() -> None:
    """Cap 40 per 12 months: no one loses more than 40 in a window; a new window allows more."""
    capped = JAYWALK.replace(
        "categories: [{id: traffic}]", "categories: [{id: traffic, cap: 40, assumed: true}]"
    )
    sim = Simulation(
        scenario(1000, 13), scheme=scheme(capped), catalogue=catalogue({"jaywalking": 24.0})
    )
    record, _ = sim.execute()
    assert record.panel_score[11].min() == 960
    assert record.panel_score[12].min() < 960  # the second window began at month 12


SANCTION = """
id: grade-c
name: C brings a two-year restriction
subject: individuals
description: one deduction, fast decay
sources: {paper: the seed paper}
score: {base: 1000, min: 0, max: 1000, cap_window_months: 1200, source: paper}
categories: [{id: finance, cap: 200, assumed: true}]
events:
  - {id: payment-arrears, category: finance, points: -200, domain: finance, source: paper}
grades:
  - {id: A, min: 900, max: 1000, source: paper}
  - {id: C, min: 0, max: 899, source: paper}
sanctions:
  - id: no-loans
    trigger: {grades: [C]}
    domain: finance
    effect: no bank loans
    duration_months: 24
    source: paper
decay: {points_per_month: 500, after_clean_months: 1, assumed: true}
"""


def test_a_c_grade_brings_a_two_year_restriction_that_ends_on_time(tmp_path: Path) -> None:
    """Falling to C starts the sanction; it lasts exactly 24 months although the grade recovers."""
    sim = Simulation(
        scenario(3000, 40),
        scheme=scheme(SANCTION),
        catalogue=catalogue({"payment-arrears": 0.05}),
    )
    results = sim.run(tmp_path / "run")
    spells = results.sql(
        "SELECT start_step, end_step, cause_domains FROM panel_spells WHERE item = 'no-loans'"
    ).fetchall()
    assert len(spells) > 20
    for start, end, causes in spells:
        if start + 24 < 40:
            assert end == start + 24
        assert causes == "finance"
    starts = results.sql(
        "SELECT sum(count) FROM flows WHERE kind = 'sanction_start' AND item = 'no-loans'"
    ).fetchall()[0][0]
    assert starts == len(spells)


LIST = """
id: defaulters
name: Defaulter list
subject: individuals
description: list entry on an unpaid judgment
sources: {spc: Supreme People's Court}
score: {base: 1, min: 0, max: 1, assumed: true}
categories: [{id: courts}]
events:
  - {id: unpaid-judgment, category: courts, points: 0, domain: courts, source: spc}
lists:
  - id: laolai
    kind: black
    entry: {events: [unpaid-judgment]}
    exit: {after_months: 6}
    assumed: true
sanctions:
  - id: no-flights
    trigger: {list: laolai}
    domain: transport
    effect: no flights
    assumed: true
"""


def test_a_recorded_judgment_lists_for_six_months_and_bans_flights_while_listed(
    tmp_path: Path,
) -> None:
    """Entry on the record, exit after 6 months; the sanction lasts exactly as long as listed."""
    sim = Simulation(
        scenario(3000, 24),
        scheme=scheme(LIST),
        catalogue=catalogue({"unpaid-judgment": 0.1}),
    )
    results = sim.run(tmp_path / "run")
    rows = results.sql(
        "SELECT kind, start_step, end_step, cause_domains FROM panel_spells "
        "ORDER BY person, start_step"
    ).fetchall()
    lists = [r for r in rows if r[0] == "list"]
    bans = [r for r in rows if r[0] == "sanction"]
    assert len(lists) > 50
    assert [(s, e) for _, s, e, _ in lists] == [(s, e) for _, s, e, _ in bans]
    for _, start, end, causes in lists:
        assert end is None or end == start + 6
        assert causes == "courts"


def test_false_records_are_counted_and_marked_as_the_cause(tmp_path: Path) -> None:
    """With nothing truly done, every listing comes from a false record and says so."""
    sim = Simulation(
        scenario(3000, 12),
        scheme=scheme(LIST),
        catalogue=catalogue({"unpaid-judgment": 0.2}, detect=1.0, false_ratio=1.0),
    )
    results = sim.run(tmp_path / "run")
    true_, false_ = results.sql(
        'SELECT sum("true__unpaid-judgment"), sum("false__unpaid-judgment") FROM steps'
    ).fetchall()[0]
    assert true_ > 0 and false_ > 0
    by_taint = dict(
        results.sql(
            "SELECT false_record, sum(count) FROM flows WHERE kind = 'list_entry' GROUP BY 1"
        ).fetchall()
    )
    assert by_taint[True] > 0 and by_taint[False] > 0


def test_switching_false_records_off_leaves_every_true_act_unchanged() -> None:
    """The paired counterfactual: same seed, false records off, identical true acts."""
    cat = catalogue({"unpaid-judgment": 0.2}, false_ratio=1.0)
    on = Simulation(scenario(5000, 12), scheme=scheme(LIST), catalogue=cat)
    off_scenario = scenario(5000, 12).model_copy(
        update={"observation": on.scenario.observation.model_copy(update={"false_records": False})}
    )
    off = Simulation(off_scenario, scheme=scheme(LIST), catalogue=cat)
    rec_on, _ = on.execute()
    rec_off, _ = off.execute()
    assert rec_on.ev_false.sum() > 0 and rec_off.ev_false.sum() == 0
    assert (rec_on.ev_true == rec_off.ev_true).all()


def test_a_run_too_big_for_the_machine_is_refused_before_allocating() -> None:
    """Two billion people need more memory than this machine has: a clear refusal, no crash."""
    sim = Simulation(
        scenario(10, 12).model_copy(update={"population": PopulationSpec(agents=2_000_000_000)}),
        scheme=scheme(JAYWALK),
        catalogue=catalogue({"jaywalking": 1.0}),
    )
    with pytest.raises(ResourceError, match="GiB"):
        sim.check_memory()


def test_firm_settings_on_a_scheme_of_individuals_are_refused() -> None:
    """``firms:`` only means something to a scheme that scores enterprises: say so."""
    sc = scenario(10, 1).model_copy(update={"firms": FirmSpec()})
    with pytest.raises(ScenarioError, match="enterprises"):
        Simulation(sc, scheme=scheme(JAYWALK), catalogue=catalogue({"jaywalking": 1.0}))


def test_ctrl_c_writes_partial_results_and_no_complete_looking_file(tmp_path: Path) -> None:
    """An interrupted run leaves results.partial.duckdb marked interrupted, not results.duckdb."""
    sim = Simulation(
        scenario(500, 12), scheme=scheme(JAYWALK), catalogue=catalogue({"jaywalking": 1.0})
    )

    def stop_after_three(done: int, total: int) -> None:
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(RunInterrupted) as stop:
        sim.run(tmp_path / "run", progress=stop_after_three)
    assert stop.value.path.name == "results.partial.duckdb"
    assert not (tmp_path / "run" / "results.duckdb").exists()
    run = Results(stop.value.path).run()
    assert run["status"] == "interrupted" and run["steps_done"] == 3


def test_deterrence_lowers_scored_offences_and_can_be_switched_off() -> None:
    """With deterrence on, fewer scored acts happen than with it off; same seed, same people."""
    from scslab.behaviour.model import Adaptation, Deterrence

    cat = catalogue({"jaywalking": 6.0})

    def true_acts(enabled: bool) -> int:
        sc = scenario(4000, 6).model_copy(
            update={"adaptation": Adaptation(deterrence=Deterrence(enabled=enabled, elasticity=5))}
        )
        record, _ = Simulation(sc, scheme=scheme(JAYWALK), catalogue=cat).execute()
        return int(record.ev_true.sum())

    on, off = true_acts(True), true_acts(False)
    assert on < 0.9 * off


def test_chilling_lowers_scored_rights_activity_only_when_enabled() -> None:
    """A scored, rights-tagged act falls with chilling on; its rate is untouched with it off."""
    from scslab.behaviour.model import Adaptation, Chilling

    base = catalogue({"petitioning": 6.0})
    act = base.acts[0].model_copy(update={"rights": ("petition",), "lawful": True})
    cat = base.model_copy(update={"acts": (act,)})
    petition = JAYWALK.replace("jaywalking", "petitioning").replace("transport", "public-order")

    def true_acts(enabled: bool) -> int:
        sc = scenario(4000, 6).model_copy(
            update={"adaptation": Adaptation(chilling=Chilling(enabled=enabled, elasticity=5))}
        )
        record, _ = Simulation(sc, scheme=scheme(petition), catalogue=cat).execute()
        return int(record.ev_true.sum())

    assert true_acts(True) < 0.9 * true_acts(False)


GOOD_DEEDS = """
id: deeds
name: Good deeds and decay
subject: individuals
description: one positive event, decay in a chosen direction
sources: {paper: the seed paper}
score: {base: 1000, min: 0, max: 1200, source: paper}
categories: [{id: civic}]
events:
  - {id: blood-donation, category: civic, points: 5, domain: civic, source: paper}
decay: {points_per_month: 5, direction: DIRECTION, assumed: true}
"""


@pytest.mark.parametrize(("direction", "kept"), [("up", True), ("down", False), ("both", False)])
def test_decay_keeps_or_erases_good_deeds_as_its_direction_says(direction: str, kept: bool) -> None:
    """Decay 'up' only lifts low scores, so points above base stay; 'down' takes them back."""
    sim = Simulation(
        scenario(2000, 12),
        scheme=scheme(GOOD_DEEDS.replace("DIRECTION", direction)),
        catalogue=catalogue({"blood-donation": 6.0}),
    )
    record, state = sim.execute()
    events = np.concatenate(record.panel_events)
    earned = np.bincount(events[:, 1], weights=events[:, 5], minlength=2000).astype(int)
    assert earned.sum() > 0
    excess = state.score.astype(int) - 1000
    if kept:
        assert (excess == np.minimum(earned, 200)).all()
    else:
        assert (excess >= 0).all()
        assert excess.mean() < 0.2 * earned.mean()


FRIENDS = """
id: friends
name: Low-scoring friends
subject: individuals
description: a deduction when half of one's friends score low
sources: {paper: the seed paper}
score: {base: 1000, min: 0, max: 1000, source: paper}
categories: [{id: traffic}, {id: relationships}]
events:
  - {id: jaywalking, category: traffic, points: -500, domain: transport, source: paper}
network:
  - {id: low-friends, threshold: 600, share: 0.5, points: -10, category: relationships,
     source: paper}
"""


def test_the_friends_below_rule_deducts_from_people_whose_friends_scored_low_last_month() -> None:
    """A ring of friends: people with a low-scoring friend lose 10 points the month after."""
    from scslab.population import generate
    from scslab.population.network import Network

    n = 1000
    pop = generate(scenario(n, 1).population, seed=1, agents=n)
    # each person i has one friend, i + 1 (a ring), as CSR arrays
    pop.network = Network(
        indptr=np.arange(n + 1, dtype=np.int64),
        indices=((np.arange(n) + 1) % n).astype(np.int32),
    )
    sim = Simulation(
        scenario(n, 2),
        scheme=scheme(FRIENDS),
        catalogue=catalogue({"jaywalking": 1.0}),
        population=pop,
    )
    record, _ = sim.execute()
    low_after_first = record.panel_score[0] < 600  # panel is everyone, in order
    assert low_after_first.any()
    ev = record.panel_events[1]
    by_rule = ev[:, 2] < 0  # the network rule's deductions are logged too, as act -1
    own = np.bincount(ev[~by_rule, 1], weights=ev[~by_rule, 5], minlength=n).astype(int)
    logged = np.bincount(ev[by_rule, 1], weights=ev[by_rule, 5], minlength=n).astype(int)
    friend_low = np.roll(low_after_first, -1)
    before = record.panel_score[0].astype(int) + own  # after this month's own records
    change = record.panel_score[1].astype(int) - before
    assert (change[friend_low] == np.maximum(-10, -before[friend_low])).all()  # floor at 0
    assert (change == logged).all()
    assert (change[~friend_low] == 0).all()


HOUSEHOLD = LIST.replace(
    """sanctions:
  - id: no-flights""",
    """sanctions:
  - id: private-schools
    trigger: {list: laolai, of: household}
    domain: education
    effect: the household's children are refused by private schools
    assumed: true
  - id: no-flights""",
)


def test_a_members_listing_bars_the_whole_household_from_private_schools_a_month_later() -> None:
    """The school ban runs for everyone in a listed person's household, from the next month on."""
    sim = Simulation(
        scenario(3000, 12),
        scheme=scheme(HOUSEHOLD),
        catalogue=catalogue({"unpaid-judgment": 0.05}),
    )
    record, _ = sim.execute()
    pop = sim.population()
    school = next(q for q, c in sim.layout.consequences if c.id == "private-schools")
    L = len(sim.layout.lists)
    listed = record.panel_lists[:, :, 0] >= 0  # [step, person]; the panel is everyone, in order
    banned = record.panel_until[:, :, school] >= 0
    assert listed.any()
    for t in range(1, 12):
        households_listed = np.unique(pop.household[listed[t - 1]])
        due = np.isin(pop.household, households_listed)
        assert (banned[t][due]).all()  # everyone in a household with a member listed last month
        assert not banned[t][~due & ~banned[t - 1]].any()  # nobody else newly banned
    assert banned.sum() > listed.sum()  # it reaches people who are not listed themselves
    assert record.flow[:, 0, L + school].sum() > 0


@pytest.mark.parametrize("top", [1000, 1, 7])
def test_the_score_histogram_counts_everyone_in_bins_that_tile_the_range(
    tmp_path: Path, top: int
) -> None:
    """Each month's bins add up to everyone, and the written bins tile min..max without gaps."""
    narrow = JAYWALK.replace("max: 1000", f"max: {top}").replace("base: 1000", f"base: {top}")
    narrow = narrow.replace("points: -20", f"points: {-min(20, top)}")
    sim = Simulation(
        scenario(2000, 3), scheme=scheme(narrow), catalogue=catalogue({"jaywalking": 6.0})
    )
    record, state = sim.execute()
    width = top + 1
    expected = np.bincount(state.score.astype(int) * 40 // width, minlength=40)
    assert (record.hist[-1] == expected).all()
    rows = (
        sim.run(tmp_path / "run")
        .sql("SELECT low, high, people FROM score_histogram WHERE step = 2 ORDER BY low")
        .fetchall()
    )
    assert rows[0][0] == 0 and rows[-1][1] == top
    assert all(a[1] + 1 == b[0] for a, b in pairwise(rows))
    assert sum(r[2] for r in rows) == 2000


BAOJIA = (
    JAYWALK
    + """collective:
  - {id: household-pays, group: household, points: -5, assumed: true}
  - {id: neighbours-pay, group: neighbourhood, points: -1, assumed: true}
"""
)


def test_one_members_offence_costs_the_household_and_the_neighbourhood_the_month_after() -> None:
    """Baojia: a recorded jaywalking in month t costs every member of the offender's household 5
    points and of the neighbourhood (10 households) 1 point in month t + 1, offender included."""
    sim = Simulation(
        scenario(3000, 4), scheme=scheme(BAOJIA), catalogue=catalogue({"jaywalking": 0.5})
    )
    record, _ = sim.execute()
    household = sim.population().household
    for t in range(1, 4):
        before, now = record.panel_events[t - 1], record.panel_events[t]
        offenders = before[(before[:, 2] >= 0) & (before[:, 5] < 0), 1]
        hh = np.isin(household, household[offenders])
        nb = np.isin(household // 10, household[offenders] // 10)
        charged = {rule: set(now[now[:, 2] == rule, 1].tolist()) for rule in (-9, -10)}
        assert charged[-9] == set(np.flatnonzero(hh).tolist())
        assert charged[-10] == set(np.flatnonzero(nb).tolist())
        assert len(charged[-10]) > len(charged[-9]) > 0
