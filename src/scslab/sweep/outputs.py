"""A run's summary outputs, computed from the run held in memory.

A sweep keeps no per-run results file: each finished run is summarised on the worker that ran it,
with the figures of ``scslab run --json`` (``Results.summary``), named by their dotted path:
``grades.D`` (a share), ``lists.<list>``, ``sanctions.<domain>``, ``rewards.<domain>`` (people at
the end of the run), ``events.true``, ``events.recorded``, ``events.false`` (totals over the run),
``network.*`` with a network, ``tax_grades.*`` and ``firms.*`` in a firm run; and in a people run
the audit figures of the one run, ``audit.*`` (``scslab.analysis.audit.run_figures``; docs/audit.md,
"Audit figures as sweep outputs").

A layered run's outputs are each layer's, named ``<layer id>:<output>``, and those over all
layers, ``layers.*`` (:func:`layered_output_names`, :class:`AcrossLayers`).

The figures come from :func:`scslab.store.results.summarize`, the function behind
``Results.summary``; here it is fed the ``steps`` table's count columns summed from the record in
memory instead of read back from DuckDB.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from scslab.analysis.audit import outcomes, run_figure_names, run_figures
from scslab.engine.compiled import FLAG_SANCTIONED
from scslab.engine.ever import EVER_BITS
from scslab.engine.kernels import APPEAL_COUNTS, exit_reasons
from scslab.schemes.model import DOMAINS
from scslab.store.results import summarize
from scslab.store.writer import flow_columns

if TYPE_CHECKING:
    from scslab.engine.layers import LayeredRun, LayeredSimulation
    from scslab.engine.simulation import Record, Simulation

EVENTS = ("true", "recorded", "false")


def _domains(consequences: Any) -> list[str]:
    return sorted({c.domain for c in consequences}, key=DOMAINS.index)


def step_totals(sim: Simulation, rec: Record) -> dict[str, np.ndarray]:
    """Each count column of the ``steps`` table summed over cells: one value per step done."""
    T = rec.done
    layout = sim.layout
    out: dict[str, np.ndarray] = {}
    for g, gid in enumerate(layout.grades):
        out[f"grade__{gid}"] = rec.grade[:T, :, g].sum(axis=1)
    for li, lid in enumerate(layout.lists):
        out[f"list__{lid}"] = rec.listed[:T, :, li].sum(axis=1)
    for name, counts in flow_columns(sim, rec).items():
        out[name] = counts.sum(axis=1)
    for d in _domains(sim.scheme.sanctions):
        out[f"sanction__{d}"] = rec.dom_s[:T, :, DOMAINS.index(d)].sum(axis=1)
    for d in _domains(sim.scheme.rewards):
        out[f"reward__{d}"] = rec.dom_r[:T, :, DOMAINS.index(d)].sum(axis=1)
    for name, counts in rec.extra.items():
        out[name] = counts[:T].sum(axis=1)
    for a, aid in enumerate(sim.rates.act_ids):
        out[f"true__{aid}"] = rec.ev_true[:T, :, a].sum(axis=1)
        out[f"recorded__{aid}"] = rec.ev_rec[:T, :, a].sum(axis=1)
        out[f"false__{aid}"] = rec.ev_false[:T, :, a].sum(axis=1)
    return {k: v.astype(np.int64) for k, v in out.items()}


def flatten(summary: dict[str, Any]) -> dict[str, float]:
    """``{"grades": {"D": 0.1}}`` → ``{"grades.D": 0.1}``: the numeric figures, by dotted path
    (``list_exits.<list>.<reason>`` one level deeper)."""
    out: dict[str, float] = {}
    for group, figures in summary.items():
        if isinstance(figures, dict):
            for k, v in figures.items():
                if isinstance(v, dict):
                    out.update({f"{group}.{k}.{r}": float(n) for r, n in v.items()})
                elif v is not None:
                    out[f"{group}.{k}"] = float(v)
    return out


def run_outputs(sim: Simulation, rec: Record) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """The run's summary outputs, and the same figures month by month.

    Month by month, state figures (grade shares, list, sanction and reward counts) are taken at
    the end of each month and event counts are that month's; ``network.assortativity`` and
    ``network.ties_cut`` are each month's.
    """
    T = rec.done
    if T == 0:
        return {}, {}
    columns = step_totals(sim, rec)
    names = list(columns)
    per_month = np.stack([columns[k] for k in names], axis=1).tolist()  # [month][column]
    agents, subjects = sim.agents, sim.subjects
    assortativity = [None if np.isnan(a) else float(a) for a in rec.assortativity[:T]]
    ties = [int(c) for c in rec.ties_cut[:T]]

    run_totals = dict(zip(names, (int(v.sum()) for v in columns.values()), strict=True))
    final = dict(zip(names, per_month[-1], strict=True))
    outputs = flatten(summarize(agents, subjects, final, run_totals, assortativity, ties))
    outputs.update(run_figures(sim, rec))
    monthly: dict[str, list[float]] = {}
    for t in range(T):
        counts = dict(zip(names, per_month[t], strict=True))  # at the end of, and during, month t
        month = flatten(
            summarize(agents, subjects, counts, counts, assortativity[t : t + 1], ties[t : t + 1])
        )
        month.pop("network.assortativity_first", None)
        if "network.assortativity_last" in month:
            month["network.assortativity"] = month.pop("network.assortativity_last")
        for name, value in month.items():
            monthly.setdefault(name, [np.nan] * T)[t] = value
    return outputs, {k: np.asarray(v, np.float64) for k, v in monthly.items()}


def output_names(sim: Simulation) -> tuple[str, ...]:
    """The outputs a run of ``sim`` produces, known before it runs."""
    layout = sim.layout
    names = [f"grades.{g}" for g in layout.grades]
    names += [f"lists.{x}" for x in layout.lists]
    names += [f"list_entries.{x}" for x in layout.lists]
    names += [f"list_exits.{x}.{r}" for x in layout.lists for r in exit_reasons(layout.appeals)]
    names += [f"blocked.{a}" for a in layout.blocked]
    if layout.appeals:
        names += [f"appeals.{k}" for k in APPEAL_COUNTS]
    names += [f"sanctions.{d}" for d in _domains(sim.scheme.sanctions)]
    names += [f"rewards.{d}" for d in _domains(sim.scheme.rewards)]
    names += [f"events.{e}" for e in EVENTS]
    if sim.scenario.network is not None and sim.subjects == "people":
        names += ["network.assortativity_first", "network.assortativity_last", "network.ties_cut"]
    if sim.subjects == "firms":
        names += [f"tax_grades.{g}" for g in getattr(layout, "tax_grades", ())]
        names += ["firms.closed", "firms.managers_listed", "firms.representatives_restricted"]
    names += run_figure_names(sim)
    return tuple(names)


# --- layered runs ---------------------------------------------------------------------------------

#: The prefix of the outputs over all the layers of a layered run (a layer's own outputs are
#: ``<layer id>:<output>``, and no one-layer output begins with it).
ACROSS = "layers."


def layered_output_names(lsim: LayeredSimulation) -> tuple[str, ...]:
    """The outputs a layered run of ``lsim`` produces, known before it runs: each layer's, as a
    one-layer run of it gives them, named ``<layer id>:<output>``, then those over all layers
    (:class:`AcrossLayers`)."""
    names = [f"{ls.id}:{n}" for ls in lsim.layers for n in output_names(ls.sim)]
    return tuple(names) + AcrossLayers.names(lsim)


class AcrossLayers:
    """The figures of a layered run over all of its layers, person by person across them:

    - ``layers.sanctioned``, ``layers.listed``: people under a sanction of any layer, on a list
      of any layer, at the end of the run (month by month: at the end of each month), each person
      once however many layers sanction or list them; a layer not in force counts for nobody;
    - ``layers.sanction_months``: sanction-months borne over the run, summed over the layers (a
      person under sanctions of two layers in a month counts in both, as in the audit's table
      of regions, ``scslab.analysis.audit.region_burden``); month by month: that month's;
    - ``layers.audit.<outcome>_rate``: the share of the population ever sanctioned, listed, in a
      low grade or rewarded by some layer (each layer's own ``audit.<outcome>_rate`` is a share
      of its people).

    A layer of firms is left out: its rows are firms, not people of the population.
    :meth:`month` is called after each month of the run; :meth:`outputs` at the end.
    """

    def __init__(self, lsim: LayeredSimulation) -> None:
        self.lsim = lsim
        months = lsim.steps
        self.sanctioned = np.full(months, np.nan)
        self.listed = np.full(months, np.nan)

    @staticmethod
    def names(lsim: LayeredSimulation) -> tuple[str, ...]:
        schemes = [ls.sim.scheme for ls in lsim.layers if ls.sim.people is None]
        names = []
        if any(s.sanctions for s in schemes):
            names += [f"{ACROSS}sanctioned", f"{ACROSS}sanction_months"]
        if any(s.lists for s in schemes):
            names.append(f"{ACROSS}listed")
        had = {o for s in schemes for o in outcomes(s)}
        names += [f"{ACROSS}audit.{o}_rate" for o in EVER_BITS if o in had]
        return tuple(names)

    def month(self, run: LayeredRun, t: int) -> None:
        """Take the end of month ``t`` of the run."""
        n = self.lsim.agents
        sanctioned = np.zeros(n, bool)
        listed = np.zeros(n, bool)
        for ls, r in zip(self.lsim.layers, run.runs, strict=True):
            if not ls.in_force(t) or ls.sim.people is not None:  # not in force, or of firms
                continue
            sanctioned[ls.lo : ls.hi] |= (r.state.flags & FLAG_SANCTIONED) != 0
            if r.state.list_since.shape[1]:
                listed[ls.lo : ls.hi] |= (r.state.list_since >= 0).any(axis=1)
        self.sanctioned[t] = np.count_nonzero(sanctioned)
        self.listed[t] = np.count_nonzero(listed)

    def outputs(self, run: LayeredRun) -> tuple[dict[str, float], dict[str, np.ndarray]]:
        lsim = self.lsim
        names = set(self.names(lsim))
        months = run.done
        borne = np.zeros(months)
        ever = np.zeros(lsim.agents, np.uint8)
        for ls, r in zip(lsim.layers, run.runs, strict=True):
            if ls.sim.people is not None:  # a layer of firms: its rows are firms
                continue
            rec = r.record
            borne[ls.first : ls.first + rec.done] += rec.anyc[: rec.done, :, 0].sum(axis=1)
            ever[ls.lo : ls.hi] |= r.ever
        steps = {
            f"{ACROSS}sanctioned": self.sanctioned[:months],
            f"{ACROSS}sanction_months": borne,
            f"{ACROSS}listed": self.listed[:months],
        }
        steps = {k: v for k, v in steps.items() if k in names}
        out = {k: float(v[-1]) for k, v in steps.items() if k != f"{ACROSS}sanction_months"}
        if f"{ACROSS}sanction_months" in names:
            out[f"{ACROSS}sanction_months"] = float(borne.sum())
        for o, bit in EVER_BITS.items():
            if f"{ACROSS}audit.{o}_rate" in names:
                out[f"{ACROSS}audit.{o}_rate"] = np.count_nonzero(ever & bit) / lsim.agents
        return out, steps


def layered_outputs(
    lsim: LayeredSimulation, run: LayeredRun, across: AcrossLayers
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """A layered run's outputs (:func:`layered_output_names`), and month by month, in the run's
    months: a layer's month ``k`` is the run's month ``k + from``."""
    months = run.done
    outputs: dict[str, float] = {}
    steps: dict[str, np.ndarray] = {}
    for ls, r in zip(lsim.layers, run.runs, strict=True):
        own, monthly = run_outputs(ls.sim, r.record)
        outputs.update({f"{ls.id}:{k}": v for k, v in own.items()})
        for k, series in monthly.items():
            full = np.full(months, np.nan)
            full[ls.first : ls.first + len(series)] = series
            steps[f"{ls.id}:{k}"] = full
    own, monthly = across.outputs(run)
    outputs.update(own)
    steps.update(monthly)
    return outputs, steps
