"""The step loop: a scenario in, a results file out.

:class:`Simulation` puts the pieces together: it loads the scheme and the act catalogue, draws the
population, compiles rate tables and scheme arrays, estimates the memory the run needs (and refuses
a run the machine cannot hold), then runs monthly steps and hands the tallies to the store.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psutil

from scslab.behaviour.model import Catalogue
from scslab.behaviour.rates import RateTables, cumulative, load_catalogue, rate_tables
from scslab.engine.compiled import (
    FLAG_PANEL,
    MARKS,
    MAX_STEP,
    N_DOMAINS,
    SchemeArrays,
    SchemeLayout,
    State,
    allocate_state,
    compile_scheme,
    state_bytes_per_person,
)
from scslab.engine.kernels import (
    BLOCK,
    Draws,
    Tally,
    Traits,
    allocate_tally,
    count_low_friends,
    count_unscored,
    cut_ties,
    mark_households,
    mark_low,
    mark_offenders,
    n_blocks,
    step,
    update_low_friends,
)
from scslab.engine.scenario import Scenario
from scslab.errors import ResourceError, ScenarioError
from scslab.population.individuals import Population, cell_traits, generate
from scslab.population.network import (
    Network,
    generate_network,
    score_assortativity,
    tie_group,
)
from scslab.rng import STREAM_PANEL, step_key, uniforms
from scslab.schemes.loader import load_scheme
from scslab.schemes.model import Scheme

Progress = Callable[[int, int], None]

#: Python, numpy and the compiled kernels, before any person is allocated.
BASE_OVERHEAD = 400 * 2**20


@dataclass
class Record:
    """Everything a run keeps, step by step: tallies summed over blocks, and the panel."""

    steps: int
    grade: np.ndarray
    score_sum: np.ndarray
    listed: np.ndarray
    dom_s: np.ndarray
    dom_r: np.ndarray
    grp_active: np.ndarray
    anyc: np.ndarray
    hist: np.ndarray
    ev_true: np.ndarray
    ev_rec: np.ndarray
    ev_false: np.ndarray
    flow: np.ndarray
    panel_people: np.ndarray
    panel_score: np.ndarray
    panel_grade: np.ndarray
    panel_lists: np.ndarray
    panel_lcause: np.ndarray
    panel_until: np.ndarray
    panel_cause: np.ndarray
    assortativity: np.ndarray  # float64[steps]: NaN without a network
    ties_cut: np.ndarray  # int64[steps]
    panel_events: list[np.ndarray] = field(default_factory=list)
    done: int = 0

    @classmethod
    def allocate(
        cls, steps: int, tally: Tally, panel: np.ndarray, lists: int, groups: int
    ) -> Record:
        def per_step(a: np.ndarray) -> np.ndarray:
            return np.zeros((steps, *a.shape[1:]), a.dtype)

        p = len(panel)
        return cls(
            steps=steps,
            grade=per_step(tally.grade),
            score_sum=per_step(tally.score_sum),
            listed=per_step(tally.listed),
            dom_s=per_step(tally.dom_s),
            dom_r=per_step(tally.dom_r),
            grp_active=per_step(tally.grp_active),
            anyc=per_step(tally.anyc),
            hist=per_step(tally.hist),
            ev_true=per_step(tally.ev_true),
            ev_rec=per_step(tally.ev_rec),
            ev_false=per_step(tally.ev_false),
            flow=per_step(tally.flow),
            panel_people=panel,
            panel_score=np.zeros((steps, p), np.int16),
            panel_grade=np.zeros((steps, p), np.uint8),
            panel_lists=np.zeros((steps, p, lists), np.int16),
            panel_lcause=np.zeros((steps, p, lists), np.uint32),
            panel_until=np.zeros((steps, p, groups), np.int16),
            panel_cause=np.zeros((steps, p, groups), np.uint32),
            assortativity=np.full(steps, np.nan),
            ties_cut=np.zeros(steps, np.int64),
        )

    def take(self, t: int, tally: Tally, state: State) -> None:
        for name in (
            "grade",
            "score_sum",
            "listed",
            "dom_s",
            "dom_r",
            "grp_active",
            "anyc",
            "hist",
            "ev_true",
            "ev_rec",
            "ev_false",
            "flow",
        ):
            getattr(self, name)[t] = getattr(tally, name).sum(axis=0)
        p = self.panel_people
        self.panel_score[t] = state.score[p]
        self.panel_grade[t] = state.grade[p]
        self.panel_lists[t] = state.list_since[p]
        self.panel_lcause[t] = state.list_cause[p]
        self.panel_until[t] = state.grp_until[p]
        self.panel_cause[t] = state.grp_cause[p]
        events = [tally.pev[b, : tally.pev_n[b]] for b in range(tally.pev.shape[0])]
        rows = np.concatenate(events) if events else np.zeros((0, 6), np.int32)
        self.panel_events.append(np.column_stack([np.full(len(rows), t, np.int32), rows]))
        self.done = t + 1


class Simulation:
    """One scenario, ready to run.

    >>> sim = Simulation(Scenario(population=PopulationSpec(agents=10_000), years=1))
    >>> results = sim.run("runs/example", overwrite=True)
    """

    def __init__(
        self,
        scenario: Scenario,
        *,
        scheme: Scheme | None = None,
        catalogue: Catalogue | None = None,
        population: Population | None = None,
        also_personal: tuple[str, ...] = (),
    ) -> None:
        self.scenario = scenario
        self.scheme = scheme if scheme is not None else load_scheme(scenario.scheme)
        if self.scheme.subject != "individuals":
            raise ScenarioError(
                f"scheme '{self.scheme.id}' scores {self.scheme.subject}, and this population "
                "holds individuals only; choose a scheme for individuals"
            )
        self.catalogue = catalogue if catalogue is not None else load_catalogue(scenario.acts)
        self.also_personal = also_personal
        self.interrupted = False
        self._population = population
        if population is not None and population.n == 0:
            raise ScenarioError("the population is empty")
        longest = max(
            [0]
            + [c.duration_months or 0 for c in self.scheme.consequences()]
            + [x.exit.after_months or 0 for x in self.scheme.lists]
        )
        if scenario.steps + longest >= MAX_STEP:
            raise ScenarioError(
                f"years: {scenario.years} is too long; runs are limited to "
                f"{(MAX_STEP - longest) // 12} years with this scheme"
            )
        self._check_network()
        self.rates: RateTables = rate_tables(
            self.catalogue,
            self.scheme,
            scenario.population,
            scenario.observation,
            scenario.adaptation,
            also_personal,
        )
        self.arrays: SchemeArrays
        self.layout: SchemeLayout
        self.arrays, self.layout = compile_scheme(self.scheme, self.rates.act_ids)

    def _check_network(self) -> None:
        """Network rules and tie-cutting need ties; say so before anything is allocated."""
        has_ties = self.scenario.network is not None or (
            self._population is not None and self._population.network is not None
        )
        rules = ", ".join(r.id for r in self.scheme.network)
        if rules and not has_ties:
            raise ScenarioError(
                f"scheme '{self.scheme.id}' has network rules ({rules}) and this population has "
                "no social network; add `network:` to the scenario (or --network on the CLI)"
            )
        cutting = self.scenario.adaptation.tie_cutting
        if cutting.enabled:
            if not has_ties:
                raise ScenarioError(
                    "adaptation.tie_cutting needs a social network; add `network:` to the scenario"
                )
            if cutting.below is None and not self.scheme.network:
                raise ScenarioError(
                    "adaptation.tie_cutting.below: give the score below which friends are cut "
                    f"(scheme '{self.scheme.id}' has no network rule to take it from)"
                )
        spec = self.scenario.network
        if spec is not None and spec.mean_degree >= self.agents:
            raise ScenarioError(
                f"network.mean_degree {spec.mean_degree:g} must be below the number of people "
                f"({self.agents:,})"
            )

    def _low_thresholds(self) -> np.ndarray:
        """Scores below which friends count as low: each network rule's, then tie-cutting's."""
        marks = [r.threshold for r in self.scheme.network]
        cutting = self.scenario.adaptation.tie_cutting
        if cutting.enabled:
            marks.append(cutting.below if cutting.below is not None else marks[0])
        return np.array(marks, np.int64)

    @property
    def agents(self) -> int:
        if self._population is not None:
            return self._population.n
        return self.scenario.population.agents

    def estimate_memory(self) -> int:
        """Bytes the run will need at its peak, before anything is allocated."""
        n = self.agents
        cells = self.scenario.population.n_cells()
        acts = len(self.rates.act_ids)
        L, Q, G = len(self.layout.lists), len(self.layout.groups), len(self.layout.grades)
        per_person = 10 + state_bytes_per_person(self.layout)
        if self.arrays.grp_household.any():
            per_person += 12  # what each household's members set for it (at most one per person)
        if self.scheme.collective:
            per_person += 2  # which households and neighbourhoods offended last month
        spec = self.scenario.network
        if spec is not None:
            # CSR arrays, a copy to rewire, the low-score bits; while built, ~10 bytes a stub
            per_person += int(spec.mean_degree * 8) + 8 + len(self._low_thresholds())
            per_person += 2 * len(self.scheme.network)  # counts of low friends
            if self._population is None:
                per_person += int(spec.mean_degree * 10) + 30
        per_block_cells = cells * (3 * acts + G + L + 2 * N_DOMAINS + Q + 2) * 4 + cells * 8
        per_block = per_block_cells + 3 * (L + Q) * (N_DOMAINS + 2) * MARKS * 4
        steps = self.scenario.steps
        record = steps * per_block
        panel = steps * self.scenario.panel * (3 + 2 * L + 6 * Q + 40)
        generation = 4 * n  # household draw buffers, then cell index
        return (
            BASE_OVERHEAD + n * per_person + generation + n_blocks(n) * per_block + record + panel
        )

    def check_memory(self) -> None:
        need = self.estimate_memory()
        have = psutil.virtual_memory().available
        if need > 0.9 * have:
            raise ResourceError(
                f"this run needs about {need / 2**30:.1f} GiB and the machine has "
                f"{have / 2**30:.1f} GiB free; use fewer agents (--agents) or a larger machine"
            )

    def population(self) -> Population:
        if self._population is None:
            pop = generate(self.scenario.population, self.scenario.seed)
            if self.scenario.network is not None:
                pop.network = generate_network(pop, self.scenario.network, self.scenario.seed)
            self._population = pop
        return self._population

    def execute(self, progress: Progress | None = None) -> tuple[Record, State]:
        """Run every step in memory and return the record and final state.

        On Ctrl-C the months done so far are returned and :attr:`interrupted` is set.
        """
        run = self.start()
        steps = self.scenario.steps
        self.interrupted = False
        try:
            for t in range(steps):
                run.advance(t)
                if progress is not None:
                    progress(t + 1, steps)
        except KeyboardInterrupt:
            self.interrupted = True
        return run.record, run.state

    def start(self) -> Run:
        """Check memory, draw the population and set up every column: a run ready to advance."""
        self.check_memory()
        return Run(self)

    def _draws(self) -> Draws:
        r = self.rates
        lam, cum = cumulative(r.rate)
        flam, fcum = cumulative(r.false_rate)
        return Draws(
            p0=np.exp(-lam),
            lam=lam,
            cum=cum,
            act=r.personal,
            fp0=np.exp(-flam),
            flam=flam,
            fcum=fcum[:, None, :].copy(),
            fact=r.false_act,
            p_detect=r.p_detect,
            unscored=r.counted,
            u_rate=r.counted_rate,
            u_false=r.counted_false,
        )

    def _panel(self, n: int) -> np.ndarray:
        k = min(self.scenario.panel, n)
        if k == 0:
            return np.zeros(0, np.int64)
        u = uniforms(step_key(self.scenario.seed, STREAM_PANEL, 0), n, 0)
        return np.sort(np.argpartition(u, k - 1)[:k]).astype(np.int64)

    def prepare(self, out: str | Path | None = None, *, overwrite: bool = False) -> Path:
        """Check memory and the output folder before any work; return the folder to write."""
        from scslab.store.writer import prepare_out

        folder = Path(out) if out is not None else default_out(self.scheme.id)
        self.check_memory()
        prepare_out(folder, overwrite)
        return folder

    def run(
        self,
        out: str | Path | None = None,
        *,
        overwrite: bool = False,
        progress: Progress | None = None,
    ) -> Results:
        """Run and write ``results.duckdb`` in ``out`` (default: a new folder under ``runs/``).

        On Ctrl-C the steps done so far are written to ``results.partial.duckdb`` and
        :class:`RunInterrupted` is raised with its path.
        """
        from scslab.store.writer import write_results

        folder = self.prepare(out, overwrite=overwrite)
        started = datetime.now(UTC)
        clock = time.perf_counter()
        record, _ = self.execute(progress)
        meta = {
            "started": started,
            "finished": datetime.now(UTC),
            "seconds": time.perf_counter() - clock,
            "status": "interrupted" if self.interrupted else "complete",
        }
        path = write_results(folder, self, record, meta)
        if self.interrupted:
            raise RunInterrupted(path)
        return Results(path)


class Run:
    """One run in progress: its columns, tallies and record. :meth:`advance` does one month.

    :meth:`Simulation.execute` drives it; benchmarks drive it too, to time the month itself.
    """

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        pop = sim.population()
        n = pop.n
        self.pop = pop
        self.draws = sim._draws()
        self.people = np.bincount(pop.cell, minlength=sim.scenario.population.n_cells())
        self.cell_region = cell_traits(sim.scenario.population)[:, 0].astype(np.int64)
        network = pop.network
        self.cutting = sim.scenario.adaptation.tie_cutting
        if network is not None and self.cutting.enabled:
            network = Network(network.indptr, network.indices.copy())  # rewired by this run only
        self.network = network
        self.thresholds = sim._low_thresholds() if network is not None else np.zeros(0, np.int64)
        # on a fixed, symmetric network each person's count of low friends is kept up to date
        # from the few who cross a threshold, instead of scanning every tie every month
        self.counting = (
            network is not None
            and network.symmetric
            and not self.cutting.enabled
            and bool(sim.scheme.network)
        )
        self.households = int(pop.household.max()) + 1 if sim.arrays.grp_household.any() else 0
        self.collective = bool(sim.scheme.collective)
        self.traits = Traits(
            cell=pop.cell,
            region=pop.region,
            indptr=network.indptr if network is not None else np.zeros(0, np.int64),
            friends=network.indices if network is not None else np.zeros(0, np.int32),
            low=np.zeros((len(self.thresholds), (n + 7) // 8), np.uint8),
            low_friends=np.zeros(
                (len(sim.scheme.network), n) if self.counting else (0, 0), np.uint16
            ),
            household=pop.household,
            hh_trig=np.zeros(self.households, np.int64),
            hh_cause=np.zeros(self.households, np.uint32),
            offended=np.zeros(
                (2, int(pop.household.max()) + 1 if self.collective else 0), np.uint8
            ),
            neighbourhood=sim.scenario.population.neighbourhood_households,
        )
        self.state = allocate_state(n, sim.arrays, sim.layout)
        if self.cutting.enabled:
            self.group = tie_group(pop)
            self.members = np.argsort(self.group, kind="stable").astype(np.int32)
            self.group_start = np.searchsorted(
                self.group[self.members], np.arange(self.group.max() + 2)
            ).astype(np.int64)
        panel = sim._panel(n)
        self.state.flags[panel] |= FLAG_PANEL
        per_block = (
            int(np.bincount(panel // BLOCK, minlength=n_blocks(n)).max()) if len(panel) else 0
        )
        L, Q = len(sim.layout.lists), len(sim.layout.groups)
        self.tally = allocate_tally(
            n, len(self.people), len(sim.rates.act_ids), len(sim.layout.grades), L, Q, per_block
        )
        self.record = Record.allocate(sim.scenario.steps, self.tally, panel, L, Q)

    def advance(self, t: int, *, assortativity: bool = True) -> None:
        """Month ``t``: what last month's scores set, the step, ties, and the record."""
        sim, traits, state, network = self.sim, self.traits, self.state, self.network
        seed = sim.scenario.seed
        if len(self.thresholds):
            before = traits.low.copy()
            mark_low(state.score, self.thresholds, traits.low)  # last month's low scorers
            if self.counting and t == 0:
                count_low_friends(network.indptr, network.indices, traits.low, traits.low_friends)
            elif self.counting:
                update_low_friends(
                    network.indptr, network.indices, before, traits.low, traits.low_friends
                )
        if self.collective:
            mark_offenders(
                state.last_neg,
                self.pop.household,
                traits.neighbourhood,
                t,
                traits.offended,
            )
        if self.households:
            mark_households(sim.arrays, state, self.pop.household, traits.hh_trig, traits.hh_cause)
        for counts in self.tally:
            counts.fill(0)
        step(sim.arrays, self.draws, traits, state, self.tally, seed, t)
        count_unscored(self.draws, self.people, self.cell_region, self.tally, seed, t)
        if network is not None:
            if self.cutting.enabled:
                self.record.ties_cut[t] = cut_ties(
                    network.indptr,
                    network.indices,
                    traits.low[-1],
                    self.cutting.probability,
                    self.group,
                    self.members,
                    self.group_start,
                    seed,
                    t,
                )
            if assortativity:
                self.record.assortativity[t] = score_assortativity(network, state.score)
        self.record.take(t, self.tally, state)


def default_out(scheme_id: str) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(os.environ.get("SCSLAB_RUNS", "runs"))
    return base / f"{stamp}-{scheme_id}"


class RunInterrupted(KeyboardInterrupt):
    """A run stopped by Ctrl-C; ``path`` holds the steps done before it."""

    def __init__(self, path: Path) -> None:
        super().__init__(str(path))
        self.path = path


from scslab.store.results import Results  # noqa: E402  (results reads what the store writes)
