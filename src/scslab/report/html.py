"""``report.html``: one self-contained page that shows what a run did.

The page opens offline: Plotly's JavaScript is embedded once, at the first figure, and nothing is
fetched from a network. It holds the scenario, the score distribution over the months, grade shares,
list sizes, sanctions and rewards by life domain, true against recorded against false events, the
audit (when asked for), and three panel people's timelines.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go

from scslab.analysis.audit import region_burden
from scslab.analysis.explain import explain
from scslab.files import check_output, write_text
from scslab.schemes.units import show
from scslab.store.layered import TOGETHER, LayeredResults, open_layered
from scslab.store.results import APPEAL_WORDS, Results

#: Grades from best to worst run from green to red; lists, sanctions and rewards use Plotly's
#: default qualitative palette.
GRADE_COLOURS = ("#1a9850", "#66bd63", "#a6d96a", "#fee08b", "#fdae61", "#f46d43", "#d73027")


def _grade_colours(n: int) -> list[str]:
    if n <= 1:
        return [GRADE_COLOURS[0]]
    return [GRADE_COLOURS[round(k * (len(GRADE_COLOURS) - 1) / (n - 1))] for k in range(n)]


def _layout(fig: go.Figure, title: str, x: str, y: str) -> go.Figure:
    fig.update_layout(
        title=title,
        xaxis_title=x,
        yaxis_title=y,
        template="plotly_white",
        height=420,
        margin={"l": 70, "r": 30, "t": 60, "b": 60},
        legend={"orientation": "v"},
    )
    return fig


def _dated(results: Results, fig: go.Figure) -> go.Figure:
    """With a start month (``start:`` in the scenario), the time axis shows each step's month."""
    start = results.run().get("start")
    if start:
        first = np.datetime64(start, "M")
        for trace in fig.data:
            trace.x = [str(first + int(step)) for step in trace.x]
    return fig


def score_distribution(results: Results) -> go.Figure:
    rows = results.sql(
        "SELECT step, low, high, people FROM score_histogram ORDER BY step, low"
    ).fetchall()
    steps = sorted({r[0] for r in rows})
    # only the score range that anybody ever reached, so that the bins people are in can be seen
    used = sorted({r[1] for r in rows if r[3] > 0})
    lows = [lo for lo in sorted({r[1] for r in rows}) if used and used[0] <= lo <= used[-1]]
    rows = [r for r in rows if r[1] in set(lows)]
    agents = results.run()["agents"]
    z: list[list[float]] = [[0.0] * len(steps) for _ in lows]
    labels = {}
    for step, low, high, people in rows:
        z[lows.index(low)][steps.index(step)] = 100 * people / agents
        labels[low] = f"{show(low)}–{show(high)}"  # in the scheme's units
    fig = go.Figure(
        go.Heatmap(
            x=steps,
            y=[labels[lo] for lo in lows],
            z=z,
            colorscale="Viridis",
            colorbar={"title": "% of people"},
            hovertemplate="month %{x}<br>score %{y}<br>%{z:.2f} % of people<extra></extra>",
        )
    )
    return _dated(results, _layout(fig, "Score distribution over time", "month", "score (points)"))


def grade_shares(results: Results) -> go.Figure | None:
    rows = results.grades().fetchall()  # step, grade, people, agents, share
    if not rows:
        return None
    order = [c[len("grade__") :] for c in results.columns if c.startswith("grade__")]
    fig = go.Figure()
    for grade, colour in zip(order, _grade_colours(len(order)), strict=True):
        pts = [(r[0], 100 * r[4]) for r in rows if r[1] == grade]
        fig.add_trace(
            go.Scatter(
                x=[p[0] for p in pts],
                y=[p[1] for p in pts],
                name=grade,
                stackgroup="grades",
                line={"color": colour, "width": 0.5},
                hovertemplate=f"grade {grade}<br>month %{{x}}<br>%{{y:.2f}} %<extra></extra>",
            )
        )
    return _dated(results, _layout(fig, "Grade shares over time", "month", "share of people (%)"))


def _lines(rows: list[tuple[Any, ...]], title: str, y: str) -> go.Figure | None:
    if not rows:
        return None
    fig = go.Figure()
    for name in sorted({r[1] for r in rows}):
        pts = [(r[0], r[2]) for r in rows if r[1] == name]
        fig.add_trace(
            go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], name=name, mode="lines")
        )
    return _layout(fig, title, "month", y)


