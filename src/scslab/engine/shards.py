"""Sharded runs: one population split by region over Dask workers, bit for bit the unsharded run.

The population is laid out by region (:mod:`scslab.population.individuals`), so a shard is a
contiguous range of rows holding whole regions, and with them whole households, whole tie groups
(tie-cutting rewires within one's own region) and every cell. Each shard lives on one Dask worker
for the whole run: its state columns never move. What crosses shards, once a month:

* the scores of the people whose friends live in another shard (int16 each; the receiving shard
  keeps them as *ghost* rows after its own, and derives their low-score bits itself), with, for
  network rules over friends on a list or in a grade, a byte of their marks under those rules
  (:func:`scslab.engine.kernels.status_marks`), and
* whether a neighbourhood group that straddles two shards had an offender last month;

and, in a month of a scheme with public shaming (an effect on ties), a second round between its
step and its ties: the ghosts' shame and cells of the month, since a tie to a shamed friend in
another shard is cut with the friend's shame (:meth:`Shard.midbox`).

Draws are keyed by the person's index in the whole population (the kernels take the shard's
``offset``), tallies are integers summed over shards, and score assortativity is summed from
exact integer moments (:func:`scslab.population.network.tie_moments`), so the aggregates equal
the unsharded run's with the same seed, bit for bit.

A layered run (:mod:`scslab.engine.layers`) shards along the same cuts: a shard holds every
layer's people of its regions (a layer's ``where`` is adjacent regions, so they are one range of
its rows), one :class:`Shard` per layer there (:class:`LayeredShard`), stepped in the layers'
order, each in its own months, with the ``links`` part before a reading layer's step. Links read
the same person in other layers, which the shard holds; each layer's ghosts are its own friends'
(its network is the ties among its people).

The coordinator submits the months as a graph of Dask tasks pinned to the shards' workers; a
shard's message to another goes from worker to worker. Every ``every`` months each shard writes
its part of a checkpoint (:mod:`scslab.engine.checkpoint`) into the run folder, which the workers
must see (a shared file system on a cluster). If a worker dies, the coordinator waits for a
replacement, rebuilds every shard from the last checkpoint and carries on by itself.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import time
import uuid
from collections.abc import Callable
from concurrent.futures import CancelledError
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numba import njit

from scslab.engine.ageing import age_month
from scslab.engine.checkpoint import (
    MANIFEST,
    Made,
    Manifest,
    columns,
    new_run_id,
    part_name,
    read_file,
    read_manifest,
    restore,
    write_file,
    write_manifest,
)
from scslab.engine.cluster import dask_client, kernel_threads, quiet_dask, use_kernel_threads
from scslab.engine.compiled import FLAG_PANEL, MARK_BELOW, allocate_state
from scslab.engine.kernels import (
    BLOCK,
    Traits,
    allocate_tally,
    cut_shamed_ties,
    cut_ties,
    friend_needs,
    mark_households,
    mark_offenders,
    n_blocks,
    running_consequences,
    status_marks,
)
from scslab.engine.layers import LayeredSimulation, LayerSim
from scslab.engine.links import Linker
from scslab.engine.simulation import (
    MonthPart,
    Parted,
    Record,
    RunInterrupted,
    Simulation,
    StopOnce,
    mark_friends,
    step_month,
)
from scslab.errors import CheckpointError, ResourceError, ScenarioError
from scslab.population.individuals import Population
from scslab.population.network import moments_correlation, tie_group, tie_moments

if TYPE_CHECKING:
    from scslab.engine.simulation import Progress

#: Months between checkpoints of a sharded run unless told otherwise.
DEFAULT_EVERY = 12
#: Worker losses survived in one run before giving up.
MAX_RESTARTS = 5
#: Seconds to wait for a replacement worker.
REPLACEMENT_TIMEOUT = 120
#: Seconds between checks that the shards' workers are alive while waiting on them.
POLL = 0.5

#: ghost scores (int16), straddling-neighbourhood flags, ghost list and grade marks (uint8; empty
#: when the scheme's network rules are all on scores)
Message = tuple[np.ndarray, np.ndarray, np.ndarray]


# --------------------------------------------------------------------------------------------
# the split


def shard_bounds(region: np.ndarray, n_regions: int, shards: int) -> list[tuple[int, int]]:
    """Rows ``(lo, hi)`` of each shard: consecutive whole regions, the largest shard as small as
    possible. Refuses more shards than regions with people."""
    sizes = np.bincount(region, minlength=n_regions).astype(np.int64)
    ends = np.concatenate([[0], np.cumsum(sizes)])
    peopled = int((sizes > 0).sum())
    if shards < 1:
        raise ScenarioError(f"--shards {shards}: give one shard or more")
    if shards > peopled:
        raise ScenarioError(
            f"--shards {shards}: the population has {peopled} regions with people and a shard "
            "holds whole regions; use at most that many shards, or more regions"
        )
    R = n_regions
    # best[k][r]: smallest largest shard when the first r regions make k non-empty shards
    inf = np.iinfo(np.int64).max
    best = np.full((shards + 1, R + 1), inf, np.int64)
    cut = np.zeros((shards + 1, R + 1), np.int64)
    best[0, 0] = 0
    for k in range(1, shards + 1):
        for r in range(1, R + 1):
            for q in range(k - 1, r):
                size = ends[r] - ends[q]
                if best[k - 1, q] == inf or size == 0:
                    continue
                worst = max(best[k - 1, q], size)
                if worst < best[k, r]:
                    best[k, r], cut[k, r] = worst, q
    bounds = []
    r = R
    for k in range(shards, 0, -1):
        q = int(cut[k, r])
        bounds.append((int(ends[q]), int(ends[r])))
        r = q
    return bounds[::-1]


@njit(cache=True)
def _ghost_rows(
    indptr: np.ndarray, indices: np.ndarray, ghosts: np.ndarray, lo: int, hi: int
) -> tuple[np.ndarray, np.ndarray]:
    """For each ghost ``j``, its friends inside rows ``lo .. hi-1`` (as local rows): on a
    symmetric network, exactly the shard's people who count ``j`` among their friends."""
    counts = np.zeros(ghosts.shape[0] + 1, np.int64)
    for g in range(ghosts.shape[0]):
        j = ghosts[g]
        for p in range(indptr[j], indptr[j + 1]):
            if lo <= indices[p] < hi:
                counts[g + 1] += 1
    ptr = np.cumsum(counts)
    out = np.empty(ptr[-1], np.int32)
    for g in range(ghosts.shape[0]):
        j = ghosts[g]
        w = ptr[g]
        for p in range(indptr[j], indptr[j + 1]):
            if lo <= indices[p] < hi:
                out[w] = indices[p] - lo
                w += 1
    return ptr, out


