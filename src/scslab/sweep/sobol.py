"""Sobol sensitivity indices from a finished Sobol sweep, and their plot.

The first-order index S1 of a parameter is the share of an output's variance that the parameter
explains alone; the total index ST adds every interaction it takes part in. Both come with
bootstrap confidence intervals (SALib: Saltelli 2002, Saltelli et al. 2010). With replicates, each
design point's output is the mean over its replicates.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

import numpy as np

from scslab.files import write_text
from scslab.optional import need
from scslab.sweep.design import Sweep, problem
from scslab.sweep.spec import Sobol

#: The plot's file in the output folder.
PLOT = "sobol.html"

Indices = dict[str, dict[str, dict[str, float | None]]]


def _number(x: float) -> float | None:
    return None if not math.isfinite(x) else float(x)


def sobol_indices(sweep: Sweep, means: dict[str, np.ndarray]) -> Indices:
    """``{output: {parameter: {S1, S1_conf, ST, ST_conf}}}`` from each point's mean output.

    An output that does not vary across the design has no indices (``None``): there is no
    variance to share out.
    """
    need("SALib", feature="Sobol indices", extra="sensitivity")
    from SALib.analyze import sobol as analyze

    design = sweep.spec.design
    assert isinstance(design, Sobol)
    space = problem(sweep.settings)
    out: Indices = {}
    for name, y in means.items():
        if np.isnan(y).any():
            raise ValueError(f"{name}: some design points have no complete run")
        if np.ptp(y) == 0:
            nothing: dict[str, float | None] = dict.fromkeys(("S1", "S1_conf", "ST", "ST_conf"))
            out[name] = {p: dict(nothing) for p in sweep.parameters}
            continue
        res = analyze.analyze(
            space,
            y,
            calc_second_order=False,
            num_resamples=design.resamples,
            conf_level=design.confidence,
            seed=design.seed,
        )
        out[name] = {
            p: {k: _number(float(res[k][j])) for k in ("S1", "S1_conf", "ST", "ST_conf")}
            for j, p in enumerate(sweep.parameters)
        }
    return out


def write_plot(indices: Indices, folder: Path, title: str, confidence: float) -> Path:
    """``sobol.html``: per output, S1 and ST of each parameter as bars with their intervals."""
    import plotly.graph_objects as go

    from scslab.report.html import STYLE, _layout

    blocks = []
    for k, (output, by) in enumerate(indices.items()):
        params = list(by)
        fig = go.Figure()
        for index, colour, label in (("S1", "#4575b4", "first order"), ("ST", "#d73027", "total")):
            values = [by[p][index] for p in params]
            conf = [by[p][f"{index}_conf"] for p in params]
            fig.add_trace(
                go.Bar(
                    name=f"{index} ({label})",
                    x=params,
                    y=[np.nan if v is None else v for v in values],
                    error_y={
                        "type": "data",
                        "array": [np.nan if c is None else c for c in conf],
                        "visible": True,
                    },
                    marker_color=colour,
                    hovertemplate="%{x}: %{y:.3f} ± %{error_y.array:.3f}<extra></extra>",
                )
            )
        _layout(fig, output, "parameter", "Sobol index")
        fig.update_layout(barmode="group", height=380)
        blocks.append(fig.to_html(full_html=False, include_plotlyjs=(k == 0)))
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>scslab sweep: Sobol indices</title>
<style>{STYLE}</style></head><body>
<h1>Sobol indices</h1>
<p>{html.escape(title)}. Bars: first-order (S1) and total (ST) indices; whiskers: their
{confidence:.0%} bootstrap confidence intervals.</p>
{"".join(blocks) or "<p>No output varies across the design.</p>"}
</body></html>
"""
    return write_text(folder / PLOT, page, what="the plot")


def table_rows(indices: Indices) -> list[dict[str, Any]]:
    """One row per output and parameter, for tables and JSON."""
    return [
        {"output": output, "parameter": p, **values}
        for output, by in indices.items()
        for p, values in by.items()
    ]
