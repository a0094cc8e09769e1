"""``scslab explain RUN --agent ID``: one panel person's path, month by month, and why.

Prints the person's traits, a timeline (score, grade, records with their points, the starts and
ends of lists, sanctions and rewards) and the chain behind each list and sanction. ``--json``
prints the whole explanation as one JSON object on stdout; ``--plot FILE.html`` writes a Plotly
timeline (plotly must be installed).

On a layered run's folder (``docs/layers.md``) it follows the person across the layers: which
layers cover them and keep their history, one timeline in the run's months with each line's
layer, and for what a layer did through another layer's list or grades, the record there behind
it (:mod:`scslab.analysis.explain_layers`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from scslab.cli import console
from scslab.files import write_text
from scslab.schemes import units

if TYPE_CHECKING:
    from scslab.analysis.explain import Explanation, Month, Spell
    from scslab.analysis.explain_layers import LayeredExplanation


def explain(
    run: Annotated[
        Path,
        typer.Argument(
            help="a run's output folder or its .duckdb file; a layered run's folder follows "
            "the person across its layers"
        ),
    ],
    agent: Annotated[int, typer.Option("--agent", help="the panel person to explain")],
    as_json: Annotated[
        bool, typer.Option("--json", help="print the explanation as JSON on stdout, nothing else")
    ] = False,
    plot: Annotated[
        Path | None,
        typer.Option("--plot", help="also write a timeline plot to this HTML file (needs plotly)"),
    ] = None,
) -> None:
    """Explain one panel person: acts, records, points, grades, lists, sanctions and why."""
    from scslab.analysis.explain import explain as explain_person
    from scslab.store.layered import is_layered
    from scslab.store.results import Results

    if is_layered(run):
        from scslab.analysis.explain_layers import explain_layers
        from scslab.store.layered import open_layered

        with open_layered(run) as layered:
            _show(explain_layers(layered, agent), as_json, plot)
        return
    results = Results(run)
    try:
        x = explain_person(results, agent)
    finally:
        results.close()
    _show(x, as_json, plot)


def _show(x: Explanation | LayeredExplanation, as_json: bool, plot: Path | None) -> None:
    """The plot first, if asked for; then the explanation as JSON, or in words."""
    from scslab.analysis.explain_layers import LayeredExplanation

    if plot is not None:
        fig = x.figure()  # LibraryMissing, before anything is written, if plotly is absent
        # a new name or a regular file only: never a link, a folder or a device
        write_text(plot, fig.to_html(include_plotlyjs=True, full_html=True), what="the plot")
    if as_json:
        typer.echo(json.dumps(x.to_dict(), indent=2, ensure_ascii=False))
        return
    if isinstance(x, LayeredExplanation):
        print_layered(x)
    else:
        print_explanation(x)
    if plot is not None:
        console.print(f"plot: {plot}")


def _points(n: int | float) -> str:
    return units.signed(n) if n else "0"


def timeline_table(x: Explanation) -> Table:
    """Months in which something happened: score, grade, records, spells starting and ending."""
    t = _timeline(f"Timeline (months from 0; {x.steps} months in the run)", _CAPTION)
    for month, cells in _rows(x):
        t.add_row(str(month), *cells)
    return t


def _timeline(title: str, caption: str, *first: str) -> Table:
    """An empty timeline: the month, the columns ``first``, then score, grade, records and
    spells."""
    t = Table(
        title=title, title_justify="left", show_edge=False, caption=caption, caption_justify="left"
    )
    t.add_column("month", justify="right")
    for name in first:
        t.add_column(name)
    for name in _COLUMNS:
        t.add_column(name, justify="right" if name == "score" else "left")
    return t


_COLUMNS = ("score", "grade", "records (points)", "lists, sanctions, rewards")
_CAPTION = (
    "months with no record, no change of score or grade and no start or end are left out; "
    "'other' is a score change no record explains (decay, repair, network rule)"
)


def _rows(
    x: Explanation, shift: int = 0, why: Callable[[Spell], str] | None = None
) -> Iterator[tuple[int, list[Any]]]:
    """The timeline's rows: ``(month, [score, grade, records, spells])`` for each month in
    which something happened, months counted from the run's month ``shift``; ``why`` adds to a
    starting spell's label (another layer it was started through)."""
    starts: dict[int, list[tuple[str, str]]] = {}
    ends: dict[int, list[str]] = {}
    for s in x.spells:
        starts.setdefault(s.start, []).append((s.label(), why(s) if why else ""))
        if s.end is not None:
            ends.setdefault(s.end, []).append(s.label())
    for m in x.months:
        prev = x.months[m.step - 1] if m.step > 0 else None
        events = x.events_in(m.step)
        other = x.other_change(m.step)
        changed = prev is None or prev.score != m.score or prev.grade != m.grade
        last = m.step == len(x.months) - 1
        if not (events or changed or other or m.step in starts or m.step in ends or last):
            continue
        rec = Text()
        for e in events:
            if rec:
                rec.append("\n")
            if not e.recorded:
                rec.append(f"{e.act}: missed", style="dim")
                continue
            if e.reverses is not None:
                rec.append(
                    f"appeal won: {e.event} of month {e.reverses + shift} reversed "
                    f"{_points(e.points)}",
                    style="green",
                )
                continue
            if e.act.startswith(("sanction:", "reward:")):  # a consequence's points effect
                rec.append(e.describe())
                continue
            name = e.act if e.event in (None, e.act) else f"{e.act} → {e.event}"
            rec.append(f"{name} {_points(e.points)} ({e.domain})")
            if e.false_record:
                rec.append(" FALSE RECORD", style="bold red")
        if other:
            if rec:
                rec.append("\n")
            rec.append(f"other {_points(other)}", style="italic")
        moves = Text()
        for label in ends.get(m.step, []):
            if moves:
                moves.append("\n")
            moves.append(f"− ends: {label}", style="green")
        for label, through in starts.get(m.step, []):
            if moves:
                moves.append("\n")
            moves.append(f"+ {label}", style="red" if not label.startswith("reward") else "cyan")
            if through:
                moves.append(f" ← {through}", style="magenta")
        grade_changed = prev is not None and prev.grade != m.grade
        yield (
            m.step + shift,
            [
                units.show(m.score),
                Text(m.grade or "—", style="bold" if grade_changed else ""),
                rec,
                moves,
            ],
        )


