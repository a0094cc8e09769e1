"""Synthetic firms: sector, size, region and the people who run them, as columns.

A firm's managers are people of the population: its *legal representative* and, in firms above
micro size, further *directors*. Joint punishment runs through them both ways (see the
``corporate-scs`` scheme): a listed firm restricts its legal representative, and a firm whose
legal representative or a director is on a people's blacklist is restricted in turn.

Every number here is assumed unless it says otherwise: no source gives sector or size shares,
board sizes or closure rates for the firms the system rates. The firm count follows the State
Taxation Administration's 25.69 M rated taxpayers (docs/sources.md#tax-ratings) over China's
population.
Firms are drawn with counter-based randomness (:mod:`scslab.rng`, stream ``STREAM_FIRMS``), so
they are a pure function of the people, the spec and the seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

import numpy as np
from pydantic import Field, model_validator

from scslab.errors import ScenarioError
from scslab.population.individuals import (
    AGE_BANDS,
    INCOME_BANDS,
    Cells,
    Population,
    Region,
    Shares,
    _Spec,
)
from scslab.rng import STREAM_FIRMS, step_key, uniforms

#: The six key sectors of the corporate system (docs/sources.md#corporate), and the rest.
SECTORS = (
    "automotive",
    "agriculture-food",
    "pharmaceuticals",
    "transport-logistics",
    "telecoms",
    "e-commerce",
    "other",
)
SIZES = ("micro", "small", "medium", "large")
#: How carefully a firm keeps the rules: most violations come from a few firms (assumed).
CONDUCT = ("diligent", "ordinary", "negligent")
FIRM_TRAITS = ("region", "sector", "size", "conduct")


class FirmSpec(_Spec):
    """How to draw the firms of a population, and the scheme that scores the people in them.

    ``violation_scale`` and ``award_scale`` multiply the firm catalogue's unlawful and lawful
    act rates. Their defaults are fitted by :func:`scslab.firms.calibrate` so that a year of
    ``corporate-scs`` reproduces the STA's 2018 shares of A (4.89 %) and D (7.01 %) ratings;
    ``docs/firms.md`` shows how to refit them.
    """

    per_thousand_people: Annotated[float, Field(gt=0, le=500)] = Field(
        default=18.0,
        description=(
            "firms per 1,000 people: the STA rated 25.69 M taxpayers "
            "(docs/sources.md#tax-ratings) among about 1.4 billion people (assumed)"
        ),
    )
    sectors: Shares = Shares(
        values={
            "automotive": 0.03,
            "agriculture-food": 0.10,
            "pharmaceuticals": 0.02,
            "transport-logistics": 0.08,
            "telecoms": 0.02,
            "e-commerce": 0.10,
            "other": 0.65,
        },
        assumed=True,
    )
    sizes: Shares = Shares(
        values={"micro": 0.80, "small": 0.15, "medium": 0.04, "large": 0.01}, assumed=True
    )
    conduct: Shares = Shares(
        values={"diligent": 0.3, "ordinary": 0.6, "negligent": 0.1}, assumed=True
    )
    directors: dict[str, Annotated[int, Field(le=20)]] = Field(
        default_factory=lambda: {"micro": 1, "small": 2, "medium": 3, "large": 5},
        description=(
            "managers per firm by size, the legal representative first; every firm has one "
            "(assumed)"
        ),
    )
    monthly_closure: Annotated[float, Field(ge=0, lt=1)] = Field(
        default=0.008,
        description=(
            "share of firms that close each month; each is replaced by a new firm in the same "
            "sector, size and hands, which the STA rates M for its first year (assumed)"
        ),
    )
    history_months: Annotated[int, Field(ge=0, le=600)] = Field(
        default=60,
        description=(
            "months the firms live under the scheme before the run records anything, so that "
            "month 0 looks like a going concern rather than the day every firm was new (assumed)"
        ),
    )
    people_scheme: str = Field(
        default="defaulter-blacklist",
        description="the scheme that scores the people, whose blacklists reach the firms they run",
    )
    acts: str | None = Field(default=None, description="a firm act catalogue; default: built-in")
    # fitted by `scslab calibrate firms` (default scenario, seed 0): docs/firms.md
    violation_scale: Annotated[float, Field(gt=0, le=100)] = Field(
        default=2.1, description="multiplies unlawful firm act rates; fitted to sta-2019"
    )
    award_scale: Annotated[float, Field(gt=0, le=100)] = Field(
        default=0.3242, description="multiplies lawful firm act rates; fitted to sta-2019"
    )

    @model_validator(mode="after")
    def _check(self) -> FirmSpec:
        self.sectors.probabilities(SECTORS)
        self.sizes.probabilities(SIZES)
        self.conduct.probabilities(CONDUCT)
        unknown = sorted(set(self.directors) - set(SIZES))
        if unknown:
            raise ValueError(f"directors: unknown sizes {unknown}; sizes are {', '.join(SIZES)}")
        for size in SIZES:
            k = self.directors.get(size, 0)
            if k < 1:
                raise ValueError(
                    f"directors.{size} is {k}: a firm with no legal representative cannot be "
                    "scored or punished jointly; give every size at least 1"
                )
        return self

    def count(self, people: int) -> int:
        """Firms in a population of ``people``: at least one."""
        return max(1, round(people * self.per_thousand_people / 1000))

    def managers(self, people: int) -> int:
        """Expected number of managers (legal representatives and directors) of all firms."""
        mean = sum(self.sizes.values.get(s, 0.0) * self.directors[s] for s in SIZES)
        return int(np.ceil(self.count(people) * mean))

    def cells(self, regions: tuple[Region, ...]) -> Cells:
        """The (region, sector, size, conduct) cells of the firms; a firm's region is its
        legal representative's."""
        levels = {
            "region": tuple(r.id for r in regions),
            "sector": SECTORS,
            "size": SIZES,
            "conduct": CONDUCT,
        }
        return Cells(levels, regions)

    def cell_shares(self, regions: tuple[Region, ...]) -> np.ndarray:
        """The expected share of firms in each cell (cell order of :meth:`cells`), taking a
        firm's region to be distributed as people's are."""
        out = np.array([r.share for r in regions])
        for shares, levels in (
            (self.sectors, SECTORS),
            (self.sizes, SIZES),
            (self.conduct, CONDUCT),
        ):
            out = np.multiply.outer(out, shares.probabilities(levels))
        return np.ascontiguousarray(out.ravel())


