"""``calibration.html``: one self-contained page (Plotly embedded once) that shows a calibration.

It holds the fitted settings with their posterior intervals; each target against the model over the
months (the replicates' mean and its spread, the published figure with its tolerance band; fit and
held-out checks told apart); the posterior of each setting; and the acceptance threshold of each
ABC-SMC generation.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import numpy as np
import plotly.graph_objects as go

from scslab.calibration.targets import month_number, month_text
from scslab.report.html import STYLE, _layout

if TYPE_CHECKING:
    from scslab.calibration.fit import Calibration


def _fmt(x: float) -> str:
    if not np.isfinite(x):
        return "–"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.4g}"


def target_table(rows: list[dict[str, Any]]) -> str:
    head = "".join(
        f"<th>{h}</th>"
        for h in ("target", "role", "date", "published", "ours (mean ± sd)", "error", "within")
    )
    body = []
    for r in rows:
        err = r["error"]
        body.append(
            "<tr>"
            + f"<td>{html.escape(str(r['id']))}</td><td>{r['role']}</td><td>{r['date']}</td>"
            + f"<td>{_fmt(float(r['published']))}</td>"
            + f"<td>{_fmt(float(r['mean']))} ± {_fmt(float(r['sd']))}</td>"
            + f"<td>{'' if err is None else f'{float(err):+.1%}'}</td>"
            + f"<td>{'yes' if r['within'] else 'no'}</td></tr>"
        )
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def calibration_page(result: Calibration) -> str:
    job = result.job
    targets = job.targets.targets.targets
    start = job.start
    blocks: list[str] = []

    # each observable over the months, with the targets it carries
    groups: dict[tuple[str, str, str | None, str], list[int]] = {}
    for k, t in enumerate(targets):
        if t.unit == "ratio":
            continue
        groups.setdefault((t.observable, t.of, t.reason, t.unit), []).append(k)
    for (observable, of, reason, unit), ks in groups.items():
        fig = go.Figure()
        series = np.array([r.trajectories[targets[ks[0]].id] for r in result.replicates])
        months = [month_text(start + m) for m in range(series.shape[1])]
        mean, lo, hi = series.mean(0), series.min(0), series.max(0)
        fig.add_trace(
            go.Scatter(
                x=months + months[::-1],
                y=list(hi) + list(lo[::-1]),
                fill="toself",
                line={"width": 0},
                fillcolor="rgba(69,117,180,0.2)",
                name=f"ours: range over {len(series)} seed(s)",
                hoverinfo="skip",
            )
        )
        fig.add_trace(go.Scatter(x=months, y=mean, name="ours: mean", line={"color": "#4575b4"}))
        for role, colour in (("fit", "#1a9850"), ("check", "#d73027")):
            sel = [targets[k] for k in ks if targets[k].role == role and targets[k].since is None]
            if not sel:
                continue
            fig.add_trace(
                go.Scatter(
                    x=[t.date for t in sel],
                    y=[t.figure for t in sel],
                    mode="markers",
                    marker={"color": colour, "size": 10, "symbol": "diamond"},
                    error_y={"type": "data", "array": [t.scale for t in sel], "visible": True},
                    name=f"published ({'fitted' if role == 'fit' else 'held out'})",
                    text=[t.id for t in sel],
                )
            )
        title = f"{observable} {of}" + (f" ({reason})" if reason else "")
        what = {"count": "count (published population)", "share": "share"}.get(unit, unit)
        _layout(fig, title, "month", what)
        blocks.append(fig.to_html(full_html=False, include_plotlyjs=not blocks))

    # the posterior of each setting
    for p, (values, weights) in result.posterior.items():
        fig = go.Figure(
            go.Histogram(
                x=values,
                y=weights,
                histfunc="sum",
                nbinsx=30,
                name="posterior",
                marker_color="#4575b4",
            )
        )
        lo, hi = result.intervals[p]
        for x, dash in ((lo, "dot"), (result.estimate[p], "solid"), (hi, "dot")):
            fig.add_vline(x=x, line_dash=dash, line_color="#d73027")
        _layout(
            fig,
            f"posterior of {p} (prior {result.priors[p][0]:g} to {result.priors[p][1]:g})",
            p,
            "weight",
        )
        blocks.append(fig.to_html(full_html=False, include_plotlyjs=not blocks))

    # the ABC-SMC trace
    gens = result.generations
    fig = go.Figure(
        go.Scatter(
            x=[g["t"] for g in gens],
            y=[g["epsilon"] for g in gens],
            mode="lines+markers",
            name="threshold",
        )
    )
    _layout(
        fig, "acceptance threshold by generation (distance in tolerances)", "generation", "epsilon"
    )
    blocks.append(fig.to_html(full_html=False, include_plotlyjs=not blocks))

    params = "".join(
        f"<tr><td>{html.escape(p)}</td><td>{_fmt(v)}</td><td>{_fmt(result.intervals[p][0])} to "
        f"{_fmt(result.intervals[p][1])}</td><td>{_fmt(result.priors[p][0])} to "
        f"{_fmt(result.priors[p][1])}</td></tr>"
        for p, v in result.estimate.items()
    )
    level = f"{result.fit.level:.0%}"
    first, last = month_text(start), month_text(start + job.scenario_at({}).steps - 1)
    assert month_number(first) == start
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>scslab calibration: {html.escape(result.name)}
</title><style>{STYLE}</style></head><body>
<h1>Calibration of {html.escape(result.name)}</h1>
<p>Targets: {html.escape(job.targets.source)}. {result.simulations} runs of
{job.scenario_at({}).population.agents:,} people from {first} to {last} in
{len(gens)} ABC-SMC generation(s) of {result.fit.particles} particles, every candidate with the
same seed; the estimate then run with {len(result.replicates)} seed(s). {result.seconds:.0f} s.</p>
<h2>Fitted settings</h2>
<table><tr><th>setting</th><th>estimate (posterior median)</th><th>{level} interval</th>
<th>prior (uniform)</th></tr>{params}</table>
<h2>Targets</h2>
<p>Fit targets entered the fit; checks were held out of it.</p>
{target_table(result.targets)}
{"".join(blocks)}
</body></html>
"""
