"""Auditing a run: who is harmed, how wrongly, for what, and in which contexts.

:func:`audit` answers six questions about one run (``docs/audit.md`` defines each figure):

- ``disparate_impact``: outcome rates by group, against the most favoured group (four-fifths rule);
- ``wrongful``: consequences that rest on false records, and a true counterfactual share;
- ``rights``: how much of the scoring falls on protected activity, and how much of it is chilled;
- ``cross_context``: punishment outside the context of the behaviour, and its proportionality
  (EU AI Act Art. 5(1)(c)(i) and (ii));
- ``segregation``: score assortativity of friendships over time;
- ``deterrence``: how much scored offending falls against a world without the scheme.

Figures that the run's tables hold are read from them. Figures that need each person's state, or a
world with one thing switched off, come from replays of the run with the same random numbers
(:mod:`scslab.analysis.replay`), never from estimates.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scslab.analysis.replay import replay
from scslab.engine.simulation import Simulation
from scslab.errors import ScslabError
from scslab.schemes.model import Scheme
from scslab.store.results import Results

#: How heavy a sanction in each life domain is, from 1 (an inconvenience) to 5 (a livelihood or
#: a basic service). scslab's own scale, documented in docs/audit.md; assumed.
SANCTION_SEVERITY: dict[str, int] = {
    "social-life": 1,
    "hotels-leisure": 1,
    "internet": 2,
    "customs": 2,
    "consumption": 2,
    "transport": 3,
    "travel-abroad": 3,
    "finance": 3,
    "procurement": 3,
    "utilities": 3,
    "public-office": 3,
    "business": 4,
    "housing": 4,
    "education": 4,
    "employment": 4,
    "welfare": 5,
    "health": 5,
}
FOUR_FIFTHS = 0.8


def audit(results: Results) -> dict[str, Any]:
    """All six parts for the run in ``results``. Replays the run three times."""
    run = results.run()
    if run["status"] != "complete":
        raise ScslabError(f"{results.path}: the run was interrupted; audit a complete run")
    factual = replay(results)
    scheme = factual.scheme
    rec_fact, state_fact = factual.execute()
    _check_reproduced(results, factual, rec_fact)
    _, state_clean = replay(results, false_records=False).execute()
    rec_base, _ = replay(results, adaptation=False).execute()
    return {
        "disparate_impact": disparate_impact(results, scheme),
        "wrongful": wrongful(results, state_fact, state_clean),
        "rights": rights(results, factual, rec_fact.ev_true, rec_base.ev_true),
        "cross_context": cross_context(results, scheme),
        "segregation": segregation(results),
        "deterrence": deterrence(factual, rec_fact.ev_true, rec_base.ev_true),
    }


def _check_reproduced(results: Results, sim: Simulation, record: Any) -> None:
    stored = results.sql("SELECT sum(mean_score * agents) FROM steps GROUP BY step ORDER BY step")
    sums = np.array([row[0] for row in stored.fetchall()])
    again = record.score_sum.sum(axis=1)[: len(sums)]
    if not np.allclose(sums, again, rtol=0, atol=0.5):
        raise ScslabError(
            f"{results.path}: replaying the run does not reproduce it, so no counterfactual can be "
            "trusted; was the scheme or catalogue changed after the run?"
        )


def low_grades(scheme: Scheme) -> list[str]:
    """Grades that a sanction is triggered by; if none is, the grades wholly below the base."""
    by_grade = {g for c in scheme.sanctions for g in c.trigger.grades}
    if by_grade:
        return [g.id for g in scheme.grades_high_to_low() if g.id in by_grade]
    return [g.id for g in scheme.grades if g.max < scheme.score.base]


def disparate_impact(results: Results, scheme: Scheme) -> dict[str, Any]:
    """Rates of each outcome at the end of the run, by group, with the four-fifths rule.

    ``ratio`` compares the *favourable* rate (not being low-graded, listed or sanctioned; being
    rewarded) of each group with the most favoured group's; ``flag`` is ``ratio < 0.8``.
    """
    columns = set(results.columns)
    outcome_sql = {
        "low_grade": " + ".join(f'"grade__{g}"' for g in low_grades(scheme)) or "0",
        "listed": " + ".join(f'"{c}"' for c in sorted(columns) if c.startswith("list__")) or "0",
        "sanctioned": "sanctioned",
        "rewarded": "rewarded",
    }
    last = results.sql("SELECT max(step) FROM steps").fetchall()[0][0]
    out: dict[str, Any] = {}
    for outcome, expr in outcome_sql.items():
        favourable_if_high = outcome == "rewarded"
        out[outcome] = {}
        for attr in results.groups:
            rows = results.sql(
                f"SELECT {attr}, sum({expr})::BIGINT, sum(agents)::BIGINT FROM steps "
                f"WHERE step = {last} GROUP BY {attr} ORDER BY {attr}"
            ).fetchall()
            rates = {g: (n / a if a else 0.0) for g, n, a in rows}
            fav = {g: (r if favourable_if_high else 1 - r) for g, r in rates.items()}
            best = max(fav.values()) if fav else 0.0
            out[outcome][attr] = [
                {
                    "group": g,
                    "rate": rates[g],
                    "ratio": fav[g] / best if best > 0 else 1.0,
                    "flag": bool(best > 0 and fav[g] / best < FOUR_FIFTHS),
                }
                for g in rates
            ]
    return out


def wrongful(results: Results, state_fact: Any, state_clean: Any) -> dict[str, Any]:
    """Consequences resting on false records; the counterfactual share comes from a paired run."""
    agents = results.run()["agents"]
    counts = dict(
        results.sql(
            "SELECT kind, sum(count)::BIGINT FROM flows WHERE false_record "
            "AND kind IN ('sanction_start', 'list_entry') GROUP BY kind"
        ).fetchall()
    )
    listed = (state_fact.list_since >= 0).any(axis=1)
    listed_clean = (state_clean.list_since >= 0).any(axis=1)
    n_listed = int(listed.sum())
    only_by_false = int((listed & ~listed_clean).sum())
    per = 100_000 / agents
    return {
        "sanctions": int(counts.get("sanction_start", 0)),
        "sanctions_per_100k": counts.get("sanction_start", 0) * per,
        "list_entries": int(counts.get("list_entry", 0)),
        "list_entries_per_100k": counts.get("list_entry", 0) * per,
        "listed_at_end": n_listed,
        "listed_only_because_of_false_records": only_by_false,
        "share_of_listed_not_listed_without_false_records": (
            only_by_false / n_listed if n_listed else 0.0
        ),
    }


def _true_counts(record_true: np.ndarray) -> np.ndarray:
    """True acts per act over the run, from a record's [step, cell, act] tallies."""
    return np.asarray(record_true.sum(axis=(0, 1)), np.float64)


