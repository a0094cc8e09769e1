"""One panel person's path through a scheme: acts → records → points → grade → list → sanction.

:func:`explain` reads a run's panel tables (``panel``, ``panel_spells``, ``panel_events``, see
``docs/results.md``) and the scheme the run kept (``runs.scheme_yaml``), and answers "why is this
person under ITEM?" with the records behind it.

>>> from scslab.store.results import Results
>>> x = explain(Results("runs/x"), 4711)
>>> x.why("high-speed-rail-ban")       # plain text lines
>>> x.chains()                         # one Chain per list and sanction spell
>>> x.to_dict()                        # JSON-ready

What the results do not hold, and so no explanation can show (each answer says so where it
matters): the channel that recorded an act, which household member's state triggered a
household sanction, and the network-rule deductions behind a ``relationships`` cause.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from scslab.errors import PersonError, ScslabError
from scslab.optional import need
from scslab.schemes import units
from scslab.schemes.loader import parse_scheme
from scslab.schemes.model import Condition, Consequence, ListRule, Scheme
from scslab.schemes.words import condition_words, points_started_words
from scslab.store.results import GROUPS

if TYPE_CHECKING:
    from scslab.store.results import Results

__all__ = ["ActRecord", "Chain", "Explanation", "Month", "Spell", "explain"]

#: What the run's tables do not keep, in words; every explanation carries these caveats.
NOT_STORED = (
    "channel: the results do not say which channel (court, bank, camera, informant...) recorded "
    "an act or made a false record",
)
_PANEL_TABLES = ("runs", "panel", "panel_spells", "panel_events")
_SHOW_IDS = 10


@dataclass(frozen=True)
class Month:
    """The person's state at the end of one month."""

    step: int
    score: int | float  # in the scheme's units (scslab.schemes.units)
    grade: str | None


@dataclass(frozen=True)
class ActRecord:
    """One scored act the person committed (recorded or missed), or one false record about them."""

    step: int
    act: str
    false_record: bool
    recorded: bool
    #: the scheme's event that scored the record; None if missed
    event: str | None
    #: the event's life domain (the context the behaviour comes from); None if missed
    domain: str | None
    #: the points the record actually moved the score by (after caps and the score's range)
    points: int | float
    rights: tuple[str, ...] = ()
    #: the channel that recorded it: not kept by the run, always None
    channel: str | None = None
    #: a won appeal (act ``appeal``): the month of the record of ``event`` it reversed; its
    #: points are those given back
    reverses: int | None = None
    #: a record reversed on appeal: the month it was reversed in
    reversed_in: int | None = None

    @property
    def missed(self) -> bool:
        return not self.recorded

    @property
    def appeal(self) -> bool:
        """This is a won appeal, not a record."""
        return self.reverses is not None

    def describe(self, shift: int = 0) -> str:
        """E.g. ``unpaid-judgment recorded (false record), 0 points, courts``; months are
        counted from the run's month ``shift`` (a layer's ``from`` in a layered run)."""
        truth = "false record" if self.false_record else "true record"
        if self.reverses is not None:
            return (
                f"appeal won: the {self.event} record of month {self.reverses + shift} ({truth}) "
                f"reversed, {_pts(self.points)} points back, its listing and the consequences "
                "it set off ended"
            )
        if not self.recorded:
            return f"{self.act} missed (not recorded)"
        if self.act.startswith(("sanction:", "reward:")):  # a consequence's points effect
            return points_started_words(self.act, self.points)
        name = self.act if self.event in (None, self.act) else f"{self.act} as {self.event}"
        rights = f", rights: {', '.join(self.rights)}" if self.rights else ""
        later = (
            f"; reversed on appeal in month {self.reversed_in + shift}"
            if self.reversed_in is not None
            else ""
        )
        return (
            f"{name} recorded ({truth}), {_pts(self.points)} points, {self.domain}{rights}{later}"
        )


