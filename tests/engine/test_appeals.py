"""Appeals: a corrected record's points, listings and consequences are reversed, exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from conftest import catalogue, scenario, scheme
from scslab.analysis.explain import explain
from scslab.engine.compiled import AP_DUE, OPEN, REVERSAL
from scslab.engine.kernels import APPEAL_COUNTS
from scslab.runs import Simulation
from scslab.store.results import Results

BASE, DELAY, LIST_MONTHS, BAN_MONTHS, CAP = 100, 2, 6, 3, 50

APPEALED = f"""
id: appealed
name: Appeals of listings
subject: individuals
description: one deduction that lists, a ban that follows the list, appeals that win
sources: {{paper: the seed paper}}
score: {{base: {BASE}, min: 0, max: 200, cap_window_months: 1200, source: paper}}
categories: [{{id: judgments, cap: {CAP}, assumed: true}}]
events:
  - {{id: unpaid-judgment, category: judgments, points: -30, domain: courts, source: paper}}
lists:
  - id: defaulters
    name: Defaulters
    kind: black
    entry: {{events: [unpaid-judgment]}}
    exit: {{after_months: {LIST_MONTHS}}}
    source: paper
sanctions:
  - id: rail-ban
    name: Rail ban
    trigger: {{list: defaulters}}
    domain: transport
    effect: no rail tickets
    duration_months: {BAN_MONTHS}
    source: paper
appeals:
  objection: 1.0
  success_if_false: 1.0
  success_if_true: 0.0
  delay_months: {DELAY}
  assumed: true
