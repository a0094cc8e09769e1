"""The step loop: a scenario in, a results file out.

:class:`Simulation` puts the pieces together: it loads the scheme and the act catalogue, draws the
population, compiles rate tables and scheme arrays, estimates the memory the run needs (and refuses
a run the machine cannot hold), then runs monthly steps in memory (:meth:`Simulation.execute`) and
returns the record. This module knows nothing of files: :mod:`scslab.runs` writes a run to its
results folder (and checkpoints it, shards it, resumes it).
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import psutil

from scslab.behaviour.model import Catalogue
from scslab.behaviour.rates import (
    RateTables,
    cumulative,
    load_catalogue,
    rate_tables,
    taken,
    with_act_effects,
)
from scslab.engine.ageing import age_month, mark_lineage
from scslab.engine.compiled import (
    FLAG_PANEL,
    MARK_BELOW,
    MARKS,
    MAX_STEP,
    N_DOMAINS,
    SchemeArrays,
    SchemeLayout,
    State,
    allocate_state,
    compile_scheme,
    first_channel,
    network_marks,
    refuse_links,
    ring_width,
    state_bytes_per_person,
)
from scslab.engine.contracts import ContractGame, Party
from scslab.engine.ever import ever_masks, mark_ever, mark_moves
from scslab.engine.kernels import (
    BLOCK,
    LIVES_NAMES,
    N_INCOME,
    NET,
    Draws,
    Tally,
    Traits,
    allocate_tally,
    carry_running,
    clear_tally,
    count_low_friends,
    count_unscored,
    cut_shamed_ties,
    cut_ties,
    draws,
    friend_needs,
    mark_households,
    mark_offenders,
    mark_rules,
    n_blocks,
    running_consequences,
    step,
    update_low_friends,
)
from scslab.engine.scenario import Scenario
from scslab.engine.schedule import (
    Schedule,
    deterring_cuts,
    deterring_off,
    place,
    schedule_of,
)
from scslab.errors import ResourceError, ScenarioError
from scslab.population.firms import Firms, FirmSpec, generate_firms
from scslab.population.individuals import Cells, Population, generate
from scslab.population.network import (
    Network,
    generate_network,
    score_assortativity,
    tie_group,
)
from scslab.rng import STREAM_FIRMS, STREAM_PANEL, step_key, uniforms
from scslab.schemes.loader import load_scheme
from scslab.schemes.model import CHANNELS, Scheme
from scslab.schemes.values import with_scheme_values

Progress = Callable[[int, int], None]


class SharedActs(Protocol):
    """The acts a layer shares with the other layers of its run (:class:`scslab.engine.world.World`,
    which reads the layers' simulations): the tables the layer numbered ``layer`` draws from in
    the run's ``month``."""

    def draws(self, layer: int, month: int) -> Draws: ...


#: A part of a month (:attr:`Run.month`): ``part(k, t)`` does its share of engine step ``k``,
#: recorded as month ``t`` (``None``: a month of the history, not recorded).
MonthPart = Callable[[int, int | None], None]

#: Python, numpy, the compiled kernels and DuckDB, before any person is allocated (a run of 2,000
#: people peaks at 290 MiB; benchmarks/memory.py).
BASE_OVERHEAD = 300 * 2**20
#: Python, numpy and scslab's modules alone, while the population is drawn (196 MiB measured).
IMPORT_OVERHEAD = 200 * 2**20


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
    #: [steps, cells, lists, 4]: list entries, then exits by expiry, repair and fulfilment
    lflow: np.ndarray
    #: [steps, cells, attempt acts]: attempts refused by a running sanction
    blocked: np.ndarray
    #: [steps, cells, kernels.APPEAL_COUNTS]: appeals lodged, decided, listings corrected;
    #: [steps, cells, 0] without appeals
    appeals: np.ndarray
    panel_people: np.ndarray
    panel_score: np.ndarray
    panel_grade: np.ndarray
    panel_lists: np.ndarray
    panel_lcause: np.ndarray
    panel_until: np.ndarray
    panel_cause: np.ndarray
    #: int16[panel]: the panel's scores before month 0: the base, or where the history left them
    panel_start: np.ndarray
    assortativity: np.ndarray  # float64[steps]: NaN without a network
    ties_cut: np.ndarray  # int64[steps]
    #: with effects on lives: the panel's cells at the end of each month (income moves change
    #: them); ``[0, 0]`` without
    panel_cell: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.uint16))
    panel_events: list[np.ndarray] = field(default_factory=list)
    #: further counts per step and cell, written as ``steps`` columns of these names
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    #: int64[steps, cells, groups]: the points consequences' ``points:`` effects moved scores by
    #: as they started (engine integers); ``[steps, 0, 0]`` in a scheme without them
    effect_points: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0), np.int64))
    #: a firm run's list entries and exits, and consequence starts and ends, per step and cell:
    #: ``(kind, index)`` -> int64[steps, cells]; kind 0 list entry, 1 list exit, 2 group start,
    #: 3 group end (written as the ``firm_flows`` table)
    cell_flows: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)
    #: int64[steps, cells]: people in each cell each month, where people move between cells over
    #: a run (ageing, income moves); int64[0, 0] where they never do
    agents: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int64))
    done: int = 0

    @classmethod
    def allocate(
        cls,
        steps: int,
        tally: Tally,
        panel: np.ndarray,
        lists: int,
        groups: int,
        moving: bool = False,
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
            lflow=per_step(tally.lflow),
            blocked=per_step(tally.blocked),
            appeals=per_step(tally.appeals),
            panel_people=panel,
            panel_score=np.zeros((steps, p), np.int16),
            panel_start=np.zeros(p, np.int16),
            panel_grade=np.zeros((steps, p), np.uint8),
            panel_lists=np.zeros((steps, p, lists), np.int16),
            panel_lcause=np.zeros((steps, p, lists), np.uint32),
            panel_until=np.zeros((steps, p, groups), np.int16),
            panel_cause=np.zeros((steps, p, groups), np.uint32),
            assortativity=np.full(steps, np.nan),
            ties_cut=np.zeros(steps, np.int64),
            agents=np.zeros((steps, tally.grade.shape[1]) if moving else (0, 0), np.int64),
            effect_points=per_step(tally.effpts),
            **_lives_record(steps, tally, p),
        )

    def take(
        self,
        t: int,
        tally: Tally,
        state: State,
        people: np.ndarray | None = None,
        cell: np.ndarray | None = None,
    ) -> None:
        """Keep month ``t``'s tallies and panel; ``people``: how many are in each cell (kept
        where people move between cells); ``cell``: each row's cell at the end of the month."""
        if self.agents.shape[0] and people is not None:
            self.agents[t] = people
            if tally.lives.shape[1] > 0:  # income moves at the month's end: its own count
                self.agents[t] -= tally.lives.sum(axis=0)[:, NET]
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
            "lflow",
            "blocked",
            "appeals",
        ):
            getattr(self, name)[t] = getattr(tally, name).sum(axis=0)
        if tally.effpts.shape[2] > 0:
            self.effect_points[t] = tally.effpts.sum(axis=0)
        p = self.panel_people
        self.panel_score[t] = state.score[p]
        self.panel_grade[t] = state.grade[p]
        self.panel_lists[t] = state.list_since[p]
        self.panel_lcause[t] = state.list_cause[p]
        self.panel_until[t] = state.grp_until[p]
        self.panel_cause[t] = state.grp_cause[p]
        if tally.lives.shape[1] > 0:  # effects on lives: by cell, and where the panel is
            lives = tally.lives.sum(axis=0)
            for k, name in enumerate(LIVES_NAMES):
                self.extra[name][t] = lives[:, k]
            if cell is not None:
                self.panel_cell[t] = cell[p]
        events = [tally.pev[b, : tally.pev_n[b]] for b in range(tally.pev.shape[0])]
        rows = np.concatenate(events) if events else np.zeros((0, 6), np.int32)
        self.panel_events.append(np.column_stack([np.full(len(rows), t, np.int32), rows]))
        self.done = t + 1


