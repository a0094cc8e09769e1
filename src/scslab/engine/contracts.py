"""Contracts between people, played as donation games whose breaches the scheme records.

A contract is one donation of the reputation games (:mod:`scslab.games`): the *obligor* either
performs (cooperates) or breaks the contract (defects) toward a *partner*. Broken contracts are
true acts of the catalogue's ``contract-breach`` kind, so the scheme observes, records and scores
them like any other act, false records included; the catalogue's own rate for that act is set to
zero, so that every breach comes from a game.

Who breaks a contract:

- **opportunists** (ALLD) break it, unless the scheme deters them: an opportunist performs with
  probability ``1 - d``, where ``d`` is the deterrence factor the engine applies to the act in the
  opportunist's cell and class in the month's rate tables (``RateTables.deterrence``, as dated
  rates and scheduled rules make them that month; 1 without a scheme);
- **conditional cooperators** (DISC) perform for a partner in good standing and break the contract
  with one who is not: on a blacklist of the scheme, or in its lowest grade. The scheme's lists and
  grades stand in for the institution's public reputation;
- **unconditional cooperators** (ALLC) perform;
- an intended performance fails with probability ``execution_error`` (e1).

Each month the same contracts, with the same random numbers, are also played as if there were no
scheme (everyone in good standing, nobody deterred): the paired baseline. Without a scheme the
share kept is ``(1 - opportunists) * (1 - e1)``, so the share of opportunists is solved from the
paper's "about half of signed contracts are not kept" (docs/sources.md#surveillance): that is the
calibration.

One implementation plays the game for every kind of run (:class:`ContractGame`): over the whole
population, reading the standing, deterrence and refusals of its *parties* (:class:`Party`), the
schemes in force over the people: a one-scheme run is the one party over everyone; a layered run
(:mod:`scslab.engine.layers`) has each people's layer as a party over its regions' rows, and
plays the game once a month for all of them, as a part of the run (docs/layers.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, NamedTuple, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from scslab.engine.compiled import FLAG_SANCTIONED, State
from scslab.rng import STREAM_CONTRACTS, STREAM_REFUSE, step_key, uniforms
from scslab.schemes.model import Slug

#: Strategy codes, as in :mod:`scslab.games`.
ALLD, ALLC, DISC = 0, 1, 2
Probability = Annotated[float, Field(ge=0, le=1)]


class Contracts(BaseModel):
    """The contract game of a scenario. Off by default; ``--contracts`` on the CLI."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    per_person_month: Annotated[float, Field(ge=0, le=10)] = Field(
        default=0.05, description="contracts each person takes on as obligor per month (assumed)"
    )
    act: Slug = Field(
        default="contract-breach", description="the catalogue act that a broken contract is"
    )
    kept_without_scheme: Annotated[float, Field(gt=0, lt=1)] = Field(
        default=0.5,
        description="share of contracts kept with no scheme: 'about half of signed contracts are "
        "not kept' (paper, docs/sources.md#surveillance)",
    )
    execution_error: Probability = Field(
        default=0.05, description="an intended performance fails (e1; assumed)"
    )
    conditional: Probability = Field(
        default=0.8,
        description="share of conditional cooperators among those who are not opportunists; "
        "the rest always perform (assumed)",
    )

    @model_validator(mode="after")
    def _reachable(self) -> Contracts:
        most = 1 - self.execution_error
        if self.kept_without_scheme > most:
            raise ValueError(
                f"kept_without_scheme {self.kept_without_scheme:g} cannot be reached when "
                f"{self.execution_error:g} of performances fail; give at most {most:g}"
            )
        return self

    @property
    def opportunists(self) -> float:
        """The share of opportunists that keeps ``kept_without_scheme`` of contracts."""
        return 1 - self.kept_without_scheme / (1 - self.execution_error)


def strategies(spec: Contracts, n: int, seed: int) -> np.ndarray:
    """Each person's strategy code, drawn once per run."""
    u = uniforms(step_key(seed, STREAM_CONTRACTS, 0), n, 0)
    cut = spec.opportunists
    out = np.full(n, ALLC, np.int8)
    out[u < cut + (1 - cut) * spec.conditional] = DISC
    out[u < cut] = ALLD
    return out


