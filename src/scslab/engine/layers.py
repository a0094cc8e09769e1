"""Layered runs: several schemes over one population, month by month.

A scenario with ``layers:`` lists schemes, each a *layer* with its regions (``where``) and its
months in force (``from``, ``until``). The population is drawn once; each layer is a
:class:`~scslab.engine.simulation.Run` of its own over its regions' rows, with its own state,
tallies and record, and the layers step in one clock:

* months of history: a layer whose scheme has ``h`` months of history lives them in the ``h``
  months before month 0, so that every layer in force at the start reaches month 0 together;
* month ``t``: each layer in force (``from <= t < until``) does its month ``t - from``.

Each layer runs its scheme as the one-layer run of its own scenario (:func:`layer_scenario`)
does, with draws keyed by the person's row in the population, so a layer over some regions draws
for its people what a layer everywhere draws for them. A run of one layer is that run, bit for
bit. The people's layers of a run of several share one world of acts (:mod:`scslab.engine.world`):
the same acts and records of each person in each month, drawn in the run's months at one rate a
person, whatever layer reads them. Each layer's results are a one-layer results file,
``OUT/layers/<id>/results.duckdb`` (written by :mod:`scslab.layered`), which every command reads
as it reads any run; ``OUT/layers.json`` says the run is layered and lists the layers.

The contract game (``contracts:``, :mod:`scslab.engine.contracts`) is the run's, not a layer's:
played once a month over the whole population before the layers' steps, on the standing of every
layer in force, its breaches written into one column of which each layer's step reads its rows,
each layer recording its own people's contracts (:meth:`LayeredRun.parts`: ``("run",
"contracts")`` first).

A layer that starts within the run (``from`` after month 0) starts with everyone at the base, no
history: the scheme is new. A layer abandoned at ``until`` scores nobody from then on and records
nothing; its lists and consequences end with it (a layer that reads it sees nobody listed).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scslab.behaviour.model import Catalogue
from scslab.behaviour.rates import catalogue_text
from scslab.engine.checkpoint import Made
from scslab.engine.compiled import State
from scslab.engine.contracts import ContractGame, Party
from scslab.engine.links import Linker, order_layers
from scslab.engine.scenario import Layer, Scenario, firm_layer_problems
from scslab.engine.simulation import BASE_OVERHEAD, Progress, Record, Run, Simulation
from scslab.engine.world import World
from scslab.errors import ResourceError, ScenarioError
from scslab.months import month_index
from scslab.population.firms import FirmSpec
from scslab.population.individuals import Population, generate
from scslab.population.network import generate_network
from scslab.schemes.loader import dump_scheme
from scslab.schemes.model import Scheme

#: The file at the top of a layered run's folder that says it is layered and lists its layers.
LAYERS_FILE = "layers.json"
#: The folder under a layered run's folder that holds each layer's results folder.
LAYERS_DIR = "layers"


def layer_scenario(scenario: Scenario, layer: Layer, first: int, end: int) -> Scenario:
    """The one-layer scenario a layer runs: its scheme over its regions, for its months.

    Months ``first .. end - 1`` of the layered run are its months ``0 ..``: its ``years`` are
    its months in force, its ``start`` (with a calendar) the month it comes into force, and a
    layer that comes into force after month 0 has no history (``history_months: 0``); a layer's
    own ``history_months`` replace the scenario's."""
    data = scenario.model_dump()
    one = layer.model_copy(
        update={
            "start_at": None,
            "until": None,
            "people": None,
            "scheme_values": None,
            "history_months": None,
        }
    )
    data["layers"] = [one.model_dump()]
    data["scheme"] = layer.scheme
    if layer.scheme_values:  # the layer's own values: its scheme's alone (one way: Simulation's)
        data["scheme_values"] = layer.scheme_values
    data["years"] = (end - first) / 12
    if layer.people is not None:  # a layer of firms: its people are the layer it names
        people = next(x for x in scenario.layers or () if x.id == layer.people)
        spec = scenario.firms if scenario.firms is not None else FirmSpec()
        data["firms"] = spec.model_copy(update={"people_scheme": people.scheme}).model_dump()
        data["history_months"] = None  # a firm run's history is firms.history_months
    else:
        data["firms"] = None
        if layer.history_months is not None:  # the layer's own months of history
            data["history_months"] = layer.history_months
    if first > 0:  # a new scheme has no history: a firm run's is firms.history_months
        if layer.people is not None:
            data["firms"]["history_months"] = 0
        else:
            data["history_months"] = 0
        if scenario.start is not None:
            m = month_index(scenario.start) + first
            data["start"] = f"{m // 12:04d}-{m % 12 + 1:02d}"
    return Scenario.model_validate(data)