@dataclass(frozen=True)
class Spell:
    """A time on a list or under a sanction or reward: months ``start`` to ``end - 1``."""

    kind: str
    item: str
    name: str
    #: the life domain a sanction or reward acts in; None for lists
    domain: str | None
    start: int
    #: the first month after the spell; None if still running when the run ended
    end: int | None
    cause_domains: tuple[str, ...]
    false_record: bool
    #: the scheme's trigger (or list entry rule) in words
    trigger: str
    #: what a sanction or reward does; None for lists
    effect: str | None

    @property
    def running(self) -> bool:
        return self.end is None

    def label(self) -> str:
        """E.g. ``sanction high-speed-rail-ban (transport)``."""
        where = f" ({self.domain})" if self.domain else ""
        return f"{self.kind} {self.item}{where}"

    def period(self, shift: int = 0) -> str:
        """E.g. ``from month 12 to month 35`` or ``from month 12, still running``; months are
        counted from the run's month ``shift`` (a layer's ``from`` in a layered run)."""
        if self.end is None:
            return f"from month {self.start + shift}, still running at the end of the run"
        return f"from month {self.start + shift} to month {self.end - 1 + shift}"


@dataclass(frozen=True)
class Chain:
    """Why one list or sanction spell happened: the records behind it, in order.

    ``via`` is the list spell a list-triggered sanction rests on; ``events`` are the recorded
    negative events in the spell's cause domains up to its start (the list entry's own for a
    list-triggered sanction); ``unexplained`` are cause domains with no such record in the panel.
    """

    spell: Spell
    via: Spell | None
    events: tuple[ActRecord, ...]
    unexplained: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def false_record(self) -> bool:
        """A false record is among the records shown."""
        return any(e.false_record for e in self.events)

    def describe(self, shift: int = 0) -> str:
        """One line: ``sanction X (domain) from month N: via list L from month M ← causes``;
        months are counted from the run's month ``shift`` (a layer's ``from``)."""
        s = self.spell
        head = f"{s.label()} {s.period(shift)}"
        via = f"via list {self.via.item} from month {self.via.start + shift}; " if self.via else ""
        if self.events:
            causes = "; ".join(
                f"{e.domain}: {e.event or e.act} recorded in month {e.step + shift} "
                f"({'false' if e.false_record else 'true'} record, {_pts(e.points)} points"
                + (
                    f", reversed on appeal in month {e.reversed_in + shift})"
                    if e.reversed_in is not None
                    else ")"
                )
                for e in self.events
            )
            text = f"{head}: {via}caused by {causes}"
        elif s.cause_domains:
            text = f"{head}: {via}no record of this person in the panel explains it"
        else:
            text = f"{head}: {via}no negative record stands behind it"
        if self.unexplained:
            text += f" [cause domains not shown: {', '.join(self.unexplained)}]"
        return text


