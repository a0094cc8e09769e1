"""Auditing a run: who is harmed, how wrongly, for what, and in which contexts.

:func:`audit` answers these questions about one run (``docs/audit.md`` defines each figure):

- ``risk_ratio``: people ever affected by each adverse outcome, by group and intersection of
  groups, against a reference group, with intervals (the four-fifths flag beside them);
- ``wrongful``: consequences with a false record among their causes;
- ``counterfactual``: people sanctioned or listed who would not have been without false records;
- ``rights``: how much of the scoring falls on protected activity, and how much of it is chilled;
- ``suppression``: every lawful act the scheme penalises, against a world without the scheme;
- ``cross_context``: punishment outside the context of the behaviour, and its proportionality
  (EU AI Act Art. 5(1)(c)(i) and (ii));
- ``segregation``: score assortativity of friendships over time;
- ``deterrence``: how much scored offending falls against a world without the scheme.
- ``effects``: what consequences' effects did; ``acts``: attempts refused and acts suppressed
  or raised by each act effect.

Figures that the run's tables hold are read from them. Figures that need each person's state, or a
world with one thing switched off, come from replays of the run with the same random numbers
(:mod:`scslab.analysis.replay`), never from estimates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from scslab.analysis.groups import FOUR_FIFTHS, compare_counts, group_codes
from scslab.analysis.replay import key_of, layered_source, replay_source, source
from scslab.engine.ageing import ADULT_LOW_GRADE, ADULT_SANCTIONED, CAME_OF_AGE, PARENT_SANCTIONED
from scslab.engine.compiled import AP_DUE
from scslab.engine.ever import (
    EVER_BITS,
    EVER_INCOME_DOWN,
    EVER_INCOME_UP,
    EVER_LISTED,
    EVER_SANCTIONED,
    low_grades,
)
from scslab.engine.simulation import Run, Simulation
from scslab.errors import ScslabError
from scslab.schemes.model import Condition, Scheme
from scslab.store.layered import TOGETHER, LayeredResults, open_layered
from scslab.store.results import Results

__all__ = ["FOUR_FIFTHS", "audit", "audit_layered", "low_grades"]

#: grouping -> outcome -> (people per group, people ever affected per group)
Counts = dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]

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
#: The intersections of traits compared by default, where the run has both traits.
INTERSECTIONS: tuple[tuple[str, ...], ...] = (("hukou", "income"),)


def audit(
    results: Results,
    *,
    replicates: int = 1,
    intersections: Sequence[Sequence[str]] | None = None,
    progress: Callable[[str], None] | None = None,
    workers: int | None = None,
    cluster: str | None = None,
) -> dict[str, Any]:
    """Every part for the run in ``results``. Replays the run three times, and runs the scenario
    ``replicates - 1`` more times with seeds ``seed + 1``, ... for the replicate intervals.

    ``intersections``: traits compared jointly (default :data:`INTERSECTIONS`, where present).
    The replicates run one after another in this process, or, with ``workers`` (a LocalCluster
    of that many processes) or ``cluster`` (a Dask scheduler's address), as Dask tasks (the
    ``scale`` extra). A layer that reads other layers is replayed with its whole layered run
    (:func:`~scslab.analysis.replay.replay`).
    """
    run = source(results)
    key = key_of(run)
    return _audit(
        run,
        str(results.path),
        {key: results},
        replicates=replicates,
        intersections=intersections,
        progress=progress,
        workers=workers,
        cluster=cluster,
    )[key]


def audit_layered(
    folder: Path,
    *,
    replicates: int = 1,
    intersections: Sequence[Sequence[str]] | None = None,
    progress: Callable[[str], None] | None = None,
    workers: int | None = None,
    cluster: str | None = None,
) -> dict[str, dict[str, Any]]:
    """:func:`audit` of every layer of the layered run in ``folder``, by layer id, from one
    replay of the whole run per counterfactual (and per replicate)."""
    run = layered_source(folder)
    with open_layered(folder) as layered:
        return _audit(
            run,
            str(folder),
            {x.id: layered.results(x.id) for x in layered.layers},
            replicates=replicates,
            intersections=intersections,
            progress=progress,
            workers=workers,
            cluster=cluster,
        )


def region_burden(run: LayeredResults) -> dict[str, Any]:
    """What living in each region costs across a layered run's layers: for each region, its
    people and the sanction-months they bore over the run per 1,000 people, in each layer
    (``None`` where the layer does not cover the region) and in all of them (a person under
    sanctions of two layers in a month counts in both), a layer of firms left out. From
    ``layers.duckdb``."""
    import duckdb

    # a layer of firms sanctions firms, not people: it has no place in what people bear
    layers = [x.id for x in run.layers if not x.firms]
    of = "layer IN (" + ", ".join(f"'{lid}'" for lid in layers) + ")"
    con = duckdb.connect(str(run.path / TOGETHER), read_only=True)
    try:
        months = int(con.execute("SELECT max(month) + 1 FROM steps").fetchall()[0][0])
        people = dict(
            con.execute(
                "SELECT region, max(n)::BIGINT FROM (SELECT region, layer, month, "
                f"sum(agents) AS n FROM steps WHERE {of} GROUP BY ALL) GROUP BY region"
            ).fetchall()
        )
        borne = con.execute(
            f"SELECT region, layer, sum(sanctioned)::BIGINT FROM steps WHERE {of} GROUP BY ALL"
        ).fetchall()
    finally:
        con.close()
    by = {(r, lid): int(n) for r, lid, n in borne}
    regions = []
    for region in sorted(people):
        per = 1000 / people[region] if people[region] else 0.0
        regions.append(
            {
                "region": region,
                "people": int(people[region]),
                "by_layer": {
                    lid: by[(region, lid)] * per if (region, lid) in by else None for lid in layers
                },
                "all_layers": sum(by.get((region, lid), 0) for lid in layers) * per,
            }
        )
    return {"months": months, "layers": layers, "regions": regions}


def _audit(
    run: dict[str, Any],
    where: str,
    stored: dict[str, Results],
    *,
    replicates: int,
    intersections: Sequence[Sequence[str]] | None,
    progress: Callable[[str], None] | None,
    workers: int | None,
    cluster: str | None,
) -> dict[str, dict[str, Any]]:
    """The audit of each run in ``stored`` (by its key among the replays of ``run``)."""
    if replicates < 1:
        raise ScslabError(f"replicates: {replicates}; give 1 (the run alone) or more")
    for results in stored.values():
        if results.run()["status"] != "complete":
            raise ScslabError(f"{results.path}: the run was interrupted; audit a complete run")
    say = progress or (lambda _: None)
    say("replaying the run")
    factual = replay_source(run, where)
    for key, results in stored.items():
        _check_reproduced(results, *factual[key])
    groupings = {key: _groupings(factual[key][0], intersections) for key in stored}
    counts = {
        key: [ever_counts(factual[key][0], factual[key][0].last_run, groupings[key])]
        for key in stored
    }
    say("replaying it without false records")
    clean = replay_source(run, where, false_records=False)
    say("replaying it without adaptation")
    base = replay_source(run, where, adaptation=False)
    seed = int(next(iter(factual.values()))[0].scenario.seed)
    seeds = [seed + k for k in range(1, replicates)]
    if seeds and (workers is not None or cluster is not None):
        done = _replicates_on_dask(run, where, seeds, intersections, cluster, workers, say)
    else:
        done = []
        for k, s in enumerate(seeds, start=2):
            say(f"replicate {k} of {replicates} (seed {s})")
            done.append(replicate_counts(run, where, s, intersections))
    for each in done:
        for key in stored:
            counts[key].append(each[key])
    out = {}
    for key, results in stored.items():
        sim, rec_fact = factual[key]
        rec_base = base[key][1]
        out[key] = {
            "replicates": {"runs": replicates, "seeds": [seed + k for k in range(replicates)]},
            "risk_ratio": risk_ratios(counts[key], groupings[key], sim.scheme),
            "wrongful": wrongful(results),
            "counterfactual": counterfactual(sim.last_run, clean[key][0].last_run),
            "rights": rights(results, sim, rec_fact.ev_true, rec_base.ev_true),
            "suppression": suppression(sim, rec_fact.ev_true, rec_base.ev_true),
            "cross_context": cross_context(results, sim.scheme),
            "segregation": segregation(results),
            "deterrence": deterrence(sim, rec_fact.ev_true, rec_base.ev_true),
            "appeals": appeals(results, sim.last_run),
            "intergenerational": intergenerational(sim, sim.last_run),
            "effects": {
                "acts": act_effects(sim, rec_fact),
                **life_effects(results, sim, groupings[key].get("hukou")),
            },
        }
    return out


def intergenerational(sim: Simulation, run: Run) -> dict[str, Any] | None:
    """Among the children who came of age during the run: those with a household adult
    sanctioned in a recorded month before, against the others; the share sanctioned, and in a
    low grade, as adults (:mod:`scslab.engine.ageing`). ``None`` without children."""
    if not len(run.lineage):
        return None
    grown = (run.lineage & CAME_OF_AGE) != 0
    parent = (run.lineage & PARENT_SANCTIONED) != 0
    out: dict[str, Any] = {
        "came_of_age": int(grown.sum()),
        "parent_sanctioned": int((grown & parent).sum()),
        "inherit_record": bool(
            sim.scenario.population.children is not None
            and sim.scenario.population.children.inherit_record
        ),
    }
    if not grown.any():
        out["note"] = "too small: nobody came of age during the run"
        return out
    names = ["parent sanctioned", "parent not sanctioned"]
    people = [int((grown & parent).sum()), int((grown & ~parent).sum())]
    for o, bit in (("sanctioned", ADULT_SANCTIONED), ("low_grade", ADULT_LOW_GRADE)):
        if o not in outcomes(sim.scheme):
            continue
        hit = grown & ((run.lineage & bit) != 0)
        out[o] = compare_counts(
            names, people, [int((hit & parent).sum()), int((hit & ~parent).sum())]
        )
    return out


def _check_reproduced(results: Results, sim: Simulation, record: Any) -> None:
    stored = results.sql("SELECT sum(mean_score * agents) FROM steps GROUP BY step ORDER BY step")
    sums = np.array([row[0] for row in stored.fetchall()])
    scale = sim.layout.score_units.scale  # stored in the scheme's units, replayed in the engine's
    again = record.score_sum.sum(axis=1)[: len(sums)]
    if not np.allclose(sums * scale, again, rtol=0, atol=0.5):
        raise ScslabError(
            f"{results.path}: replaying the run does not reproduce it, so no counterfactual can be "
            "trusted; was the scheme or catalogue changed after the run?"
        )


def outcomes(scheme: Scheme) -> list[str]:
    """The outcomes this scheme can produce: sanctioned, listed, low_grade, rewarded."""
    have = {
        "sanctioned": bool(scheme.sanctions),
        "listed": bool(scheme.lists),
        "low_grade": bool(low_grades(scheme)),
        "rewarded": bool(scheme.rewards),
    }
    return [o for o in EVER_BITS if have[o]]


def _groupings(
    sim: Simulation, intersections: Sequence[Sequence[str]] | None
) -> dict[str, tuple[np.ndarray, list[str]]]:
    """Each grouping's name (``hukou``, ``hukou*income``) -> (group of each cell, group names)."""
    levels = sim.cells.levels
    traits = sim.cells.traits()
    chosen: list[tuple[str, ...]] = [(t,) for t in levels]
    if intersections is None:
        chosen += [x for x in INTERSECTIONS if all(t in levels for t in x)]
    else:
        for x in intersections:
            if len(x) < 2 or len(set(x)) != len(x):
                raise ScslabError(
                    f"intersection {'*'.join(x)!r}: name two or more different traits"
                )
            chosen.append(tuple(x))
    return {"*".join(by): group_codes(levels, traits, by) for by in chosen}