@dataclass(eq=False)
class LayerSim:
    """One layer of a layered run: its simulation and its months of the run."""

    id: str
    sim: Simulation
    #: the run's month the layer comes into force, and the month it ends (excluded)
    first: int
    end: int

    @property
    def lo(self) -> int:
        """The population row of the layer's row 0."""
        return self.sim.row_offset

    @property
    def hi(self) -> int:
        """The population row after the layer's last."""
        return self.sim.row_offset + self.sim.agents

    def in_force(self, t: int) -> bool:
        return self.first <= t < self.end

    def live(self, t: int) -> bool:
        """Whether the layer takes a step in month ``t`` of the run: in force then, or (``t <
        0``) living its history, the last ``history_months`` months before month 0 of a layer
        in force from month 0."""
        if t < 0:
            return self.first == 0 and self.sim.history_months >= -t
        return self.in_force(t)


class LayeredSimulation:
    """A scenario with ``layers:``, ready to run: one :class:`Simulation` per layer, checked
    before anything is allocated, over one population drawn once.

    >>> lsim = LayeredSimulation(load_scenario("suining-2010-2011"))
    >>> run = lsim.execute()    # run.records: each layer's Record (scslab.layered writes them)
    """

    def __init__(
        self,
        scenario: Scenario,
        *,
        schemes: Mapping[str, Scheme] | None = None,
        catalogue: Catalogue | None = None,
    ) -> None:
        """``schemes``: each layer's scheme by id, instead of the one its entry names (a replay
        runs the schemes a run stored); ``catalogue``: the acts, instead of the scenario's."""
        if not scenario.layers:
            raise ScenarioError("the scenario has no `layers:`; run it with Simulation")
        self.scenario = scenario
        months = scenario.layer_months()
        built = self._build(months, schemes, catalogue, ())
        self.layers: tuple[LayerSim, ...] = tuple(
            LayerSim(layer.id, built[layer.id], *months[layer.id]) for layer in scenario.layers
        )
        subjects = {ls.id: ls.sim.scheme.subject for ls in self.layers}
        for loc, problem in firm_layer_problems(scenario, subjects):
            raise ScenarioError(f"{'.'.join(map(str, loc))}: {problem}")
        #: the acts the people's layers share (several of them; one draws as its scheme alone)
        self.world: World | None = None
        sharing = [
            ls for ls in self.layers if ls.sim.people is None and subjects[ls.id] == ("individuals")
        ]
        if len(sharing) > 1:
            acts = self._shared_acts(sharing)
            if any(
                list(ls.sim.rates.personal) != list(sharing[0].sim.rates.personal) for ls in sharing
            ):
                built = self._build(months, schemes, catalogue, acts)
                self.layers = tuple(
                    LayerSim(ls.id, built[ls.id], ls.first, ls.end) for ls in self.layers
                )
                sharing = [ls for ls in self.layers if ls.id in {x.id for x in sharing}]
            self.world = World(sharing, max(ls.sim.history_months for ls in sharing))
            for i, ls in enumerate(sharing):
                ls.sim.world, ls.sim.world_layer, ls.sim.world_first = self.world, i, ls.first
                ls.sim.key_shift = self.world.key_shift(ls)
        #: the layer of firms, if any (index into :attr:`layers`), and its people's layer
        self.firms: int | None = next(
            (k for k, ls in enumerate(self.layers) if ls.sim.people is not None), None
        )
        if self.firms is not None:
            self._no_links_to_firms()
        #: the order the layers step in within a month: a layer after those it reads
        #: (``engine.links``), otherwise their order in the scenario
        order = order_layers([(ls.id, ls.sim.scheme) for ls in self.layers])
        if self.firms is not None:
            # the firms take their month just before their people's layer: what they read of
            # it, its lists at the end of last month, is then as a firm run's firms read them
            people = self.people_layer
            rest = [k for k in order if k != self.firms]
            rest.insert(rest.index(people), self.firms)
            order = tuple(rest)
        self.order: tuple[int, ...] = order
        #: the contract game (``contracts:``) is the run's, over the whole population, played
        #: once a month before the layers' steps (:class:`LayeredRun`); a layer plays none
        self.contracts = scenario.contracts.enabled
        for ls in self.layers:
            ls.sim.contracts_outside = True
        self._population: Population | None = None
        self.interrupted = False

    def _build(
        self,
        months: Mapping[str, tuple[int, int]],
        schemes: Mapping[str, Scheme] | None,
        catalogue: Catalogue | None,
        acts: tuple[str, ...],
    ) -> dict[str, Simulation]:
        """Each layer's simulation by id; the people's layers drawing ``acts`` person by person
        besides their own. A layer of firms (``people:``) is built on its people's layer's."""
        scenario = self.scenario
        built: dict[str, Simulation] = {}
        for layer in sorted(scenario.layers or (), key=lambda x: x.people is not None):
            try:
                built[layer.id] = Simulation(
                    layer_scenario(scenario, layer, *months[layer.id]),
                    scheme=None if schemes is None else schemes[layer.id],
                    catalogue=catalogue if layer.people is None else None,
                    also_personal=acts if layer.people is None else (),
                    # a layer may read others (``layer:``): their names are checked below
                    linked=True,
                    people=None if layer.people is None else built[layer.people],
                )
            except ScenarioError as exc:  # its channels, checked in its one-layer scenario
                text, own = str(exc), "layers.0.channels"
                if not text.startswith(own):
                    raise
                i = (scenario.layers or ()).index(layer)
                raise ScenarioError(f"layers.{i}.channels{text[len(own) :]}") from None
        return built

    @staticmethod
    def _shared_acts(sharing: list[LayerSim]) -> tuple[str, ...]:
        """The acts that the people's layers ``sharing`` draw person by person: every act any of
        them draws so (:mod:`scslab.engine.world`). A layer whose effects multiply the rate of
        an act that is drawn is refused (a rate class per combination of layers: not supported
        yet)."""
        for ls in sharing:
            if ls.sim.layout.class_mult.shape[0] > 1:
                raise ScenarioError(
                    f"layers: layer '{ls.id}' (scheme '{ls.sim.scheme.id}') has effects on the "
                    "rates of acts (effects: acts:) other than attempts; in a run of several "
                    "layers, which share their acts: not supported yet"
                )
        ids = sharing[0].sim.rates.act_ids
        union = sorted({int(a) for ls in sharing for a in ls.sim.rates.personal})
        return tuple(ids[a] for a in union)

    @property
    def people_layer(self) -> int:
        """The index of the people's layer the layer of firms reads (there is one)."""
        assert self.firms is not None
        firm = self.layers[self.firms].sim
        return next(k for k, ls in enumerate(self.layers) if ls.sim is firm.people)

    def _no_links_to_firms(self) -> None:
        """Refuse conditions on other layers (``layer:``) to or from the layer of firms."""
        assert self.firms is not None
        fid = self.layers[self.firms].id
        for ls in self.layers:
            for loc, c in ls.sim.scheme.links():
                if ls.id == fid or c.layer == fid:
                    raise ScenarioError(
                        f"{ls.sim.scheme.where((*loc, 'layer'))}: layer '{ls.id}' reads layer "
                        f"'{c.layer}'"
                        + (", and it scores firms" if ls.id == fid else ", which scores firms")
                        + "; a link to or from a layer of firms: not supported yet"
                    )

    @property
    def steps(self) -> int:
        return self.scenario.steps

    @property
    def history_months(self) -> int:
        """Months of history before month 0: the longest of the layers' (a layer that comes
        into force late has none)."""
        return max(ls.sim.history_months for ls in self.layers)

    @property
    def entangled(self) -> bool:
        """Whether a layer's results, replayed alone, would be another run: several layers
        share their acts (and may read one another), or the contract game paired the layer's
        people with the whole population's (:mod:`scslab.analysis.replay`)."""
        return len(self.layers) > 1 or (self.contracts and self.layers[0].sim.regions is not None)

    def made(self) -> tuple[Made, dict[str, Any]]:
        """What a checkpoint of the run keeps to rebuild it: the layered scenario and the acts,
        and (the manifest's ``extra``) each layer's scheme as it ran."""
        first = next(ls.sim for ls in self.layers if ls.sim.people is None)  # people's acts
        made = Made(
            self.scenario.to_yaml(), "", catalogue_text(first.catalogue), (), self.scenario.steps
        )
        schemes = {ls.id: dump_scheme(ls.sim.scheme) for ls in self.layers}
        return made, {"layered": {"schemes": schemes}}

    @property
    def agents(self) -> int:
        """People in the population (each layer scores those of its regions)."""
        if self._population is not None:
            return self._population.n
        return self.scenario.population.expected_people()

    def estimate_memory(self) -> int:
        """Bytes at the peak: each layer's run as it would need alone, less the overhead they
        share (a layer's own estimate counts its rows of the population, drawn here once)."""
        alone = sum(ls.sim.estimate_memory() - BASE_OVERHEAD for ls in self.layers)
        if self.firms is not None:  # the firms' estimate counts their people's run, here once
            people = self.layers[self.people_layer].sim
            alone -= people.estimate_memory() - BASE_OVERHEAD
        # a layer that reads others: its column of their leaves and their causes (engine.links)
        links = sum(6 * ls.sim.agents for ls in self.layers if ls.sim.layout.external)
        world = self.agents if self.world is not None else 0  # each person's rate class
        # the run's contract game: each person's strategy and the month's breaches
        contracts = 2 * self.agents if self.contracts else 0
        return BASE_OVERHEAD + alone + links + world + contracts

    def check_memory(self) -> None:
        import psutil

        need = self.estimate_memory()
        have = psutil.virtual_memory().available
        if need > 0.9 * have:
            raise ResourceError(
                f"this layered run needs about {need / 2**30:.1f} GiB and the machine has "
                f"{have / 2**30:.1f} GiB free; use fewer agents (--agents) or a larger machine"
            )

    def population(self) -> Population:
        """The one population, drawn once; each layer is given its regions' rows of it."""
        if self._population is None:
            sc = self.scenario
            pop = generate(sc.population, sc.seed)
            if sc.network is not None:
                pop.network = generate_network(pop, sc.network, sc.seed)
            for ls in self.layers:
                if ls.sim.people is None:
                    ls.sim.share_population(pop)
                else:  # the firms are drawn from the whole population, as a firm run's
                    ls.sim.share_firms(pop)
            self._population = pop
        return self._population

    def start(self) -> LayeredRun:
        """Check memory, draw the population and set up every layer's columns."""
        self.check_memory()
        return LayeredRun(self)

    def execute(
        self, progress: Progress | None = None, *, resume: LayeredRun | None = None
    ) -> LayeredRun:
        """Run every month in memory; on Ctrl-C stop where it is and set :attr:`interrupted`.
        Each layer's simulation's ``last_run`` is its run, as if it had been executed alone."""
        run = self.start() if resume is None else resume
        for ls, layer_run in zip(self.layers, run.runs, strict=True):
            ls.sim.last_run = layer_run
        self.interrupted = False
        try:
            for t in range(run.done, self.steps):
                run.advance(t)
                if progress is not None:
                    progress(t + 1, self.steps)
        except KeyboardInterrupt:
            self.interrupted = True
        return run

    def describe(self, files: dict[str, str]) -> str:
        """``layers.json``: the run is layered, its scenario, and each layer with its results
        file (``files``: by id, relative to the run's folder)."""
        layers = []
        for layer, ls in zip(self.scenario.layers or (), self.layers, strict=True):
            entry: dict[str, Any] = {
                "id": ls.id,
                "scheme": ls.sim.scheme.id,
                "where": list(layer.where) if layer.where is not None else None,
                "from": ls.first,
                "until": ls.end,
            }
            if ls.sim.people is not None:  # a layer of firms: its rows are firms
                entry.update(firms=ls.sim.agents, people_layer=layer.people)
            else:
                # the population rows of its people: `person` in its results
                entry.update(people=ls.sim.agents, rows=[ls.lo, ls.hi])
            layers.append({**entry, "results": files[ls.id]})
        doc = {
            "layered": True,
            "scenario": self.scenario.to_yaml(),
            "agents": self.agents,
            "layers": layers,
        }
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