@dataclass(eq=False)
class Firms:
    """Firms as columns. Row ``f`` is firm ``f``.

    ``managers[manager_start[f]:manager_start[f + 1]]`` are the people who run firm ``f``; the
    first is its legal representative (``representative[f]``). No person runs two firms.
    ``household`` is each firm's own index: firms have no households, and the engine reads a
    firm's managers' listings through the per-household trigger slot instead (see
    :mod:`scslab.engine.simulation`).
    """

    region: np.ndarray  # uint8[F]
    sector: np.ndarray  # uint8[F]
    size: np.ndarray  # uint8[F]
    conduct: np.ndarray  # uint8[F]
    representative: np.ndarray  # int32[F]: the legal representative, a person index
    manager_start: np.ndarray  # int64[F + 1]
    managers: np.ndarray  # int32[M]
    age: np.ndarray  # int16[F]: months since founding, at the start of the run
    n_regions: int
    network: None = None
    household: np.ndarray = field(init=False)
    cell: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.household = np.arange(self.n, dtype=np.int32)
        c = (self.region.astype(np.uint16) * len(SECTORS) + self.sector) * len(SIZES) + self.size
        self.cell = (c * len(CONDUCT) + self.conduct).astype(np.uint16)

    @property
    def n(self) -> int:
        return int(self.region.shape[0])

    def trait_columns(self) -> dict[str, np.ndarray]:
        return {
            "region": self.region,
            "sector": self.sector,
            "size": self.size,
            "conduct": self.conduct,
        }

    def of_regions(self, first: int, end: int) -> Firms:
        """The firms of regions ``first .. end - 1`` (a firm's region is its legal
        representative's), in their order, renumbered from 0, with their managers."""
        keep = np.flatnonzero((self.region >= first) & (self.region < end))
        sizes = np.diff(self.manager_start)[keep]
        start = np.zeros(len(keep) + 1, np.int64)
        np.cumsum(sizes, out=start[1:])
        own = np.repeat(self.manager_start[keep], sizes) + (
            np.arange(int(start[-1])) - np.repeat(start[:-1], sizes)
        )
        return Firms(
            region=self.region[keep],
            sector=self.sector[keep],
            size=self.size[keep],
            conduct=self.conduct[keep],
            representative=self.representative[keep],
            manager_start=start,
            managers=self.managers[own],
            age=self.age[keep],
            n_regions=self.n_regions,
        )

    def firm_of_manager(self) -> np.ndarray:
        """The firm each manager runs, aligned with :attr:`managers`."""
        out: np.ndarray = np.repeat(np.arange(self.n, dtype=np.int32), np.diff(self.manager_start))
        return out

    @property
    def nbytes(self) -> int:
        cols = [*self.trait_columns().values(), self.representative, self.age, self.cell]
        return sum(a.nbytes for a in cols) + self.manager_start.nbytes + self.managers.nbytes