def _lives_record(steps: int, tally: Tally, panel: int) -> dict[str, Any]:
    """What a run with effects on lives records besides the rest (:class:`Record`)."""
    cells = tally.lives.shape[1]
    if cells == 0:
        return {}
    return {
        "panel_cell": np.zeros((steps, panel), np.uint16),
        "extra": {name: np.zeros((steps, cells), np.int64) for name in LIVES_NAMES},
    }


def history_months_of(scenario: Scenario, scheme: Scheme) -> int:
    """Months a run of ``scheme`` lives before month 0, not recorded: a firm run's
    ``firms.history_months``, else the scenario's ``history_months``, else the scheme's
    ``score.history_months``."""
    if scheme.subject == "enterprises":
        return (scenario.firms if scenario.firms is not None else FirmSpec()).history_months
    if scenario.history_months is not None:
        return scenario.history_months
    return scheme.score.history_months


class Simulation:
    """One scenario, ready to run in memory: :meth:`execute` returns the record and final state.

    >>> sim = Simulation(Scenario(population=PopulationSpec(agents=10_000), years=1))
    >>> record, state = sim.execute()

    :class:`scslab.Simulation` (:mod:`scslab.runs`) adds :meth:`~scslab.runs.Simulation.run`,
    which writes the results folder.
    """

    def __init__(
        self,
        scenario: Scenario,
        *,
        scheme: Scheme | None = None,
        catalogue: Catalogue | None = None,
        population: Population | None = None,
        also_personal: tuple[str, ...] = (),
        linked: bool = False,
        people: Simulation | None = None,
    ) -> None:
        """``linked``: a layer of a layered scenario, whose conditions on other layers
        (``layer:``) are filled from outside the step (``scslab.engine.links``); without it a
        scheme with such conditions is refused. ``people``: for a scheme of enterprises, the
        people's simulation (a layered run's layer of people) in place of one of
        ``firms.people_scheme``."""
        self.scenario = scenario
        #: the scheme as named (or given), before the scenario's ``scheme_values``
        self.base_scheme = scheme if scheme is not None else load_scheme(scenario.scheme)
        self.scheme = with_scheme_values(self.base_scheme, scenario.scheme_values)
        if not linked:
            refuse_links(self.scheme)
        #: the months of the scheme's scheduled rules (``in_force:``) on this run: refused
        #: here, before anything is allocated, if they are calendar months without a start
        self.placed = place(self.scheme, scenario.start, where=self.base_scheme.where)
        #: the rates in force from each month where one changes (``Scenario.rate_pieces``), and
        #: where an event or list comes into or goes out of force (it deters only in force); a
        #: month of history is its calendar month, with its own rates and rules in force
        history = history_months_of(scenario, self.scheme)
        pieces = scenario.rate_pieces(history)
        changes = {cut for cut, _ in pieces[1:]} | set(
            deterring_cuts(self.placed, scenario.steps, history)
        )
        # a change within the history (or as it ends): the first piece begins with the history
        cuts = changes | {-history if any(m <= 0 for m in changes) else 0}
        if cuts != {cut for cut, _ in pieces}:  # each new cut with the rates in force there
            dated = pieces
            pieces = tuple(
                (cut, next((r for m, r in reversed(dated) if m <= cut), dated[0][1]))
                for cut in sorted(cuts)
            )
        #: the months where each piece of the rates begins: the first 0, or the first month of
        #: the history where something changes within it (earlier months take the first piece)
        self.pieces: tuple[int, ...] = tuple(cut for cut, _ in pieces)
        #: the piece in force in month 0: :attr:`rates` and the catalogue's rates are its
        self.piece0 = int(np.searchsorted(self.pieces, 0, side="right")) - 1
        #: a firm run's people, scored by their own scheme: their blacklists reach the firms
        self.people: Simulation | None = None
        self.firm_spec: FirmSpec | None = None
        #: the catalogue index of a broken contract, when the contract game is on
        self.contract_act: int | None = None
        #: a layer of a layered run: the contract game is the run's, which fills the layer's
        #: ``Traits.injected`` (:class:`~scslab.engine.layers.LayeredRun`), not the layer's own
        self.contracts_outside = False
        if scenario.population.children is not None and self.scheme.subject != "enterprises":
            for given, what in (
                (scenario.network, "network"),
                (scenario.contracts.enabled, "contracts"),
            ):
                if given:
                    raise ScenarioError(
                        f"population.children: children would have friends and contracts like "
                        f"adults; a run with children takes no `{what}:` (not supported yet)"
                    )
        scale = None
        if self.scheme.subject == "enterprises":
            self.firm_spec = scenario.firms if scenario.firms is not None else FirmSpec()
            people_scenario = scenario.model_copy(
                update={
                    "scheme": self.firm_spec.people_scheme,
                    "firms": None,
                    "panel": 0,
                    "scheme_values": {},  # the firms' scheme's
                }
            )
            self.people = (
                people if people is not None else Simulation(people_scenario, population=population)
            )
            if self.people.scheme.subject != "individuals":
                raise ScenarioError(
                    f"firms.people_scheme: '{self.people.scheme.id}' scores "
                    f"{self.people.scheme.subject}; the people who run firms need a scheme "
                    "for individuals"
                )
            population = None  # the people's; the firms are drawn from them
            people_n = self._people_n()
            managers = self.firm_spec.managers(people_n)
            if managers > people_n:
                raise ScenarioError(
                    f"{self.firm_spec.count(people_n):,} firms need about {managers:,} managers "
                    f"(a legal representative each, and directors), and the population has "
                    f"{people_n:,} people; use more agents or fewer firms "
                    "(firms.per_thousand_people)"
                )
            self.cells: Cells = self.firm_spec.cells(scenario.population.regions)
            #: the act catalogue as loaded (or given), before the scenario's ``rates``
            self.base_catalogue: Catalogue = (
                catalogue
                if catalogue is not None
                else load_catalogue(self.firm_spec.acts, builtin="firm_acts.yaml")
            )
            self.catalogue = with_rates(self.base_catalogue, pieces[self.piece0][1])
            scale = np.array(
                [
                    self.firm_spec.award_scale if a.lawful else self.firm_spec.violation_scale
                    for a in self.catalogue.acts
                ]
            )
        else:
            if scenario.firms is not None:
                raise ScenarioError(
                    f"firms: scheme '{self.scheme.id}' scores individuals; the firms settings "
                    "are for a scheme that scores enterprises (e.g. corporate-scs)"
                )
            self.cells = scenario.population.cells()
            self.base_catalogue = (
                catalogue if catalogue is not None else load_catalogue(scenario.acts)
            )
            self.catalogue = with_rates(self.base_catalogue, pieces[self.piece0][1])
            if scenario.contracts.enabled:
                ids = [a.id for a in self.catalogue.acts]
                if scenario.contracts.act not in ids:
                    raise ScenarioError(
                        f"contracts.act: the act catalogue has no act '{scenario.contracts.act}' "
                        "for a broken contract"
                    )
                # every breach comes from the game, none from the catalogue's rate
                self.contract_act = ids.index(scenario.contracts.act)
                scale = np.ones(len(ids))
                scale[self.contract_act] = 0.0
        self.also_personal = also_personal
        self.interrupted = False
        #: a layer of a run of several layers: the acts it shares with the others
        #: (:mod:`scslab.engine.world`), its number among them and its first month of the run;
        #: ``None`` for a run that draws its own
        self.world: SharedActs | None = None
        self.world_layer = 0
        self.world_first = 0
        #: added to an engine step to give the step its draws are keyed by (0 for a run alone;
        #: a layer sharing acts draws on the run's months: World.key_shift)
        self.key_shift = 0
        #: a layer's regions (``where``): the first and the end region, people laid out region
        #: by region; ``None``: everywhere. Its rows start at :attr:`row_offset` of the population
        self.regions: tuple[int, int] | None = self._layer_regions()
        #: the population row of this run's row 0, and the household number of its household 0
        self.row_offset = 0
        self.household_offset = 0
        if population is not None and self.regions is not None:
            population = self._rows_of(population)
        self._population: Population | Firms | None = population
        if population is not None and population.n == 0:
            raise ScenarioError("the population is empty")
        longest = max(
            [0]
            + [c.duration_months or 0 for c in self.scheme.consequences()]
            + [x.exit.after_months or 0 for x in self.scheme.lists]
        )
        if self.firm_spec is not None and scenario.history_months is not None:
            raise ScenarioError(
                "history_months: a firm run's history is firms.history_months; set that instead"
            )
        history = self.history_months
        if scenario.steps + history + longest >= MAX_STEP:
            raise ScenarioError(
                f"years: {scenario.years} is too long; runs are limited to "
                f"{(MAX_STEP - longest) // 12} years with this scheme"
            )
        self._check_network()
        #: the channels whose records the scheme takes (a layer's ``channels:``), ``None``: all
        self.channels: tuple[str, ...] | None = self._channels()
        #: each piece's rate tables, one per distinct piece (not per month); the first is ``rates``
        self.piece_rates: tuple[RateTables, ...] = ()
        for cut, rates in pieces:
            tables = rate_tables(
                with_rates(self.catalogue, rates),
                self.scheme,
                self.cells,
                scenario.observation,
                scenario.adaptation,
                also_personal,
                scale,
                weights=(
                    self.firm_spec.cell_shares(scenario.population.regions)
                    if self.firm_spec is not None
                    else scenario.population.cell_shares()
                ),
                off=deterring_off(self.scheme, self.placed, cut),
                channels=self.channels,
            )
            self.piece_rates += (tables,)
        self.rates: RateTables = self.piece_rates[self.piece0]
        self._piece_draws: dict[int, Draws] = {}
        self.arrays: SchemeArrays
        self.layout: SchemeLayout
        self.arrays, self.layout = compile_scheme(
            self.scheme,
            self.rates.act_ids,
            tuple(self.rates.act_ids[a] for a in self.rates.attempt),
            linked=linked,
        )
        self.arrays = inert_lives(
            self.arrays,
            ties=self.scenario.network is not None
            or (self._population is not None and self._population.network is not None),
            contracts=self.contract_act is not None,
        )
        #: the scheme's rules in force for some months only (``in_force:``), on this run's
        #: months; ``None`` when every rule is always in force
        self.schedule: Schedule | None = schedule_of(self.scheme, self.layout, self.placed)

    def arrays_at(self, t: int) -> SchemeArrays:
        """The scheme's arrays as the step reads them in month ``t`` of the record (months of
        history: ``t < 0``): the rules out of force switched off (:mod:`scslab.engine.schedule`)."""
        return self.arrays if self.schedule is None else self.schedule.arrays_at(self.arrays, t)

    def share_population(self, pop: Population) -> None:
        """Run over ``pop``, drawn once for several layers (each takes its regions' rows), in
        place of drawing the scenario's population itself; before the run starts."""
        self._population = pop if self.regions is None else self._rows_of(pop)

    def share_firms(self, pop: Population) -> None:
        """A firm run: draw its firms from ``pop`` (a layered run's whole population, whose
        people's layer may be over some regions), those of its regions (:attr:`regions`, a
        layer of firms' ``where``) only; before the run starts."""
        assert self.firm_spec is not None
        firms = generate_firms(pop, self.firm_spec, self.scenario.seed)
        if self.regions is not None:
            firms = firms.of_regions(*self.regions)
            if firms.n == 0:
                names = ", ".join(
                    r.id for r in self.scenario.population.regions[slice(*self.regions)]
                )
                layer = self.scenario.layers[0].id if self.scenario.layers else "?"
                raise ScenarioError(
                    f"layer '{layer}': where: no firm is run from {names} in this population; "
                    "use more agents or more firms (firms.per_thousand_people)"
                )
        self._population = firms

    def _channels(self) -> tuple[str, ...] | None:
        """A one-layer ``layers:`` scenario's ``channels``, checked against the catalogue's."""
        layers = self.scenario.layers
        if not layers or layers[0].channels is None:
            return None
        known = [c.id for c in self.catalogue.channels]
        for loc, problem in self.scenario.channel_problems(0, known):
            raise ScenarioError(f"{'.'.join(map(str, loc))}: {problem}")
        return layers[0].channels

    def _layer_regions(self) -> tuple[int, int] | None:
        """The regions of a one-layer ``layers:`` scenario's ``where``; a layer's months and
        several layers are a layered run's (:mod:`scslab.engine.layers`)."""
        layers = self.scenario.layers
        if layers is None:
            return None
        if len(layers) > 1:
            raise ScenarioError(
                f"layers: {len(layers)} layers make a layered run: `scslab run` runs it (in "
                "Python, scslab.engine.layers.LayeredSimulation), and this takes one scheme: "
                "not supported yet for a layered scenario"
            )
        layer = layers[0]
        if layer.start_at is not None or layer.until is not None:
            raise ScenarioError(
                f"layers.0: layer '{layer.id}' has months (from/until), which only a layered "
                "run keeps: `scslab run` runs it (in Python, "
                "scslab.engine.layers.LayeredSimulation); not supported yet here"
            )
        if layer.where is None:
            return None
        names = [r.id for r in self.scenario.population.regions]
        ix = [names.index(r) for r in layer.where]
        return min(ix), max(ix) + 1

    def _rows_of(self, pop: Population) -> Population:
        """The people of this layer's regions (:attr:`regions`), a contiguous range of
        ``pop``'s rows; their households renumbered from the first one's neighbourhood, and
        their ties to each other kept (a friend outside the layer is not scored by it)."""
        assert self.regions is not None
        a, b = self.regions
        ends = np.concatenate([[0], np.cumsum(np.bincount(pop.region, minlength=b))])
        lo, hi = int(ends[a]), int(ends[b])
        if hi == lo:
            names = ", ".join(r.id for r in self.scenario.population.regions[a:b])
            raise ScenarioError(
                f"layers.0.where: nobody lives in {names} in this population; use more agents"
            )
        per = self.scenario.population.neighbourhood_households
        hbase = int(pop.household[lo]) // per * per
        network = pop.network
        if network is not None:
            ip = network.indptr
            seg = network.indices[ip[lo] : ip[hi]]
            keep = (seg >= lo) & (seg < hi)
            kept = np.concatenate([[0], np.cumsum(keep)])
            network = Network(
                kept[ip[lo : hi + 1] - ip[lo]].astype(np.int64),
                (seg[keep] - lo).astype(np.int32),
                network.symmetric,
            )
        self.row_offset, self.household_offset = lo, hbase
        return Population(
            spec=pop.spec,
            region=pop.region[lo:hi],
            hukou=pop.hukou[lo:hi],
            age=pop.age[lo:hi],
            income=pop.income[lo:hi],
            household=(pop.household[lo:hi] - hbase).astype(pop.household.dtype),
            network=network,
            birth=pop.birth[lo:hi] if pop.birth is not None else None,
        )

    def draws_at(self, t: int) -> Draws:
        """The tables month ``t`` draws from (months of history, ``t < 0``, are calendar
        months too: their piece's, before the first piece the first's), built once per piece;
        a layer sharing acts, its world's (:mod:`scslab.engine.world`)."""
        if self.world is not None:
            return self.world.draws(self.world_layer, t + self.world_first)
        piece = max(0, int(np.searchsorted(self.pieces, t, side="right")) - 1)
        if piece not in self._piece_draws:
            self._piece_draws[piece] = self._draws(piece)
        return self._piece_draws[piece]

    def _check_network(self) -> None:
        """Network rules and tie-cutting need ties; say so before anything is allocated."""
        if self.people is not None:
            return  # firms have no friends; the people's simulation checks its own ties
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
            below = [r for r in self.scheme.network if r.kind == "friends-below"]
            if cutting.below is None and not below:
                raise ScenarioError(
                    "adaptation.tie_cutting.below: give the score below which friends are cut "
                    f"(scheme '{self.scheme.id}' has no friends-below network rule to take it "
                    "from)"
                )
        spec = self.scenario.network
        if spec is not None and spec.mean_degree >= self.agents:
            raise ScenarioError(
                f"network.mean_degree {spec.mean_degree:g} must be below the number of people "
                f"({self.agents:,})"
            )

    def _marks(self, ties: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """How friends are marked (:func:`scslab.engine.kernels.mark_rules`): each network
        rule's mark, then tie-cutting's, a score below ``below`` (default: the threshold of the
        first friends-below rule), in engine integers; none without ``ties``."""
        if not ties:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        kind, arg = network_marks(self.scheme)
        cutting = self.scenario.adaptation.tie_cutting
        if cutting.enabled:
            below: float | None = cutting.below
            if below is None:
                below = next(r.threshold for r in self.scheme.network if r.threshold is not None)
            kind = np.append(kind, MARK_BELOW)
            arg = np.append(arg, self.layout.score_units.engine(below))
        return kind, arg

    @property
    def history_months(self) -> int:
        """Months run before month 0 and not recorded (:func:`history_months_of`)."""
        return history_months_of(self.scenario, self.scheme)

    @property
    def agents(self) -> int:
        """Subjects scored: people, or firms in a firm run."""
        if self._population is not None:
            return self._population.n
        spec = self.scenario.population
        share = 1.0
        if self.regions is not None:  # before it is drawn: the regions' expected share
            a, b = self.regions
            share = sum(r.share for r in spec.regions[a:b])
        if self.people is not None and self.firm_spec is not None:
            firms = self.firm_spec.count(self._people_n())
            return firms if self.regions is None else round(firms * share)
        if self.regions is not None:
            return round(spec.expected_people() * share)
        return spec.expected_people()

    def _people_n(self) -> int:
        """A firm run's people, whom its firms are drawn from: the people's run's, or for a
        people's layer over some regions, the whole population (its firms are everyone's)."""
        assert self.people is not None
        if self.people.regions is None:
            return self.people.agents
        return self.scenario.population.expected_people()

    @property
    def cells_move(self) -> bool:
        """Whether people move between cells over the run: with children, everyone ages."""
        return self.people is None and self.scenario.population.children is not None

    @property
    def stream_seed(self) -> int:
        """The seed the kernels draw with: the scenario's, or for firms one derived from it, so
        that firm ``f`` and person ``f`` never share a draw."""
        if self.people is None:
            return self.scenario.seed
        return int(step_key(self.scenario.seed, STREAM_FIRMS, -2)) & (2**63 - 1)

    @property
    def subjects(self) -> str:
        """What the rows of this run are: ``people`` or ``firms``."""
        return "firms" if self.people is not None else "people"

    def estimate_memory(self) -> int:
        """Bytes the run will need at its peak (resident), before anything is allocated.

        What stays from the start to the end (the population, its ties, the state, the record)
        is added to the largest of what comes and goes: drawing the population and its network,
        the month's tallies, and writing the results, when the panel's tables are built as
        columns beside the record. ``benchmarks/memory.py`` checks it against the peak RSS of a
        people run, a panel-heavy one, a firm run and a network run.
        """
        n = self.agents
        cells = self.cells.n_cells()
        acts = len(self.rates.act_ids)
        L, Q, G = len(self.layout.lists), len(self.layout.groups), len(self.layout.grades)
        state = state_bytes_per_person(self.layout, ring_width(self.arrays), self.arrays)
        per_person = 10 + state + 3  # 3: who was ever affected, and months sanctioned (ever.py)
        if self.arrays.grp_household.any():
            per_person += 12  # what each household's members set for it (at most one per person)
        if self.scheme.collective:
            per_person += 2  # which households and neighbourhoods offended last month
        if self.cells_move:
            per_person += 2 + 2 + 1  # month of birth, the run's own cells, lineage bits
        if self.contract_act is not None and not self.contracts_outside:
            per_person += 2  # the contract game: each person's strategy, the month's breaches
        spec = self.scenario.network if self.people is None else None
        generation = 4  # per person: household draw buffers, then cell index
        if spec is not None:
            csr = int(spec.mean_degree * 4) + 8  # int32 friends, int64 offsets
            per_person += csr + len(self._marks()[0])
            per_person += 4 * len(self.scheme.network)  # counts of low friends, and needs
            if self.scenario.adaptation.tie_cutting.enabled:
                per_person += csr  # a copy to rewire
            if self._population is None:
                generation += int(spec.mean_degree * 5) + 8  # stubs and ties while drawn
        per_block_cells = cells * (3 * acts + G + L + 2 * N_DOMAINS + Q + 2) * 4 + cells * 8
        per_block = per_block_cells + 3 * (L + Q) * (N_DOMAINS + 2) * MARKS * 4
        steps = self.scenario.steps
        record = steps * per_block
        # the panel: each month's scores, grades, lists and consequences, and about a record a
        # person; written out as one row per person and month: the columns (step, person,
        # household, a pointer per trait, scores and grade), and DuckDB's copy of them
        rows = steps * min(self.scenario.panel, n)
        record += rows * (3 + 6 * L + 6 * Q + 8)
        writing = rows * 2 * (36 + 8 * len(self.cells.levels))
        # the population (and its network) is drawn before the kernels, the state and DuckDB
        # are loaded; the tallies are gone by the time the results are written
        drawing = IMPORT_OVERHEAD + n * (per_person - state + generation)
        running = BASE_OVERHEAD + n * per_person + record + max(n_blocks(n) * per_block, writing)
        total = max(drawing, running)
        if self.people is not None and self.firm_spec is not None:
            # the people's run, the managers and what firms record (the weights that choose the
            # managers, 32 bytes a person, are freed before the months start; measured, they
            # never raise the peak)
            people = self.people.agents
            total += self.people.estimate_memory() - BASE_OVERHEAD
            total += 8 * self.firm_spec.managers(people) + 16 * n
            total += steps * cells * 8 * (len(self.layout.tax_grades) + 4)
        return total

    def check_memory(self) -> None:
        need = self.estimate_memory()
        have = psutil.virtual_memory().available
        if need > 0.9 * have:
            raise ResourceError(
                f"this run needs about {need / 2**30:.1f} GiB and the machine has "
                f"{have / 2**30:.1f} GiB free; use fewer agents (--agents) or a larger machine"
            )

    def population(self) -> Population | Firms:
        """The subjects: people, or in a firm run the firms (drawn from the people's)."""
        if self._population is None:
            if self.people is not None and self.firm_spec is not None:
                people = self.people.population()
                assert isinstance(people, Population)
                self.share_firms(people)
                assert self._population is not None
                return self._population
            pop = generate(self.scenario.population, self.scenario.seed)
            if self.scenario.network is not None:
                pop.network = generate_network(pop, self.scenario.network, self.scenario.seed)
            self._population = pop if self.regions is None else self._rows_of(pop)
        return self._population

    def execute(
        self, progress: Progress | None = None, *, resume: Run | None = None
    ) -> tuple[Record, State]:
        """Run every step in memory and return the record and final state.

        ``resume``: a run already started (restored from a checkpoint, say) to carry on from the
        month it reached. On Ctrl-C the months done so far are returned and :attr:`interrupted`
        is set.
        """
        run = self.start() if resume is None else resume
        #: the run last executed: its :attr:`Run.ever` says who was ever affected
        self.last_run = run
        steps = self.scenario.steps
        self.interrupted = False
        try:
            for t in range(run.record.done, steps):
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

    def _draws(self, piece: int = 0) -> Draws:
        r = self.piece_rates[piece]
        lam, cum = cumulative(with_act_effects(r.rate, self.layout.class_mult[:, r.personal]))
        flam, fcum = cumulative(r.false_rate)
        p_detect, p_avoid, p_channel = taken(r)
        return draws(
            lam,
            cum,
            r.personal,
            flam,
            fcum,
            r.false_act,
            p_detect,
            r.counted,
            r.counted_rate,
            r.counted_false,
            r.attempt,
            r.attempt_rate,
            r.attempt_false,
            p_avoid,
            first_channel(self.arrays, self.arrays.act_event, p_channel, r.channels),
            np.array([CHANNELS.index(r.channels[c]) for c in r.false_channel], np.int32),
            None if r.taken is None else r.taken[r.false_channel],
        )

    def _panel(self, n: int) -> np.ndarray:
        k = min(self.scenario.panel, n)
        if k == 0:
            return np.zeros(0, np.int64)
        # by the person's row in the population: a layer over some regions has in its panel
        # every person of theirs in an everywhere layer's panel
        lo = self.row_offset
        u = uniforms(step_key(self.scenario.seed, STREAM_PANEL, 0), lo + n, 0)[lo:]
        return np.sort(np.argpartition(u, k - 1)[:k]).astype(np.int64)


class StopOnce:
    """Ctrl-C during a run, in the main thread: the first stops the months (KeyboardInterrupt);
    every later one, and any while :attr:`saving`, only says to wait, so that the months done are
    written whole (a double Ctrl-C used to lose them). Elsewhere (a dashboard's thread) it does
    nothing.

    With ``defer`` the first Ctrl-C only sets :attr:`requested`, and the KeyboardInterrupt is
    raised by :meth:`check` where the run looks for it: a sharded run's coordinator, whose Dask
    client runs code at any moment (a future's ``__del__``, where an exception raised by the
    handler would be printed as "Exception ignored" and lost)."""

    def __init__(self, defer: bool = False) -> None:
        self.count = 0
        self.saving = False
        self.defer = defer
        #: a deferred Ctrl-C came and :meth:`check` has not yet raised it
        self.requested = False
        self._previous: Any = None
        self._installed = False

    def __enter__(self) -> StopOnce:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.getsignal(signal.SIGINT)
            signal.signal(signal.SIGINT, self._interrupt)
            self._installed = True
        return self

    def _interrupt(self, signum: int, frame: Any) -> None:
        self.count += 1
        if self.count == 1 and not self.saving:
            if self.defer:
                self.requested = True
                return
            raise KeyboardInterrupt
        if self.count <= 2:
            os.write(2, b"\nstill saving what was done; it will stop once that is written\n")

    def check(self) -> None:
        """Raise the deferred Ctrl-C, if one came."""
        if self.requested:
            self.requested = False
            raise KeyboardInterrupt

    def begin_saving(self) -> None:
        """From now on Ctrl-C only says to wait; one that came before is raised here."""
        self.saving = True
        self.check()

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            previous = self._previous if self._previous is not None else signal.SIG_DFL
            signal.signal(signal.SIGINT, previous)
            self._installed = False


class Parted:
    """A month made of parts, in order (:attr:`month`): a run's, or a shard's of one."""

    month: list[tuple[str, MonthPart]]

    def parts(self) -> list[str]:
        """The names of the month's parts, in the order they run (:attr:`month`)."""
        return [name for name, _ in self.month]

    def insert_part(self, name: str, part: MonthPart, *, before: str = "step") -> None:
        """Add ``part`` to :attr:`month` just before the part named ``before`` (by default the
        scheme's step): a coupling that sets what the step reads, from outside this run."""
        names = self.parts()
        if name in names:
            raise ValueError(f"the month already has a part named {name!r}")
        self.month.insert(names.index(before), (name, part))


class Run(Parted):
    """One run in progress: its columns, tallies and record. :meth:`advance` does one month.

    :meth:`Simulation.execute` drives it; benchmarks drive it too, to time the month itself.
    """

    #: What a checkpoint (:func:`scslab.engine.checkpoint.columns`) leaves out: the simulation and
    #: population (rebuilt from the manifest), rate tables, per-month scratch, and the month's
    #: parts (built again with the run).
    checkpoint_skip = (
        "sim",
        "pop",
        "draws",
        "tally",
        "network",
        "cutting",
        "month",
        "measuring",
        "contracts",
        "people_live",
    )
    #: Attributes whose arrays are the population's own: arrays shared with them are left out too.
    checkpoint_static = ("pop",)

    def __init__(self, sim: Simulation, *, people: Run | None = None) -> None:
        """``people``: in a firm run, the people's run (of ``sim.people``) to read, which goes
        its months itself (a layered run's layer of people); without it the firm run makes
        its own and takes its month as its part ``people``."""
        self.sim = sim
        #: in a firm run, the people's run that goes step by step beside it
        self.people_run = (
            people if people is not None else Run(sim.people) if sim.people is not None else None
        )
        #: in a firm run, whether the people's scheme is in force this month: a layered run's
        #: people's layer out of force (abandoned, or not yet in force) lists nobody
        self.people_live = True
        self.seed = sim.stream_seed
        #: unrecorded months run before month 0 (the history), and how many are done
        self.history = sim.history_months
        self.warmed = 0
        pop = sim.population()
        n = pop.n
        self.pop = pop
        #: the population row of row 0 (a layer's regions, known once they are drawn): draws
        #: are keyed by rows of the whole population
        self.offset = sim.row_offset
        self.draws = sim._draws()
        self.people = np.bincount(pop.cell, minlength=sim.cells.n_cells())
        self.cell_region = sim.cells.region_of()
        network = pop.network
        self.cutting = sim.scenario.adaptation.tie_cutting
        #: effects on lives: income moves change cells (this run's own copy of them), and
        #: friends of the publicly shamed cut ties (effects on ties; only with a network)
        arrays = sim.arrays
        self.lives = arrays.life_groups != 0
        self.shaming = network is not None and bool(arrays.grp_ties_p.any())
        if network is not None and (self.cutting.enabled or self.shaming):
            network = Network(network.indptr, network.indices.copy())  # rewired by this run only
        self.network = network
        #: how friends are marked before each step: each rule's kind and what it reads
        self.mark_kind, self.mark_arg = sim._marks(ties=network is not None)
        # on a fixed, symmetric network each person's count of low friends is kept up to date
        # from the few who cross a threshold, instead of scanning every tie every month
        self.counting = (
            network is not None
            and network.symmetric
            and not self.cutting.enabled
            and not self.shaming
            and bool(sim.scheme.network)
        )
        self.households = int(pop.household.max()) + 1 if sim.arrays.grp_household.any() else 0
        self.collective = bool(sim.scheme.collective)
        #: with children: the run's own cells (people age into others), and what the audit's
        #: intergenerational section reads (scslab.engine.ageing); else the population's cells
        cell = pop.cell.copy() if sim.cells_move or arrays.grp_income_p.any() else pop.cell
        self.lineage = np.zeros(n if sim.cells_move else 0, np.uint8)
        minor = sim.cells.minor().astype(np.uint8)
        need = (
            friend_needs(network.indptr, sim.arrays.net_share)
            if self.counting and network is not None
            else np.zeros((0, 0), np.uint16)
        )
        self.traits = Traits(
            cell=cell,
            region=pop.region,
            indptr=network.indptr if network is not None else np.zeros(0, np.int64),
            friends=network.indices if network is not None else np.zeros(0, np.int32),
            low=np.zeros((len(self.mark_kind), (n + 7) // 8), np.uint8),
            low_friends=np.zeros(
                (len(sim.scheme.network), n) if self.counting else (0, 0), np.uint16
            ),
            need=need,
            household=pop.household,
            hh_trig=np.zeros(self.households, np.int64),
            hh_cause=np.zeros(self.households, np.uint32),
            offended=np.zeros(
                (2, int(pop.household.max()) + 1 if self.collective else 0), np.uint8
            ),
            neighbourhood=sim.scenario.population.neighbourhood_households,
            injected=np.zeros(0, np.uint8),  # the contract game's column (_contracts_init)
            injected_act=sim.contract_act if sim.contract_act is not None else -1,
            minor=minor if minor.any() else np.zeros(0, np.uint8),
            hh_two=np.zeros(self.households if sim.arrays.hh_spouse else 0, np.int64),
        )
        self.state = allocate_state(n, sim.arrays, sim.layout)
        #: per person, over the recorded months: ever sanctioned, listed, rewarded, in a low grade
        #: (bits of ``scslab.engine.ever``), and the months spent under a sanction
        self.ever = np.zeros(n, np.uint8)
        self.sanction_months = np.zeros(n, np.int16)
        self._ever_masks = ever_masks(sim.scheme, sim.layout)
        #: where an effect moves incomes: each person's income band at the end of last month,
        #: for who ever moved (ever bits EVER_INCOME_DOWN, EVER_INCOME_UP); else empty
        self.band = (
            (cell % N_INCOME).astype(np.uint8)
            if arrays.grp_income_p.any()
            else np.zeros(0, np.uint8)
        )
        if self.cutting.enabled or self.shaming:
            assert isinstance(pop, Population)
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
            n,
            len(self.people),
            len(sim.rates.act_ids),
            len(sim.layout.grades),
            L,
            Q,
            per_block,
            len(sim.layout.attempts),
            sim.layout.appeals,
            self.lives,
            sim.arrays.points_groups.bit_count(),
        )
        self.record = Record.allocate(
            sim.scenario.steps, self.tally, panel, L, Q, sim.cells_move or self.lives
        )
        if self.shaming:  # ties cut by friends of the shamed, by the shamed person's cell
            self.record.extra["ties_cut_by_shaming"] = np.zeros(
                (sim.scenario.steps, len(self.people)), np.int64
            )
        #: consequences running, by group, cause and mark (see carry_running)
        self.running = running_consequences(self.state.grp_until, self.state.grp_cause)
        if isinstance(pop, Firms):
            self._firms_init(pop)
        #: the contract game (:class:`~scslab.engine.contracts.ContractGame`) when it is this
        #: run's own (a one-scheme run); ``None`` without one, or in a layer of a layered run
        self.contracts: ContractGame | None = None
        if sim.contract_act is not None and not sim.contracts_outside:
            self._contracts_init()
        #: whether this month's score assortativity is measured (:meth:`advance`)
        self.measuring = True
        #: the month, in order: ``(name, part)`` for each part this run has (:meth:`parts` names
        #: them), each called as ``part(k, t)``; built once, here; :meth:`insert_part` adds one
        self.month: list[tuple[str, MonthPart]] = self._parts(own_people=people is None)

    def _contracts_init(self) -> None:
        """The contract game, this run's own: over its people, reading its scheme alone."""
        sim = self.sim
        assert sim.contract_act is not None
        game = ContractGame(
            sim.scenario.contracts,
            sim.contract_act,
            sim.scenario.seed,
            self.pop.cell,
            [self.contract_party()],
        )
        game.allocate()
        self.traits = self.traits._replace(injected=game.injected)
        self.contracts = game

    def contract_party(self, shift: int | None = None) -> Party:
        """This run as a party of a contract game: its standing, deterrence and tallies; its
        month is the game's engine step less ``shift`` (default: its months of history, for
        its own game)."""
        sim = self.sim
        act = sim.contract_act
        assert act is not None
        black = [k for k, x in enumerate(sim.scheme.lists) if x.kind == "black"]
        return Party(
            self,
            self.offset,
            black=np.array(black, np.int64),
            # the lowest grade, whose holders are in bad standing (-1: the scheme has no grades)
            worst=len(sim.layout.grades) - 1 if sim.layout.grades else -1,
            # the act's deterrence in each piece of the rates, as dated rates and rules make it
            deterrence=[r.deterrence[:, :, act] for r in sim.piece_rates],
            pieces=sim.pieces,
            shift=self.history if shift is None else shift,
            cells=sim.cells.n_cells(),
            steps=sim.scenario.steps,
        )

    def _firms_init(self, firms: Firms) -> None:
        """Firm runs: managers' blacklists, ages, closures and the tax rating."""
        sim, layout = self.sim, self.sim.layout
        assert self.people_run is not None
        people = self.people_run.sim
        #: the people's blacklists, whose entries reach the firms their members run
        self.people_black = np.array(
            [k for k, x in enumerate(people.scheme.lists) if x.kind == "black"], np.int64
        )
        self.firm_age = firms.age.astype(np.int32)
        steps, cells = sim.scenario.steps, sim.cells.n_cells()
        names = ["closed", "managers_listed", "representatives_restricted"]
        names += [f"tax__{g}" for g in layout.tax_grades]
        self.record.extra = {k: np.zeros((steps, cells), np.int64) for k in names}
        L, Q = len(layout.lists), len(layout.groups)
        self.record.cell_flows = {
            (kind, ix): np.zeros((steps, cells), np.int64)
            for kind, n in ((0, L), (1, L), (2, Q), (3, Q))
            for ix in range(n)
        }

    def advance(self, t: int, *, assortativity: bool = True) -> None:
        """Month ``t`` of the record: what last month's scores set, the step, ties, the record.

        A run first lives through its unrecorded history (:attr:`Simulation.history_months`).
        Without ``assortativity`` the month's score assortativity is not measured (NaN).
        """
        while self.warmed < self.history:
            self.measuring = False
            self._month(self.warmed, None)
            self.warmed += 1
        if t == 0:
            self.record.panel_start[:] = self.state.score[self.record.panel_people]
        self.measuring = assortativity
        self._month(t + self.history, t)

    def _month(self, k: int, t: int | None) -> None:
        """Engine step ``k``, recorded as month ``t`` (``None``: history, not recorded): each of
        :attr:`month`'s parts in turn."""
        for _, part in self.month:
            part(k, t)

    def _parts(self, *, own_people: bool = True) -> list[tuple[str, MonthPart]]:
        """The month's parts, in order, those this run has (what :attr:`month` holds).

        ============  ==========================================================================
        firms before  a firm run: closures, and which firms' managers are on the people's lists
        people        a firm run: the people's own month (their run's parts), before the firms'
        friends       network rules: whom each rule marks, as last month ended
        collective    collective responsibility: households and neighbourhoods that offended
        ageing        with children: people age a month, children come of age
        households    what households' members set for them (not in a firm run)
        contracts     the contract game, on last month's standing; breaches go into the step
        step          the scheme's step: acts, records, points, grades, lists, consequences
        ties          with a network: ties cut to low scorers and the shamed; assortativity
        record        the month's tallies, panel and who was ever affected
        firms after   a firm run: flows by sector and size, the tax rating, ages
        ============  ==========================================================================

        A layered run adds ``links`` before a layer's ``step`` (:mod:`scslab.engine.layers`);
        its layer of firms has no ``people`` (``own_people`` false): its people's layer takes
        its month in its own turn, just after the firms';
        a shard has the same parts, those it can have (:meth:`scslab.engine.shards.Shard.parts`).
        """
        sim = self.sim
        parts: list[tuple[str, MonthPart]] = []
        if self.people_run is not None:
            parts.append(("firms before", self._firms_before))
            if own_people:
                parts.append(("people", self._people))
        if len(self.mark_kind):
            parts.append(("friends", self._friends))
        if self.collective:
            parts.append(("collective", self._collective))
        if sim.cells_move:
            parts.append(("ageing", self._ageing))
        if self.households and self.people_run is None:
            parts.append(("households", self._households))
        if self.contracts is not None:
            parts.append(("contracts", self._contracts))
        parts.append(("step", self._step))
        if self.network is not None:
            parts.append(("ties", self._ties))
        parts.append(("record", self._record))
        if self.people_run is not None:
            parts.append(("firms after", self._firms_after))
        return parts

    def _people(self, k: int, t: int | None) -> None:
        """A firm run's people's month, before the firms' step: their lists reach the firms."""
        assert self.people_run is not None
        self.people_run.measuring = self.measuring
        self.people_run._month(k, t)

    def _friends(self, k: int, t: int | None) -> None:
        mark_friends(self.traits, self.state, self.mark_kind, self.mark_arg, self.counting, k)

    def _collective(self, k: int, t: int | None) -> None:
        traits = self.traits
        mark_offenders(
            self.state.last_neg, self.pop.household, traits.neighbourhood, k, traits.offended
        )

    def _ageing(self, k: int, t: int | None) -> None:
        """People age a month (from month 1 of the record): children come of age, into the
        scheme, with their own or their parents' record (:mod:`scslab.engine.ageing`)."""
        if t is None or t < 1:
            return
        assert isinstance(self.pop, Population) and self.pop.birth is not None
        age_month(
            t,
            self.pop.birth,
            self.pop.household,
            self.traits.cell,
            self.people,
            self.traits.minor,
            self.state,
            self.ever,
            self.lineage,
            self.pop.spec.children is not None and self.pop.spec.children.inherit_record,
        )

    def _households(self, k: int, t: int | None) -> None:
        mark_households(self.sim.arrays, self.state, self.traits)

    def _step(self, k: int, t: int | None) -> None:
        step_month(self, k, self.offset)

    def _ties(self, k: int, t: int | None) -> None:
        """Ties cut to low scorers and to the publicly shamed; the score assortativity."""
        network, state, traits = self.network, self.state, self.traits
        assert network is not None
        if self.cutting.enabled:
            cut = cut_ties(
                network.indptr,
                network.indices,
                traits.low[-1],
                self.cutting.probability,
                self.group,
                self.members,
                self.group_start,
                self.seed,
                k,
                self.offset,
            )
            if t is not None:
                self.record.ties_cut[t] = cut
        if self.shaming:
            shamed = cut_shamed_ties(
                network.indptr,
                network.indices,
                state.shame,
                traits.cell,
                len(self.people),
                self.group,
                self.members,
                self.group_start,
                self.seed,
                k,
                self.offset,
            )
            if t is not None:
                self.record.extra["ties_cut_by_shaming"][t] = shamed
        if self.measuring and t is not None:
            self.record.assortativity[t] = score_assortativity(network, state.score)

    def _record(self, k: int, t: int | None) -> None:
        """The month's tallies and panel; who was ever affected (:mod:`scslab.engine.ever`)."""
        state, traits = self.state, self.traits
        if t is None:
            if len(self.band):  # a month of the history before month 0: its moves are not counted
                self.band[:] = traits.cell % N_INCOME
            return
        self.record.take(t, self.tally, state, self.people, traits.cell)
        low, rewards = self._ever_masks
        mark_ever(
            state.flags,
            state.list_since,
            state.grp_until,
            state.grade,
            low,
            rewards,
            self.ever,
            self.sanction_months,
        )
        if len(self.band):
            mark_moves(traits.cell, N_INCOME, self.band, self.ever)
        if len(self.lineage):
            mark_lineage(self.lineage, state.flags, state.grade, low)

    def _contracts(self, k: int, t: int | None) -> None:
        """Month ``k``'s contracts, on last month's standing; breaches go into the step."""
        game = self.contracts
        assert game is not None
        deals = game.play(k, game.parties)
        if t is not None:
            game.tally(deals, game.parties[0], t)

    def _firms_before(self, k: int, t: int | None) -> None:
        """Before step ``k`` of a firm run: closures, and last month's listed managers."""
        firms, state, extra = self.pop, self.state, self.record.extra
        assert isinstance(firms, Firms) and self.people_run is not None
        closure = self.sim.firm_spec.monthly_closure if self.sim.firm_spec else 0.0
        if closure > 0:
            key = step_key(self.sim.scenario.seed, STREAM_FIRMS, k + 2)
            closed = np.flatnonzero(uniforms(key, firms.n, 0) < closure)
            reset_rows(state, closed, self.sim.arrays, self.sim.layout)
            self.running = running_consequences(state.grp_until, state.grp_cause)
            self.firm_age[closed] = 0
            if t is not None:
                extra["closed"][t] = np.bincount(firms.cell[closed], minlength=len(self.people))
        # a firm is restricted while one of its managers is on one of the people's blacklists
        mask = self.sim.layout.manager_groups
        people = self.people_run.state
        # a people's layer over some regions: its rows start at its offset, and a manager
        # elsewhere is on none of its lists
        lo, n = self.people_run.offset, people.list_since.shape[0]
        rows = firms.managers
        inside = (rows >= lo) & (rows < lo + n) if self.people_run.sim.regions is not None else None
        if inside is not None:
            rows = np.where(inside, rows - lo, 0)
        listed = people.list_since[rows][:, self.people_black] >= 0
        if inside is not None:
            listed &= inside[:, None]
        if not self.people_live:
            listed[:] = False
        why = np.where(listed, people.list_cause[rows][:, self.people_black], 0)
        starts = firms.manager_start[:-1]
        any_listed = np.logical_or.reduceat(listed.any(axis=1), starts)
        cause = np.bitwise_or.reduceat(np.bitwise_or.reduce(why, axis=1), starts)
        self._lists_before = state.list_since.copy()
        self._groups_before = state.grp_until.copy()
        self.traits.hh_trig[:] = np.where(any_listed, mask, 0)
        self.traits.hh_cause[:] = np.where(any_listed, cause, 0).astype(np.uint32)
        if t is not None:
            extra["managers_listed"][t] = np.bincount(
                firms.cell[any_listed], minlength=len(self.people)
            )

    def _firms_after(self, k: int, t: int | None) -> None:
        """After month ``t`` of a firm run: representatives restricted, the tax rating, ages."""
        firms, state, layout, extra = self.pop, self.state, self.sim.layout, self.record.extra
        assert isinstance(firms, Firms)
        cells = len(self.people)
        if t is None:
            self.firm_age += 1
            return
        # flows by sector and size: memberships that began or ended this month
        for first, before, after in (
            (0, self._lists_before, state.list_since),
            (2, self._groups_before, state.grp_until),
        ):
            changed = before != after
            for kind, which in ((first, after >= 0), (first + 1, before >= 0)):
                rows, cols = np.nonzero(changed & which)
                for ix in np.unique(cols):
                    counts = np.bincount(firms.cell[rows[cols == ix]], minlength=cells)
                    self.record.cell_flows[kind, int(ix)][t] = counts
        if layout.representative_groups:
            held = (state.grp_until[:, list(layout.representative_groups)] >= 0).any(axis=1)
            extra["representatives_restricted"][t] = np.bincount(firms.cell[held], minlength=cells)
        if layout.tax_of is not None:
            grade = layout.tax_of[state.score.astype(np.int64) - self.sim.arrays.score_min]
            if layout.unrated_months:
                grade = np.where(
                    self.firm_age < layout.unrated_months, len(layout.tax_grades) - 1, grade
                )
            counts = np.bincount(
                firms.cell.astype(np.int64) * len(layout.tax_grades) + grade,
                minlength=cells * len(layout.tax_grades),
            ).reshape(cells, -1)
            for k, g in enumerate(layout.tax_grades):
                extra[f"tax__{g}"][t] = counts[:, k]
        self.firm_age += 1


def mark_friends(
    traits: Traits,
    state: State,
    kind: np.ndarray,
    arg: np.ndarray,
    counting: bool,
    k: int,
    scores: np.ndarray | None = None,
    ghost: np.ndarray | None = None,
    base: int = 0,
) -> None:
    """Before step ``k``: whom each network rule (and tie-cutting) marks as last month ended, a
    score below a threshold, a place on a list, a grade in a set (:func:`mark_rules`), and,
    where counts are kept, each one's marked friends. A shard gives ``scores``, its own people's
    then its ghosts' from row ``base``, and the ghosts' list and grade marks in ``ghost``."""
    before = traits.low.copy()
    if scores is None:
        scores, base = state.score, len(state.score)
    none = np.zeros(0, np.uint8)
    mark_rules(
        scores,
        state.grade,
        state.list_since,
        kind,
        arg,
        none if ghost is None else ghost,
        base,
        traits.low,
    )
    if counting and k == 0:
        count_low_friends(traits.indptr, traits.friends, traits.low, traits.low_friends)
    elif counting:
        update_low_friends(traits.indptr, traits.friends, before, traits.low, traits.low_friends)


class Stepped(Protocol):
    """What :func:`step_month` needs: a :class:`Run`, or a shard of one."""

    sim: Simulation
    draws: Draws
    traits: Traits
    state: State
    tally: Tally
    running: np.ndarray
    people: np.ndarray
    cell_region: np.ndarray


def step_month(run: Stepped, k: int, offset: int) -> None:
    """Step ``k`` of ``run``'s rows (the first is person ``offset``) into cleared tallies, then
    the consequences running and the acts that are only counted."""
    sim, seed = run.sim, run.sim.stream_seed
    # dated rates: the month's piece of the rate tables (one piece: the run's own, as ever)
    own = len(sim.pieces) == 1 and sim.world is None
    draws = run.draws if own else sim.draws_at(k - sim.history_months)
    clear_tally(run.tally)
    arrays = sim.arrays_at(k - sim.history_months)  # the rules in force this month
    # the step the draws are keyed by: k, or for a layer sharing acts the run's (engine.world)
    kt = k + sim.key_shift
    step(arrays, draws, run.traits, run.state, run.tally, seed, k, offset, kt)
    carry_running(run.tally, run.running, len(sim.layout.lists))
    count_unscored(draws, run.people, run.cell_region, run.tally, seed, kt)
    if run.tally.lives.shape[1] > 0:  # income moves: next month's people per cell
        run.people += run.tally.lives[:, :, NET].sum(axis=0)


def inert_lives(arrays: SchemeArrays, *, ties: bool, contracts: bool) -> SchemeArrays:
    """``arrays`` without the effects on lives that a run cannot have: on ties without a social
    network, on contracts without the contract game. Such an effect does nothing, and a run
    with none left pays nothing for it (no columns, no work in the step)."""
    if not ties:
        arrays = arrays._replace(grp_ties_p=np.zeros_like(arrays.grp_ties_p))
    if not contracts:
        arrays = arrays._replace(grp_refused=np.zeros_like(arrays.grp_refused))
    live = (arrays.grp_income_p > 0) | (arrays.grp_ties_p > 0) | (arrays.grp_refused > 0)
    return arrays._replace(life_groups=sum(1 << int(q) for q in np.flatnonzero(live)))


def reset_rows(state: State, rows: np.ndarray, arrays: SchemeArrays, layout: SchemeLayout) -> None:
    """Start ``rows`` afresh, as subjects new to the scheme (a closed firm's successor).

    Their list entries and consequences end without an exit in ``flows``: the subject is gone.
    """
    if len(rows) == 0:
        return
    fresh = allocate_state(1, arrays, layout)
    for name in State._fields:
        column = getattr(state, name)
        if name == "flags":
            column[rows] &= FLAG_PANEL
        elif column.shape[0] > 0:  # a column of an effect the scheme has
            column[rows] = getattr(fresh, name)[0]


def with_rates(catalogue: Catalogue, rates: Mapping[str, float]) -> Catalogue:
    """The catalogue with the scenario's ``rates`` in place of its acts' base rates."""
    if not rates:
        return catalogue
    ids = [a.id for a in catalogue.acts]
    unknown = sorted(set(rates) - set(ids))
    if unknown:
        from difflib import get_close_matches

        near = get_close_matches(unknown[0], ids, n=1)
        hint = f"; did you mean '{near[0]}'?" if near else ""
        raise ScenarioError(f"rates.{unknown[0]}: the act catalogue has no such act{hint}")
    acts = tuple(
        a.model_copy(update={"rate": rates[a.id]}) if a.id in rates else a for a in catalogue.acts
    )
    return catalogue.model_copy(update={"acts": acts})


class RunInterrupted(KeyboardInterrupt):
    """A run stopped by Ctrl-C; ``path`` holds the steps done before it."""

    def __init__(self, path: Path) -> None:
        super().__init__(str(path))
        self.path = path
