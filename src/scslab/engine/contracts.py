"""Contracts between people, played as donation games whose breaches the scheme records.

A contract is one donation of the reputation games (:mod:`scslab.games`): the *obligor* either
performs (cooperates) or breaks the contract (defects) toward a *partner*. Broken contracts are
true acts of the catalogue's ``contract-breach`` kind, so the scheme observes, records and scores
them like any other act, false records included; the catalogue's own rate for that act is set to
zero, so that every breach comes from a game.

Who breaks a contract:

- **opportunists** (ALLD) break it, unless the scheme deters them: an opportunist performs with
  probability ``1 - d``, where ``d`` is the deterrence factor the engine applies to the act in the
  opportunist's cell and class (``RateTables.deterrence``; 1 without a scheme);
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
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

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