@dataclass
class Explanation:
    """One panel person's whole path in one run."""

    person: int
    run: str
    scheme: str
    steps: int
    complete: bool
    #: the person's region, hukou, age band and income band (a firm's: region, sector, size,
    #: conduct)
    traits: dict[str, str]
    base: int | float
    #: the score before month 0: the base, or where the unrecorded history left it
    start: int | float
    #: the scheme's grade bands: (id, min, max), high to low
    grade_bands: tuple[tuple[str, int | float, int | float], ...]
    months: tuple[Month, ...]
    events: tuple[ActRecord, ...]
    spells: tuple[Spell, ...]
    not_stored: tuple[str, ...] = NOT_STORED
    _scheme: Scheme | None = field(default=None, repr=False, compare=False)

    # --- derived views ------------------------------------------------------------------------
    def events_in(self, step: int) -> list[ActRecord]:
        return [e for e in self.events if e.step == step]

    @property
    def score_units(self) -> units.ScoreUnits:
        """The scheme's score units (scores and points here are in them)."""
        return units.of(self._scheme) if self._scheme is not None else units.UNIT

    def other_change(self, step: int) -> int | float:
        """The month's score change that no recorded event explains: decay, repair, network rule.

        ``score[step] - score[step - 1] - sum(points of the month)``; the score before month 0
        is :attr:`start`.
        """
        before = self.start if step == 0 else self.months[step - 1].score
        change = self.months[step].score - before - sum(e.points for e in self.events_in(step))
        return self.score_units.round_units(change)

    def items(self) -> list[str]:
        """Lists, sanctions and rewards of the scheme, in file order."""
        return list(self._named())

    # --- chains -------------------------------------------------------------------------------
    def chains(self) -> list[Chain]:
        """For each list and sanction spell, the chain of records behind it, in spell order."""
        return [self.chain(s) for s in self.spells if s.kind in ("list", "sanction")]

    def chain(self, spell: Spell) -> Chain:
        """The records behind one spell (any kind, rewards included)."""
        cond = self.condition(spell)
        notes: list[str] = []
        via: Spell | None = None
        household = cond.of == "household"
        # a household trigger reads the members' state at the end of the month before
        upto = spell.start - 1 if household else spell.start
        events: list[ActRecord]
        if cond.layer is not None:  # the records behind it are that layer's
            events = []
            notes.append(
                f"triggered {condition_words(cond)}, which that layer's own records set; "
                f"follow the person in layer {cond.layer} for them"
            )
        elif cond.list is not None:
            via = self._covering("list", cond.list, upto)
            if via is not None:
                events = list(self.chain(via).events)
                if household:
                    notes.append(
                        f"triggered when anyone in the person's household is on list {cond.list}; "
                        f"the person's own listing from month {via.start} is one such; the results "
                        "do not identify household members, so others' listings cannot be shown"
                    )
            else:
                events = []
                if household:
                    notes.append(
                        f"triggered by another member of the person's household on list "
                        f"{cond.list} in month {upto}; the results do not identify household "
                        "members, so the records behind it cannot be shown"
                    )
                else:
                    notes.append(f"no spell of list {cond.list} covers month {upto} in the panel")
        elif cond.events:
            events = self._entry_records(spell, cond.events, notes)
        else:
            events = self._negative_records(spell.cause_domains, upto, notes)
            if household:
                notes.append(
                    f"triggered when: {condition_words(cond)}; the records "
                    "shown are the person's own; the results do not identify household members"
                )
        shown = {e.domain for e in events}
        unexplained = tuple(d for d in spell.cause_domains if d not in shown)
        if "relationships" in unexplained:
            falls = [
                m.step for m in self.months if m.step <= upto and self.other_change(m.step) < 0
            ]
            notes.append(
                "relationships: deductions under the scheme's network rules (friends below a "
                "score, on a list or in a grade) are not kept in panel_events"
                + (
                    f"; the score fell without a record in month(s) {_steps(falls)}"
                    if falls
                    else ""
                )
            )
        if spell.false_record and not any(e.false_record for e in events):
            notes.append(
                "a false record contributed, but it is not among this person's records shown "
                "(it belongs to another household member, or lies outside the panel's records)"
            )
        if not spell.false_record and any(e.false_record for e in events):
            notes.append(
                "the run marks this spell as free of false records, yet a false record is shown: "
                "the records reconstructed from the panel may be too many"
            )
        return Chain(spell, via, tuple(events), unexplained, tuple(notes))

    def _covering(self, kind: str, item: str, step: int) -> Spell | None:
        for s in self.spells:
            if (
                s.kind == kind
                and s.item == item
                and s.start <= step
                and (s.end is None or s.end > step)
            ):
                return s
        return None

    def _entry_records(
        self, spell: Spell, kinds: Iterable[str], notes: list[str]
    ) -> list[ActRecord]:
        """A list entered on events: the one record that put the person on it."""
        kinds = set(kinds)
        found = [
            e
            for e in self.events
            if e.recorded and not e.appeal and e.event in kinds and e.step <= spell.start
        ]
        same = [e for e in found if e.step == spell.start]
        if not same:
            if found:
                notes.append(
                    f"no entry record in month {spell.start}; the latest before it is shown"
                )
                last = max(e.step for e in found)
                same = [e for e in found if e.step == last]
            else:
                notes.append("no record that enters this list is in the panel's events")
                return []
        # the first record of the month enters the list; its taint is the spell's
        match = [e for e in same if e.false_record == spell.false_record]
        return [(match or same)[0]]

    def _reset_steps(self) -> list[int]:
        """Months at whose end the run's cause memory was (most likely) cleared.

        The run clears the domains it remembers when decay or repair brings a score below base
        back to base; a rise to base that the month's own records cannot account for is that.
        """
        out = []
        for m in self.months:
            before = self.start if m.step == 0 else self.months[m.step - 1].score
            recorded = sum(e.points for e in self.events_in(m.step))
            reached = self.score_units.round_units(before + recorded)
            if before < self.base <= m.score and reached < self.base:
                out.append(m.step)
        return out

    def records_behind(
        self, step: int, domains: Iterable[str]
    ) -> tuple[list[ActRecord], list[str]]:
        """The records behind the score (so the grade) at the end of month ``step`` in the cause
        ``domains``: the deductions the run still counted; and notes on what they are. Another
        layer's condition on this layer's grades carries these causes."""
        notes: list[str] = []
        return self._negative_records(domains, step, notes), notes

    def _negative_records(
        self, domains: Iterable[str], upto: int, notes: list[str]
    ) -> list[ActRecord]:
        """A grade or score trigger: deductions in the cause domains since the last reset."""
        negative = [e for e in self.events if e.recorded and e.points < 0 and e.step <= upto]
        resets = [s for s in self._reset_steps() if s <= upto]
        since = resets[-1] if resets else -1
        causes = set(domains)
        chain = [e for e in negative if e.step > since and e.domain in causes]
        if since >= 0:
            notes.append(f"records since the score returned to the base in month {since}")
        covered = {e.domain for e in chain}
        older = [e for e in negative if e.step <= since and e.domain in causes - covered]
        if older:
            notes.append(
                f"records of {', '.join(sorted({str(e.domain) for e in older}))} from before "
                f"month {since} are shown too: the run still counted them"
            )
            chain = sorted(older + chain, key=lambda e: e.step)
        return chain

    # --- why ----------------------------------------------------------------------------------
    def why(self, item: str) -> list[str]:
        """Why is this person under ITEM (a list, sanction or reward id)? Plain text lines."""
        scheme = self._rules()
        rules = self._named()
        if item not in rules:
            by_name = [r.id for r in rules.values() if r.name.lower() == item.lower()]
            if not by_name:
                raise ScslabError(
                    f"{item!r} is not a list, sanction or reward of {scheme.id}; its items are: "
                    + ", ".join(rules)
                )
            item = by_name[0]
        spells = [s for s in self.spells if s.item == item]
        p = f"Person {self.person}"
        if not spells:
            kind = self._kind_of(item)
            return [
                f"{p} was never {_under(kind)} {item} in months 0 to {self.steps - 1} "
                "(spells that begin and end within one month are not seen by the panel).",
                f"{scheme.id} puts people {_under(kind)} it when: {_rule_words(rules[item])}.",
            ]
        lines: list[str] = []
        for s in spells:
            lines += self._why_spell(s)
        lines.append("Not kept by the run: " + "; ".join(self.not_stored) + ".")
        return lines

    def _why_spell(self, s: Spell) -> list[str]:
        p = f"Person {self.person}"
        what = f"{s.item}" + (f" ({s.name})" if s.name else "")
        lines = [f"{p} {'is' if s.running else 'was'} {_under(s.kind)} {what} {s.period()}."]
        if s.effect:
            lines.append(f"  Effect: {s.effect}, in the life domain {s.domain}.")
        lines.append(f"  Rule: {s.trigger}.")
        c = self.chain(s)
        if c.via is not None:
            lines.append(
                f"  {p} {'is' if c.via.running else 'was'} on list {c.via.item} {c.via.period()}, "
                f"and the {s.kind} follows it."
            )
        if s.cause_domains:
            lines.append(f"  The run records the cause as: {', '.join(s.cause_domains)}.")
        else:
            lines.append("  The run records no negative record behind it.")
        for e in c.events:
            lines.append(f"  Month {e.step}: {e.describe()}.")
        for note in c.notes:
            lines.append(f"  Note: {note}.")
        if c.unexplained:
            lines.append(f"  Cause domains without a record shown: {', '.join(c.unexplained)}.")
        if s.false_record:
            lines.append("  A false record (of an act that did not happen) contributed to it.")
        else:
            lines.append("  No false record contributed to it.")
        other = [d for d in s.cause_domains if s.domain and d != s.domain]
        if s.kind == "sanction" and other:
            lines.append(
                f"  It acts in {s.domain}, a different context from the behaviour behind it "
                f"({', '.join(other)}): EU AI Act Art. 5(1)(c)(i)."
            )
        return lines

    # --- helpers ------------------------------------------------------------------------------
    def _rules(self) -> Scheme:
        if self._scheme is None:
            raise ScslabError("this explanation was built without its scheme; use explain()")
        return self._scheme

    def _named(self) -> dict[str, ListRule | Consequence]:
        s = self._rules()
        named: dict[str, ListRule | Consequence] = {r.id: r for r in s.lists}
        named.update({c.id: c for c in (*s.sanctions, *s.rewards)})
        return named

    def _kind_of(self, item: str) -> str:
        s = self._rules()
        if any(r.id == item for r in s.lists):
            return "list"
        return "sanction" if any(r.id == item for r in s.sanctions) else "reward"

    def condition(self, spell: Spell) -> Condition:
        """The scheme's entry rule (a list) or trigger (a sanction or reward) of a spell."""
        rule = self._named().get(spell.item)
        if rule is None:
            raise ScslabError(
                f"{spell.kind} {spell.item!r} is in the panel but not in the run's scheme "
                f"{self.scheme}: the results file is inconsistent"
            )
        return rule.entry if isinstance(rule, ListRule) else rule.trigger

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON: everything above, and the chains."""
        out: dict[str, Any] = {
            k: v for k, v in asdict(self).items() if not k.startswith("_") and k != "events"
        }
        out["events"] = [{**asdict(e), "missed": e.missed} for e in self.events]
        out["grade_bands"] = [{"grade": g, "min": lo, "max": hi} for g, lo, hi in self.grade_bands]
        out["chains"] = [
            {
                "kind": c.spell.kind,
                "item": c.spell.item,
                "start": c.spell.start,
                "via": None if c.via is None else {"item": c.via.item, "start": c.via.start},
                "events": [asdict(e) for e in c.events],
                "unexplained": list(c.unexplained),
                "notes": list(c.notes),
                "text": c.describe(),
            }
            for c in self.chains()
        ]
        out["not_stored"] = list(self.not_stored)
        return out

    # --- plot ---------------------------------------------------------------------------------
    def figure(self) -> Any:
        """A Plotly figure: the score with grade bands, event markers, and spells as bars.

        Raises :class:`~scslab.errors.LibraryMissing` if plotly is not installed.
        """
        need("plotly.graph_objects", feature="the timeline plot")
        make_subplots = need("plotly.subplots", feature="the timeline plot").make_subplots
        fig = make_subplots(
            rows=2,
            cols=1,
            shared_xaxes=True,
            row_heights=[0.65, 0.35],
            vertical_spacing=0.06,
            subplot_titles=("score and grade", "lists, sanctions and rewards"),
        )
        self.add_traces(fig, score_row=1, spell_row=2)
        fig.update_layout(
            title=f"Person {self.person} under {self.scheme}",
            height=420 + 22 * max(1, len(self.spells)),
            barmode="overlay",
            template="plotly_white",
        )
        fig.update_xaxes(title_text="month", row=2, col=1)
        return fig

    def add_traces(
        self,
        fig: Any,
        score_row: int,
        spell_row: int,
        *,
        shift: int = 0,
        layer: str | None = None,
        notes: dict[tuple[str, str, int], str] | None = None,
    ) -> None:
        """Add the person's score with grade bands and record markers to row ``score_row`` of a
        Plotly subplot figure, and their spells as bars to row ``spell_row``; months counted from
        the run's month ``shift``. ``layer`` names the traces and bars after a layer (one
        figure for several layers); ``notes`` adds a line to a spell's hover text, by its
        ``(kind, item, start)``."""
        go = need("plotly.graph_objects", feature="the timeline plot")
        steps = [m.step + shift for m in self.months]
        scores = [m.score for m in self.months]
        tag = f"{layer}: " if layer else ""
        group = {"legendgroup": layer, "legendgrouptitle_text": f"layer {layer}"} if layer else {}
        lo = min([*scores, self.base]) if scores else self.base
        hi = max([*scores, self.base]) if scores else self.base
        pad = max(10, (hi - lo) // 10)
        fig.add_trace(
            go.Scatter(
                x=steps,
                y=scores,
                mode="lines+markers",
                name=f"{tag}score",
                line={"shape": "hv", "color": "#333"},
                hovertext=[f"grade {m.grade}" if m.grade else "" for m in self.months],
                **group,
            ),
            row=score_row,
            col=1,
        )
        # grade bands behind the score (plotly skips shapes on a subplot without data)
        palette = ("#d9f0d3", "#fff7bc", "#fee0b6", "#fcbba1", "#d4b9da", "#c6dbef")
        for k, (gid, gmin, gmax) in enumerate(self.grade_bands):
            y0, y1 = max(gmin, lo - pad), min(gmax + 1, hi + pad)
            if y0 >= y1:
                continue
            fig.add_hrect(
                y0=y0,
                y1=y1,
                fillcolor=palette[k % len(palette)],
                opacity=0.5,
                line_width=0,
                layer="below",
                annotation_text=f"grade {gid}",
                annotation_position="top left",
                row=score_row,
                col=1,
            )
        by_step = {m.step: m.score for m in self.months}
        kinds = {
            "true record": (
                [e for e in self.events if e.recorded and not e.false_record and not e.appeal],
                "circle",
                "#1f77b4",
            ),
            "false record": (
                [e for e in self.events if e.false_record and not e.appeal],
                "x",
                "#d62728",
            ),
            "appeal won": ([e for e in self.events if e.appeal], "triangle-up", "#2ca02c"),
            "missed act": ([e for e in self.events if not e.recorded], "circle-open", "#7f7f7f"),
        }
        for label, (chosen, symbol, color) in kinds.items():
            if not chosen:
                continue
            fig.add_trace(
                go.Scatter(
                    x=[e.step + shift for e in chosen],
                    y=[by_step.get(e.step, self.base) for e in chosen],
                    mode="markers",
                    name=f"{tag}{label}",
                    marker={"symbol": symbol, "size": 11, "color": color},
                    hovertext=[e.describe(shift) for e in chosen],
                    **group,
                ),
                row=score_row,
                col=1,
            )
        colours = {"list": "#444", "sanction": "#d62728", "reward": "#2ca02c"}
        end = self.steps  # a spell still running at the end: to the end of the run
        for kind in ("list", "sanction", "reward"):
            spells = [s for s in self.spells if s.kind == kind]
            if not spells:
                continue
            fig.add_trace(
                go.Bar(
                    y=[f"{tag}{s.label()}" for s in spells],
                    x=[(end if s.end is None else s.end) - s.start for s in spells],
                    base=[s.start + shift for s in spells],
                    orientation="h",
                    name=f"{tag}{kind}",
                    marker_color=colours[kind],
                    hovertext=[
                        f"{s.period(shift)}; caused by {', '.join(s.cause_domains) or 'nothing'}"
                        + ("; a false record contributed" if s.false_record else "")
                        + (
                            f"; {notes[(s.kind, s.item, s.start)]}"
                            if notes and notes.get((s.kind, s.item, s.start))
                            else ""
                        )
                        for s in spells
                    ],
                    **group,
                ),
                row=spell_row,
                col=1,
            )


def _pts(n: int | float) -> str:
    return units.signed(n) if n else "0"


def _steps(steps: list[int]) -> str:
    return ", ".join(map(str, steps[:8])) + (" ..." if len(steps) > 8 else "")


def _under(kind: str) -> str:
    return "on list" if kind == "list" else f"under {kind}"


def _rule_words(rule: ListRule | Consequence) -> str:
    """A list's entry, or a sanction's or reward's trigger and how long it lasts, in words."""
    if isinstance(rule, ListRule):
        return condition_words(rule.entry)
    return condition_words(rule.trigger) + (
        f", for {rule.duration_months} months" if rule.duration_months else ", while it holds"
    )