def rights(
    results: Results, sim: Simulation, true_fact: np.ndarray, true_base: np.ndarray
) -> dict[str, Any]:
    """Shares of deductions, list entries and sanctions caused by rights-tagged events; chilling."""
    negative = [e for e in sim.scheme.events if e.points < 0]

    def records(ids: list[str]) -> int:
        if not ids:
            return 0
        expr = " + ".join(f'"recorded__{a}"' for a in ids)
        return int(results.sql(f"SELECT sum({expr}) FROM steps").fetchall()[0][0] or 0)

    all_deductions = records([e.act_id for e in negative])
    rights_deductions = records([e.act_id for e in negative if e.rights])

    def share(kind: str) -> float:
        row = results.sql(
            f"SELECT sum(count) FILTER (rights_record), sum(count) FROM flows WHERE kind = '{kind}'"
        ).fetchall()[0]
        return float(row[0] or 0) / float(row[1]) if row[1] else 0.0

    acts = sim.rates.act_ids
    fact, base = _true_counts(true_fact), _true_counts(true_base)
    chilled = []
    for a in sim.catalogue.acts:
        if a.rights and a.lawful:
            k = acts.index(a.id)
            chilled.append(
                {
                    "act": a.id,
                    "rights": list(a.rights),
                    "scored": a.id in sim.scheme.acts(),
                    "baseline": int(base[k]),
                    "with_scheme": int(fact[k]),
                    "change": (fact[k] - base[k]) / base[k] if base[k] else 0.0,
                }
            )
    lawful = [acts.index(a.id) for a in sim.catalogue.acts if a.rights and a.lawful]
    total_base = float(base[lawful].sum()) if lawful else 0.0
    return {
        "share_of_deductions": rights_deductions / all_deductions if all_deductions else 0.0,
        "share_of_list_entries": share("list_entry"),
        "share_of_sanctions": share("sanction_start"),
        "chilling": {
            "change_in_lawful_rights_activity": (
                (float(fact[lawful].sum()) - total_base) / total_base if total_base else 0.0
            ),
            "by_act": chilled,
        },
    }