class LayeredRun:
    """A layered run in progress: one :class:`Run` per layer, stepped in one clock.

    :meth:`advance` does month ``t`` of the run: first, once, the months of history (each
    layer's last ``h`` before month 0), then each layer in force does its month."""

    #: what a checkpoint leaves out (:func:`scslab.engine.checkpoint.columns`): the layers'
    #: runs are saved through :attr:`by_layer`, and the links are refilled before every step
    checkpoint_skip = ("lsim", "runs", "linkers", "contracts", "parties")

    def __init__(self, lsim: LayeredSimulation) -> None:
        self.lsim = lsim
        lsim.population()
        runs: dict[int, Run] = {}
        for i, ls in enumerate(lsim.layers):
            if i != lsim.firms:
                runs[i] = Run(ls.sim)
        if lsim.firms is not None:
            # the firms read the people's layer's own run, which the layers step in turn
            runs[lsim.firms] = Run(lsim.layers[lsim.firms].sim, people=runs[lsim.people_layer])
        self.runs: tuple[Run, ...] = tuple(runs[i] for i in range(len(lsim.layers)))
        #: each layer's run by id: what a checkpoint of the layered run holds, as ``ID.``
        self.by_layer: dict[str, Run] = {
            ls.id: run for ls, run in zip(lsim.layers, self.runs, strict=True)
        }
        #: each layer's conditions on other layers, filled into its Traits.ext before its step
        layouts = {ls.id: ls.sim.layout for ls in lsim.layers}
        self.linkers = tuple(Linker(ls.sim.layout, layouts) for ls in lsim.layers)
        for i, (linker, run) in enumerate(zip(self.linkers, self.runs, strict=True)):
            ext, why = linker.columns(run.state.score.shape[0])
            run.traits = run.traits._replace(ext=ext, ext_why=why)
            if linker.by_layer:  # a part of the layer's month, just before its step
                run.insert_part("links", functools.partial(self._links, i))
        #: the acts the people's layers share: each one's step reads its people's rate class
        #: from the world's column (engine.world), filled before every month
        world = lsim.world
        if world is not None:
            world.cls = np.zeros(lsim.agents, np.uint8)
            for ls, run in zip(lsim.layers, self.runs, strict=True):
                if ls.sim.world is not None:
                    run.traits = run.traits._replace(cls=world.cls[ls.lo : ls.hi])
        #: months of history before month 0: the longest of the layers in force at the start
        self.history = lsim.history_months
        self.warmed = 0
        self.done = 0
        #: the contract game, the run's (engine.contracts): each people's layer a party over
        #: its rows, whose step reads the game's breaches from its rows of the one column
        self.contracts: ContractGame | None = None
        #: each party of the game with its layer
        self.parties: tuple[tuple[LayerSim, Party], ...] = ()
        if lsim.contracts:
            self._contracts_init()

    def _contracts_init(self) -> None:
        """The run's contract game over the whole population, each people's layer a party."""
        lsim = self.lsim
        # a layer's month is the run's less its first; the game's step, the run's plus history
        parties = tuple(
            (ls, run.contract_party(self.history + ls.first))
            for ls, run in zip(lsim.layers, self.runs, strict=True)
            if ls.sim.contract_act is not None
        )
        acts = {ls.sim.contract_act for ls, _ in parties}
        act = acts.pop()
        assert act is not None and not acts  # one catalogue: the scenario's acts
        pop = lsim.population()
        game = ContractGame(
            lsim.scenario.contracts, act, lsim.scenario.seed, pop.cell, [p for _, p in parties]
        )
        game.allocate()
        for ls, _ in parties:
            run = self.by_layer[ls.id]
            run.traits = run.traits._replace(injected=game.injected[ls.lo : ls.hi])
        self.contracts, self.parties = game, parties

    def _contracts(self, month: int) -> None:
        """The run's ``month``'s contracts (negative: a month of history), on the standing of
        the layers in force as last month ended; each layer in force records its people's."""
        game = self.contracts
        assert game is not None
        live = [(ls, p) for ls, p in self.parties if ls.live(month)]
        deals = game.play(month + self.history, [p for _, p in live])
        if month >= 0:
            for ls, party in live:
                game.tally(deals, party, month - ls.first)

    def _people_live(self, month: int) -> None:
        """Before ``month`` (negative: a month of history): the layer of firms reads its
        people's layer's lists only while that layer lives; out of force, it lists nobody."""
        lsim = self.lsim
        if lsim.firms is not None:
            people = lsim.layers[lsim.people_layer]
            self.runs[lsim.firms].people_live = people.live(month)

    @property
    def records(self) -> tuple[Record, ...]:
        return tuple(run.record for run in self.runs)

    def states(self, t: int) -> dict[str, State]:
        """The state of each layer in force in month ``t`` (negative: a month of history, where
        the layers living their history are present), by id; a layer not in force is absent:
        its lists list nobody."""
        return {
            ls.id: run.state
            for ls, run in zip(self.lsim.layers, self.runs, strict=True)
            if ls.live(t)
        }

    def parts(self) -> list[tuple[str, str]]:
        """The month's parts, in order, as ``(owner, part)``: first the run's own, as
        ``("run", part)`` (``contracts``: the contract game, played once for every layer), then
        each layer in step order (:func:`~scslab.engine.links.order_layers`: a layer after
        those it reads), its parts (:meth:`Run.parts`), as ``(layer id, part)``; a layer with
        links has ``links`` before its ``step``. A layer not in force in a month skips its
        parts."""
        layers, runs = self.lsim.layers, self.runs
        own = [("run", "contracts")] if self.contracts is not None else []
        return own + [(layers[i].id, name) for i in self.lsim.order for name in runs[i].parts()]

    def _links(self, i: int, k: int, t: int | None) -> None:
        """Layer ``i``'s part ``links`` of its engine step ``k``, its month ``t`` (``None``: a
        month of its history): its conditions on other layers read their lists and grades as
        those layers' steps of this month left them (they step first:
        :func:`~scslab.engine.links.order_layers`). A layer not in force (nor living its
        history) this month holds none of them."""
        layers, runs = self.lsim.layers, self.runs
        ls, run = layers[i], runs[i]
        month = t + ls.first if t is not None else k - run.history  # of the run; < 0: history
        self.linkers[i].fill(
            run.traits.ext,
            run.traits.ext_why,
            self.states(month),
            {x.id: (x.lo, x.hi) for x in layers},
            (ls.lo, ls.hi),
        )

    def advance(self, t: int) -> None:
        """Month ``t`` of the run: the run's own parts (the contract game), then, for every
        layer in force, each layer's month (:meth:`parts`), in step order."""
        layers, runs = self.lsim.layers, self.runs
        world = self.lsim.world
        held = [
            (ls, ls.lo, run.state)
            for ls, run in zip(layers, runs, strict=True)
            if ls.sim.world is not None
        ]
        while self.warmed < self.history:
            j = self.warmed - self.history  # the month before month 0, negative
            if world is not None:
                world.classes(j, held, world.cls, 0)
            if self.contracts is not None:
                self._contracts(j)
            self._people_live(j)
            for i in self.lsim.order:
                run = runs[i]
                if layers[i].live(j):
                    run.measuring = False
                    run._month(run.warmed, None)
                    run.warmed += 1
            self.warmed += 1
        if world is not None:
            world.classes(t, held, world.cls, 0)
        if self.contracts is not None:
            self._contracts(t)
        self._people_live(t)
        for i in self.lsim.order:
            ls, run = layers[i], runs[i]
            if ls.in_force(t):
                run.advance(t - ls.first)
        self.done = t + 1


def layers_of(folder: Path) -> dict[str, Any] | None:
    """The ``layers.json`` of a layered run's folder, or ``None`` for a one-layer run."""
    path = Path(folder) / LAYERS_FILE
    if not path.is_file():
        return None
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return doc