def _read_scheme(results: Results, run: dict[str, Any]) -> Scheme:
    text = run.get("scheme_yaml")
    if not text:
        raise ScslabError(
            f"{results.path}: the run does not keep its scheme (runs.scheme_yaml); it was made by "
            f"scslab {run.get('version')}, which this command cannot read; rerun it"
        )
    try:
        return _parse_kept(text, f"{results.path} (runs.scheme_yaml)")
    except ScslabError as exc:
        raise ScslabError(
            f"{results.path}: the scheme this run kept cannot be read by this scslab (the run was "
            f"made by scslab {run.get('version')}): {exc}"
        ) from None


@lru_cache(maxsize=8)
def _parse_kept(text: str, source: str) -> Scheme:
    """A run's kept scheme, parsed once for all the people explained from it (parsing the YAML
    is most of the cost of explaining one person; a Scheme is immutable, so it can be shared)."""
    return parse_scheme(text, source)


def explain(results: Results, person: int) -> Explanation:
    """Everything the run kept about one panel person, ready to explain."""
    tables = {r[0] for r in results.sql("SHOW TABLES").fetchall()}
    missing = [t for t in _PANEL_TABLES if t not in tables]
    if missing:
        raise ScslabError(
            f"{results.path}: no {', '.join(missing)} table; the run was made by a version of "
            "scslab that does not keep a panel; rerun it with this version"
        )
    run = results.run()
    scheme = _read_scheme(results, run)
    con = results.con
    panel_columns = {row[0] for row in con.execute("DESCRIBE panel").fetchall()}
    names = [g for g in GROUPS if g in panel_columns]  # people's traits, or firms'
    rows = con.execute(
        f"SELECT step, score, grade, {', '.join(names)} FROM panel WHERE person = ? ORDER BY step",
        [person],
    ).fetchall()
    if not rows:
        raise PersonError(_not_in_panel(results, person, int(run["agents"])))
    unit = units.of(scheme)  # the tables hold scores and points in the scheme's units
    months = tuple(Month(int(r[0]), unit.value(r[1]), r[2]) for r in rows)
    start = scheme.score.base  # files from before `score_before` was kept: people's runs only
    if "score_before" in panel_columns:
        first = con.execute(
            "SELECT score_before FROM panel WHERE person = ? AND step = 0", [person]
        ).fetchone()
        start = unit.value(first[0]) if first is not None else start
    traits = dict(zip(names, rows[0][3:], strict=True))

    events_by_id = {e.id: e for e in scheme.events}
    # a run may draw acts its scheme does not score, person by person (acts that consequences
    # change; in a layered run, the acts every layer sees): they are no record of this scheme
    scored = {e.act_id for e in scheme.events}
    events: list[ActRecord] = []
    delay = scheme.appeals.delay_months if scheme.appeals else 0
    for step, act, false, recorded, ev, points in con.execute(
        "SELECT step, act, false_record, recorded, event, points FROM panel_events "
        "WHERE person = ? ORDER BY step, rowid",
        [person],
    ).fetchall():
        started = act.startswith(("sanction:", "reward:"))  # a consequence's points effect
        if not (started or act in scored or act == "appeal" or act.startswith("network:")):
            continue
        rule = events_by_id.get(ev) if ev is not None and not started else None
        reverses = int(step) - delay if act == "appeal" else None
        if reverses is not None:  # the record it reverses: decided exactly `delay` months on
            for k in range(len(events) - 1, -1, -1):
                r = events[k]
                if (
                    r.step == reverses
                    and r.recorded
                    and r.event == ev
                    and r.false_record == bool(false)
                    and not r.appeal
                    and r.reversed_in is None
                ):
                    events[k] = replace(r, reversed_in=int(step))
                    break
        events.append(
            ActRecord(
                step=int(step),
                act=act,
                false_record=bool(false),
                recorded=bool(recorded),
                event=ev,
                domain=rule.domain
                if rule
                else ("relationships" if act.startswith("network:") else None),
                points=unit.value(points),
                rights=tuple(rule.rights) if rule else (),
                reverses=reverses,
            )
        )

    rules = {
        **{("list", r.id): (r.name, None, _rule_words(r)) for r in scheme.lists},
        **{
            (kind, c.id): (c.name, c.effect, _rule_words(c))
            for kind, group in (("sanction", scheme.sanctions), ("reward", scheme.rewards))
            for c in group
        },
    }
    order = {key: k for k, key in enumerate(rules)}
    spells = []
    for kind, item, domain, begins, end, causes, false in con.execute(
        "SELECT kind, item, domain, start_step, end_step, cause_domains, false_record "
        "FROM panel_spells WHERE person = ?",
        [person],
    ).fetchall():
        name, effect, trigger = rules.get((kind, item), ("", None, "not in the run's scheme"))
        spells.append(
            Spell(
                kind=kind,
                item=item,
                name=name,
                domain=domain,
                start=int(begins),
                end=None if end is None else int(end),
                cause_domains=tuple(d for d in (causes or "").split(",") if d),
                false_record=bool(false),
                trigger=trigger,
                effect=effect,
            )
        )
    spells.sort(key=lambda s: (s.start, order.get((s.kind, s.item), len(order))))
    return Explanation(
        person=person,
        run=str(results.path),
        scheme=scheme.id,
        steps=int(run["steps_done"]),
        complete=run["status"] == "complete",
        traits=traits,
        base=scheme.score.base,
        start=start,
        grade_bands=tuple((g.id, g.min, g.max) for g in scheme.grades_high_to_low()),
        months=months,
        events=tuple(events),
        spells=tuple(spells),
        _scheme=scheme,
    )


