"""One person across the layers of a layered run: each layer's explanation, composed.

A layered run (``docs/layers.md``) keeps, per layer, a one-layer results file with its own panel;
a person has the same number (their population row) in every layer. :func:`explain_layers`
explains the person in every layer whose panel holds them, with
:func:`scslab.analysis.explain.explain`, and composes the explanations into one story in the
run's months (a layer's month plus its ``from``):

- a merged timeline, each line naming its layer (:meth:`LayeredExplanation.timeline`);
- for each list entry, sanction or reward a layer started through another layer's list or grades
  (a condition ``{layer: X, ...}``), the record in layer X behind it (:class:`Link`);
- for each record, the other layers that scored a record of the same act in the same month;
- for each layer, whether it covers the person and keeps their history, and why not.

>>> from scslab.store.layered import open_layered
>>> with open_layered("runs/patchwork") as run:
...     story = explain_layers(run, 47)
>>> story.lines()        # plain text
>>> story.to_dict()      # JSON-ready
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from scslab.analysis.explain import ActRecord, Explanation, Spell, explain
from scslab.errors import PersonError
from scslab.optional import need
from scslab.schemes.model import Condition

if TYPE_CHECKING:
    from scslab.store.layered import LayeredResults, LayerEntry

__all__ = ["LayerPart", "LayeredExplanation", "Line", "Link", "Why", "explain_layers"]

#: The order of a month's lines within one layer: what happened, then what it set off.
_KINDS = ("record", "missed", "appeal", "grade", "end", "start")


@dataclass(frozen=True)
class LayerPart:
    """One layer of the run, for one person: whether it covers them and keeps their history."""

    #: the layer, as the run's folder lists it (its id, scheme, place, months and people)
    layer: LayerEntry
    #: the person is among its people (in its regions); ``None``: the folder does not say
    covers: bool | None
    #: the person's history in this layer; ``None`` if it is not kept (see :attr:`note`)
    explanation: Explanation | None
    #: people in its panel
    panel: int
    #: in words, why the layer has no history of the person (``None`` if it has one)
    note: str | None = None

    def month(self, step: int) -> int:
        """The run's month of the layer's month ``step``."""
        return step + self.layer.first

    def status(self) -> str:
        """One line: the layer, its scheme and place, and what it keeps of the person."""
        x = self.layer
        head = f"{x.id} ({x.scheme}, {x.place()}, months {x.first} to {x.end - 1})"
        return f"{head}: {self.note}" if self.note else f"{head}: in its panel"


@dataclass(frozen=True)
class Link:
    """Another layer's list or grades that a layer's list entry, sanction or reward was started
    through (a condition ``{layer: X, ...}`` that held), and the records in layer X behind it."""

    #: the layer read (X)
    layer: str
    #: ``list`` or ``grades``
    kind: str
    #: the list's id, or the grades read
    item: str
    #: the run's month layer X listed the person (the start of the listing that held), or the
    #: month its grade held; ``None`` if layer X keeps no history of the person
    month: int | None
    #: the records in layer X behind it, each with its run month
    records: tuple[tuple[int, ActRecord], ...] = ()
    #: for each record, the other layers that scored a record of the same act that month
    also: tuple[tuple[str, ...], ...] = ()
    #: why no record can be shown, where none is
    note: str | None = None
    #: the links layer X's own listing was started through, in turn
    through: tuple[Link, ...] = ()
    #: the condition held: False where layer X keeps no history of the person and the
    #: condition has other parts that may have held instead
    certain: bool = True

    def describe(self) -> str:
        """E.g. ``because layer spc listed them on judgment-defaulters in month 7, after the
        unpaid-judgment record of month 5 (true record, 0 points)``."""
        if self.kind == "list":
            did = f"layer {self.layer} listed them on {self.item}"
        else:
            did = f"layer {self.layer} graded them {self.item}"
        if self.month is None:
            maybe = "" if self.certain else " (if that is what held)"
            return (
                f"through layer {self.layer}'s {self.kind} {self.item}{maybe}; layer "
                f"{self.layer} did not keep this person's history (see above), so the records "
                "behind it are not shown"
            )
        text = f"because {did} in month {self.month}"
        if self.records:
            parts = []
            for (month, r), also in zip(self.records, self.also, strict=True):
                truth = "false" if r.false_record else "true"
                part = f"the {r.event or r.act} record of month {month} ({truth} record"
                part += f", {_pts(r.points)} points"
                if also:
                    part += f"; {_also_words(also, r.act, 'that month')}"
                parts.append(part + ")")
            text += ", after " + "; ".join(parts)
        elif self.note:
            text += f" ({self.note})"
        for inner in self.through:
            text += f"; layer {self.layer} in turn acted {inner.describe()}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "kind": self.kind,
            "item": self.item,
            "month": self.month,
            "records": [
                {"month": m, **asdict(r), "also_scored_by": list(a)}
                for (m, r), a in zip(self.records, self.also, strict=True)
            ],
            "note": self.note,
            "through": [t.to_dict() for t in self.through],
            "certain": self.certain,
            "text": self.describe(),
        }


@dataclass(frozen=True)
class Line:
    """One line of the merged timeline: something that happened to the person in one layer."""

    #: the run's month, and the layer's own month
    month: int
    layer: str
    step: int
    #: ``record`` (a recorded act or a false record), ``missed`` (an act not recorded),
    #: ``appeal`` (a won appeal), ``grade`` (the layer's grade, first or changed), ``start`` or
    #: ``end`` of a list, sanction or reward
    kind: str
    text: str
    record: ActRecord | None = None
    spell: Spell | None = None
    #: a record: the other layers that scored a record of the same act of the person in the
    #: same month (each layer draws the person's acts itself: not necessarily the same deed)
    also_scored_by: tuple[str, ...] = ()
    #: a start: the other layers' lists and grades it was started through
    through: tuple[Link, ...] = ()

    def describe(self) -> str:
        """E.g. ``month 7, layer sesame: + sanction defaulter-no-car-rental (transport), because
        layer spc listed them ...``."""
        text = self.text
        if self.also_scored_by:
            assert self.record is not None
            text += f" ({_also_words(self.also_scored_by, self.record.act, 'this month')})"
        for link in self.through:
            text += f", {link.describe()}"
        return f"month {self.month}, layer {self.layer}: {text}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "month": self.month,
            "layer": self.layer,
            "step": self.step,
            "kind": self.kind,
            "text": self.describe(),
        }
        if self.record is not None:
            out["record"] = asdict(self.record)
            out["also_scored_by"] = list(self.also_scored_by)
        if self.spell is not None:
            out["spell"] = {
                "kind": self.spell.kind,
                "item": self.spell.item,
                "domain": self.spell.domain,
                "start": self.spell.start,
                "end": self.spell.end,
            }
            out["through"] = [link.to_dict() for link in self.through]
        return out


@dataclass(frozen=True)
class Why:
    """Why one spell of one layer happened, in the run's months."""

    #: the run's month it started, and its layer (with the layer's place in the run's order)
    month: int
    order: int
    layer: str
    spell: Spell
    text: str
    notes: tuple[str, ...]
    #: the other layers' lists and grades it was started through
    links: tuple[Link, ...]

    def describe(self) -> str:
        return f"[{self.layer}] {self.text}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "layer": self.layer,
            "kind": self.spell.kind,
            "item": self.spell.item,
            "text": self.text,
            "notes": list(self.notes),
            "links": [link.to_dict() for link in self.links],
        }