"""


def _run(text: str, months: int, false_records: bool = True) -> tuple:
    sc = scenario(300, months, seed=5)
    if not false_records:
        sc = sc.model_copy(
            update={"observation": sc.observation.model_copy(update={"false_records": False})}
        )
    # as many false records as true ones, all recorded
    cat = catalogue({"unpaid-judgment": 1.0}, detect=1.0, false_ratio=1.0)
    return Simulation(sc, scheme=scheme(text), catalogue=cat).execute()


def _reference(events: np.ndarray, people: int, months: int) -> tuple[np.ndarray, ...]:
    """The scheme above, person by person in plain Python, from the records the run drew:
    scores, list entry months and ban ends at the end of each month."""
    score = np.zeros((months, people), np.int64)
    since = np.zeros((months, people), np.int64)
    until = np.zeros((months, people), np.int64)
    for p in range(people):
        s, used, lst, ban = BASE, 0, -1, -1
        pending = None  # (due, applied, month, false)
        mine = events[(events[:, 1] == p) & (events[:, 2] != REVERSAL)]
        for t in range(months):
            if pending is not None and t >= pending[0] and pending[3]:  # false: won
                _, applied, month, _ = pending
                s -= applied
                used -= abs(applied)
                if lst == month:
                    lst = -1
                    if ban >= 0 and ban - BAN_MONTHS >= month:
                        ban = -1
            if pending is not None and t >= pending[0]:
                pending = None
            for row in mine[mine[:, 0] == t]:
                applied = max(s - 30, 0) - s if used < CAP else 0
                applied = -min(-applied, CAP - used)
                assert row[5] == applied, (p, t, row, applied)
                s += applied
                used += -applied
                entered = lst < 0
                if entered:
                    lst = t
                if pending is None and (applied != 0 or entered):
                    pending = (t + DELAY, applied, t, row[3] == 1)
            if lst >= 0 and t - lst >= LIST_MONTHS:
                lst = -1
            if ban >= 0 and t >= ban:
                ban = -1
            if ban < 0 and lst >= 0:
                ban = t + BAN_MONTHS
            score[t, p], since[t, p], until[t, p] = s, lst, ban
    return score, since, until


def test_a_won_appeal_reverses_exactly_the_points_listing_and_ban_of_its_record() -> None:
    """Every record that changed something is objected to while none is pending; appeals of
    false records win, of true ones lose: person by person and month by month, scores, listings
    and bans are those of a plain reference that reverses each won record's applied points, its
    listing and its ban."""
    months = 14
    record, state = _run(APPEALED, months)
    ev = np.concatenate(record.panel_events)  # step, person, act, false, recorded, points, ev
    assert (ev[:, 3] == 1).sum() > 100 and (ev[:, 3] == 0).sum() > 100
    score, since, until = _reference(ev, 300, months)
    assert (record.panel_score == score).all()
    assert (record.panel_lists[:, :, 0] == since).all()
    assert (record.panel_until[:, :, 0] == until).all()
    counts = dict(zip(APPEAL_COUNTS, record.appeals.sum(axis=(0, 1)), strict=True))
    assert counts["lodged"] > 50 and counts["won_false"] > 40
    assert counts["won_true"] == counts["lost_false"] == 0 and counts["lost_true"] > 40
    assert counts["corrected_false"] > 0 and counts["consequences_ended"] > 0
    assert counts["months_false"] == DELAY * counts["corrected_false"]
    # every listing entered and not left by expiry was ended on appeal, or is still on
    entries = record.lflow[..., 0, 0].sum()
    exits = record.lflow[..., 0, 1:].sum()
    assert entries - exits == (state.list_since[:, 0] >= 0).sum()
    assert record.lflow[..., 0, 4].sum() == counts["corrected_false"]


def test_once_its_false_records_are_corrected_a_person_is_where_they_would_be_without_them() -> (
    None
):
    """People whose records were all false and each appealed (none came while another was
    pending) and decided before the end: back at the score of the run without false records,
    off the list, with no ban left, and no appeal pending."""
    months = 12
    record, state = _run(APPEALED, months)
    _, clean = _run(APPEALED, months, false_records=False)
    ev = np.concatenate(record.panel_events)  # step, person, act, false, recorded, points, ev
    done = np.zeros(300, bool)
    for p in np.unique(ev[:, 1]):
        mine = ev[ev[:, 1] == p]
        free, ok = 0, bool((mine[:, 3] == 1).all())
        for t in mine[:, 0]:
            ok &= t >= free  # lodged only if the last one was decided by then
            free = t + DELAY  # (each is lodged: nobody has a record that changes nothing)
        done[p] = ok and free <= months - 1
    assert done.sum() > 20
    assert (state.score[done] == clean.score[done]).all()
    assert (state.list_since[done] == -1).all()
    assert (state.grp_until[done] == -1).all()
    assert (state.appeal[done, AP_DUE] == -1).all()
    assert (state.cat_used[done] == 0).all()


def test_lost_appeals_change_nothing_and_a_scheme_without_appeals_keeps_no_slots() -> None:
    """Appeals that never win leave every score, listing and ban as the run without appeals
    has them; that run allocates no appeal slots and counts no exits on appeal."""
    losing = APPEALED.replace("success_if_false: 1.0", "success_if_false: 0.0")
    without = APPEALED[: APPEALED.index("appeals:")]
    rec_l, st_l = _run(losing, 10)
    rec_n, st_n = _run(without, 10)
    assert (st_l.score == st_n.score).all()
    assert (st_l.list_since == st_n.list_since).all()
    assert (st_l.grp_until == st_n.grp_until).all()
    assert st_n.appeal.shape == (300, 0) and rec_n.appeals.shape[-1] == 0
    assert rec_n.lflow.shape[-1] == 4 and rec_l.lflow.shape[-1] == 5
    lost = rec_l.appeals.sum(axis=(0, 1))[APPEAL_COUNTS.index("lost_false")]
    assert lost > 0


COUNTED = """
id: counted
name: Appeals of records that a count and an event trigger read
subject: individuals
description: each record costs points, starts a ban, and counts towards a watch
sources: {paper: the seed paper}
score: {base: 1000, min: 0, max: 1200, source: paper}
categories: [{id: judgments}]
events:
  - {id: unpaid-judgment, category: judgments, points: -10, domain: courts, source: paper}
sanctions:
  - id: rail-ban
    name: Rail ban
    trigger: {events: [unpaid-judgment]}
    domain: transport
    effect: no rail tickets
    duration_months: 3
    source: paper
  - id: watch
    name: Watched
    trigger: {at_least: 2, of: unpaid-judgment, within_months: 6}
    domain: public-office
    effect: watched
    source: paper
