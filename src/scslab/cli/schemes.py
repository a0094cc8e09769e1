"""``scslab schemes``: list, show and validate schemes.

A built-in name and a path to a user's YAML file work alike in every command. Problems with a
scheme are raised as :class:`~scslab.errors.SchemeError`; ``scslab.cli.main`` prints them without a
traceback and exits with status 2.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from scslab.cli import console
from scslab.errors import SchemeError, ScslabError
from scslab.schemes import units
from scslab.schemes.loader import builtin_names, load_scheme, parse_scheme, resolve, scheme_to_data
from scslab.schemes.model import Consequence, ListExit, Scheme, Sourced
from scslab.schemes.words import condition_words, points_words

app = typer.Typer(help="List, show and validate scoring schemes.", no_args_is_help=True)


class Format(StrEnum):
    """How ``schemes show`` prints a scheme."""

    table = "table"
    yaml = "yaml"
    json = "json"


# --- list ---------------------------------------------------------------------------------------


@app.command("list")
def list_(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON array instead of a table.")
    ] = False,
) -> None:
    """List the built-in schemes: name, subject and a one-line description."""
    schemes = [load_scheme(name) for name in builtin_names()]
    if as_json:
        rows = [
            {"name": s.id, "title": s.name, "subject": s.subject, "description": s.description}
            for s in schemes
        ]
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    table = Table(title="Built-in schemes", title_justify="left")
    table.add_column("name", no_wrap=True, style="bold")
    table.add_column("subject", no_wrap=True)
    table.add_column("description")
    for s in schemes:
        table.add_row(Text(s.id), Text(s.subject), Text(s.description))
    console.print(table)


# --- show ---------------------------------------------------------------------------------------


def _source(rule: Sourced) -> Text:
    if rule.assumed:
        return Text("assumed", style="yellow")
    if rule.source is not None:
        return Text(rule.source)
    return Text("—", style="dim")


def _signed(points: int | float) -> Text:
    style = "red" if points < 0 else "green" if points > 0 else ""
    return Text(units.signed(points), style=style)


def describe_exit(x: ListExit) -> str:
    """A list's exit rule in words: one leaves once every rule given allows it."""
    parts = []
    if x.after_months is not None:
        parts.append(f"after {x.after_months} months")
    if x.clean_months is not None:
        parts.append(f"{x.clean_months} clean months")
    if x.condition_ends:
        parts.append("when the entry condition ends")
    if x.when is not None:
        parts.append(f"when {condition_words(x.when)}")
    return " and ".join(parts)


def _duration(c: Consequence) -> str:
    if c.duration_months is None:
        return "while triggered"
    return f"{c.duration_months} months"


#: Columns of running text, which wrap; the others (ids, numbers, domains) stay on one line.
_WRAPPING = frozenset(
    {"name", "group", "entry", "exit", "trigger", "effect", "duration", "rule", "what", "text"}
)


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold", expand=False)
    for col in columns:
        if col in _WRAPPING:
            table.add_column(col, overflow="fold", ratio=1)
        else:
            table.add_column(col, no_wrap=True)
    return table


_CONSEQUENCE_COLUMNS = ("trigger", "id", "domain", "effect", "duration", "source")


def _consequence_table(title: str, rules: tuple[Consequence, ...]) -> Table:
    triggers = {condition_words(c.trigger) for c in rules}
    if len(triggers) == 1:  # one shared trigger goes in the title, leaving room for the effects
        table = _table(f"{title}, all when {triggers.pop()}", *_CONSEQUENCE_COLUMNS[1:])
    else:
        table = _table(title, *_CONSEQUENCE_COLUMNS)
    shared = len(table.columns) < len(_CONSEQUENCE_COLUMNS)
    for c in rules:
        cells = [
            Text(condition_words(c.trigger)),
            Text(c.id),
            Text(c.domain),
            Text(
                c.effect
                + "".join(f"; {points_words(e)}" for e in c.effects if e.points is not None)
            ),
            Text(_duration(c)),
            _source(c),
        ]
        table.add_row(*cells[shared:])
    return table


#: What a rule of each section is called where its months in force are shown.
_RULE_NAMES = {
    "events": "event",
    "lists": "list",
    "sanctions": "sanction",
    "rewards": "reward",
    "network": "network rule",
    "collective": "collective rule",
}