def offence_severity(scheme: Scheme) -> dict[str, float]:
    """Per behaviour domain, how grave its scored offences are, from 1 to 5.

    The mean deduction of the scheme's negative events in the domain, as a share of a tenth of the
    score range (100 points of a 1,000-point range), times 4, plus 1, capped at 5. An event that
    deducts nothing but puts people on a list counts as a tenth of the range.
    """
    tenth = (scheme.score.max - scheme.score.min) / 10
    listing = {ev for x in scheme.lists for ev in x.entry.events}
    by_domain: dict[str, list[float]] = {}
    for e in scheme.events:
        weight = -e.points if e.points < 0 else (tenth if e.id in listing else 0)
        if weight > 0:
            by_domain.setdefault(e.domain, []).append(weight)
    return {d: min(5.0, 1 + 4 * float(np.mean(w)) / tenth) for d, w in sorted(by_domain.items())}


def cross_context(results: Results, scheme: Scheme) -> dict[str, Any]:
    """Sanction-months outside the context of their causes, and severity against gravity."""
    severity = offence_severity(scheme)
    rows = results.sql(
        """
        SELECT e.item, e.domain, e.months, coalesce(s.same, 0) AS same
        FROM (SELECT item, domain, sum(people)::BIGINT AS months FROM exposure
              WHERE kind = 'sanction' GROUP BY item, domain) e
        LEFT JOIN (SELECT item, sum(people)::BIGINT AS same FROM exposure_by_cause
                   WHERE kind = 'sanction' AND cause_domain = domain GROUP BY item) s
        USING (item) ORDER BY e.item
        """
    ).fetchall()
    causes = results.sql(
        "SELECT item, cause_domain, sum(people)::BIGINT FROM exposure_by_cause "
        "WHERE kind = 'sanction' AND cause_domain <> 'none' GROUP BY item, cause_domain"
    ).fetchall()
    by_item: dict[str, dict[str, int]] = {}
    for item, domain, months in causes:
        by_item.setdefault(item, {})[domain] = months
    total = sum(r[2] for r in rows)
    same = sum(r[3] for r in rows)
    table = []
    for item, domain, months, same_months in rows:
        weights = by_item.get(item, {})
        known = {d: m for d, m in weights.items() if d in severity}
        gravity = (
            sum(severity[d] * m for d, m in known.items()) / sum(known.values()) if known else None
        )
        heavy = SANCTION_SEVERITY.get(domain, 3)
        table.append(
            {
                "sanction": item,
                "life_domain": domain,
                "sanction_months": months,
                "cross_context_share": 1 - same_months / months if months else 0.0,
                "cause_domains": sorted(weights),
                "sanction_severity": heavy,
                "offence_severity": gravity,
                "disproportionate": gravity is not None and heavy - gravity >= 2,
            }
        )
    return {"share": 1 - same / total if total else 0.0, "proportionality": table}


def segregation(results: Results) -> list[dict[str, Any]] | None:
    """Score assortativity of friendships per month; ``None`` without a network."""
    rows = results.sql(
        "SELECT step, any_value(score_assortativity), any_value(ties_cut)::BIGINT FROM steps "
        "GROUP BY step ORDER BY step"
    ).fetchall()
    if not rows or rows[0][1] is None:
        return None
    return [{"step": s, "assortativity": a, "ties_cut": c} for s, a, c in rows]


def deterrence(sim: Simulation, true_fact: np.ndarray, true_base: np.ndarray) -> dict[str, Any]:
    """Change in true offending against the same world without the scheme (same draws).

    Offences are the unlawful acts that the scheme penalises: with a deduction or a listing.
    """
    acts = sim.rates.act_ids
    fact, base = _true_counts(true_fact), _true_counts(true_base)
    listing = {ev for x in sim.scheme.lists for ev in x.entry.events}
    offences = [e for e in sim.scheme.events if e.points < 0 or e.id in listing]
    lawful = {a.id for a in sim.catalogue.acts if a.lawful}
    rows: list[dict[str, Any]] = []
    for e in offences:
        if e.act_id in lawful:
            continue
        k = acts.index(e.act_id)
        rows.append(
            {
                "act": e.act_id,
                "baseline": int(base[k]),
                "with_scheme": int(fact[k]),
                "change": (fact[k] - base[k]) / base[k] if base[k] else 0.0,
            }
        )
    b = int(base[[acts.index(r["act"]) for r in rows]].sum())
    f = int(fact[[acts.index(r["act"]) for r in rows]].sum())
    return {"change_in_scored_offences": (f - b) / b if b else 0.0, "by_act": rows}