def replicate_counts(
    run: dict[str, Any],
    where: str,
    seed: int,
    intersections: Sequence[Sequence[str]] | None,
    threads: int | None = None,
) -> dict[str, Counts]:
    """One replicate: the run's scenario with ``seed``, its people ever affected by group, by
    the key of each replayed run (:func:`~scslab.analysis.replay.replay_source`). Needs only
    what :func:`~scslab.analysis.replay.source` gives, so a Dask worker that cannot see the
    file can run it; ``threads`` caps the compiled kernels' threads there."""
    if threads is not None:
        from scslab.engine.cluster import use_kernel_threads

        use_kernel_threads(threads)
    return {
        key: ever_counts(sim, sim.last_run, _groupings(sim, intersections))
        for key, (sim, _) in replay_source(run, where, seed=seed).items()
    }


def _replicates_on_dask(
    run: dict[str, Any],
    where: str,
    seeds: list[int],
    intersections: Sequence[Sequence[str]] | None,
    cluster: str | None,
    workers: int | None,
    say: Callable[[str], None],
) -> list[dict[str, Counts]]:
    from scslab.engine.cluster import dask_client, kernel_threads

    say(f"{len(seeds)} replicates on Dask")
    with dask_client(cluster, workers or 1) as client:
        threads = kernel_threads(client, list(client.scheduler_info()["workers"]))
        each = min(threads.values(), default=1)
        futures = [
            client.submit(replicate_counts, run, where, s, intersections, each, pure=False)
            for s in seeds
        ]
        done: list[dict[str, Counts]] = client.gather(futures)
    return done


