"""Scheduled rules: a scheme's rules that are in force for some months only (``in_force:``).

An event, list, sanction, reward, network or collective rule may say when it is in force
(``in_force: {from: 2015-07, until: ...}``). The months are placed on the run once, when it is
set up (:func:`schedule_of`): a calendar month by the scenario's ``start``, a month of the run as
written; a calendar month in a scenario without ``start`` is refused at its line and column.

Each month the step gets the scheme's arrays with the rules out of force switched off
(:meth:`Schedule.arrays_at`): an event out of force is taken out of ``act_event`` (its act is
still drawn and recorded, as an act the scheme does not score), and the ``*_off`` bits of
:class:`~scslab.engine.compiled.SchemeArrays` tell the step that a list admits nobody and ends its
entries, that a consequence group starts for nobody and ends where it runs, and that a network or
collective rule charges nobody. What is in force is a function of the month alone, so nothing is
stored: a checkpoint, a shard or a resumed run computes the same. The arrays are built once per
distinct set of rules in force (a *regime*); a month costs a lookup, and a month with every rule
in force gets the scheme's own arrays.

Months of history (before month 0) are the calendar months before the start: a rule in force
from a month after the start is out of force in them, and one that comes into force within
the history is in force from its month on. What people's rates feel follows the same months
(:func:`deterring_cuts`: a piece of the rate tables begins where an event or a list comes into
or goes out of force, within the history too).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from scslab.engine.compiled import SchemeArrays, SchemeLayout
from scslab.errors import SchemeError
from scslab.schemes.model import Loc, Scheme

#: The kinds of scheduled rule, in the order of :attr:`Schedule.windows`' bits.
KINDS = ("events", "lists", "groups", "network", "collective")


@dataclass(frozen=True)
class Window:
    """One scheduled rule: its kind (:data:`KINDS`), index among its kind (a consequence's
    group), and its months in force as months of the run, ``first`` included and ``end``
    excluded (``None``: no bound)."""

    kind: str
    index: int
    first: int | None
    end: int | None

    def holds(self, t: int) -> bool:
        """Whether the rule is in force in month ``t`` of the run (negative: history)."""
        return (self.first is None or t >= self.first) and (self.end is None or t < self.end)


@dataclass
class Schedule:
    """The scheduled rules of a run's scheme, on the run's months."""

    windows: tuple[Window, ...]
    #: the months (of the run) where what is in force changes
    cuts: tuple[int, ...]
    _regimes: dict[tuple[int, ...], SchemeArrays] = field(default_factory=dict)

    def off(self, t: int) -> tuple[int, ...]:
        """What is out of force in month ``t``: a bit mask per kind (:data:`KINDS`)."""
        masks = [0] * len(KINDS)
        for w in self.windows:
            if not w.holds(t):
                masks[KINDS.index(w.kind)] |= 1 << w.index
        return tuple(masks)

    def arrays_at(self, arrays: SchemeArrays, t: int) -> SchemeArrays:
        """``arrays`` as the step reads them in month ``t``: the rules out of force switched
        off; ``arrays`` themselves when every rule is in force."""
        key = self.off(t)
        if not any(key):
            return arrays
        found = self._regimes.get(key)
        if found is None:
            events, lists, groups, net, coll = key
            act_event = arrays.act_event.copy()
            for e in range(len(arrays.ev_points)):
                if (events >> e) & 1:
                    act_event[act_event == e] = -1
            found = arrays._replace(
                act_event=act_event,
                lists_off=lists,
                groups_off=groups,
                net_off=net,
                coll_off=coll,
            )
            self._regimes[key] = found
        return found


#: A scheduled rule placed on a run: its section, index, and first and end month (``None``: no
#: bound), as months of the run.
Placed = tuple[str, int, int | None, int | None]


def place(
    scheme: Scheme, start: str | None, where: Callable[[Loc], str] | None = None
) -> tuple[Placed, ...]:
    """The months of ``scheme``'s scheduled rules on a run starting at ``start`` (``YYYY-MM``, or
    ``None`` without a calendar), in :meth:`~scslab.schemes.model.Scheme.scheduled` order.

    A calendar month without ``start`` is refused, at ``where(loc)`` (the scheme file's
    ``path:line:column``; default: the scheme's own :meth:`~scslab.schemes.model.Scheme.where`).
    """
    at = where if where is not None else scheme.where
    out: list[Placed] = []
    for (key, i), in_force in scheme.scheduled():
        assert isinstance(i, int)
        if in_force.calendar and start is None:
            month = in_force.start_at if isinstance(in_force.start_at, str) else in_force.until
            name = "from" if month == in_force.start_at else "until"
            raise SchemeError(
                f"{at((key, i, 'in_force', name))}: {month} is a calendar month, and the "
                "scenario has no `start: YYYY-MM` to place it on the run; give the scenario a "
                "start, or write months of the run (0 the first)"
            )
        out.append((str(key), i, *in_force.months(start)))
    return tuple(out)


def deterring_cuts(placed: tuple[Placed, ...], steps: int, history: int = 0) -> tuple[int, ...]:
    """The months of the run (after the first of its ``history`` months, ``-history``, and
    before ``steps``) where an event or a list comes into or goes out of force: what people's
    rates feel (:func:`deterring_off`) changes there."""
    return tuple(
        sorted(
            {
                m
                for key, _, first, end in placed
                if key in ("events", "lists")
                for m in (first, end)
                if m is not None and -history < m < steps
            }
        )
    )


def deterring_off(
    scheme: Scheme, placed: tuple[Placed, ...], t: int
) -> tuple[frozenset[str], frozenset[str]]:
    """The ids of the events and of the lists out of force in month ``t``: they deter and
    reward nobody (:func:`scslab.behaviour.rates.rate_tables`' ``off``)."""
    off: dict[str, set[str]] = {"events": set(), "lists": set()}
    for key, i, first, end in placed:
        if key in off and not Window(key, i, first, end).holds(t):
            off[key].add(getattr(scheme, key)[i].id)
    return frozenset(off["events"]), frozenset(off["lists"])


def schedule_of(
    scheme: Scheme, layout: SchemeLayout, placed: tuple[Placed, ...]
) -> Schedule | None:
    """The schedule of ``scheme`` (compiled as ``layout``) from its rules' months on the run
    (:func:`place`), or ``None`` if no rule has ``in_force``."""
    if not placed:
        return None
    windows = []
    for key, i, first, end in placed:
        if key in ("sanctions", "rewards"):
            rule = getattr(scheme, key)[i]
            groups = enumerate(layout.groups)
            kind, index = "groups", next(q for q, g in groups if any(c.id == rule.id for c in g))
        else:
            kind, index = key, i
        windows.append(Window(kind, index, first, end))
    unique = tuple(dict.fromkeys(windows))
    cuts = sorted({m for w in unique for m in (w.first, w.end) if m is not None})
    return Schedule(unique, tuple(cuts))