def _not_in_panel(results: Results, person: int, agents: int) -> str:
    """Why a person is not in the panel, truly: not in the population, outside a layer's
    regions (a layer's results hold only its regions' people, numbered as in the population),
    or one of its people outside the panel; and how to find people who are in it."""
    from scslab.store.layered import layer_of

    con = results.con
    count = con.execute("SELECT count(DISTINCT person) FROM panel").fetchall()[0][0]
    if not count:
        return (
            f"person {person} is not in the panel: this run has no panel (its scenario's "
            "`panel:` is 0); rerun with a panel to explain people"
        )
    ids = [
        r[0]
        for r in con.execute(
            f"SELECT DISTINCT person FROM panel ORDER BY person LIMIT {_SHOW_IDS}"
        ).fetchall()
    ]
    subjects = results.run().get("subjects") or "people"
    found = layer_of(results.path)
    population: int | None = agents
    where: tuple[str, ...] | None = None
    rows: tuple[int, int] | None = None
    follow = ""
    if found is not None:  # a layer of a layered run: its people are some of the population
        layered, layer = found
        population, where, rows = layered.agents, layer.where, layer.rows
        follow = f"; follow them across the run's layers with `scslab explain {layered.path} "
        follow += f"--agent {person}`"
    else:
        where = _layer_regions(results)
        if where is not None:  # a layer's file out of its folder: the population is not known
            population = None
    whose = f"the run's {agents:,}" if where is None else f"the layer's {agents:,}"
    if population is not None and not 0 <= person < population:
        what = (
            f"person {person} is not in the population of {population:,} "
            f"(people 0 to {population - 1})"
        )
    elif where is not None and rows is not None and not rows[0] <= person < rows[1]:
        what = (
            f"person {person} lives outside this layer's regions ({', '.join(where)}: people "
            f"{rows[0]} to {rows[1] - 1}), so this layer never scored them{follow}"
        )
    elif where is not None and rows is None:
        what = (
            f"person {person} is not in the panel of {results.path}, a layer over "
            f"{', '.join(where)} only: they live elsewhere, or are one of its people outside "
            "its panel (this file does not say which rows live there)"
        )
    else:
        what = f"person {person} is not in the panel of {results.path}"
    more = " (the first 10)" if count > _SHOW_IDS else ""
    return (
        f"{what}; the panel holds {count:,} of {whose} {subjects}, e.g. "
        f"{', '.join(map(str, ids))}{more}; list them all with the SQL query "
        "`SELECT DISTINCT person FROM panel ORDER BY person`"
    )


def _layer_regions(results: Results) -> tuple[str, ...] | None:
    """The regions of the layer a results file holds (its kept scenario's one layer's
    ``where``), or ``None``: a run everywhere."""
    import yaml

    try:
        data = yaml.safe_load(results.run().get("scenario") or "")
    except yaml.YAMLError:
        return None
    layers = data.get("layers") if isinstance(data, dict) else None
    if not isinstance(layers, list) or len(layers) != 1 or not isinstance(layers[0], dict):
        return None
    where = layers[0].get("where")
    return tuple(map(str, where)) if isinstance(where, list) else None