@dataclass
class LayeredExplanation:
    """One person across every layer of a layered run."""

    person: int
    run: str
    #: months in the run, and its first calendar month (``YYYY-MM``) if it has one
    months: int
    start: str | None
    #: people in the population (``None`` if the folder does not say)
    agents: int | None
    #: every layer of the run, in the scenario's order
    parts: tuple[LayerPart, ...]
    _lines: list[Line] | None = field(default=None, repr=False, compare=False)
    _also: dict[tuple[str, int], tuple[str, ...]] | None = field(
        default=None, repr=False, compare=False
    )

    @property
    def layers(self) -> dict[str, Explanation]:
        """The person's explanation in each layer that keeps their history, by layer id."""
        return {p.layer.id: p.explanation for p in self.parts if p.explanation is not None}

    def part(self, lid: str) -> LayerPart:
        return next(p for p in self.parts if p.layer.id == lid)

    @property
    def traits(self) -> dict[str, str]:
        """The person's traits, as the first layer keeping their history has them."""
        return next(iter(self.layers.values())).traits

    @property
    def complete(self) -> bool:
        return all(x.complete for x in self.layers.values())

    # --- the merged timeline ------------------------------------------------------------------
    def timeline(self) -> list[Line]:
        """Everything that happened to the person, in every layer, in the run's months: records,
        grades, and the starts and ends of lists, sanctions and rewards, each naming its layer;
        in a month, the layers in the scenario's order."""
        if self._lines is None:
            lines: list[Line] = []
            also = self.also_scored()
            order = {p.layer.id: k for k, p in enumerate(self.parts)}
            for p in self.parts:
                if p.explanation is not None:
                    lines += self._lines_of(p, p.explanation, also)
            lines.sort(key=lambda ln: (ln.month, order[ln.layer], _KINDS.index(ln.kind)))
            self._lines = lines
        return list(self._lines)

    def _lines_of(
        self,
        p: LayerPart,
        x: Explanation,
        also: dict[tuple[str, int], tuple[str, ...]],
    ) -> Iterator[Line]:
        for k, e in enumerate(x.events):
            kind = "appeal" if e.appeal else ("record" if e.recorded else "missed")
            yield Line(
                p.month(e.step),
                p.layer.id,
                e.step,
                kind,
                e.describe(p.layer.first),
                record=e,
                also_scored_by=also.get((p.layer.id, k), ()),
            )
        before: str | None = None
        for m in x.months:
            if m.grade is not None and m.grade != before:
                yield Line(p.month(m.step), p.layer.id, m.step, "grade", f"grade {m.grade}")
            before = m.grade
        for s in x.spells:
            name = f": {s.name}" if s.name else ""
            yield Line(
                p.month(s.start),
                p.layer.id,
                s.start,
                "start",
                f"+ {s.label()}{name}",
                spell=s,
                through=self.links(p.layer.id, s),
            )
            if s.end is not None:
                yield Line(
                    p.month(s.end), p.layer.id, s.end, "end", f"- ends: {s.label()}", spell=s
                )

    def also_scored(self) -> dict[tuple[str, int], tuple[str, ...]]:
        """For each record (layer id, index in its events), the other layers that scored a
        record of the same act of this person in the same month of the run.

        Each layer draws the person's acts itself (``docs/layers.md``), so two such records
        need not be of one deed: this says that the person was scored for the same kind of act
        in the same month by several schemes, which is what the tables show."""
        if self._also is not None:
            return self._also
        scored: dict[str, set[tuple[int, str]]] = {
            p.layer.id: {
                (p.month(e.step), e.act)
                for e in p.explanation.events
                if e.recorded and not e.appeal and e.event is not None
            }
            for p in self.parts
            if p.explanation is not None
        }
        out: dict[tuple[str, int], tuple[str, ...]] = {}
        for p in self.parts:
            if p.explanation is None:
                continue
            for k, e in enumerate(p.explanation.events):
                if not e.recorded or e.appeal or e.event is None:
                    continue
                key = (p.month(e.step), e.act)
                others = tuple(o for o in scored if o != p.layer.id and key in scored[o])
                if others:
                    out[(p.layer.id, k)] = others
        self._also = out
        return out

    # --- links --------------------------------------------------------------------------------
    def links(self, lid: str, spell: Spell, _depth: int = 0) -> tuple[Link, ...]:
        """The other layers' lists and grades that the spell (of layer ``lid``) was started
        through: each condition ``{layer: X, ...}`` of its rule, not under a ``not:``, that held
        for the person in the month it started, with the records in layer X behind it."""
        p = self.part(lid)
        x = p.explanation
        if x is None:
            return ()
        month = p.month(spell.start)
        found = []
        cond = x.condition(spell)
        for leaf in _positive_links(cond):
            link = self._link(leaf, leaf is cond, month, spell, _depth)
            if link is not None:
                found.append(link)
        return tuple(found)

    def _link(
        self, leaf: Condition, lone: bool, month: int, spell: Spell, depth: int
    ) -> Link | None:
        """The link through ``leaf`` (``lone``: the spell's whole condition) if it held in the
        run's ``month``; ``None`` if it did not (the spell began through its other parts)."""
        assert leaf.layer is not None
        other = self.part(leaf.layer)
        kind = "list" if leaf.list is not None else "grades"
        item = leaf.list if leaf.list is not None else ", ".join(leaf.grades)
        y = other.explanation
        if other.covers is False:  # on none of its lists, in none of its grades
            return None
        if y is None:  # it held if it is the whole condition; otherwise it cannot be told
            return Link(leaf.layer, kind, item, None, note=other.note, certain=lone)
        step = month - other.layer.first
        also = self.also_scored()
        events = {id(e): k for k, e in enumerate(y.events)}

        def records(
            rs: list[ActRecord],
        ) -> tuple[tuple[tuple[int, ActRecord], ...], tuple[tuple[str, ...], ...]]:
            return (
                tuple((other.month(r.step), r) for r in rs),
                tuple(also.get((other.layer.id, events[id(r)]), ()) for r in rs),
            )

        if leaf.list is not None:
            held = next(
                (
                    s
                    for s in y.spells
                    if s.kind == "list"
                    and s.item == leaf.list
                    and s.start <= step
                    and (s.end is None or s.end > step)
                ),
                None,
            )
            if held is None:  # the entry came through its other conditions
                return None
            chain = y.chain(held)
            rs, al = records(list(chain.events))
            note = None if rs else "; ".join(chain.notes) or "no record of it is in the panel"
            inner = self.links(other.layer.id, held, depth + 1) if depth < len(self.parts) else ()
            return Link(other.layer.id, kind, item, other.month(held.start), rs, al, note, inner)
        if not 0 <= step < len(y.months) or y.months[step].grade not in leaf.grades:
            return None
        found, notes = y.records_behind(step, spell.cause_domains)
        rs, al = records(found)
        note = None if rs else "; ".join(notes) or "no record behind the grade is in the panel"
        return Link(other.layer.id, kind, y.months[step].grade or item, month, rs, al, note)

    # --- words --------------------------------------------------------------------------------
    def header(self) -> str:
        traits = ", ".join(f"{k} {v}" for k, v in self.traits.items())
        when = f" from {self.start}" if self.start else ""
        status = "" if self.complete else " (interrupted run)"
        return (
            f"Person {self.person} across the {len(self.parts)} layers of {self.run} "
            f"({self.months} months{when}){status}: {traits}"
        )

    def why(self) -> list[Why]:
        """For each list, sanction and reward spell of every layer, in the run's months (then the
        layers' order), the chain behind it naming its layer; a spell started through another
        layer's list or grades says which layer, when, and the record there behind it."""
        out = []
        for k, p in enumerate(self.parts):
            x = p.explanation
            if x is None:
                continue
            for s in x.spells:
                links = self.links(p.layer.id, s)
                head = f"{s.label()} {s.period(p.layer.first)}"
                if s.kind == "reward" and not links:
                    out.append(
                        Why(p.month(s.start), k, p.layer.id, s, f"{head}: {s.trigger}", (), ())
                    )
                    continue
                c = x.chain(s)
                notes = c.notes
                through = "; and ".join(link.describe() for link in links)
                if links and x.condition(s).layer is not None:  # the other layer's alone
                    text = f"{head}: by layer {p.layer.id}, {through}"
                    notes = ()  # (that the records are the other layer's: shown here)
                elif links:
                    text = f"{c.describe(p.layer.first)}; and {through}"
                else:
                    text = c.describe(p.layer.first)
                out.append(Why(p.month(s.start), k, p.layer.id, s, text, notes, links))
        out.sort(key=lambda w: (w.month, w.order))
        return out

    def lines(self) -> list[str]:
        """The whole story in plain text: who, each layer, the timeline, and why."""
        out = [self.header()]
        out += [f"  {p.status()}" for p in self.parts]
        out += [ln.describe() for ln in self.timeline()]
        for w in self.why():
            out.append(w.describe())
            out += [f"    note: {note}" for note in w.notes]
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON: each layer (``layers``, with its one-layer explanation where it
        keeps the person's history) and the merged ``timeline``, each line with its ``layer``."""
        return {
            "person": self.person,
            "run": self.run,
            "layered": True,
            "months": self.months,
            "start": self.start,
            "agents": self.agents,
            "complete": self.complete,
            "traits": self.traits,
            "layers": {
                p.layer.id: {
                    "scheme": p.layer.scheme,
                    "where": None if p.layer.where is None else list(p.layer.where),
                    "from": p.layer.first,
                    "until": p.layer.end,
                    "people": p.layer.people,
                    "panel": p.panel,
                    "covers": p.covers,
                    "in_panel": p.explanation is not None,
                    "note": p.note,
                    "explanation": None if p.explanation is None else p.explanation.to_dict(),
                }
                for p in self.parts
            },
            "timeline": [ln.to_dict() for ln in self.timeline()],
            "why": [w.to_dict() for w in self.why()],
        }

    # --- plot ---------------------------------------------------------------------------------
    def figure(self) -> Any:
        """A Plotly figure: one score panel per layer keeping the person's history, and one
        panel of every layer's lists, sanctions and rewards, on the run's months.

        Raises :class:`~scslab.errors.LibraryMissing` if plotly is not installed."""
        need("plotly.graph_objects", feature="the timeline plot")
        make_subplots = need("plotly.subplots", feature="the timeline plot").make_subplots
        shown = [p for p in self.parts if p.explanation is not None]
        n = len(shown)
        fig = make_subplots(
            rows=n + 1,
            cols=1,
            shared_xaxes=True,
            row_heights=[0.65 / n] * n + [0.35],
            vertical_spacing=0.04,
            subplot_titles=(
                *(f"layer {p.layer.id}: score and grade ({p.layer.scheme})" for p in shown),
                "lists, sanctions and rewards, by layer",
            ),
        )
        for k, p in enumerate(shown):
            assert p.explanation is not None
            notes = {
                (s.kind, s.item, s.start): "; ".join(
                    link.describe() for link in self.links(p.layer.id, s)
                )
                for s in p.explanation.spells
            }
            p.explanation.add_traces(
                fig,
                score_row=k + 1,
                spell_row=n + 1,
                shift=p.layer.first,
                layer=p.layer.id,
                notes=notes,
            )
        spells = sum(len(p.explanation.spells) for p in shown if p.explanation is not None)
        fig.update_layout(
            title=f"Person {self.person} across the layers of {self.run}",
            height=260 * n + 200 + 22 * spells,
            barmode="overlay",
            template="plotly_white",
        )
        fig.update_xaxes(title_text="month of the run", row=n + 1, col=1)
        return fig


def _positive_links(c: Condition) -> list[Condition]:
    """The conditions on other layers in ``c`` that can make it hold: not under a ``not:``
    (another layer's silence starts nothing)."""
    if c.layer is not None:
        return [c]
    out: list[Condition] = []
    for part in (*(c.all_ or ()), *(c.any_ or ())):
        out += _positive_links(part)
    return out


def _also_words(layers: tuple[str, ...], act: str, when: str) -> str:
    """E.g. ``layer sesame also scored a payment-arrears record of theirs this month``."""
    which = "layer " + ", ".join(layers) if len(layers) == 1 else "layers " + ", ".join(layers)
    return f"{which} also scored a {act} record of theirs {when}"


def _pts(n: int | float) -> str:
    from scslab.schemes import units

    return units.signed(n) if n else "0"


def explain_layers(run: LayeredResults, person: int) -> LayeredExplanation:
    """The person in every layer of a layered run (:func:`scslab.store.layered.open_layered`):
    explained in each layer whose panel holds them, and why not in the others.

    Raises :class:`~scslab.errors.PersonError` if the person is not in the population, or is in
    no layer's panel (with the layers that cover them and people who are in a panel)."""
    if run.agents is not None and not 0 <= person < run.agents:
        raise PersonError(
            f"person {person} is not in the population of {run.agents:,} of {run.path} "
            f"(people 0 to {run.agents - 1})"
        )
    parts = [_part(run, layer, person) for layer in run.layers]
    if all(p.explanation is None for p in parts):
        examples = _examples(run)
        raise PersonError(
            f"person {person} is in no layer's panel of {run.path}: "
            + "; ".join(f"{p.layer.id}: {p.note}" for p in parts)
            + f"; people in a panel are e.g. {examples}"
        )
    return LayeredExplanation(
        person=person,
        run=str(run.path),
        months=run.months,
        start=run.start,
        agents=run.agents,
        parts=tuple(parts),
    )


def _part(run: LayeredResults, layer: LayerEntry, person: int) -> LayerPart:
    results = run.results(layer.id)
    con = results.con
    panel = int(con.execute("SELECT count(DISTINCT person) FROM panel").fetchall()[0][0])
    if layer.firms:  # its rows are firms: a person is not one of them
        firms = (
            f"a layer of firms, not people (its {layer.people:,} firms read layer "
            f"{layer.people_layer}'s lists of their managers): explain a firm with "
            f"`scslab explain {layer.file.parent} --agent FIRM`"
        )
        return LayerPart(layer=layer, covers=False, explanation=None, panel=panel, note=firms)
    held = con.execute("SELECT 1 FROM panel WHERE person = ? LIMIT 1", [person]).fetchall()
    covers = layer.covers(person)
    x = explain(results, person) if held else None
    places = ", ".join(layer.where or ())
    note: str | None = None
    if x is None and covers is False:
        assert layer.rows is not None
        note = (
            f"not in this layer: the person lives outside {places} (its people are "
            f"{layer.rows[0]} to {layer.rows[1] - 1})"
        )
    elif x is None and covers is None:
        note = (
            f"not in its panel: the layer covers {places} only, and this run's folder does not "
            "say whether the person lives there"
        )
    elif x is None:
        note = (
            f"one of its {layer.people:,} people, but not in its panel of {panel:,}: it did not "
            "keep their history"
        )
    return LayerPart(layer=layer, covers=covers, explanation=x, panel=panel, note=note)


def _examples(run: LayeredResults) -> str:
    """A few people in each layer's panel."""
    out = []
    for layer in run.layers:
        if layer.firms:
            continue
        ids = [
            str(r[0])
            for r in run.results(layer.id)
            .con.execute("SELECT DISTINCT person FROM panel ORDER BY person LIMIT 5")
            .fetchall()
        ]
        out.append(f"{', '.join(ids)} ({layer.id})")
    return "; ".join(out)