def ever_counts(
    sim: Simulation, run: Run, groupings: dict[str, tuple[np.ndarray, list[str]]]
) -> Counts:
    """grouping -> outcome -> (people per group, people ever affected per group)."""
    cell = sim.population().cell
    out: Counts = {}
    for name, (codes, groups) in groupings.items():
        g = codes[cell]
        people = np.bincount(g, minlength=len(groups))
        out[name] = {
            o: (people, np.bincount(g[(run.ever & bit) != 0], minlength=len(groups)))
            for o, bit in EVER_BITS.items()
        }
    return out


def risk_ratios(
    counts: list[Counts],
    groupings: dict[str, tuple[np.ndarray, list[str]]],
    scheme: Scheme,
) -> dict[str, Any]:
    """outcome -> grouping -> :func:`~scslab.analysis.groups.compare_counts` of people ever
    affected over the run; ``counts[0]`` is the run's, the rest its replicates'."""
    first = counts[0]
    out: dict[str, Any] = {}
    for o in outcomes(scheme):
        out[o] = {}
        for name, by_outcome in first.items():
            people, affected = by_outcome[o]
            out[o][name] = compare_counts(
                groupings[name][1],
                people.tolist(),
                affected.tolist(),
                [(c[name][o][0].tolist(), c[name][o][1].tolist()) for c in counts[1:]],
                favourable=o == "rewarded",
            )
    return out