appeals: {objection: 1.0, success_if_false: 1.0, success_if_true: 0.0, delay_months: 2, \
assumed: true}
"""


def _counted_reference(
    events: np.ndarray, people: int, months: int, reverse: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[int, int, int]]]:
    """The scheme above in plain Python: every record is objected to while none is pending,
    false ones win; a won appeal gives back its 10 points, takes the record out of the count and
    ends the ban it started (one that started in the record's month). Scores, ban ends and the
    watch (OPEN while it holds) at the end of each month, and each reversal (step, person,
    points given back). ``reverse=False``: the count and the ban as if appeals left them."""
    score = np.zeros((months, people), np.int64)
    ban_until = np.zeros((months, people), np.int64)
    watch = np.zeros((months, people), np.int64)
    reversals = []
    for p in range(people):
        s, ban, pending, kept = 1000, -1, None, []
        mine = events[(events[:, 1] == p) & (events[:, 2] >= 0) & (events[:, 4] == 1)]
        for t in range(months):
            if pending is not None and t >= pending[0]:
                _, month, false = pending
                pending = None
                if false:
                    s += 10
                    reversals.append((t, p, 10))
                    if reverse:
                        kept.remove(month)
                        if ban >= 0 and ban - 3 == month:
                            ban = -1
            rows = mine[mine[:, 0] == t]
            for row in rows:
                s -= 10
                kept.append(t)
                if pending is None:
                    pending = (t + 2, t, row[3] == 1)
            if ban >= 0 and t >= ban:
                ban = -1
            if ban < 0 and len(rows):
                ban = t + 3
            score[t, p], ban_until[t, p] = s, ban
            watch[t, p] = OPEN if sum(t - m < 6 for m in kept) >= 2 else -1
    return score, ban_until, watch, sorted(reversals)


def test_a_won_appeal_leaves_the_count_and_ends_the_ban_its_record_set_off() -> None:
    """Person by person and month by month: a record reversed on appeal no longer counts towards
    `at_least` (the watch follows the records that stand), the event-triggered ban it started
    ends, and the reversal is a panel event (act REVERSAL, the record's event, the points given
    back), exactly as a plain reference has them."""
    months = 16
    sc = scenario(300, months, seed=7)
    cat = catalogue({"unpaid-judgment": 0.25}, detect=1.0, false_ratio=1.0)
    record, _ = Simulation(sc, scheme=scheme(COUNTED), catalogue=cat).execute()
    ev = np.concatenate(record.panel_events)  # step, person, act, false, recorded, points, ev
    score, ban, watch, reversals = _counted_reference(ev, 300, months)
    got = ev[ev[:, 2] == REVERSAL]
    assert len(reversals) > 30
    assert sorted(map(tuple, got[:, [0, 1, 5]].tolist())) == reversals
    assert (got[:, 3] == 1).all() and (got[:, 6] == 0).all()
    assert (record.panel_score == score).all()
    assert (record.panel_until[:, :, 0] == ban).all()
    assert (record.panel_until[:, :, 1] == watch).all()
    # the cases exercised: counts that a reversal breaks, bans that it ends
    _, ban_kept, watch_kept, _ = _counted_reference(ev, 300, months, reverse=False)
    assert (watch_kept != watch).sum() > 10 and (ban_kept != ban).sum() > 10
    ended = record.appeals.sum(axis=(0, 1))[APPEAL_COUNTS.index("consequences_ended")]
    assert ended > 10


def test_explain_shows_a_reversal_and_the_record_it_reversed(tmp_path: Path) -> None:
    """`scslab explain` reads a won appeal from panel_events (act `appeal`): the reversal names
    the record it reversed (the delay earlier), gives back its points, marks that record as
    reversed, and the month's score change is fully explained by the records and the reversal."""
    sc = scenario(300, 12, seed=7)
    cat = catalogue({"unpaid-judgment": 0.25}, detect=1.0, false_ratio=1.0)
    Simulation(sc, scheme=scheme(COUNTED), catalogue=cat).run(tmp_path / "run").close()
    with Results(tmp_path / "run") as r:
        person, step = r.sql(
            "SELECT person, min(step) FROM panel_events WHERE act = 'appeal' GROUP BY person "
            "ORDER BY person LIMIT 1"
        ).fetchall()[0]
        x = explain(r, int(person))
    won = [e for e in x.events if e.appeal]
    assert won and won[0].step == step and won[0].reverses == step - 2
    assert won[0].points == 10 and won[0].false_record and won[0].event == "unpaid-judgment"
    reversed_ = [e for e in x.events if e.reversed_in == step]
    assert len(reversed_) == 1 and reversed_[0].step == step - 2 and reversed_[0].points == -10
    assert all(x.other_change(m.step) == 0 for m in x.months)  # no decay: all explained
    assert "appeal won: the unpaid-judgment record of month" in won[0].describe()
    assert f"reversed on appeal in month {step}" in reversed_[0].describe()
