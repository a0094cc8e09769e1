"""One world of acts, shared by the layers of a layered run.

A person's acts are the person's, not a scheme's: in a run of several layers every layer sees
the same deeds of the same person in the same month, and the same records of them. Each layer
draws with the same tables and the same keys, so its kernel finds the acts every other layer
finds (counter-based draws: a draw is a pure function of seed, stream, month and person):

* **the same acts**: every layer draws person by person the union of the acts any layer draws
  so (the acts it scores, and those its effects multiply), in catalogue order, and counts the
  others by cell, all from one table set per month (:meth:`World.draws`);
* **at one rate a person**: each act at the rate of the layer in force over the person that
  deters it most (its smallest deterrence factor; ties, as for an act no layer scores, at the
  highest rate: the strongest reward seeking). This is *assumed*: someone under several
  schemes is taken to respond to the harshest cost any of them puts on a deed (a sum would
  count one deed's cost twice where schemes copy one another, as Sesame scores the court's
  list). Where one layer is in force over a person, its rates are theirs, bit for bit;
* **in one rate class**: under a sanction of any layer in force over them at the end of last
  month or not (:meth:`World.classes`, given to each layer's step as ``Traits.cls``);
* **on the run's months**: the draws of a layer's month are keyed by the run's month (its
  engine step: the month plus the run's longest history), not the layer's own
  (:attr:`~scslab.engine.simulation.Simulation.key_shift`), so a layer that comes into force
  late sees the acts of the months it joins;
* **one record an act**: whether a true act is recorded is one draw compared with the
  chance that a channel records it (the catalogue's and the scenario's), and the channel whose
  points a layer gives is read from the same draw; false records come from one stream too, each
  of one channel. A record made by a channel reaches every layer that takes that channel's
  records (``channels:``, default every channel) and scores its act: a layer compares the draw
  with the chance that one of *its* channels records the act (:func:`~scslab.behaviour.rates.
  taken`), so a layer with fewer channels sees a subset of the records of a layer with more,
  and every channel's is the one draw as it was; a false record reaches the layers that take
  its channel. A layer deters (and rewards) through its own channels only.

A run of one layer has no world: it draws as its scheme alone does. Act effects on acts that are
drawn (``effects: [{acts: ...}]`` on an act that is not an attempt) would need a rate class per
combination across layers: refused in a run of several layers (not supported yet).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

from scslab.behaviour.rates import RateTables, cumulative, taken
from scslab.engine.compiled import FLAG_SANCTIONED, State, first_channel
from scslab.engine.kernels import Draws, draws
from scslab.schemes.model import CHANNELS

if TYPE_CHECKING:
    from scslab.engine.simulation import Simulation


class LayerSim(Protocol):
    """What the world reads of a layer (:class:`scslab.engine.layers.LayerSim`, which imports
    this module): its simulation and its months of the run."""

    @property
    def sim(self) -> Simulation: ...

    @property
    def first(self) -> int: ...

    @property
    def end(self) -> int: ...

    def live(self, t: int) -> bool: ...


class World:
    """The acts the layers of a layered run share: rate tables by piece of the run's months,
    and each person's rate class for the month.

    ``layers``: the run's layers, their simulations built with the same acts drawn person by
    person; ``history``: the run's months of history before month 0."""

    def __init__(self, layers: Sequence[LayerSim], history: int) -> None:
        self.layers = tuple(layers)
        self.history = history
        first = self.layers[0].sim
        self.cell_region = first.cells.region_of()
        cuts = {-history, 0}
        for ls in self.layers:
            cuts |= {-self._own_history(ls), ls.first, ls.end}
            cuts |= {ls.first + p for p in ls.sim.pieces}  # its history's too: calendar months
        #: the run's months where the tables change (a layer comes into or goes out of force, or
        #: a layer's own rates change), the first the start of the run's history
        self.cuts: tuple[int, ...] = tuple(sorted(c for c in cuts if c >= -history))
        self._tables: dict[int, Draws] = {}
        self._by_layer: dict[tuple[int, int], Draws] = {}
        #: whether a layer takes some channels only (``channels:``)
        self.channels = any(ls.sim.channels is not None for ls in self.layers)
        #: uint8[people]: each person's rate class this month (:meth:`classes`), allocated with
        #: the run (:class:`~scslab.engine.layers.LayeredRun`; a shard keeps its own rows')
        self.cls = np.zeros(0, np.uint8)

    @staticmethod
    def _own_history(ls: LayerSim) -> int:
        return ls.sim.history_months if ls.first == 0 else 0

    def key_shift(self, ls: LayerSim) -> int:
        """What turns the layer's engine step into the run's: its draws are keyed by the run's
        month plus the run's history (:attr:`history`), its steps count from its own history."""
        return self.history - self._own_history(ls) + ls.first

    def classes(
        self, month: int, held: Iterable[tuple[LayerSim, int, State]], into: np.ndarray, lo: int
    ) -> None:
        """Before the run's ``month``: the rate class of population rows ``lo ..`` in ``into``,
        1 where a layer stepping in that month had the person under a sanction as last month
        ended. ``held``: each layer with the population row of its state's row 0 and its state
        (the layers' rows there: a shard holds some of them)."""
        into[:] = 0
        for ls, first, st in held:
            if ls.live(month):
                into[first - lo : first - lo + len(st.flags)] |= st.flags & FLAG_SANCTIONED

    def draws(self, layer: int, month: int) -> Draws:
        """The tables layer number ``layer`` draws from in the run's ``month``: the world's,
        with the layer's own points by channel."""
        piece = max(0, int(np.searchsorted(self.cuts, month, side="right")) - 1)
        key = (piece, layer)
        if key not in self._by_layer:
            if piece not in self._tables:
                self._tables[piece] = self._piece(self.cuts[piece])
            shared = self._tables[piece]
            ls = self.layers[layer]
            r = self._rates(ls, self.cuts[piece])
            arrays = ls.sim.arrays
            p_detect, p_avoid, p_channel = taken(r)
            mine = shared._replace(
                ch_first=np.ascontiguousarray(
                    first_channel(arrays, arrays.act_event, p_channel, r.channels)
                )
            )
            if r.taken is not None:  # the layer's channels: the records it takes of the world's
                mine = mine._replace(
                    p_detect=np.ascontiguousarray(p_detect),
                    p_seen=np.ascontiguousarray(
                        np.stack([p_detect, p_detect if p_avoid is None else p_avoid])
                    ),
                    fseen=r.taken[r.false_channel].astype(np.uint8),
                )
            if self.channels:  # false records of counted acts: of the layer's own channels
                mine = mine._replace(
                    u_false=np.ascontiguousarray(r.counted_false),
                    a_false=np.ascontiguousarray(r.attempt_false),
                )
            self._by_layer[key] = mine
        return self._by_layer[key]

    @staticmethod
    def _rates(ls: LayerSim, month: int) -> RateTables:
        """The layer's own rate tables in the run's ``month`` (its first piece before it; a
        month of its history takes its calendar month's piece)."""
        sim = ls.sim
        piece = max(0, int(np.searchsorted(sim.pieces, month - ls.first, side="right")) - 1)
        return sim.piece_rates[piece]

    def _covers(self, ls: LayerSim) -> np.ndarray:
        """bool[cells]: the cells of the layer's regions."""
        if ls.sim.regions is None:
            return np.ones(len(self.cell_region), bool)
        a, b = ls.sim.regions
        return (self.cell_region >= a) & (self.cell_region < b)

    def _piece(self, month: int) -> Draws:
        """The tables from the run's ``month`` to the next cut: for each cell, each act at the
        rate of the layer in force there that deters it most (ties: the highest rate)."""
        live = [ls for ls in self.layers if ls.live(month)] or list(self.layers[:1])
        tables = [self._rates(ls, month) for ls in live]
        r0 = tables[0]
        rate = r0.rate.copy()
        det = np.full(rate.shape, np.inf)
        for ls, r in zip(live, tables, strict=True):
            if not np.array_equal(r.personal, r0.personal):  # built so by LayeredSimulation
                raise AssertionError("the layers of a world draw different acts")
            mine = r.deterrence[:, :, r.personal]
            take = self._covers(ls)[:, None, None] & (
                (mine < det) | ((mine == det) & (r.rate > rate))
            )
            rate = np.where(take, r.rate, rate)
            det = np.where(take, mine, det)
        lam, cum = cumulative(rate)
        flam, fcum = cumulative(r0.false_rate)
        return draws(
            lam,
            cum,
            r0.personal,
            flam,
            fcum,
            r0.false_act,
            r0.p_detect,
            r0.counted,
            r0.counted_rate,
            r0.counted_false,
            r0.attempt,
            r0.attempt_rate,
            r0.attempt_false,
            r0.p_avoid,
            None,
            np.array([CHANNELS.index(r0.channels[c]) for c in r0.false_channel], np.int32),
        )