def _schedule_table(s: Scheme) -> Table:
    """The rules in force for some months only (``in_force``): when, and the date's source."""
    table = _table("In force for some months only", "rule", "id", "in force", "source")
    for (key, i), f in s.scheduled():
        rule = getattr(s, str(key))[int(i)]
        table.add_row(Text(_RULE_NAMES[str(key)]), Text(rule.id), Text(f.words()), _source(f))
    return table


def render_scheme(s: Scheme, label: str) -> RenderableType:
    """The rules of a scheme as Rich tables, each rule with its source or ``assumed``."""
    parts: list[RenderableType] = []
    head = Text.assemble(
        (s.name, "bold"), f"  ({s.id}, scores {s.subject})\n", s.description, ("\n" + label, "dim")
    )
    parts.append(head)

    sc = s.score
    score = _table("Score", "base", "range", "cap window", "source")
    score.add_row(
        Text(str(sc.base)),
        Text(
            f"{sc.min}..{sc.max}"
            + (f" in steps of {units.show(sc.resolution)}" if sc.resolution != 1 else "")
        ),
        Text(f"{sc.cap_window_months} months"),
        _source(sc),
    )
    parts.append(score)
    if sc.factors:
        factors = _table("Factors (the score is their weighted mean)", "id", "name", "weight")
        for f in sc.factors:
            factors.add_row(Text(f.id), Text(f.name), Text(f"{f.weight:.0%}"))
        parts.append(factors)

    cats = _table("Categories", "id", "name", "group", "cap", "source")
    for c in s.categories:
        cats.add_row(
            Text(c.id),
            Text(c.name),
            Text(c.group or ""),
            Text("—" if c.cap is None else str(c.cap)),
            _source(c),
        )
    parts.append(cats)

    events = _table("Events", "id", "category", "points", "domain", "rights", "source")
    for e in s.events:
        ident = e.id if e.act is None else f"{e.id} (act {e.act})"
        if e.factor is not None:
            ident += f" [{e.factor}]"
        points = _signed(e.points)
        by = e.points_by
        if by is not None and by.channel:
            points = Text(", ".join(f"{c} {units.signed(p)}" for c, p in by.channel.items()))
            points.append(f", other {units.signed(e.points)}")
        elif by is not None:
            points = Text(
                ", ".join(
                    f"{k} {v.share:.0%} {units.signed(v.points)}" for k, v in by.severity.items()
                )
            )
        events.add_row(
            Text(ident),
            Text(e.category),
            points,
            Text(e.domain),
            Text(", ".join(e.rights), style="bold magenta"),
            _source(e),
        )
    parts.append(events)

    if s.grades:
        grades = _table("Grades", "grade", "from", "to", "source")
        for g in s.grades_high_to_low():
            grades.add_row(Text(g.id), Text(str(g.min)), Text(str(g.max)), _source(g))
        parts.append(grades)

    if s.lists:
        lists = _table("Lists", "id", "name", "kind", "entry", "exit", "source")
        for x in s.lists:
            lists.add_row(
                Text(x.id),
                Text(x.name),
                Text(x.kind),
                Text(condition_words(x.entry)),
                Text(describe_exit(x.exit)),
                _source(x),
            )
        parts.append(lists)

    if s.sanctions:
        parts.append(_consequence_table("Sanctions", s.sanctions))
    if s.rewards:
        parts.append(_consequence_table("Rewards", s.rewards))

    if s.scheduled():
        parts.append(_schedule_table(s))

    if s.network:
        net = _table("Network rules", "id", "rule", "points", "category", "source")
        for n in s.network:
            rule = f"at least {n.share:.0%} of friends " + (
                f"on the list {n.list}"
                if n.kind == "friends-listed"
                else f"in grade {' or '.join(n.grades or ())}"
                if n.kind == "friends-in-grade"
                else f"score below {n.threshold}"
            )
            net.add_row(
                Text(n.id), Text(rule), _signed(n.points), Text(n.category or ""), _source(n)
            )
        parts.append(net)

    if s.decay is not None or s.repair is not None:
        dr = _table("Decay and repair", "rule", "what", "source")
        if s.decay is not None:
            d = s.decay
            unit = "point" if d.points_per_month == 1 else "points"
            wait = f", after {d.after_clean_months} clean months" if d.after_clean_months else ""
            dr.add_row(
                Text("decay"), Text(f"{d.points_per_month} {unit} a month{wait}"), _source(d)
            )
        if s.repair is not None:
            r = s.repair
            what = (
                f"after {r.clean_months} clean months, {r.monthly_probability:.0%} chance a month"
            )
            if r.restore_to is not None:
                what += f"; score restored to {r.restore_to}"
            if r.lists:
                what += f"; leaves lists {', '.join(r.lists)}"
            dr.add_row(Text("repair"), Text(what), _source(r))
        parts.append(dr)

    if s.sources:
        sources = _table("Sources", "key", "text")
        for key, text in s.sources.items():
            sources.add_row(Text(key), Text(text))
        parts.append(sources)
    return Group(*parts)


