"""Conditions on other layers: one layer's rules reading another layer's lists and grades.

A layered scenario runs several schemes over one population, one :class:`State` each. A
condition ``{layer: spc, list: defaulters}`` or ``{layer: spc, grades: [D]}`` in a scheme is a
leaf of its composed conditions (``engine.compiled``) whose bit is not computed in the step: it
comes from ``Traits.ext``, a column that :meth:`Linker.fill` writes from the other layers' state
before the reading layer's step, once those layers have taken the month's step. ``Traits.ext_why``
carries the causes behind it (the listing's cause, or the domains behind the other layer's
score), so that a sanction one layer imposes because of another layer's listing counts the
records behind that listing, and the audit sees it out of context where their domains differ.

:func:`order_layers` checks the names such conditions use and puts the layers in an order in
which every layer comes after the layers it reads; a cycle is refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numba import njit, prange

from scslab.engine.compiled import SchemeLayout, State
from scslab.errors import ScenarioError
from scslab.schemes.model import Condition, Loc, Scheme, _unknown


def order_layers(layers: Sequence[tuple[str, Scheme]]) -> tuple[int, ...]:
    """The indices of ``layers`` (``(layer id, scheme)``) in the order their months are stepped:
    a layer after every layer its conditions read, otherwise in the order given.

    Refused (:class:`ScenarioError`, ``path:line:column`` of the condition in its scheme): a
    condition naming a layer that is not there, the layer itself, or a list or grade that the
    named layer's scheme does not have; and layers that read each other in a cycle."""
    ids = [lid for lid, _ in layers]
    index = {lid: k for k, lid in enumerate(ids)}
    reads: list[dict[int, tuple[Scheme, Loc]]] = [{} for _ in layers]
    for k, (lid, scheme) in enumerate(layers):
        for loc, c in scheme.links():
            source = _source(lid, scheme, loc, c, index, layers)
            reads[k].setdefault(source, (scheme, loc))
    order: list[int] = []
    done: set[int] = set()
    while len(order) < len(layers):
        ready = [k for k in range(len(layers)) if k not in done and set(reads[k]) <= done]
        if not ready:
            raise ScenarioError(_cycle(ids, reads, done))
        order.append(ready[0])
        done.add(ready[0])
    return tuple(order)


def _source(
    lid: str,
    scheme: Scheme,
    loc: Loc,
    c: Condition,
    index: Mapping[str, int],
    layers: Sequence[tuple[str, Scheme]],
) -> int:
    """The index of the layer a condition reads, once its names are checked."""
    assert c.layer is not None
    where = scheme.where
    if c.layer == lid:
        what = f"list: {c.list}" if c.list is not None else "grades: ..."
        raise ScenarioError(
            f"{where((*loc, 'layer'))}: layer {lid!r} reads itself; a condition on its own "
            f"lists and grades is written without `layer:` ({what})"
        )
    if c.layer not in index:
        raise ScenarioError(
            f"{where((*loc, 'layer'))}: layer {lid!r} reads "
            f"{_unknown('layer', c.layer, set(index))} in this scenario"
        )
    other = layers[index[c.layer]][1]
    if c.list is not None and c.list not in {x.id for x in other.lists}:
        known = {x.id for x in other.lists}
        raise ScenarioError(
            f"{where((*loc, 'list'))}: {_unknown('list', c.list, known)} in layer "
            f"{c.layer!r} (scheme {other.id!r})"
        )
    grades = {g.id for g in other.grades}
    for j, g in enumerate(c.grades):
        if g not in grades:
            raise ScenarioError(
                f"{where((*loc, 'grades', j))}: {_unknown('grade', g, grades)} in layer "
                f"{c.layer!r} (scheme {other.id!r})"
            )
    return index[c.layer]


def _cycle(ids: list[str], reads: list[dict[int, tuple[Scheme, Loc]]], done: set[int]) -> str:
    """The message for layers that read each other in a cycle: the cycle, and where the first
    of its conditions is."""
    k = min(k for k in range(len(ids)) if k not in done)
    path = [k]
    while True:  # every layer left reads one that is left: walk until a layer comes back
        k = min(j for j in reads[k] if j not in done)
        if k in path:
            path = [*path[path.index(k) :], k]
            break
        path.append(k)
    scheme, loc = reads[path[0]][path[1]]
    chain = " -> ".join(ids[j] for j in path)
    return (
        f"{scheme.where((*loc, 'layer'))}: layers read each other in a cycle ({chain}, each "
        "reading the next); a layer reading another takes its month's step after it, so the "
        "links of one month cannot go round: remove one of them"
    )