#: How likely a person is to run a firm, relative to others, by age band and income band.
#: Founders are mostly of working age and better off (assumed).
_AGE_WEIGHT = dict(zip(AGE_BANDS, (0.5, 2.0, 2.0, 0.5), strict=True))
_INCOME_WEIGHT = dict(zip(INCOME_BANDS, (0.25, 0.5, 1.0, 2.0, 4.0), strict=True))


def generate_firms(people: Population, spec: FirmSpec, seed: int) -> Firms:
    """Draw the firms of ``people`` and choose their managers among them.

    Managers are drawn without replacement, weighted by age and income (Efraimidis-Spirakis
    keys over counter-based uniforms): each person runs at most one firm.
    """
    n_firms = spec.count(people.n)
    key = step_key(seed, STREAM_FIRMS, 0)
    u = uniforms(key, n_firms, 0)
    sector = _pick(u, spec.sectors.probabilities(SECTORS))
    size = _pick(uniforms(key, n_firms, 1), spec.sizes.probabilities(SIZES))
    conduct = _pick(uniforms(key, n_firms, 3), spec.conduct.probabilities(CONDUCT))
    per_firm = np.array([spec.directors[s] for s in SIZES], np.int64)[size]
    start = np.zeros(n_firms + 1, np.int64)
    np.cumsum(per_firm, out=start[1:])
    need = int(start[-1])
    if need > people.n:
        raise ScenarioError(
            f"{n_firms:,} firms need {need:,} managers (a legal representative each, and "
            f"directors), and the population has only {people.n:,} people; use more agents or "
            "fewer firms (firms.per_thousand_people)"
        )
    weight = (
        # children (the age level after the adults', where there are any) run no firm
        np.array([_AGE_WEIGHT[a] for a in AGE_BANDS] + [0.0])[people.age]
        * np.array([_INCOME_WEIGHT[i] for i in INCOME_BANDS])[people.income]
    )
    # largest log(u) / w first: a weighted sample without replacement
    pkey = step_key(seed, STREAM_FIRMS, 1)
    with np.errstate(divide="ignore"):  # a weight of 0: -inf, never chosen
        score = np.log(np.maximum(uniforms(pkey, people.n, 0), 1e-300)) / weight
    chosen = np.argpartition(-score, need - 1)[:need] if need < people.n else np.arange(need)
    chosen = chosen[np.argsort(-score[chosen], kind="stable")].astype(np.int32)
    # the best-placed founders become the legal representatives, the rest directors, in order
    managers = np.empty(need, np.int32)
    managers[start[:-1]] = chosen[:n_firms]
    rest = np.ones(need, bool)
    rest[start[:-1]] = False
    managers[rest] = chosen[n_firms:]
    representative = managers[start[:-1]]
    # ages of a steady population with this closure rate: geometric in months
    closure = max(spec.monthly_closure, 1e-6)
    age_u = np.maximum(uniforms(key, n_firms, 2), 1e-300)
    age = np.minimum(np.floor(np.log(age_u) / np.log1p(-closure)), 20_000).astype(np.int16)
    return Firms(
        region=people.region[representative].astype(np.uint8),
        sector=sector.astype(np.uint8),
        size=size.astype(np.uint8),
        conduct=conduct.astype(np.uint8),
        representative=representative,
        manager_start=start,
        managers=managers,
        age=age,
        n_regions=len(people.spec.regions),
    )


def _pick(u: np.ndarray, p: np.ndarray) -> np.ndarray:
    """The level each uniform falls in under probabilities ``p``."""
    cum = np.cumsum(p)
    cum[-1] = 1.0
    out: np.ndarray = np.minimum(np.searchsorted(cum, u, side="right"), len(p) - 1)
    return out