@dataclass(eq=False)
class ShardPlan:
    """What one shard is given: its rows of the population, its ties in local numbering, and
    what it sends to and receives from each other shard."""

    k: int
    lo: int  # the shard holds rows lo .. hi-1 of the population (a layer's: of its regions)
    hi: int
    base: int  # local row of the first ghost: the shard's size rounded up to whole bytes of bits
    ghosts: np.ndarray  # int64[g]: population rows whose scores this shard receives, sorted
    cell: np.ndarray
    region: np.ndarray
    household: np.ndarray  # int32: renumbered from the shard's first neighbourhood
    households: int
    panel: np.ndarray  # int64: local rows of the panel's people
    network: bool  # the population has ties
    counting: bool  # low friends are counted from crossers, as in Run (ghost rows present)
    shaming: bool  # public shaming cuts ties: the ghosts' shame crosses shards mid-month
    indptr: np.ndarray  # CSR of the shard's rows; then empty rows to base, then ghost rows
    friends: np.ndarray  # int32: local rows (own people) or base + ghost number
    group: np.ndarray  # tie-cutting: tie groups, members and their starts (or empty)
    members: np.ndarray
    group_start: np.ndarray
    #: int16: the months of birth of the shard's rows, where people age (else empty)
    birth: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int16))
    #: the row of the whole population that is row 0 of the population split (a layer's first
    #: row; 0 everywhere): draws are keyed by rows of the whole population
    offset: int = 0
    #: per other shard: the slice of ``ghosts`` it fills, and the local neighbourhood ids shared
    imports: dict[int, tuple[int, int, np.ndarray]] = field(default_factory=dict)
    #: per other shard: the local rows whose scores it needs, and shared neighbourhoods as
    #: (local id, first row, end row)
    exports: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return self.hi - self.lo

    @property
    def first(self) -> int:
        """The row of the whole population that is the shard's row 0: what its draws are keyed
        by."""
        return self.offset + self.lo

    @property
    def sources(self) -> list[int]:
        return sorted(self.imports)


def plan_shards(sim: Simulation, pop: Population, shards: int) -> list[ShardPlan]:
    """Split ``pop`` (with its network; a layer's: the people of its regions) into ``shards``
    plans by region."""
    bounds = shard_bounds(pop.region, len(sim.scenario.population.regions), shards)
    return _plans(sim, pop, bounds, list(range(shards)))