@app.command("show")
def show(
    scheme: Annotated[str, typer.Argument(help="A built-in name or a path to a YAML file.")],
    fmt: Annotated[
        Format,
        typer.Option(
            "--format",
            "-f",
            help="table: readable rules; yaml: the file text exactly, for piping; json: data.",
        ),
    ] = Format.table,
) -> None:
    """Show a scheme's rules, each with its source or 'assumed'."""
    raw, label = resolve(scheme)
    parsed = parse_scheme(raw, label)
    if fmt is Format.yaml:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        sys.stdout.write(text)
        sys.stdout.flush()
    elif fmt is Format.json:
        typer.echo(json.dumps(scheme_to_data(parsed), indent=2, ensure_ascii=False))
    else:
        console.print(render_scheme(parsed, label))


# --- validate -----------------------------------------------------------------------------------


def summary(s: Scheme) -> str:
    """Counts of a scheme's rules, e.g. ``12 events, 3 categories, 4 grades``."""

    def n(count: int, one: str, many: str) -> str:
        return f"{count} {one if count == 1 else many}"

    parts = [n(len(s.events), "event", "events"), n(len(s.categories), "category", "categories")]
    for count, one in (
        (len(s.grades), "grade"),
        (len(s.lists), "list"),
        (len(s.sanctions), "sanction"),
        (len(s.rewards), "reward"),
        (len(s.network), "network rule"),
    ):
        if count:
            parts.append(n(count, one, one + "s"))
    return ", ".join(parts)


def check_runs(scheme: Scheme, spec: str, acts: Path | None) -> None:
    """Refuse, with the message ``run`` gives, a scheme that cannot run against the act
    catalogue (``acts``, or the built-in one for its subjects): an event scoring an act the
    catalogue lacks, say. The check is the run's own: the scheme is set up as a run would set it
    up (with a social network if it has network rules), but no population is drawn. A scheme
    that reads other layers is set up as a layer: those layers' names are a scenario's to check."""
    from scslab.behaviour.rates import load_catalogue
    from scslab.engine.scenario import Scenario
    from scslab.engine.simulation import Simulation
    from scslab.population.network import NetworkSpec

    builtin = "firm_acts.yaml" if scheme.subject == "enterprises" else "acts.yaml"
    catalogue = load_catalogue(acts, builtin=builtin)
    # a scheme with calendar months (``in_force``) is checked on a calendar: its first month
    dated = [m for _, f in scheme.scheduled() for m in (f.start_at, f.until) if isinstance(m, str)]
    scenario = Scenario(
        scheme=spec,
        network=NetworkSpec() if scheme.network else None,
        start=min(dated) if dated else None,
    )
    try:
        Simulation(scenario, scheme=scheme, catalogue=catalogue, linked=bool(scheme.links()))
    except ScslabError as exc:
        against = str(acts) if acts is not None else f"the built-in {builtin}"
        raise SchemeError(
            f"{spec}: cannot run against the act catalogue {against}: {exc}"
        ) from None


@app.command("validate")
def validate(
    schemes: Annotated[
        list[str], typer.Argument(help="Built-in names or paths to YAML files.", show_default=False)
    ],
    acts: Annotated[
        Path | None,
        typer.Option(
            help="the act catalogue the schemes will run with (a scenario's acts:); "
            "default: the built-in one for their subjects"
        ),
    ] = None,
) -> None:
    """Check schemes, and that each can run against its act catalogue; print 'ok' for each good
    one and every problem, located, for the others."""
    problems: list[str] = []
    for spec in schemes:
        try:
            s = load_scheme(spec)
            check_runs(s, spec, acts)
        except SchemeError as exc:
            problems.append(str(exc))
            continue
        label = s.id if spec == s.id else f"{spec}: {s.id}"
        console.print(Text(f"ok: {label} ({summary(s)})"), soft_wrap=True)
    if problems:
        raise SchemeError("\n".join(problems))