class Linker:
    """How one layer's leaves on other layers are filled, by index (names resolved once).

    ``by_layer[layer id] = (list indices, their leaf bits, grade masks, their leaf bits)``."""

    def __init__(self, reader: SchemeLayout, layouts: Mapping[str, SchemeLayout]) -> None:
        """The links of the layer laid out as ``reader``; ``layouts`` by layer id holds every
        layer it reads (names checked by :func:`order_layers`)."""
        parts: dict[str, tuple[list[int], list[int], list[int], list[int]]] = {}
        for bit, layer, kind, names in reader.external:
            lists, lbits, masks, gbits = parts.setdefault(layer, ([], [], [], []))
            source = layouts[layer]
            if kind == "list":
                lists.append(source.lists.index(names[0]))
                lbits.append(bit)
            else:
                masks.append(sum(1 << source.grades.index(g) for g in names))
                gbits.append(bit)
        self.by_layer: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {
            layer: (
                np.array(lists, np.int64),
                np.array(lbits, np.int64),
                np.array(masks, np.int64),
                np.array(gbits, np.int64),
            )
            for layer, (lists, lbits, masks, gbits) in parts.items()
        }

    @property
    def layers(self) -> tuple[str, ...]:
        """The layers read."""
        return tuple(self.by_layer)

    def columns(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``(Traits.ext, Traits.ext_why)`` for ``n`` rows, 6 bytes a person: zero-width when
        nothing is read, so a layer without links steps exactly as a scheme run alone."""
        if not self.by_layer:
            return np.zeros(0, np.uint16), np.zeros(0, np.uint32)
        return np.zeros(n, np.uint16), np.zeros(n, np.uint32)

    def fill(
        self,
        ext: np.ndarray,
        why: np.ndarray,
        states: Mapping[str, State],
        spans: Mapping[str, tuple[int, int]] | None = None,
        reader: tuple[int, int] | None = None,
    ) -> None:
        """Write ``ext`` and ``why`` (:meth:`columns`) from the other layers' ``states`` as they
        stand now: call it after those layers' step of month ``t`` and before the reader's.

        A layer absent from ``states`` (not in force this month) holds none of its leaves.
        ``spans[layer]`` and ``reader``: the population rows ``[lo, hi)`` each layer's state
        holds (the reader's row ``i`` is population row ``reader[0] + i``); a person outside a
        layer's rows holds none of its leaves. Without them, every state holds every row.
        O(rows x leaves)."""
        first = True
        for layer, (lists, lbits, masks, gbits) in self.by_layer.items():
            st = states.get(layer)
            if st is None:
                continue
            lo, hi = spans[layer] if spans is not None else (0, st.grade.shape[0])
            fill_external(
                ext,
                why,
                first,
                (reader[0] if reader is not None else 0) - lo,
                hi - lo,
                st.list_since,
                st.list_cause,
                st.grade,
                st.cause,
                lists,
                lbits,
                masks,
                gbits,
            )
            first = False
        if first:  # none of the layers read is in force
            ext[:] = 0
            why[:] = 0


@njit(cache=True, parallel=True)
def fill_external(
    ext: np.ndarray,
    why: np.ndarray,
    first: bool,
    shift: int,
    rows: int,
    list_since: np.ndarray,
    list_cause: np.ndarray,
    grade: np.ndarray,
    cause: np.ndarray,
    lists: np.ndarray,
    lbits: np.ndarray,
    masks: np.ndarray,
    gbits: np.ndarray,
) -> None:
    """Add one layer's leaves to ``ext`` and ``why`` (set them, if ``first``): bit ``lbits[k]``
    where the person is on list ``lists[k]`` (with the listing's cause), bit ``gbits[k]`` where
    their grade is in ``masks[k]`` (with the causes behind the score). Row ``i`` is that
    layer's row ``i + shift``, if within its ``rows``."""
    n = ext.shape[0]
    for i in prange(n):
        w = np.int64(0) if first else np.int64(ext[i])
        y = np.uint32(0) if first else why[i]
        r = np.int64(i) + shift
        if 0 <= r < rows:
            for k in range(lists.shape[0]):
                if list_since[r, lists[k]] >= 0:
                    w |= lbits[k]
                    y |= list_cause[r, lists[k]]
            g = np.int64(grade[r])
            if g != 255:  # 255: no grade (a child, or a scheme without grades)
                for k in range(masks.shape[0]):
                    if (masks[k] >> g) & 1:
                        w |= gbits[k]
                        y |= cause[r]
        ext[i] = w
        why[i] = y