def _plans(
    sim: Simulation, pop: Population, bounds: list[tuple[int, int]], ks: list[int]
) -> list[ShardPlan]:
    """The plans of shards ``ks`` holding rows ``bounds`` of ``pop`` (consecutive, whole
    regions, none empty), with what each sends to and receives from the others by shard
    number."""
    net = pop.network
    cutting = sim.scenario.adaptation.tie_cutting.enabled
    shaming = net is not None and bool(sim.arrays.grp_ties_p.any())
    counting = (
        net is not None
        and net.symmetric
        and not cutting
        and not shaming
        and bool(sim.scheme.network)
    )
    per = sim.scenario.population.neighbourhood_households
    by_neighbourhood = any(c.group == "neighbourhood" for c in sim.scheme.collective)
    panel = sim._panel(pop.n)
    group_all = tie_group(pop) if cutting or shaming else None
    plans: list[ShardPlan] = []
    nb_range: dict[int, tuple[int, int]] = {}
    for k, (lo, hi) in zip(ks, bounds, strict=True):
        n = hi - lo
        base = (n + 7) // 8 * 8
        hh = pop.household[lo:hi]
        hbase = int(hh[0]) // per * per
        if net is not None:
            first, last = int(net.indptr[lo]), int(net.indptr[hi])
            rows = net.indices[first:last]
            outside = (rows < lo) | (rows >= hi)
            remote = rows[outside]
            ghosts = np.unique(remote).astype(np.int64)
            friends = rows - np.int32(lo)
            friends[outside] = base + np.searchsorted(ghosts, remote)
            indptr = net.indptr[lo : hi + 1] - first
            if counting:
                gptr, gfriends = _ghost_rows(net.indptr, net.indices, ghosts, lo, hi)
                pad = np.full(base - n, indptr[-1], np.int64)
                indptr = np.concatenate([indptr, pad, indptr[-1] + gptr[1:]])
                friends = np.concatenate([friends, gfriends])
        else:
            ghosts = np.zeros(0, np.int64)
            friends = np.zeros(0, np.int32)
            indptr = np.zeros(0, np.int64)
        if group_all is not None:
            group = group_all[lo:hi]
            members = np.argsort(group, kind="stable").astype(np.int32)
            group_start = np.searchsorted(group[members], np.arange(group.max() + 2)).astype(
                np.int64
            )
        else:
            group = members = np.zeros(0, np.int32)
            group_start = np.zeros(0, np.int64)
        mine = panel[(panel >= lo) & (panel < hi)] - lo
        plans.append(
            ShardPlan(
                k=k,
                lo=lo,
                hi=hi,
                base=base,
                ghosts=ghosts,
                cell=pop.cell[lo:hi],
                region=pop.region[lo:hi],
                household=(hh - hbase).astype(np.int32),
                households=int(hh[-1]) - hbase + 1,
                panel=mine.astype(np.int64),
                network=net is not None,
                counting=counting,
                shaming=shaming,
                indptr=np.ascontiguousarray(indptr, np.int64),
                friends=friends,
                group=group,
                members=members,
                group_start=group_start,
                birth=pop.birth[lo:hi] if pop.birth is not None else np.zeros(0, np.int16),
                offset=sim.row_offset,
            )
        )
        nb_range[k] = (int(hh[0]) // per, int(hh[-1]) // per)
    # who sends what to whom
    for dst in plans:
        for src in plans:
            if src.k == dst.k:
                continue
            a, b = np.searchsorted(dst.ghosts, [src.lo, src.hi])
            shared = np.zeros(0, np.int64)
            if by_neighbourhood:
                (s0, s1), (d0, d1) = nb_range[src.k], nb_range[dst.k]
                shared = np.arange(max(s0, d0), min(s1, d1) + 1, dtype=np.int64)
            if b == a and not len(shared):
                continue
            dst.imports[src.k] = (int(a), int(b), shared - nb_range[dst.k][0])
            src_nb = shared - nb_range[src.k][0]
            src_of = src.household // per
            spans = np.array(
                [
                    [g, np.searchsorted(src_of, g), np.searchsorted(src_of, g, side="right")]
                    for g in src_nb
                ],
                np.int64,
            ).reshape(-1, 3)
            src.exports[dst.k] = (dst.ghosts[a:b] - src.lo, spans)
    return plans


# --------------------------------------------------------------------------------------------
# one shard, on its worker


def _split(moments: tuple[int, ...]) -> np.ndarray:
    """Exact integers as (high, low) int64 pairs, for a checkpointable array."""
    return np.array([[v >> 32, v & 0xFFFFFFFF] for v in moments], np.int64)


def _join(pairs: np.ndarray) -> tuple[int, ...]:
    return tuple((int(h) << 32) + int(lo) for h, lo in pairs)


class Shard(Parted):
    """One shard's columns and its month: the parts of :attr:`Run.month`, in the same order,
    each its shard's variant (:meth:`parts`).

    Its state columns are those of a run of its own people; ``score_ext`` holds their scores
    followed by the ghosts' (``state.score`` is a view of its head).
    """

    checkpoint_skip = (
        "sim",
        "plan",
        "draws",
        "tally",
        "score_ext",
        "shame_ext",
        "ghost_cell",
        "ghost_marks",
        "received",
        "threads",
        "clock",
        "month",
    )
    checkpoint_static = ("plan",)

    def __init__(self, sim: Simulation, plan: ShardPlan) -> None:
        self.sim, self.plan = sim, plan
        arrays, layout, sc = sim.arrays, sim.layout, sim.scenario
        n = plan.n
        self.draws = sim._draws()
        self.people = np.bincount(plan.cell, minlength=sim.cells.n_cells())
        self.cell_region = sim.cells.region_of()
        self.network = plan.network
        self.cutting = sc.adaptation.tie_cutting
        self.mark_kind, self.mark_arg = sim._marks(ties=self.network)
        #: whether friends are marked by a list or a grade: ghosts' marks then come with scores
        self.status = bool((self.mark_kind != MARK_BELOW).any())
        self.counting = plan.counting
        self.shaming = plan.shaming
        self.households = plan.households if arrays.grp_household.any() else 0
        self.collective = bool(sim.scheme.collective)
        self.score_ext = np.full(plan.base + len(plan.ghosts), arrays.base, np.int16)
        self.state = allocate_state(n, arrays, layout)._replace(score=self.score_ext[:n])
        #: public shaming: the shame of its people (``state.shame`` is its head) and of the
        #: ghosts, and the ghosts' cells, as their month's step left them (:meth:`receive_mid`)
        self.shame_ext = np.zeros(len(self.score_ext) if self.shaming else 0, np.float32)
        self.ghost_cell = np.zeros(len(plan.ghosts) if self.shaming else 0, plan.cell.dtype)
        if self.shaming:
            self.state = self.state._replace(shame=self.shame_ext[:n])
        self.ghost_marks = np.zeros(len(plan.ghosts) if self.status else 0, np.uint8)
        rows = len(plan.indptr) - 1 if self.network else 0
        minor = sim.cells.minor().astype(np.uint8)
        self.traits = Traits(
            cell=plan.cell.copy()
            if sim.cells_move or arrays.grp_income_p.any()
            else plan.cell,  # people age, incomes move: their own
            region=plan.region,
            indptr=plan.indptr,
            friends=plan.friends.copy() if self.cutting.enabled or self.shaming else plan.friends,
            low=np.zeros((len(self.mark_kind), (len(self.score_ext) + 7) // 8), np.uint8),
            low_friends=np.zeros(
                (len(sim.scheme.network), rows) if self.counting else (0, 0), np.uint16
            ),
            need=friend_needs(plan.indptr, sim.arrays.net_share)
            if self.counting
            else np.zeros((0, 0), np.uint16),
            household=plan.household,
            hh_trig=np.zeros(self.households, np.int64),
            hh_cause=np.zeros(self.households, np.uint32),
            offended=np.zeros((2, plan.households if self.collective else 0), np.uint8),
            neighbourhood=sc.population.neighbourhood_households,
            minor=minor if minor.any() else np.zeros(0, np.uint8),
            hh_two=np.zeros(self.households if arrays.hh_spouse else 0, np.int64),
        )
        self.state.flags[plan.panel] |= FLAG_PANEL
        per_block = (
            int(np.bincount(plan.panel // BLOCK, minlength=n_blocks(n)).max())
            if len(plan.panel)
            else 0
        )
        L, Q = len(layout.lists), len(layout.groups)
        self.tally = allocate_tally(
            n,
            len(self.people),
            len(sim.rates.act_ids),
            len(layout.grades),
            L,
            Q,
            per_block,
            len(layout.attempts),
            layout.appeals,
            arrays.life_groups != 0,
            arrays.points_groups.bit_count(),
        )
        self.record = Record.allocate(
            sc.steps, self.tally, plan.panel, L, Q, sim.cells_move or arrays.life_groups != 0
        )
        if self.shaming:  # ties cut by friends of the shamed, by the shamed person's cell
            self.record.extra["ties_cut_by_shaming"] = np.zeros(
                (sc.steps, len(self.people)), np.int64
            )
        self.running = running_consequences(self.state.grp_until, self.state.grp_cause)
        #: exact tie moments of this shard's rows, each month, as (high, low) pairs
        self.moments = np.zeros((sc.steps, 6, 2), np.int64)
        self.received: dict[int, np.ndarray] = {}
        self.threads: int | None = None  # for the compiled kernels; None: numba's default
        #: seconds each month: receiving, tie moments, the month itself, sending
        self.clock = np.zeros((sc.steps, 4))
        #: the month, in order: ``(name, part)`` for each part this shard has (:meth:`parts`)
        self.month: list[tuple[str, MonthPart]] = self._parts()

    def receive(self, inbox: dict[int, Message], t: int) -> None:
        """Ghost scores, list and grade marks, and neighbourhood flags as of the end of month
        ``t - 1``."""
        base = self.plan.base
        for src, (scores, flags, marks) in inbox.items():
            a, b, _ = self.plan.imports[src]
            self.score_ext[base + a : base + b] = scores
            if self.status:
                self.ghost_marks[a:b] = marks
            self.received[src] = flags

    def measure(self, t: int) -> None:
        """The exact tie moments of month ``t - 1`` (after :meth:`receive`, whose ghost scores
        they need), for the score assortativity."""
        if self.network and t > 0:
            self.moments[t - 1] = _split(
                tie_moments(
                    self.traits.indptr,
                    self.traits.friends,
                    self.state.score,
                    self.score_ext,
                    rows=self.plan.n,
                )
            )

    def advance(self, t: int, half: int | None = None) -> None:
        """Month ``t``: the parts of :attr:`month` in turn, as :meth:`Run._month` does them for
        the whole population; a month of the history before month 0 (``t < 0``) is run as
        engine step ``t + history`` and not recorded. ``half`` 0: the parts before ``ties``
        only; 1: the rest (public shaming needs the ghosts' shame of the month in between)."""
        k = t + self.sim.history_months  # the engine step
        if t == 0 and half != 1:
            self.record.panel_start[:] = self.state.score[self.plan.panel]
        month = t if t >= 0 else None
        names = self.parts()
        cut = names.index("ties") if "ties" in names else len(names)
        parts = self.month if half is None else self.month[:cut] if half == 0 else self.month[cut:]
        for _, part in parts:
            part(k, month)

    def midbox(self) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Public shaming, mid-month: what each other shard needs before cutting ties, the shame
        and the cells of its ghosts of this shard, as this month's step left them."""
        if not self.shaming:
            return {}
        shame, cell = self.state.shame, self.traits.cell
        return {dst: (shame[rows], cell[rows]) for dst, (rows, _) in self.plan.exports.items()}

    def receive_mid(self, inbox: dict[int, tuple[np.ndarray, np.ndarray]]) -> None:
        """The ghosts' shame and cells of this month (:meth:`midbox`)."""
        base = self.plan.base
        for src, (shame, cell) in inbox.items():
            a, b, _ = self.plan.imports[src]
            self.shame_ext[base + a : base + b] = shame
            self.ghost_cell[a:b] = cell

    @property
    def steps(self) -> int:
        """Months of the record."""
        return self.sim.scenario.steps

    def _parts(self) -> list[tuple[str, MonthPart]]:
        """The month's parts, in :meth:`Run.parts`' order, those a shard has, each a shard's
        variant of the run's part: friends' marks (the ghosts' too), collective responsibility
        (with the neighbourhoods that straddle shards), ageing, households, the step, ties cut
        (to low scorers and to the publicly shamed, ghosts among them) and the record. Firms and
        contracts are not sharded (:func:`shard_plans` refuses them)."""
        parts: list[tuple[str, MonthPart]] = []
        if len(self.mark_kind):
            parts.append(("friends", self._friends))
        if self.collective:
            parts.append(("collective", self._collective))
        if self.sim.cells_move:
            parts.append(("ageing", self._ageing))
        if self.households:
            parts.append(("households", self._households))
        parts.append(("step", self._step))
        if self.network:
            parts.append(("ties", self._ties))
        parts.append(("record", self._record))
        return parts

    def _friends(self, k: int, t: int | None) -> None:
        mark_friends(
            self.traits,
            self.state,
            self.mark_kind,
            self.mark_arg,
            self.counting,
            k,
            self.score_ext,
            self.ghost_marks,
            self.plan.base,
        )

    def _collective(self, k: int, t: int | None) -> None:
        traits, plan = self.traits, self.plan
        mark_offenders(
            self.state.last_neg, plan.household, traits.neighbourhood, k, traits.offended
        )
        for src, flags in self.received.items():
            traits.offended[1, plan.imports[src][2]] |= flags

    def _ageing(self, k: int, t: int | None) -> None:
        """Ageing, as :meth:`Run._ageing` does it; lineage (the audit's) is kept by unsharded
        runs."""
        if t is None or t < 1:
            return
        children = self.sim.scenario.population.children
        age_month(
            t,
            self.plan.birth,
            self.plan.household,
            self.traits.cell,
            self.people,
            self.traits.minor,
            self.state,
            np.zeros(0, np.uint8),
            np.zeros(0, np.uint8),
            children is not None and children.inherit_record,
        )

    def _households(self, k: int, t: int | None) -> None:
        mark_households(self.sim.arrays, self.state, self.traits)

    def _step(self, k: int, t: int | None) -> None:
        step_month(self, k, self.plan.first)

    def _ties(self, k: int, t: int | None) -> None:
        """Ties cut to low scorers and to the publicly shamed, the ghosts among them too (the
        assortativity is measured from the tie moments :meth:`measure` takes)."""
        if self.cutting.enabled:
            self._cut(k, t)
        if self.shaming:
            plan, cell = self.plan, self.traits.cell
            pad = np.zeros(plan.base - plan.n, cell.dtype)
            shamed = cut_shamed_ties(
                self.traits.indptr,
                self.traits.friends,
                self.shame_ext,
                np.concatenate([cell, pad, self.ghost_cell]),
                len(self.people),
                plan.group,
                plan.members,
                plan.group_start,
                self.sim.stream_seed,
                k,
                plan.first,
            )
            if t is not None:
                self.record.extra["ties_cut_by_shaming"][t] = shamed

    def _cut(self, k: int, t: int | None) -> None:
        plan = self.plan
        cut = cut_ties(
            self.traits.indptr,
            self.traits.friends,
            self.traits.low[-1],
            self.cutting.probability,
            plan.group,
            plan.members,
            plan.group_start,
            self.sim.stream_seed,
            k,
            plan.first,
        )
        if t is not None:
            self.record.ties_cut[t] = cut

    def _record(self, k: int, t: int | None) -> None:
        if t is not None:
            self.record.take(t, self.tally, self.state, self.people, self.traits.cell)

    def outbox(self, t: int) -> dict[int, Message]:
        """What each other shard needs before month ``t``: scores, list and grade marks, and
        neighbourhood flags."""
        out: dict[int, Message] = {}
        last_neg = self.state.last_neg
        k = t + self.sim.history_months  # the engine step
        kind, arg, none = self.mark_kind, self.mark_arg, np.zeros(0, np.uint8)
        for dst, (rows, spans) in self.plan.exports.items():
            flags = np.array([(last_neg[a:b] == k - 1).any() for _, a, b in spans], np.uint8)
            marks = (
                status_marks(self.state.grade, self.state.list_since, kind, arg, rows)
                if self.status
                else none
            )
            out[dst] = (self.state.score[rows], flags, marks)
        return out


# --------------------------------------------------------------------------------------------
# a layered run's shards: one Shard per layer with people there, stepped in the layers' order


@dataclass(eq=False)
class LayeredPlan:
    """What one shard of a layered run is given: rows ``lo .. hi-1`` of the population (whole
    regions) and, for each layer with people among them, that layer's :class:`ShardPlan` of
    them (a layer's ``where`` is adjacent regions, so its rows here are one range)."""

    k: int
    lo: int
    hi: int
    layers: dict[str, ShardPlan]

    @property
    def shaming(self) -> bool:
        """Whether a layer here cuts ties to the publicly shamed (a month in two halves)."""
        return any(p.shaming for p in self.layers.values())

    @property
    def sources(self) -> list[int]:
        """The shards this one receives from, for any of its layers."""
        return sorted({src for p in self.layers.values() for src in p.imports})

    @property
    def exports(self) -> dict[int, list[str]]:
        """The shards this one sends to, each with the layers whose rows it sends."""
        out: dict[int, list[str]] = {}
        for lid, p in self.layers.items():
            for dst in p.exports:
                out.setdefault(dst, []).append(lid)
        return dict(sorted(out.items()))


def plan_layered(lsim: LayeredSimulation, shards: int) -> list[LayeredPlan]:
    """Split the population of ``lsim`` into ``shards`` shards of whole regions, and each
    layer's people (its regions' rows, its ties among them) along the same cuts: a layer is
    planned as a one-layer run of its people would be, in the shards that hold some of them."""
    pop = lsim.population()
    bounds = shard_bounds(pop.region, len(lsim.scenario.population.regions), shards)
    plans = [LayeredPlan(k, lo, hi, {}) for k, (lo, hi) in enumerate(bounds)]
    for ls in lsim.layers:
        own = ls.sim.population()
        assert isinstance(own, Population)
        held = [
            (k, max(lo, ls.lo) - ls.lo, min(hi, ls.hi) - ls.lo)
            for k, (lo, hi) in enumerate(bounds)
            if max(lo, ls.lo) < min(hi, ls.hi)
        ]
        ks = [k for k, _, _ in held]
        for plan in _plans(ls.sim, own, [(a, b) for _, a, b in held], ks):
            plans[plan.k].layers[ls.id] = plan
    return plans


#: a layered shard's message to another: each layer's :data:`Message`, by layer id
LayeredMessage = tuple[tuple[str, Message], ...]


class LayeredShard:
    """One shard of a layered run: a :class:`Shard` of each layer with people in its regions,
    stepped month by month as :meth:`LayeredRun.advance <scslab.engine.layers.LayeredRun.advance>`
    steps the layers: in :attr:`LayeredSimulation.order`, each in its own months, a layer that
    reads others with ``links`` just before its ``step``. The links read the same person's rows
    in the other layers, which the shard holds: nothing about them crosses shards. A layer's
    network ghosts are its own (its ties among its own people).

    Its month ``t`` is the run's (negative: a month of history); it receives and sends each
    layer's messages for that layer's month."""

    checkpoint_skip = ("lsim", "plan", "linkers", "threads", "clock")
    checkpoint_static = ("plan",)

    def __init__(self, lsim: LayeredSimulation, plan: LayeredPlan) -> None:
        self.lsim, self.plan = lsim, plan
        #: each layer's shard, by id, for the layers with people here
        self.shards: dict[str, Shard] = {
            ls.id: Shard(ls.sim, plan.layers[ls.id]) for ls in lsim.layers if ls.id in plan.layers
        }
        layouts = {ls.id: ls.sim.layout for ls in lsim.layers}
        self.linkers: dict[str, Linker] = {}
        for lid, shard in self.shards.items():
            linker = Linker(shard.sim.layout, layouts)
            ext, why = linker.columns(shard.plan.n)
            shard.traits = shard.traits._replace(ext=ext, ext_why=why)
            self.linkers[lid] = linker
            if linker.by_layer:  # a part of the layer's month, just before its step
                shard.insert_part("links", functools.partial(self._links, lid))
        #: the acts the layers share (engine.world): the rate class of this shard's rows, which
        #: each layer's step reads for its people here, filled before every month
        self.cls = np.zeros(plan.hi - plan.lo if lsim.world is not None else 0, np.uint8)
        if lsim.world is not None:
            for shard in self.shards.values():
                if shard.sim.world is None:  # a layer that shares no acts (of firms)
                    continue
                a = shard.plan.first - plan.lo
                shard.traits = shard.traits._replace(cls=self.cls[a : a + shard.plan.n])
        self.threads: int | None = None
        self.clock = np.zeros((lsim.steps, 4))

    @property
    def sim(self) -> LayeredSimulation:
        return self.lsim

    @property
    def steps(self) -> int:
        return self.lsim.steps

    def _here(self) -> list[tuple[LayerSim, Shard]]:
        """The layers with people here, in step order, each with its shard."""
        layers = self.lsim.layers
        return [
            (layers[i], self.shards[layers[i].id])
            for i in self.lsim.order
            if layers[i].id in self.shards
        ]

    @staticmethod
    def _wants(ls: LayerSim, t: int) -> bool:
        """Whether the layer takes messages for month ``t`` of the run: it steps then, or its
        last month has just ended (its last tie moments)."""
        return ls.live(t) or t == ls.end

    def receive(self, inbox: dict[int, LayeredMessage], t: int) -> None:
        for ls, shard in self._here():
            if self._wants(ls, t):
                mine = {src: m for src, ms in inbox.items() for lid, m in ms if lid == ls.id}
                shard.receive(mine, t - ls.first)

    def measure(self, t: int) -> None:
        for ls, shard in self._here():
            if self._wants(ls, t):
                shard.measure(t - ls.first)

    def advance(self, t: int, half: int | None = None) -> None:
        """Month ``t`` of the run: each layer stepping then takes its month, in step order
        (``half``: as :meth:`Shard.advance`; a layer's ties and record, after every layer's
        step, change nothing another layer's step reads)."""
        world = self.lsim.world
        if world is not None and half != 1:  # the rate classes every layer reads, as it begins
            held = [
                (ls, shard.plan.first, shard.state)
                for ls, shard in self._here()
                if ls.sim.world is not None
            ]
            world.classes(t, held, self.cls, self.plan.lo)
        for ls, shard in self._here():
            if ls.live(t):
                shard.advance(t - ls.first, half)

    def midbox(self, t: int) -> dict[int, LayeredMessage]:
        """Public shaming, mid-month ``t``: each shaming layer's :meth:`Shard.midbox`."""
        out: dict[int, list[tuple[str, Any]]] = {dst: [] for dst in self.plan.exports}
        for ls, shard in self._here():
            if ls.live(t) and shard.shaming:
                for dst, m in shard.midbox().items():
                    out[dst].append((ls.id, m))
        return {dst: tuple(ms) for dst, ms in out.items()}

    def receive_mid(self, inbox: dict[int, tuple[tuple[str, Any], ...]], t: int) -> None:
        for ls, shard in self._here():
            if ls.live(t) and shard.shaming:
                shard.receive_mid(
                    {src: m for src, ms in inbox.items() for lid, m in ms if lid == ls.id}
                )

    def outbox(self, t: int) -> dict[int, LayeredMessage]:
        """What each other shard needs before month ``t``: each layer's messages, for the
        layers that take them then."""
        out: dict[int, list[tuple[str, Message]]] = {dst: [] for dst in self.plan.exports}
        for ls, shard in self._here():
            if self._wants(ls, t):
                for dst, m in shard.outbox(t - ls.first).items():
                    out[dst].append((ls.id, m))
        return {dst: tuple(ms) for dst, ms in out.items()}

    def _links(self, lid: str, k: int, t: int | None) -> None:
        """Layer ``lid``'s part ``links``, as :meth:`LayeredRun._links
        <scslab.engine.layers.LayeredRun._links>` does it, over this shard's rows of each
        layer."""
        by_id = {ls.id: ls for ls in self.lsim.layers}
        ls, shard = by_id[lid], self.shards[lid]
        month = t + ls.first if t is not None else k - shard.sim.history_months
        spans = {x: (s.plan.first, s.plan.first + s.plan.n) for x, s in self.shards.items()}
        states = {x: s.state for x, s in self.shards.items() if by_id[x].live(month)}
        self.linkers[lid].fill(shard.traits.ext, shard.traits.ext_why, states, spans, spans[lid])

    @property
    def record(self) -> dict[str, Record]:
        return {lid: shard.record for lid, shard in self.shards.items()}

    @property
    def moments(self) -> dict[str, np.ndarray]:
        return {lid: shard.moments for lid, shard in self.shards.items()}


# --------------------------------------------------------------------------------------------
# tasks, run on the workers; shards are kept in each worker's process by key

_LIVE: dict[str, Shard | LayeredShard] = {}


class ShardMissing(RuntimeError):
    """A worker was asked for a shard it does not hold (it was restarted)."""


def _shard(key: str) -> Shard | LayeredShard:
    try:
        shard = _LIVE[key]
    except KeyError:
        raise ShardMissing(key) from None
    use_kernel_threads(shard.threads)
    return shard


#: scenario, scheme, catalogue, also_personal; or for a layered run: "layered", scenario, each
#: layer's scheme by id, catalogue
SimSpec = tuple[Any, Any, Any, Any]


def _sim_spec(sim: Simulation | LayeredSimulation) -> SimSpec:
    """What a worker needs to rebuild the simulation (not its population, which is the
    coordinator's: a shard is given its own rows)."""
    if isinstance(sim, LayeredSimulation):
        schemes = {ls.id: ls.sim.scheme for ls in sim.layers}
        return ("layered", sim.scenario, schemes, sim.layers[0].sim.catalogue)
    return (sim.scenario, sim.scheme, sim.catalogue, sim.also_personal)


def _build(
    key: str,
    spec: SimSpec,
    plan: ShardPlan | LayeredPlan,
    part: tuple[str, str] | None,
    t: int,
    threads: int | None,
) -> dict[int, Message] | dict[int, LayeredMessage]:
    use_kernel_threads(threads)
    shard: Shard | LayeredShard
    if spec[0] == "layered":
        _, scenario, schemes, catalogue = spec
        assert isinstance(plan, LayeredPlan)
        shard = LayeredShard(
            LayeredSimulation(scenario, schemes=schemes, catalogue=catalogue), plan
        )
    else:
        scenario, scheme, catalogue, also_personal = spec
        sim = Simulation(scenario, scheme=scheme, catalogue=catalogue, also_personal=also_personal)
        assert isinstance(plan, ShardPlan)
        shard = Shard(sim, plan)
    shard.threads = threads
    if part is not None:
        path, sha = part
        _, arrays = read_file(Path(path), sha)
        restore(shard, arrays, path)
    _LIVE[key] = shard
    return shard.outbox(t)


#: a shard's message to another (:data:`Message`, or a layered shard's :data:`LayeredMessage`),
#: or a source's whole outbox, by destination
Given = Any


def _inbox(shard: Shard | LayeredShard, given: tuple[Given, ...]) -> dict[int, Any]:
    """Messages by source: a piece, or a source's whole outbox to pick this shard's from."""
    k = shard.plan.k
    return {
        src: m[k] if isinstance(m, dict) else m
        for src, m in zip(shard.plan.sources, given, strict=True)
    }


def _advance(key: str, t: int, after: Any, *inbox: Given) -> dict[int, Any]:
    shard = _shard(key)
    t0 = time.perf_counter()
    shard.receive(_inbox(shard, inbox), t)
    t1 = time.perf_counter()
    shard.measure(t)
    t2 = time.perf_counter()
    shard.advance(t)
    t3 = time.perf_counter()
    out = shard.outbox(t + 1)
    if t >= 0:  # months of the history are not timed
        shard.clock[t] = (t1 - t0, t2 - t1, t3 - t2, time.perf_counter() - t3)
    return out


def _first(key: str, t: int, after: Any, *inbox: Given) -> dict[int, Any]:
    """A month in two halves (public shaming): its parts before ``ties``; returns what the
    other shards need of it mid-month."""
    shard = _shard(key)
    t0 = time.perf_counter()
    shard.receive(_inbox(shard, inbox), t)
    t1 = time.perf_counter()
    shard.measure(t)
    t2 = time.perf_counter()
    shard.advance(t, 0)
    out = shard.midbox(t) if isinstance(shard, LayeredShard) else shard.midbox()
    if t >= 0:
        shard.clock[t, :3] = (t1 - t0, t2 - t1, time.perf_counter() - t2)
    return out


def _rest(key: str, t: int, after: Any, *inbox: Given) -> dict[int, Any]:
    """The second half of month ``t``: ties cut, with the ghosts' shame; the record."""
    shard = _shard(key)
    t0 = time.perf_counter()
    mid = _inbox(shard, inbox)
    if isinstance(shard, LayeredShard):
        shard.receive_mid(mid, t)
    else:
        shard.receive_mid(mid)
    shard.advance(t, 1)
    t1 = time.perf_counter()
    out = shard.outbox(t + 1)
    if t >= 0:
        shard.clock[t, 2] += t1 - t0
        shard.clock[t, 3] = time.perf_counter() - t1
    return out


def _piece(outbox: dict[int, Any], dst: int) -> Any:
    return outbox[dst]


def _save(key: str, path: str, after: Any) -> tuple[str, str]:
    shard = _shard(key)
    target = Path(path)
    digest, _ = write_file(target, {"kind": "part", "shard": shard.plan.k}, columns(shard))
    return target.name, digest


def _finish(key: str, after: Any, *inbox: Given) -> tuple[Any, Any, np.ndarray]:
    """The shard's record and tie moments (a layered shard's: each layer's, by id), and its
    clock."""
    shard = _shard(key)
    steps = shard.steps
    shard.receive(_inbox(shard, inbox), steps)
    shard.measure(steps)
    del _LIVE[key]
    return shard.record, shard.moments, shard.clock


def _drop(prefix: str) -> int:
    """Forget this worker's shards of one run (all generations); returns how many."""
    keys = [k for k in _LIVE if k.startswith(prefix)]
    for k in keys:
        del _LIVE[k]
    return len(keys)


# --------------------------------------------------------------------------------------------
# the coordinator


def _made(sim: Simulation | LayeredSimulation) -> tuple[Made, dict[str, Any]]:
    """What a checkpoint keeps to rebuild ``sim``, and what its manifest's ``extra`` adds."""
    if isinstance(sim, LayeredSimulation):
        return sim.made()
    return Made.of(sim), {}


class WorkerLost(Exception):
    """A shard's worker died or lost its shard; the run restarts from its last checkpoint."""


def merge_records(parts: list[Record], panel: np.ndarray, moments: list[np.ndarray]) -> Record:
    """The record of the whole run from its shards' records (in shard order).

    Counts are summed (cells and blocks are disjoint across shards, so this is the unsharded
    sum); the panel's columns and events are laid side by side, as shards hold consecutive rows;
    assortativity comes from the summed exact moments.
    """
    first = parts[0]
    out: dict[str, Any] = {}
    for f in (column.name for column in dataclasses.fields(first)):
        values = [getattr(p, f) for p in parts]
        if f == "panel_people":
            out[f] = panel
        elif f == "panel_events":
            out[f] = [np.concatenate(rows) for rows in zip(*values, strict=True)]
        elif f == "assortativity":
            out[f] = values[0].copy()
        elif f.startswith("panel_"):  # [steps, panel, ...], or [panel]
            out[f] = np.concatenate(values, axis=min(1, values[0].ndim - 1))
        elif f == "extra":
            out[f] = {k: sum(v[k] for v in values) for k in values[0]}
        elif isinstance(values[0], np.ndarray):
            out[f] = np.sum(values, axis=0, dtype=values[0].dtype)
        else:
            if any(v != values[0] for v in values):
                raise RuntimeError(f"shards disagree on {f}: {values}")
            out[f] = values[0]
    record = Record(**out)
    for t in range(record.done):
        parts_t = [_join(m[t]) for m in moments]
        total = tuple(sum(column) for column in zip(*parts_t, strict=True))
        record.assortativity[t] = moments_correlation(total)  # NaN without ties
    return record


class Coordinator:
    """Drives the shards of one run on a Dask client and survives the loss of workers.

    The months are submitted as one graph of tasks pinned to the shards' workers: month ``t`` of
    shard ``k`` follows its month ``t - 1`` (or its checkpoint) and takes the other shards'
    messages from the end of month ``t - 1``. Only the coordinator's watch on each task's end
    passes through here; the messages go from worker to worker.
    """

    def __init__(
        self,
        client: Any,
        sim: Simulation | LayeredSimulation,
        folder: Path,
        plans: list[ShardPlan] | list[LayeredPlan],
        every: int,
        progress: Progress | None,
        log: Callable[[str], None] | None,
        stop: StopOnce | None = None,
    ) -> None:
        self.client, self.sim, self.folder, self.plans = client, sim, folder, plans
        self.every, self.progress, self.log = every, progress, log
        #: Ctrl-C, deferred to the coordinator's loop (StopOnce(defer=True))
        self.stop = stop
        self.run_id = uuid.uuid4().hex[:12]
        #: the id in the names of this run's checkpoint parts (kept across resumes)
        self.parts_id = new_run_id()
        #: the month the manifest in the folder has reached
        self.manifested = 0
        self.generation = 0
        self.restarts = 0
        self.started = datetime.now(UTC)
        self.seconds = 0.0
        #: the tasks watched: (what, month, shard) for each
        self.watch: dict[Any, tuple[str, int, int]] = {}
        #: when each month was done by every shard (time.perf_counter), and each shard's seconds
        #: per month receiving, stepping and sending (see Shard.clock): for benchmarks
        self.done_at = np.full(sim.scenario.steps, np.nan)
        self.clocks: list[np.ndarray] = []

    @property
    def K(self) -> int:
        return len(self.plans)

    def run(self, resume: Manifest | None) -> Record | dict[str, Record]:
        """Run to the end, from ``resume`` if given; restart from the last checkpoint whenever
        a worker is lost. A layered run's record is each layer's, by id."""
        manifest = resume
        if resume is not None:
            self.started, self.seconds = resume.started, resume.seconds
            self.parts_id = resume.run or self.parts_id
            self.manifested = resume.step
        while True:
            try:
                return self._attempt(manifest)
            except WorkerLost as lost:
                self._forget()
                self.restarts += 1
                if self.restarts > MAX_RESTARTS:
                    raise ResourceError(
                        f"workers were lost {self.restarts} times ({lost}); giving up. The last "
                        f"checkpoint is in {self.folder}: `scslab resume {self.folder}` continues"
                    ) from None
                if (self.folder / MANIFEST).exists():
                    found = read_manifest(self.folder)
                    if found.run == self.parts_id:  # not an earlier run's, in an --overwrite folder
                        manifest = found
                if self.log is not None:
                    since = manifest.step if manifest is not None else 0
                    self.log(f"{lost}; restarting every shard from month {since}")
                self._await_workers()
            except BaseException:
                self._forget()
                raise

    def _stopped(self) -> None:
        """Raise KeyboardInterrupt here if Ctrl-C came."""
        if self.stop is not None:
            self.stop.check()

    def _await_workers(self) -> None:
        waited = 0.0
        while True:  # in slices, so that Ctrl-C is heard meanwhile
            self._stopped()
            try:
                self.client.wait_for_workers(self.K, timeout=POLL)
                return
            except TimeoutError:
                waited += POLL
                if waited >= REPLACEMENT_TIMEOUT:
                    raise ResourceError(
                        f"a worker was lost and fewer than {self.K} workers were there after "
                        f"{REPLACEMENT_TIMEOUT} s; the last checkpoint is in {self.folder}: "
                        f"`scslab resume {self.folder}` continues"
                    ) from None

    def _forget(self) -> None:
        """Cancel this run's tasks and drop its shards from every worker."""
        if self.watch:
            self.client.cancel(list(self.watch))
            self.watch = {}
        with contextlib.suppress(Exception):  # a dying worker's shards die with it
            self.client.run(_drop, f"{self.run_id}/")

    def _attempt(self, manifest: Manifest | None) -> Record | dict[str, Record]:
        client, K, sim = self.client, self.K, self.sim
        steps = sim.scenario.steps
        self.generation += 1
        workers = sorted(client.scheduler_info()["workers"])
        if len(workers) < K:
            self._await_workers()
            workers = sorted(client.scheduler_info()["workers"])
        addrs = workers[:K]
        # a run starts with its unrecorded history, months -history .. -1
        first = manifest.step if manifest is not None else -sim.history_months
        keys = [f"{self.run_id}/{self.generation}/{k}" for k in range(K)]

        def submit(fn: Callable[..., Any], k: int, *args: Any) -> Any:
            return client.submit(
                fn, *args, workers=[addrs[k]], allow_other_workers=False, pure=False
            )

        spec = _sim_spec(sim)
        out = []
        try:
            threads = kernel_threads(client, addrs)
            for k, plan in enumerate(self.plans):
                [given] = client.scatter([plan], workers=[addrs[k]], hash=False)
                part = None
                if manifest is not None:
                    name, sha = manifest.parts[k]
                    part = (str(self.folder / name), sha)
                out.append(submit(_build, k, keys[k], spec, given, part, first, threads[addrs[k]]))
        except (OSError, CancelledError) as exc:  # a worker died while shards were handed out
            raise WorkerLost(f"a worker was lost while starting the shards ({exc})") from None
        after = list(out)

        def inbox(k: int, sent: list[Any]) -> list[Any]:
            # a source that sends to one shard only hands over its whole outbox: one task hop
            # a month fewer; otherwise a small task on the source picks out this shard's piece
            return [
                sent[src]
                if len(self.plans[src].exports) == 1
                else submit(_piece, src, sent[src], k)
                for src in self.plans[k].sources
            ]

        # public shaming: a month in two halves, the ghosts' shame sent in between
        halves = any(p.shaming for p in self.plans)
        for t in range(first, steps):
            pieces = [inbox(k, out) for k in range(K)]
            if halves:
                mid = [submit(_first, k, keys[k], t, after[k], *pieces[k]) for k in range(K)]
                mids = [inbox(k, mid) for k in range(K)]
                out = [submit(_rest, k, keys[k], t, mid[k], *mids[k]) for k in range(K)]
            else:
                out = [submit(_advance, k, keys[k], t, after[k], *pieces[k]) for k in range(K)]
            after = list(out)
            self.watch.update({f: ("step", t, k) for k, f in enumerate(out)})
            if (t + 1) % self.every == 0 and 0 < t + 1 < steps:
                path = [str(self.folder / part_name(t + 1, k, self.parts_id)) for k in range(K)]
                after = [submit(_save, k, keys[k], path[k], out[k]) for k in range(K)]
                self.watch.update({f: ("save", t + 1, k) for k, f in enumerate(after)})
        pieces = [inbox(k, out) for k in range(K)]
        ends = [submit(_finish, k, keys[k], after[k], *pieces[k]) for k in range(K)]
        self.watch.update({f: ("finish", steps, k) for k, f in enumerate(ends)})
        return self._follow(first, addrs)

    def _follow(self, first: int, addrs: list[str]) -> Record | dict[str, Record]:
        """Wait on the watched tasks: report months, write manifests, gather the records."""
        from distributed import wait

        sim, K = self.sim, self.K
        steps = sim.scenario.steps
        clock = time.perf_counter()
        before = self.seconds
        left = {t: K for t in range(first, steps)}
        saved: dict[int, dict[int, tuple[str, str]]] = {}
        #: each shard's record, tie moments and clock (a layered shard's: by layer id)
        finished: dict[int, tuple[Any, Any, np.ndarray]] = {}
        while self.watch:
            self._stopped()
            try:
                done, _ = wait(  # type: ignore[no-untyped-call]
                    list(self.watch), timeout=POLL, return_when="FIRST_COMPLETED"
                )
            except TimeoutError:
                self._check(addrs)
                continue
            except CancelledError:  # the scheduler dropped tasks whose inputs died with a worker
                raise WorkerLost("a shard's tasks were cancelled with its worker") from None
            # months in order: a manifest is never followed by an older one
            for f in sorted(done, key=lambda f: self.watch[f][1]):
                if f.status != "finished":
                    self._failed(f)
                kind, t, k = self.watch.pop(f)
                if kind == "step":
                    left[t] -= 1
                    if left[t] == 0 and t >= 0:  # a month of the history is not reported
                        self.done_at[t] = time.perf_counter()
                        if self.progress is not None:
                            self.progress(t + 1, steps)
                elif kind == "save":
                    saved.setdefault(t, {})[k] = self._held(f, addrs)
                    if len(saved[t]) == K:
                        self.seconds = before + time.perf_counter() - clock
                        parts = [saved[t][j] for j in range(K)]
                        bounds = [[p.lo, p.hi] for p in self.plans]
                        if t > self.manifested:
                            made, extra = _made(sim)
                            write_manifest(
                                self.folder,
                                made,
                                t,
                                self.every,
                                parts,
                                self.started,
                                self.seconds,
                                {**extra, "sharded": True, "bounds": bounds},
                                run=self.parts_id,
                            )
                            self.manifested = t
                        del saved[t]
                else:
                    finished[k] = self._held(f, addrs)
        self.seconds = before + time.perf_counter() - clock
        records = [finished[k][0] for k in range(K)]
        moments = [finished[k][1] for k in range(K)]
        self.clocks = [finished[k][2] for k in range(K)]
        if isinstance(sim, LayeredSimulation):  # each layer from the shards holding it
            return {
                ls.id: merge_records(
                    [r[ls.id] for r in records if ls.id in r],
                    ls.sim._panel(ls.sim.agents),
                    [m[ls.id] for m in moments if ls.id in m],
                )
                for ls in sim.layers
            }
        return merge_records(records, sim._panel(sim.agents), moments)

    def _held(self, f: Any, addrs: list[str]) -> Any:
        """A finished task's result. Its worker may have died since, and its result with it:
        the scheduler then forgets the task, or waits to compute it again on the worker it is
        pinned to, which is gone (a wait without end); either is a lost worker."""
        while True:
            self._stopped()
            try:
                return f.result(timeout=POLL)
            except CancelledError:  # "already forgotten": the worker that held it is gone
                raise WorkerLost("a shard's result was lost with its worker") from None
            except TimeoutError:
                self._check(addrs)

    def _check(self, addrs: list[str]) -> None:
        """Raise WorkerLost if a shard's worker is gone or a watched task cannot finish."""
        alive = set(self.client.scheduler_info()["workers"])
        gone = [a for a in addrs if a not in alive]
        if gone:
            raise WorkerLost(f"worker {gone[0]} was lost")
        for f in self.watch:
            if f.status in ("lost", "cancelled", "error"):
                self._failed(f)

    def _failed(self, f: Any) -> None:
        from distributed.comm.core import CommClosedError
        from distributed.scheduler import KilledWorker

        if f.status in ("lost", "cancelled"):
            raise WorkerLost(f"a shard's task was {f.status} with its worker")
        exc = f.exception()
        if isinstance(exc, KilledWorker | CommClosedError | ShardMissing):
            raise WorkerLost(f"a shard's worker was lost ({type(exc).__name__})")
        raise exc


def shard_plans(
    sim: Simulation | LayeredSimulation,
    folder: Path,
    shards: int,
    every: int | None = None,
    resume: Manifest | None = None,
) -> tuple[list[ShardPlan] | list[LayeredPlan], int]:
    """Check that ``sim`` (a layered run: each of its layers) can run in ``shards`` shards
    (resuming ``resume``, a checkpoint in ``folder``); return each shard's plan and the months
    between checkpoints (``every``, the checkpoint's, or :data:`DEFAULT_EVERY`). Nothing is
    allocated but the population."""
    for one in [ls.sim for ls in sim.layers] if isinstance(sim, LayeredSimulation) else [sim]:
        _shardable(one)
    if resume is not None:
        every = resume.every
    every = DEFAULT_EVERY if every is None else every
    if every < 1:
        raise ScenarioError(f"--checkpoint-every {every}: give a number of months of 1 or more")
    plans: list[ShardPlan] | list[LayeredPlan]
    if isinstance(sim, LayeredSimulation):
        plans = plan_layered(sim, shards)
    else:
        pop = sim.population()
        assert isinstance(pop, Population)
        plans = plan_shards(sim, pop, shards)
    if resume is not None:
        bounds = [[p.lo, p.hi] for p in plans]
        if resume.extra.get("bounds") != bounds:
            raise CheckpointError(
                f"{folder}: the checkpoint's shards ({resume.extra.get('bounds')}) are not this "
                f"population's ({bounds})"
            )
    return plans, every


def _shardable(sim: Simulation) -> None:
    """Refuse what sharded runs do not exchange across shards (ScenarioError, one line)."""
    if sim.people is not None:
        raise ScenarioError(
            f"--shards: scheme '{sim.scheme.id}' scores firms; sharded runs are for schemes that "
            "score individuals"
        )
    if sim.contract_act is not None:
        raise ScenarioError(
            "--shards: the contract game pairs people across the whole population, which sharded "
            "runs do not exchange; run it without --shards"
        )


def run_shards(
    sim: Simulation | LayeredSimulation,
    folder: Path,
    plans: list[ShardPlan] | list[LayeredPlan],
    every: int,
    stop: StopOnce,
    *,
    cluster: str | None = None,
    progress: Progress | None = None,
    resume: Manifest | None = None,
    log: Callable[[str], None] | None = None,
) -> tuple[Record | dict[str, Record], dict[str, Any]]:
    """Run ``sim``'s months in the shards of ``plans`` on Dask workers; return the whole run's
    record (a layered run's: each layer's, by id) and what the results say of the run
    (started, finished, seconds, status).

    ``folder`` (prepared, see :func:`scslab.runs.run_sharded`) must be visible to the workers,
    who write their checkpoint parts there every ``every`` months. Without ``cluster`` (a
    scheduler address) one local worker process per shard is started and closed at the end.
    ``resume`` continues from a checkpoint of the same run; ``log`` hears of lost workers.
    ``stop`` (``StopOnce(defer=True)``) holds Ctrl-C until the coordinator looks for it, never
    inside the Dask client's own code (a future's ``__del__`` would print it as "Exception
    ignored" and drop it); on return it only says to wait while the results are written. On
    Ctrl-C, :class:`RunInterrupted` names the checkpoint to resume from.
    """
    try:
        with dask_client(cluster, len(plans)) as client:
            coordinator = Coordinator(client, sim, folder, plans, every, progress, log, stop=stop)
            try:
                record = coordinator.run(resume)
            except KeyboardInterrupt:
                quiet_dask()  # the workers' ends, as the cluster closes, are no news
                raise
        stop.begin_saving()  # a Ctrl-C that came since the coordinator last looked
    except KeyboardInterrupt:
        raise RunInterrupted(folder / MANIFEST) from None
    meta = {
        "started": coordinator.started,
        "finished": datetime.now(UTC),
        "seconds": coordinator.seconds,
        "status": "complete",
    }
    return record, meta