def partners(spec: Contracts, n: int, seed: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Month ``k``'s contracts: obligors and partners, two distinct people each."""
    m = round(spec.per_person_month * n) if n > 1 else 0
    key = _month_key(seed, k)
    obligor = np.minimum((uniforms(key, m, 0) * n).astype(np.int64), n - 1)
    other = np.minimum((uniforms(key, m, 1) * (n - 1)).astype(np.int64), n - 2)
    other += other >= obligor
    return obligor, other


def _month_key(seed: int, k: int) -> int:
    key: int = step_key(seed, STREAM_CONTRACTS, k + 1)
    return key


def play_month(
    spec: Contracts,
    strategy: np.ndarray,
    good: np.ndarray,
    partner_good: np.ndarray,
    fear: np.ndarray,
    seed: int,
    k: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Month ``k``'s contracts (one per entry): ``(kept, kept had there been no scheme)``.

    Per contract: the obligor's ``strategy``, the standing (1 good) of obligor and partner, and
    the probability ``fear`` that the obligor, if an opportunist, performs for fear of the scheme.
    """
    from scslab.games import play_donations

    m = len(strategy)
    deterred = uniforms(_month_key(seed, k), m, 2) < fear
    chosen = strategy.copy()
    chosen[(chosen == ALLD) & deterred] = ALLC
    # the games take donors and recipients as indices of one population: contracts as donors
    # 0 .. m-1, their partners as recipients m .. 2m-1
    donors, recipients = np.arange(m), np.arange(m, 2 * m)
    partner = np.full(m, ALLC, np.int8)

    def play(codes: np.ndarray, standing: np.ndarray) -> np.ndarray:
        kept: np.ndarray = play_donations(
            donors,
            recipients,
            np.concatenate([codes, partner]),
            standing,
            norm="stern-judging",  # a conditional cooperator performs for partners in good standing
            e1=spec.execution_error,
            seed=seed,
            step=k,
        )
        return kept.astype(bool)

    with_scheme = play(chosen, np.concatenate([good, partner_good]).astype(np.int8))
    without = play(strategy, np.ones(2 * m, np.int8))
    return with_scheme, without


def refusals(
    refuse: np.ndarray, obligor: np.ndarray, partner: np.ndarray, seed: int, k: int
) -> np.ndarray | None:
    """Month ``k``'s contracts that a partner refuses (an effect on contracts, ``refused:``):
    each party under such an effect last month (``refuse``, per person; empty: no effect) is
    refused with its share, so a contract falls through with one minus the product of the two
    parties' shares of acceptance. ``None`` without the effect.

    Refused contracts are still played by :func:`play_month` and then dropped, so that every
    other contract draws what it draws without the effect (common random numbers)."""
    if refuse.shape[0] == 0:
        return None
    accept = (1.0 - refuse[obligor].astype(np.float64)) * (1.0 - refuse[partner])
    out: np.ndarray = uniforms(step_key(seed, STREAM_REFUSE, k + 1), len(obligor), 0) >= accept
    return out


class Recorded(Protocol):
    """What a party's tallies go to: a run's record (its ``extra`` columns by month and cell)."""

    @property
    def extra(self) -> dict[str, np.ndarray]: ...


class Member(Protocol):
    """What the contract game reads of a party's run: its state and its record."""

    @property
    def state(self) -> State: ...

    @property
    def record(self) -> Recorded: ...


class Party:
    """A scheme the contract game reads and reports to, over population rows ``lo .. hi - 1``:
    a one-scheme run (all rows), or a people's layer of a layered run (its regions' rows).

    What the game reads of it, as its month ``run`` last ended: who is in bad standing (on one
    of its blacklists ``black``, or in its lowest grade ``worst``; -1: no grades), who is under
    one of its sanctions (the rate class), who is under one of its effects on contracts
    (``state.refuse``), and how much it deters the act (:meth:`deterrence_at`: the factor by
    cell and class of each piece of its rates, ``deterrence``, from its months ``pieces``; its
    month is the game's engine step less ``shift``). Its tallies (:meth:`ContractGame.tally`)
    are of the contracts whose obligor is one of its people, by the obligor's cell, in its
    record."""

    def __init__(
        self,
        run: Member,
        lo: int,
        *,
        black: np.ndarray,
        worst: int,
        deterrence: Sequence[np.ndarray],
        cells: int,
        steps: int,
        pieces: Sequence[int] = (0,),
        shift: int = 0,
    ) -> None:
        if len(deterrence) != len(pieces):
            raise ValueError("a party's deterrence is given for each piece of its rates")
        self.run = run
        self.lo = lo
        self.hi = lo + len(run.state.flags)
        self.black = black
        self.worst = worst
        self.deterrence = tuple(deterrence)
        self.pieces = np.asarray(pieces, np.int64)
        self.shift = shift
        self.cells = cells
        #: the months its record keeps
        self.steps = steps

    def deterrence_at(self, k: int) -> np.ndarray:
        """The act's deterrence factor by cell and class in the game's engine step ``k``: that
        of the piece of the party's rates in force in its month ``k - shift`` (a month before
        the first piece, of its history, takes the first piece's)."""
        piece = max(0, int(np.searchsorted(self.pieces, k - self.shift, side="right")) - 1)
        return self.deterrence[piece]

    @property
    def refusing(self) -> bool:
        """Whether some consequence of the scheme has an effect on contracts (``refused:``)."""
        return bool(self.run.state.refuse.shape[0] > 0)

    def inside(self, rows: np.ndarray) -> np.ndarray | None:
        """bool: which of population ``rows`` are the party's people (``None``: all of them)."""
        if self.lo == 0 and len(rows) and self.hi > rows.max():
            return None
        out: np.ndarray = (rows >= self.lo) & (rows < self.hi)
        return out


class Deals(NamedTuple):
    """A month's contracts, one entry each, as the game played them."""

    obligor: np.ndarray  # int64: population rows
    kept: np.ndarray  # bool: made and kept
    kept_without: np.ndarray  # bool: kept, had there been no scheme (the paired baseline)
    refused: np.ndarray | None  # bool: refused by a partner (None: no effect on contracts)


class ContractGame:
    """The contract game of a run, over population rows ``0 .. n - 1`` (``cell``: each row's
    cell), read from and reported to its ``parties``: each month (:meth:`play`), the contracts
    of :func:`partners`, played on the standing, fear and refusals of the parties in force
    (:meth:`play`); the breaches go into :attr:`injected`, the population's column that each
    party's step reads for its rows.

    Across parties (a person under several schemes, in a layered run; docs/layers.md):

    - **standing**: a person is in bad standing if on a blacklist of, or in the lowest grade
      of, any party in force over them;
    - **fear**: an opportunist fears the party in force over them that deters the act most (the
      smallest deterrence factor, in the person's rate class: under a sanction of any party in
      force over them), as the acts a person shares across layers are drawn
      (:mod:`scslab.engine.world`);
    - **refusal**: a person is accepted with the product over the parties in force over them
      of one minus their share refused (assumed: independent refusals);
    - a person under no party is in good standing, undeterred and accepted.

    With one party over everyone, this is the game of a one-scheme run, bit for bit.
    """

    def __init__(
        self,
        spec: Contracts,
        act: int,
        seed: int,
        cell: np.ndarray,
        parties: Sequence[Party],
    ) -> None:
        self.spec = spec
        self.act = act
        self.seed = seed
        self.cell = cell
        self.n = len(cell)
        self.parties = tuple(parties)
        #: each person's strategy, drawn once per run
        self.strategy = strategies(spec, self.n, seed)
        #: uint8[n]: the month's broken contracts by obligor, which each party's step reads as
        #: acts (``Traits.injected``, a view of the party's rows)
        self.injected = np.zeros(self.n, np.uint8)
        #: whether some party has an effect on contracts: partners refuse
        self.refusing = any(p.refusing for p in self.parties)

    @staticmethod
    def columns(party: Party) -> tuple[str, ...]:
        """The tallies a party's record gains (``extra``), by month and cell: the contracts
        its people sought as obligors, kept, kept had there been no scheme, and, where its
        scheme has an effect on contracts, refused (by a partner under any party's effect)."""
        names = ("contracts", "contracts_kept", "contracts_kept_without_scheme")
        return (*names, "contracts_refused") if party.refusing else names

    def allocate(self) -> None:
        """Each party's tallies (:meth:`columns`), its months by its cells, in its record."""
        for p in self.parties:
            for name in self.columns(p):
                p.run.record.extra[name] = np.zeros((p.steps, p.cells), np.int64)

    def play(self, k: int, live: Sequence[Party]) -> Deals:
        """Engine step ``k``'s contracts, on the standing of the parties in force (``live``) as
        last month ended; the breaches go into :attr:`injected`."""
        spec, seed = self.spec, self.seed
        obligor, partner = partners(spec, self.n, seed, k)
        m = len(obligor)
        both = np.concatenate([obligor, partner])
        good = self._standing(both, live)
        # an opportunist performs for fear of the schemes with 1 - the act's deterrence factor
        fear = 1.0 - self._deterrence(obligor, live, k)
        kept, kept_without = play_month(
            spec, self.strategy[obligor], good[:m], good[m:], fear, seed, k
        )
        # refused contracts are never made: neither kept nor broken
        refused = self._refusals(obligor, partner, live, k)
        made = ~refused if refused is not None else np.ones(m, bool)
        kept &= made
        broken = np.bincount(obligor[made & ~kept], minlength=self.n)
        self.injected[:] = np.minimum(broken, 255)
        return Deals(obligor, kept, kept_without, refused)

    def tally(self, deals: Deals, party: Party, t: int) -> None:
        """Month ``t`` of ``party``'s record: its people's contracts as obligors, by cell."""
        inside = party.inside(deals.obligor)
        pick: slice | np.ndarray = slice(None) if inside is None else inside
        cell = self.cell[deals.obligor[pick]]
        extra, cells = party.run.record.extra, party.cells
        if deals.refused is not None and party.refusing:
            extra["contracts_refused"][t] = np.bincount(cell[deals.refused[pick]], minlength=cells)
        extra["contracts"][t] = np.bincount(cell, minlength=cells)
        extra["contracts_kept"][t] = np.bincount(cell[deals.kept[pick]], minlength=cells)
        extra["contracts_kept_without_scheme"][t] = np.bincount(
            cell[deals.kept_without[pick]], minlength=cells
        )

    @staticmethod
    def _standing(rows: np.ndarray, live: Sequence[Party]) -> np.ndarray:
        """bool: in good standing, on none of the blacklists and in none of the lowest grades
        of the parties in force over them."""
        good = np.ones(len(rows), bool)
        for p in live:
            inside = p.inside(rows)
            mine = rows - p.lo if inside is None else rows[inside] - p.lo
            state = p.run.state
            ok = state.grade[mine] != p.worst
            if len(p.black):
                ok &= (state.list_since[mine][:, p.black] < 0).all(axis=1)
            if inside is None:
                good &= ok
            else:
                good[inside] &= ok
        return good

    def _deterrence(self, obligor: np.ndarray, live: Sequence[Party], k: int) -> np.ndarray:
        """The act's deterrence factor for each obligor in engine step ``k``: the smallest of
        the parties' in force over them, in their rate class (1: under none)."""
        m = len(obligor)
        sanctioned = np.zeros(m, np.int64)
        where = [(p, p.inside(obligor)) for p in live]
        for p, inside in where:
            mine = obligor - p.lo if inside is None else obligor[inside] - p.lo
            s = (p.run.state.flags[mine] & FLAG_SANCTIONED).astype(np.int64)
            if inside is None:
                sanctioned |= s
            else:
                sanctioned[inside] |= s
        cell = self.cell[obligor]
        det = np.full(m, np.inf)
        for p, inside in where:
            factor = p.deterrence_at(k)
            if inside is None:
                det = np.minimum(det, factor[cell, sanctioned])
            else:
                det[inside] = np.minimum(det[inside], factor[cell[inside], sanctioned[inside]])
        det[np.isinf(det)] = 1.0
        return det

    def _refusals(
        self, obligor: np.ndarray, partner: np.ndarray, live: Sequence[Party], k: int
    ) -> np.ndarray | None:
        """Month ``k``'s contracts that a partner refuses (:func:`refusals`), with each party's
        acceptance the product over the parties in force over it; ``None`` without the effect."""
        if not self.refusing:
            return None
        refusing = [p for p in live if p.refusing]
        dtype = refusing[0].run.state.refuse.dtype if refusing else np.float32
        # the obligor's acceptance in float64, the partner's in the column's type, as refusals()
        accept = self._acceptance(obligor, refusing, np.float64) * self._acceptance(
            partner, refusing, dtype
        )
        out: np.ndarray = (
            uniforms(step_key(self.seed, STREAM_REFUSE, k + 1), len(obligor), 0) >= accept
        )
        return out

    @staticmethod
    def _acceptance(rows: np.ndarray, refusing: Sequence[Party], dtype: Any) -> np.ndarray:
        out = np.ones(len(rows), dtype)
        for p in refusing:
            inside = p.inside(rows)
            refuse = p.run.state.refuse
            if inside is None:
                out *= 1.0 - refuse[rows - p.lo].astype(dtype)
            else:
                out[inside] *= 1.0 - refuse[rows[inside] - p.lo].astype(dtype)
        return out