def print_explanation(x: Explanation) -> None:
    """The summary, the timeline and the chains, with Rich."""
    traits = ", ".join(f"{k} {v}" for k, v in x.traits.items())
    status = "" if x.complete else " (interrupted run)"
    console.print(
        Text.assemble(
            ("Person ", "bold"),
            (str(x.person), "bold"),
            f" in {x.scheme}{status}: {traits}",
        )
    )
    first, last = x.months[0], x.months[-1]

    def grade(m: Month) -> str:
        return f", grade {m.grade}" if m.grade else ""

    appeals = [e for e in x.events if e.appeal]
    acts = [e for e in x.events if not e.appeal]
    recorded = [e for e in acts if e.recorded]
    show = units.show
    start = (
        "the base"
        if x.start == x.base
        else f"after its unrecorded history; the base is {show(x.base)}"
    )
    console.print(
        f"score {show(x.start)} at the start ({start}), {show(first.score)}{grade(first)} after "
        f"month 0, {show(last.score)}{grade(last)} after month {last.step}; {len(acts)} "
        "scored acts or false "
        f"records: {len(recorded)} recorded, {sum(e.false_record for e in acts)} false, "
        f"{len(acts) - len(recorded)} missed"
        + (f", {len(appeals)} reversed on appeal" if appeals else "")
        + f"; {len(x.spells)} spells on lists or under sanctions and rewards",
        highlight=False,
    )
    console.print(timeline_table(x))
    chains = x.chains()
    if chains:
        console.print(Text("Why: acts → records → points → grade → list → sanction", style="bold"))
        for c in chains:
            line = Text("• ")
            line.append(c.describe())
            if c.spell.false_record:
                line.append(" (a false record contributed)", style="bold red")
            console.print(line)
            for note in c.notes:
                console.print(Text(f"    note: {note}", style="dim"))
    rewards = [s for s in x.spells if s.kind == "reward"]
    for s in rewards:
        console.print(Text(f"• {s.label()} {s.period()}: {s.trigger}"))
    if not x.spells:
        console.print("Never on a list nor under a sanction or reward (at the end of any month).")
    for caveat in x.not_stored:
        console.print(Text(f"not kept by the run: {caveat}", style="dim"))


def layered_timeline_table(x: LayeredExplanation) -> Table:
    """The months in which something happened to the person in any layer, each row one layer's
    month: the run's month, the layer, its score, grade, records and spells."""
    when = f", month 0 is {x.start}" if x.start else ""
    t = _timeline(
        f"Timeline across layers (months of the run from 0{when}; {x.months} months)",
        _CAPTION + "; each layer's score is on its own scheme's scale",
        "layer",
    )
    rows: list[tuple[int, int, str, list[Any]]] = []
    for k, p in enumerate(x.parts):
        e = p.explanation
        if e is None:
            continue

        def why(s: Spell, lid: str = p.layer.id) -> str:
            return "; ".join(
                f"layer {link.layer} {link.kind} {link.item}"
                + (f" (month {link.month})" if link.month is not None else "")
                for link in x.links(lid, s)
            )

        rows += [(month, k, p.layer.id, cells) for month, cells in _rows(e, p.layer.first, why)]
    for month, _, lid, cells in sorted(rows, key=lambda r: (r[0], r[1])):
        t.add_row(str(month), lid, *cells)
    return t


def print_layered(x: LayeredExplanation) -> None:
    """Who, each layer and what it keeps of the person, the timeline across layers, and why."""
    console.print(Text(x.header(), style="bold"), highlight=False)
    for p in x.parts:
        style = "" if p.explanation is not None else "dim"
        console.print(Text(f"  {p.status()}", style=style), highlight=False)
    console.print(layered_timeline_table(x))
    why = x.why()
    if why:
        console.print(
            Text("Why, month by month: records → points → grade → list → sanction", style="bold")
        )
        for w in why:
            console.print(Text(f"• {w.describe()}"), highlight=False)
            for note in w.notes:
                console.print(Text(f"    note: {note}", style="dim"), highlight=False)
    if not any(x.layers[lid].spells for lid in x.layers):
        console.print("Never on a list nor under a sanction or reward in any layer keeping them.")
    caveats = dict.fromkeys(c for e in x.layers.values() for c in e.not_stored)
    for caveat in caveats:
        console.print(Text(f"not kept by the run: {caveat}", style="dim"))