def wrongful(results: Results) -> dict[str, Any]:
    """Sanction starts and list entries with a false record among their causes."""
    agents = results.run()["agents"]
    counts = dict(
        results.sql(
            "SELECT kind, sum(count)::BIGINT FROM flows WHERE false_record "
            "AND kind IN ('sanction_start', 'list_entry') GROUP BY kind"
        ).fetchall()
    )
    per = 100_000 / agents
    s, e = int(counts.get("sanction_start", 0)), int(counts.get("list_entry", 0))
    return {
        "sanctions_with_a_false_record_among_causes": s,
        "sanctions_with_a_false_record_among_causes_per_100k": s * per,
        "list_entries_with_a_false_record_among_causes": e,
        "list_entries_with_a_false_record_among_causes_per_100k": e * per,
    }


def appeals(results: Results, fact: Run) -> dict[str, Any] | None:
    """What the scheme's objection procedure did (``None`` for a scheme without one): appeals
    lodged and decided, won and lost by whether the record was false, wrongful listings corrected
    and how long they had lasted, and the appeals still pending at the end (from the replay)."""
    names = [c for c in results.columns if c.startswith("appeals__")]
    if not names:
        return None
    sums = ", ".join(f'sum("{c}")::BIGINT' for c in names)
    row = results.sql(f"SELECT {sums} FROM steps").fetchall()[0]
    n = {c[len("appeals__") :]: int(v or 0) for c, v in zip(names, row, strict=True)}
    wrongful_entries = wrongful(results)["list_entries_with_a_false_record_among_causes"]

    def rate(won: int, lost: int) -> float | None:
        return won / (won + lost) if won + lost else None

    fixed, months = n["corrected_false"], n["months_false"]
    return {
        "lodged": n["lodged"],
        "decided": n["won_false"] + n["won_true"] + n["lost_false"] + n["lost_true"],
        "pending_at_end": int((fact.state.appeal[:, AP_DUE] >= 0).sum()),
        "won": {"false_records": n["won_false"], "true_records": n["won_true"]},
        "lost": {"false_records": n["lost_false"], "true_records": n["lost_true"]},
        "success_rate": {
            "false_records": rate(n["won_false"], n["lost_false"]),
            "true_records": rate(n["won_true"], n["lost_true"]),
        },
        "wrongful_list_entries": wrongful_entries,
        "wrongful_listings_corrected": fixed,
        "share_of_wrongful_list_entries_corrected": (
            fixed / wrongful_entries if wrongful_entries else None
        ),
        "months_wrongful_listings_lasted": months,
        "mean_months_before_correction": months / fixed if fixed else None,
        "true_listings_removed": n["corrected_true"],
        "months_true_listings_lasted": n["months_true"],
        "consequences_ended": n["consequences_ended"],
    }