def consequences(results: Results) -> go.Figure | None:
    rows = [(s, f"sanction: {d}", n) for s, d, n, *_ in results.sanctions().fetchall()]
    rows += [(s, f"reward: {d}", n) for s, d, n, *_ in results.rewards().fetchall()]
    fig = _lines(rows, "People under sanctions and rewards, by life domain", "people")
    return None if fig is None else _dated(results, fig)


def list_sizes(results: Results) -> go.Figure | None:
    rows = [(s, name, n) for s, name, n, *_ in results.lists().fetchall()]
    fig = _lines(rows, "List sizes over time", "people on the list")
    return None if fig is None else _dated(results, fig)


def list_flows(results: Results) -> go.Figure | None:
    """Each month's list entries, exits by reason, and attempts a ban blocked."""
    cols = [c for c in results.columns if c.startswith(("entries__", "exits__", "blocked__"))]
    if not cols:
        return None
    sums = ", ".join(f'sum("{c}")' for c in cols)
    data = results.sql(f"SELECT step, {sums} FROM steps GROUP BY step ORDER BY step").fetchall()
    names = {c: c.replace("entries__", "entries: ").replace("blocked__", "blocked: ") for c in cols}
    for c in cols:
        if c.startswith("exits__"):
            list_id, reason = c[len("exits__") :].rsplit("__", 1)
            names[c] = f"exits ({reason}): {list_id}"
    rows = [(r[0], names[c], r[k + 1]) for r in data for k, c in enumerate(cols)]
    fig = _lines(rows, "List entries, exits by reason, and blocked attempts", "per month")
    return None if fig is None else _dated(results, fig)


def events(results: Results, top: int = 20) -> go.Figure:
    rows = sorted(results.events().fetchall(), key=lambda r: -(r[1] or 0))[:top]
    acts = [r[0] for r in rows]
    fig = go.Figure(
        [
            go.Bar(name="true acts", x=acts, y=[r[1] for r in rows], marker_color="#4575b4"),
            go.Bar(
                name="true acts recorded",
                x=acts,
                y=[(r[2] or 0) - (r[3] or 0) for r in rows],
                marker_color="#91bfdb",
            ),
            go.Bar(name="false records", x=acts, y=[r[3] for r in rows], marker_color="#d73027"),
        ]
    )
    fig.update_layout(barmode="group")
    return _layout(
        fig,
        f"True, recorded and false events over the run (top {len(acts)} acts)",
        "act",
        "events",
    )


def _table(head: list[str], rows: list[list[Any]]) -> str:
    cells = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.1%}"


def appeals_table(results: Results) -> str:
    """The appeals of a run whose scheme has them, over the run; empty text otherwise."""
    names = [c for c in results.columns if c.startswith("appeals__")]
    if not names:
        return ""
    sums = ", ".join(f'sum("{c}")::BIGINT' for c in names)
    row = results.sql(f"SELECT {sums} FROM steps").fetchall()[0]
    rows = [
        [APPEAL_WORDS[c[len("appeals__") :]], f"{int(v or 0):,}"]
        for c, v in zip(names, row, strict=True)
    ]
    return "<h2>Appeals over the run</h2>" + _table(["", "count"], rows)


def _appeal_rows(a: dict[str, Any] | None) -> list[list[str]]:
    """The audit's appeals figures as rows of the wrongful-outcomes table (none without)."""
    if a is None:
        return []
    mean = a["mean_months_before_correction"]
    return [
        [
            "appeals lodged, decided, pending at the end",
            f"{a['lodged']:,}, {a['decided']:,}, {a['pending_at_end']:,}",
        ],
        [
            "appeals won against false records, against true records",
            f"{a['won']['false_records']:,}, {a['won']['true_records']:,}",
        ],
        [
            "wrongful list entries corrected on appeal",
            f"{a['wrongful_listings_corrected']:,} of {a['wrongful_list_entries']:,}",
        ],
        ["… months on the list before correction (mean)", "—" if mean is None else f"{mean:.1f}"],
    ]


