"""Appeals: a corrected record's points, listings and consequences are reversed, exactly."""

from __future__ import annotations

import numpy as np
from conftest import catalogue, scenario, scheme

from scslab.engine.compiled import AP_DUE
from scslab.engine.kernels import APPEAL_COUNTS
from scslab.engine.simulation import Simulation

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
        mine = events[events[:, 1] == p]
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