def counterfactual(fact: Run, clean: Run) -> dict[str, Any]:
    """People harmed by false records, from the paired run without them (same random numbers)."""
    n = len(fact.ever)
    per = 100_000 / n if n else 0.0

    def ever(run: Run, bit: int) -> np.ndarray:
        return np.asarray((run.ever & bit) != 0)

    s_f, s_c = ever(fact, EVER_SANCTIONED), ever(clean, EVER_SANCTIONED)
    l_f, l_c = ever(fact, EVER_LISTED), ever(clean, EVER_LISTED)
    sanctioned_only = s_f & ~s_c
    listed_only = l_f & ~l_c
    months_f = fact.sanction_months.astype(np.int64)
    months_c = clean.sanction_months.astype(np.int64)
    listed_end = (fact.state.list_since >= 0).any(axis=1)
    listed_end_clean = (clean.state.list_since >= 0).any(axis=1)
    n_end = int(listed_end.sum())
    only_end = int((listed_end & ~listed_end_clean).sum())
    return {
        "people_ever_sanctioned": int(s_f.sum()),
        "people_sanctioned_who_would_not_have_been": int(sanctioned_only.sum()),
        "people_sanctioned_who_would_not_have_been_per_100k": float(sanctioned_only.sum()) * per,
        "sanction_months_they_bore": int(months_f[sanctioned_only].sum()),
        "extra_sanction_months": int(np.maximum(months_f - months_c, 0).sum()),
        "people_ever_listed": int(l_f.sum()),
        "people_listed_who_would_not_have_been": int(listed_only.sum()),
        "people_listed_who_would_not_have_been_per_100k": float(listed_only.sum()) * per,
        "listed_at_end": n_end,
        "listed_at_end_only_because_of_false_records": only_end,
        "share_of_listed_at_end_not_listed_without_false_records": (
            only_end / n_end if n_end else 0.0
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


def recorded_counts(results: Results) -> dict[str, int]:
    """Records of each act over the run, from the ``steps`` table."""
    acts = [c[len("recorded__") :] for c in results.columns if c.startswith("recorded__")]
    if not acts:
        return {}
    row = results.sql(
        "SELECT " + ", ".join(f'sum("recorded__{a}")::BIGINT' for a in acts) + " FROM steps"
    ).fetchall()[0]
    return {a: int(v or 0) for a, v in zip(acts, row, strict=True)}


def points_per_record(scheme: Scheme, recorded: dict[str, int]) -> dict[str, float]:
    """Per behaviour domain, the points a record in it cost over the run, on average.

    Each negative or listing event of the scheme weighs its deduction (0 for an event that lists
    without deducting), and each event counts as often as its act was recorded over the run
    (``recorded``: act -> records); a domain whose events were never recorded weighs its events
    equally.
    """
    listing = {ev for x in scheme.lists for ev in x.entry.events}
    offences = [e for e in scheme.events if e.points < 0 or e.id in listing]
    by_domain: dict[str, list[tuple[float, int]]] = {}
    for e in offences:
        by_domain.setdefault(e.domain, []).append(
            (float(max(-e.points, 0)), recorded.get(e.act_id, 0))
        )
    out = {}
    for d, rows in sorted(by_domain.items()):
        w = sum(n for _, n in rows)
        out[d] = sum(p * n for p, n in rows) / w if w else float(np.mean([p for p, _ in rows]))
    return out


def offence_severity(scheme: Scheme, points: dict[str, float]) -> dict[str, float]:
    """Per behaviour domain, how grave its recorded offences are, from 1 to 5.

    The points a record in the domain cost (:func:`points_per_record`) as a share of a tenth of
    the score range (100 points of a 1,000-point range), times 4, plus 1, capped at 5. A record
    that lists without deducting counts 0 points: the scheme itself gives it no weight.
    """
    tenth = (scheme.score.max - scheme.score.min) / 10
    return {d: min(5.0, 1 + 4 * p / tenth) if tenth > 0 else 1.0 for d, p in points.items()}


def cross_context(results: Results, scheme: Scheme) -> dict[str, Any]:
    """Sanction-months outside the context of their causes, by any overlap and by points; and
    each sanction's severity against the gravity of the offences behind it.

    In a layered run, a sanction whose trigger needs another layer's list or grade
    (:func:`through_layers`) was caused by a record another scheme acted on: all its months are
    out of context, whatever the domains (``cross_layer_share`` of the sanction-months)."""
    linked = {c.id for c in scheme.sanctions if through_layers(c.trigger)}
    points = points_per_record(scheme, recorded_counts(results))
    severity = offence_severity(scheme, points)
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
    rows = [(i, d, m, 0 if i in linked else s) for i, d, m, s in rows]
    total = sum(r[2] for r in rows)
    same = sum(r[3] for r in rows)
    weighted_out = 0.0
    table = []
    for item, domain, months, same_months in rows:
        weights = by_item.get(item, {})
        known = {d: m for d, m in weights.items() if d in severity}
        gravity = (
            sum(severity[d] * m for d, m in known.items()) / sum(known.values()) if known else None
        )
        heavy = SANCTION_SEVERITY.get(domain, 3)
        share_w = 1.0 if item in linked else _weighted_out_share(domain, weights, points)
        if share_w is not None:
            weighted_out += share_w * months
        table.append(
            {
                "sanction": item,
                "life_domain": domain,
                "sanction_months": months,
                "cross_context_share": 1 - same_months / months if months else 0.0,
                "cross_context_share_weighted": share_w,
                "cause_domains": sorted(weights),
                "sanction_severity": heavy,
                "offence_severity": gravity,
                "disproportionate": gravity is not None and heavy - gravity >= 2,
                "through_layers": item in linked,
            }
        )
    across = sum(r[2] for r in rows if r[0] in linked)
    return {
        "share": 1 - same / total if total else 0.0,
        "cross_layer_share": across / total if total else 0.0,
        "share_weighted": weighted_out / total if total else 0.0,
        "points_per_record": points,
        "offence_severity": severity,
        "proportionality": table,
    }


def through_layers(c: Condition) -> bool:
    """Whether a trigger holds only through another layer's list or grade (``layer:``): such a
    leaf alone, an ``all:`` with such a part, an ``any:`` whose every part is one. A ``not:`` is
    not: another scheme's silence causes nothing."""
    if c.layer is not None:
        return True
    if c.all_ is not None:
        return any(through_layers(p) for p in c.all_)
    if c.any_ is not None:
        return all(through_layers(p) for p in c.any_)
    return False


def _weighted_out_share(
    domain: str, months_by_cause: dict[str, int], points: dict[str, float]
) -> float | None:
    """The share of a sanction's causes, weighted by sanction-months and by the points a record
    in each cause domain cost, whose domain is not the sanction's. Where none of its causes
    cost points, each counts once (the any-overlap share by cause). ``None`` without causes."""
    if not months_by_cause:
        return None
    w = {d: m * points.get(d, 0.0) for d, m in months_by_cause.items()}
    if sum(w.values()) <= 0:
        w = {d: float(m) for d, m in months_by_cause.items()}
    total = sum(w.values())
    return 1 - w.get(domain, 0.0) / total if total > 0 else None


def life_effects(
    results: Results,
    sim: Simulation | None = None,
    hukou: tuple[np.ndarray, list[str]] | None = None,
) -> dict[str, Any]:
    """What the consequences' effects on lives did (``effects:`` in a scheme): income bands
    lost and gained, ties cut by public shaming, contracts refused; by hukou, whose gap is the
    poverty-trap question. A kind is ``None`` where the run had no such effect acting (none in
    the scheme, or ties without a network, contracts without the contract game).

    With ``sim``, the replayed run, income also counts distinct people who moved down or up a
    band at least once (``hukou``: its grouping, the group of each cell, for the split)."""
    have = set(results.columns)

    def sums(columns: dict[str, str]) -> dict[str, Any]:
        picked = ", ".join(f"sum({c})::BIGINT AS {k}" for k, c in columns.items())
        rows = results.sql(f"SELECT hukou, {picked} FROM steps GROUP BY hukou ORDER BY hukou")
        by = {r[0]: dict(zip(columns, r[1:], strict=True)) for r in rows.fetchall()}
        total = {k: sum(int(v[k] or 0) for v in by.values()) for k in columns}
        return {**total, "by_hukou": by}

    out: dict[str, Any] = {"income": None, "ties": None, "contracts": None}
    exposed = (
        results.sql("SELECT sum(income_exposed) FROM steps").fetchall()
        if "income_exposed" in have
        else [(0,)]
    )
    if exposed[0][0]:
        out["income"] = sums(
            {
                "person_months_under_effect": "income_exposed",
                "moves_down": "income_moved_down",
                "bands_lost": "income_bands_lost",
                "moves_up": "income_moved_up",
                "bands_gained": "income_bands_gained",
            }
        )
        run = sim.last_run if sim is not None else None
        if sim is not None and run is not None and len(run.band):
            income = out["income"]
            down = (run.ever & EVER_INCOME_DOWN) != 0
            up = (run.ever & EVER_INCOME_UP) != 0
            income["people_moved_down"] = int(down.sum())
            income["people_moved_up"] = int(up.sum())
            if hukou is not None:
                codes, names = hukou
                g = codes[sim.population().cell]
                for k, name in enumerate(names):
                    if name in income["by_hukou"]:
                        income["by_hukou"][name]["people_moved_down"] = int(down[g == k].sum())
                        income["by_hukou"][name]["people_moved_up"] = int(up[g == k].sum())
    if "ties_cut_by_shaming" in have:
        out["ties"] = sums({"person_months_shamed": "shamed", "ties_cut": "ties_cut_by_shaming"})
    if "contracts_refused" in have:
        out["contracts"] = sums(
            {
                "person_months_refused": "refused_by_partners",
                "contracts_sought": "contracts",
                "contracts_refused": "contracts_refused",
            }
        )
    return out


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


def suppression(sim: Simulation, true_fact: np.ndarray, true_base: np.ndarray) -> dict[str, Any]:
    """Every lawful act the scheme penalises (with a deduction or a listing), rights-tagged or
    not: true acts with the scheme and in the paired world without adaptation, and the change."""
    acts = sim.rates.act_ids
    fact, base = _true_counts(true_fact), _true_counts(true_base)
    listing = {ev for x in sim.scheme.lists for ev in x.entry.events}
    lawful = {a.id: a for a in sim.catalogue.acts if a.lawful}
    penalised = sorted(
        {e.act_id for e in sim.scheme.events if (e.points < 0 or e.id in listing)}
        & set(lawful)
        & set(acts)
    )
    rows: list[dict[str, Any]] = []
    for a in penalised:
        k = acts.index(a)
        rows.append(
            {
                "act": a,
                "rights": list(lawful[a].rights),
                "baseline": int(base[k]),
                "with_scheme": int(fact[k]),
                "change": (fact[k] - base[k]) / base[k] if base[k] else 0.0,
            }
        )
    b = int(sum(r["baseline"] for r in rows))
    f = int(sum(r["with_scheme"] for r in rows))
    return {"change_in_penalised_lawful_acts": (f - b) / b if b else 0.0, "by_act": rows}


def run_figures(sim: Simulation, rec: Any) -> dict[str, float]:
    """The audit figures of one run held in memory, no replay needed: the sweep outputs
    ``audit.*`` (``scslab.sweep.outputs``; docs/audit.md lists them). ``sim`` has just executed
    the run whose record is ``rec``. People runs only; empty for a firm run."""
    from scslab.engine.compiled import ALL_CAUSES
    from scslab.schemes.model import DOMAINS

    if sim.subjects != "people" or rec.done == 0:
        return {}
    run = sim.last_run
    T, n = rec.done, len(run.ever)
    out: dict[str, float] = {}
    for o in outcomes(sim.scheme):
        out[f"audit.{o}_rate"] = float(np.count_nonzero(run.ever & EVER_BITS[o])) / n
    L = len(sim.layout.lists)
    sanctions = [(L + q, c) for q, c in sim.layout.consequences if c in sim.scheme.sanctions]
    lists = list(range(L))

    def starts(items: list[int]) -> np.ndarray:  # [mark] over the run
        if not items:
            return np.zeros(4, np.int64)
        return np.asarray(rec.flow[:T, 0, items, ALL_CAUSES].sum(axis=(0, 1)), np.int64)

    def share(marks: np.ndarray, bit: int) -> float:
        total = int(marks.sum())
        return (
            float(sum(int(marks[m]) for m in range(len(marks)) if m & bit)) / total
            if total
            else 0.0
        )

    s_marks, l_marks = starts([ix for ix, _ in sanctions]), starts(lists)
    if sim.scheme.sanctions:
        out["audit.rights_share"] = share(s_marks, 2)
        out["audit.false_share"] = share(s_marks, 1)
        recorded = dict(
            zip(sim.rates.act_ids, rec.ev_rec[:T].sum(axis=(0, 1)).tolist(), strict=True)
        )
        points = points_per_record(sim.scheme, recorded)
        total = same = 0
        weighted = 0.0
        for ix, c in sanctions:
            exposure = rec.flow[:T, 2, ix].sum(axis=(0, 2))  # [cause slot]
            months = int(exposure[ALL_CAUSES])
            total += months
            same += int(exposure[DOMAINS.index(c.domain)])
            by_cause = {d: int(exposure[k]) for k, d in enumerate(DOMAINS) if exposure[k]}
            w = _weighted_out_share(c.domain, by_cause, points)
            weighted += (w or 0.0) * months
        out["audit.cross_context_share"] = 1 - same / total if total else 0.0
        out["audit.cross_context_share_weighted"] = weighted / total if total else 0.0
    if sim.scheme.lists:
        out["audit.rights_share_of_list_entries"] = share(l_marks, 2)
    levels, traits = sim.cells.levels, sim.cells.traits()
    cell = sim.population().cell
    for attr in levels:
        codes, names = group_codes(levels, traits, (attr,))
        g = codes[cell]
        people = np.bincount(g, minlength=len(names))
        ref = int(np.argmax(people))
        for o in outcomes(sim.scheme):
            hit = np.bincount(g[(run.ever & EVER_BITS[o]) != 0], minlength=len(names))
            rates = np.divide(hit, people, out=np.zeros(len(names)), where=people > 0)
            for k, name in enumerate(names):
                if people[k] == 0:
                    continue
                out[f"audit.rd.{o}.{attr}.{name}"] = float(rates[k] - rates[ref])
                if rates[ref] > 0:
                    out[f"audit.rr.{o}.{attr}.{name}"] = float(rates[k] / rates[ref])
    return out


def run_figure_names(sim: Simulation) -> tuple[str, ...]:
    """The names :func:`run_figures` can give for a run of ``sim``, known before it runs (a
    risk ratio is left out of a run where the reference group has no one affected)."""
    if sim.subjects != "people":
        return ()
    os_ = outcomes(sim.scheme)
    names = [f"audit.{o}_rate" for o in os_]
    if sim.scheme.sanctions:
        names += [
            "audit.rights_share",
            "audit.false_share",
            "audit.cross_context_share",
            "audit.cross_context_share_weighted",
        ]
    if sim.scheme.lists:
        names.append("audit.rights_share_of_list_entries")
    for attr, values in sim.cells.levels.items():
        for o in os_:
            for v in values:
                names += [f"audit.rr.{o}.{attr}.{v}", f"audit.rd.{o}.{attr}.{v}"]
    return tuple(names)


def act_effects(sim: Simulation, record: Any) -> list[dict[str, Any]]:
    """Each distinct act effect of the scheme (``SchemeLayout.act_effects``): the consequences
    that carry it, the person-months it ran, and per act its multiplier and what it did.

    An attempt act refused at all counts the attempts ``blocked`` (the run's own count, for all
    effects that refuse the act). Another act counts ``change_expected``: the acts the effect
    took away (negative) or added, expected from the person-months under it, one month later,
    and the act's rate in each cell without it: ``sum (m - 1) x rate x person-months``."""
    layout, arrays, rates = sim.layout, sim.arrays, sim.rates
    out: list[dict[str, Any]] = []
    personal = {int(a): k for k, a in enumerate(rates.personal)}
    for j, effect in enumerate(layout.act_effects):
        groups = [q for q in range(len(layout.groups)) if (int(arrays.grp_effbit[q]) >> j) & 1]
        running = record.grp_active[:, :, groups].sum(axis=2)  # [steps, cells]
        acts: dict[str, Any] = {}
        for act, m in effect.items():
            a = rates.act_ids.index(act)
            entry: dict[str, Any] = {"multiplier": m}
            if act in layout.attempts:
                v = layout.attempts.index(act)
                entry["blocked"] = int(record.blocked[:, :, v].sum())
            elif a in personal:
                sanctioned = any(layout.groups[q][0] in sim.scheme.sanctions for q in groups)
                rate = rates.rate[:, int(sanctioned), personal[a]]  # per person-month, by cell
                lagged = running[:-1].sum(axis=0)  # acts change the month after
                entry["change_expected"] = round(float(((m - 1.0) * rate * lagged).sum()), 1)
            acts[act] = entry
        out.append(
            {
                "consequences": [
                    c.id for q in groups for c in layout.groups[q] if c.act_multipliers()
                ],
                "person_months": int(running.sum()),
                "acts": acts,
            }
        )
    return out