def audit_section(report: dict[str, Any]) -> str:
    w, r, cc, d = (
        report["wrongful"],
        report["rights"],
        report["cross_context"],
        report["deterrence"],
    )
    parts = ["<h2>Audit</h2>", "<p>See docs/audit.md for the definitions.</p>"]
    if report.get("assumptions"):  # an assumption ledger for this scheme (scslab assumptions)
        from scslab.sweep.ledger import note_line

        items = "".join(f"<li>{html.escape(note_line(n))}</li>" for n in report["assumptions"])
        parts.append(f"<h3>What the headline figures rest on</h3><ul>{items}</ul>")
    c = report["counterfactual"]
    rows = []
    for outcome, by_attr in report["risk_ratio"].items():
        for attr, comparison in by_attr.items():
            for x in comparison["groups"]:
                if x["reference"]:
                    continue
                ci = x["interval"]
                rows.append(
                    [
                        outcome,
                        attr,
                        f"{x['group']} against {comparison['reference']}",
                        f"{x['affected']:,} of {x['people']:,}",
                        "—" if x["risk_ratio"] is None else f"{x['risk_ratio']:.2f}",
                        x["note"] or (f"{ci[0]:.2f}–{ci[1]:.2f}" if ci else ""),
                        "below 4/5" if x["four_fifths"]["flag"] else "",
                    ]
                )
    parts.append("<h3>People ever affected, by group (risk ratio against the largest group)</h3>")
    parts.append(
        _table(
            ["outcome", "by", "group", "affected", "risk ratio", "95 % interval", "four-fifths"],
            rows,
        )
    )
    parts.append("<h3>Wrongful outcomes</h3>")
    parts.append(
        _table(
            ["figure", "value"],
            [
                [
                    "sanctions with a false record among their causes",
                    f"{w['sanctions_with_a_false_record_among_causes']:,}",
                ],
                [
                    "list entries with a false record among their causes",
                    f"{w['list_entries_with_a_false_record_among_causes']:,}",
                ],
                [
                    "people sanctioned who would not have been without false records",
                    f"{c['people_sanctioned_who_would_not_have_been']:,}",
                ],
                ["… the months of sanction they bore", f"{c['sanction_months_they_bore']:,}"],
                [
                    "people listed who would not have been without false records",
                    f"{c['people_listed_who_would_not_have_been']:,}",
                ],
                *_appeal_rows(report.get("appeals")),
            ],
        )
    )
    parts.append("<h3>Rights and chilling</h3>")
    parts.append(
        _table(
            ["figure", "value"],
            [
                ["deductions caused by rights-tagged events", _pct(r["share_of_deductions"])],
                ["list entries caused by rights-tagged events", _pct(r["share_of_list_entries"])],
                ["sanctions caused by rights-tagged events", _pct(r["share_of_sanctions"])],
                [
                    "change in lawful rights-tagged activity (chilling)",
                    _pct(r["chilling"]["change_in_lawful_rights_activity"]),
                ],
                ["change in scored offences (deterrence)", _pct(d["change_in_scored_offences"])],
            ],
        )
    )
    parts.append(
        f"<h3>Cross-context punishment: {_pct(cc['share'])} of sanction-months land outside "
        "the context of their causes</h3>"
    )
    parts.append(
        _table(
            [
                "sanction",
                "life domain",
                "sanction-months",
                "out of context",
                "cause domains",
                "severity",
                "offence severity",
                "disproportionate",
            ],
            [
                [
                    p["sanction"],
                    p["life_domain"],
                    f"{p['sanction_months']:,}",
                    _pct(p["cross_context_share"]),
                    ", ".join(p["cause_domains"]),
                    p["sanction_severity"],
                    "—" if p["offence_severity"] is None else f"{p['offence_severity']:.1f}",
                    "yes" if p["disproportionate"] else "",
                ]
                for p in cc["proportionality"]
            ],
        )
    )
    return "\n".join(parts)


def panel_people(results: Results, k: int = 3) -> list[int]:
    """The ``k`` panel people with the most list, sanction and reward spells (then by id)."""
    rows = results.sql(
        "SELECT person, count(*) AS n FROM panel_spells GROUP BY person ORDER BY n DESC, person "
        f"LIMIT {k}"
    ).fetchall()
    people = [int(r[0]) for r in rows]
    if len(people) < k:
        more = results.sql(
            f"SELECT DISTINCT person FROM panel ORDER BY person LIMIT {k + len(people)}"
        ).fetchall()
        people += [int(r[0]) for r in more if int(r[0]) not in people][: k - len(people)]
    return people


STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: left; }
th { background: #f4f4f4; }
.note { color: #555; font-size: 0.9em; }
"""


def _section(
    results: Results, audit: dict[str, Any] | None, *, plotly: bool, level: int = 2
) -> str:
    """A run's summary, scenario, figures, audit and three panel people's timelines, with
    Plotly's JavaScript embedded at the first figure when ``plotly``; headings from ``level``."""
    run = results.run()
    figures: list[go.Figure] = [
        f
        for f in (
            score_distribution(results),
            grade_shares(results),
            list_sizes(results),
            list_flows(results),
            consequences(results),
            events(results),
        )
        if f is not None
    ]
    timelines = []
    for person in panel_people(results):
        e = explain(results, person)
        fig = e.figure()
        fig.update_layout(title=f"Person {person}: {', '.join(e.traits.values())}", height=480)
        timelines.append(fig)
    blocks = []
    for k, fig in enumerate([*figures, *timelines]):
        blocks.append(
            fig.to_html(
                full_html=False, include_plotlyjs=plotly and k == 0, config={"responsive": True}
            )
        )
        if k == len(figures) - 1:
            if audit is not None:
                blocks.append(audit_section(audit))
            blocks.append(f"<h{level}>Three panel people</h{level}>")
    summary = _table(
        ["", ""],
        [
            ["scheme", run["scheme"]],
            ["people", f"{run['agents']:,}"],
            ["months", f"{run['steps_done']} of {run['steps']}"],
            ["first month", run.get("start") or "(no start: months are counted from 0)"],
            ["seed", run["seed"]],
            ["status", run["status"]],
            ["scslab", run["version"]],
            ["run time", f"{run['seconds']:.1f} s"],
        ],
    )
    summary += appeals_table(results)
    scenario = html.escape(run["scenario"])
    return f"""{summary}
<details><summary>The whole scenario</summary><pre>{scenario}</pre></details>
{"".join(blocks)}"""


def _page(title: str, body: str) -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(title)}</title><style>{STYLE}</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p class="note">Synthetic people only. Every person here is a row of a generated population.</p>
{body}
</body></html>
"""


def build(results: Results, audit: dict[str, Any] | None = None) -> str:
    """The report page as HTML text."""
    return _page(f"scslab report: {results.run()['scheme']}", _section(results, audit, plotly=True))


def write_report(results: Results, audit: dict[str, Any] | None = None) -> Path:
    """Write ``report.html`` beside the results file, atomically; return its path."""
    path = results.path.parent / "report.html"
    check_output(path)  # a link, a folder or a device there: refused before the audit is built
    return write_text(path, build(results, audit), what="the report")


def layers_over_time(together: Path) -> go.Figure:
    """People under sanctions, and on any list, month by month, one line per layer (from the
    layered run's ``layers.duckdb``)."""
    import duckdb

    con = duckdb.connect(str(together), read_only=True)
    try:
        names = [row[0] for row in con.execute("DESCRIBE steps").fetchall()]
        listed = [c for c in names if c.startswith("list__")]
        on_lists = " + ".join(f'coalesce("{c}", 0)' for c in listed) or "0"
        rows = con.execute(
            f"SELECT layer, month, sum(sanctioned)::BIGINT, sum({on_lists})::BIGINT FROM steps "
            "GROUP BY layer, month ORDER BY layer, month"
        ).fetchall()
    finally:
        con.close()
    fig = go.Figure()
    for layer in dict.fromkeys(r[0] for r in rows):
        mine = [r for r in rows if r[0] == layer]
        months = [r[1] for r in mine]
        fig.add_scatter(x=months, y=[r[2] for r in mine], name=f"{layer}: under sanctions")
        fig.add_scatter(
            x=months, y=[r[3] for r in mine], name=f"{layer}: list places", line={"dash": "dot"}
        )
    return _layout(
        fig,
        "People under sanctions and list places, by layer and month",
        "month of the run",
        "people (list places: a person on two lists counts twice)",
    )


def burden_by_region(burden: dict[str, Any]) -> str:
    """The table of :func:`~scslab.analysis.audit.region_burden`: for each region, the
    sanction-months its people bore in each layer and in all of them, per 1,000 people."""
    layers = burden["layers"]

    def per(x: float | None) -> str:
        return "not covered" if x is None else f"{x:,.1f}"

    rows = [
        [
            r["region"],
            f"{r['people']:,}",
            *(per(r["by_layer"][lid]) for lid in layers),
            per(r["all_layers"]),
        ]
        for r in burden["regions"]
    ]
    title = (
        "<h2>Sanction-months per 1,000 people over the run's "
        f"{burden['months']} months, by region</h2>"
        '<p class="note">What living in each region costs across the layers (each layer\'s '
        "sanctions only while it is in force); a person under two layers' sanctions in a month "
        "counts in both.</p>"
    )
    return title + _table(["region", "people", *layers, "all layers"], rows)


def build_layered(run: LayeredResults, audits: dict[str, dict[str, Any]] | None = None) -> str:
    """The report page of a layered run: its layers, its figures and table of them together,
    then each layer's report (``audits``: each layer's audit by id, or none)."""
    table = _table(
        ["layer", "scheme", "where", "months of the run", "people"],
        [
            [
                x.id,
                x.scheme,
                x.place().removeprefix("in "),
                f"{x.first} to {x.end - 1}",
                f"{x.people:,} firms" if x.firms else f"{x.people:,}",
            ]
            for x in run.layers
        ],
    )
    scenario = html.escape(run.scenario)
    parts = [
        table,
        f"<details><summary>The whole scenario</summary><pre>{scenario}</pre></details>",
    ]
    together = run.path / TOGETHER
    first = True
    if together.is_file():
        parts.append(layers_over_time(together).to_html(full_html=False, include_plotlyjs=True))
        parts.append(burden_by_region(region_burden(run)))
        first = False
    for k, x in enumerate(run.layers):
        results = run.results(x.id)
        parts.append(f"<h2>Layer {html.escape(x.id)}: {html.escape(results.run()['scheme'])}</h2>")
        audit = audits[x.id] if audits is not None else None
        parts.append(_section(results, audit, plotly=first and k == 0, level=3))
    ids = ", ".join(x.id for x in run.layers)
    return _page(f"scslab report: layered run ({ids})", "\n".join(parts))


def write_layered_report(folder: Path, audits: dict[str, dict[str, Any]] | None = None) -> Path:
    """Write ``report.html`` at the top of a layered run's folder, atomically; return its path
    (``audits``: :func:`~scslab.analysis.audit.audit_layered`'s, or none)."""
    path = folder / "report.html"
    check_output(path)
    with open_layered(folder) as run:
        page = build_layered(run, audits)
    return write_text(path, page, what="the report")


def comparison_page(report: dict[str, Any], figures: tuple[tuple[str, str, str], ...]) -> str:
    """A self-contained page comparing schemes: one bar chart per figure of ``scslab compare``,
    a bar per column (a scheme, a layer, a layered scenario's all layers; none where a figure
    has no value for a column).

    ``figures`` are ``(key, label, kind)`` with kind ``pct``, ``num`` or ``int``.
    """
    names = list(report["schemes"])
    blocks = []
    for k, (key, label, kind) in enumerate(figures):
        values = [report["schemes"][n][key] for n in names]
        scale = 100 if kind == "pct" else 1
        fig = go.Figure(
            go.Bar(
                x=names,
                y=[None if v is None else v * scale for v in values],
                marker_color="#4575b4",
                hovertemplate="%{x}: %{y:,.3f}<extra></extra>",
            )
        )
        _layout(fig, label, "scheme", "%" if kind == "pct" else label)
        fig.update_layout(height=340)
        blocks.append(fig.to_html(full_html=False, include_plotlyjs=(k == 0)))
    title = (
        f"{report['agents']:,} people, {report['years']:g} years, seed {report['seed']}: "
        "the same people with the same acts under each scheme"
    )
    if any(item["kind"] == "layered" for item in report.get("items", {}).values()):
        title = (
            f"{report['agents']:,} people, {report['months']} months"
            + (f" from {report['start']}" if report.get("start") else "")
            + f", seed {report['seed']}: the same people under each scheme and layer (each "
            "layer's figures over its own people and months; all layers: over everyone)"
        )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>scslab comparison</title>
<style>{STYLE}</style></head><body>
<h1>scslab comparison: {html.escape(", ".join(names))}</h1>
<p>{html.escape(title)}</p>
{"".join(blocks)}
</body></html>
"""
