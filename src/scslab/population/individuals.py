"""Synthetic individuals: traits as columns, generated from documented distributions.

Every person is a row index. Traits are small integer columns (``uint8`` levels, ``int32``
household ids); their labels live in the :class:`PopulationSpec`. People are adults (18+), because
the schemes score adults; children appear only as a household property that later rules may use.

Households are laid out contiguously and share region and hukou; people are ordered by region
and hukou, so that the rows of one region sit together. Ages and incomes are drawn per
person, income conditional on hukou. All draws are counter-based (:mod:`scslab.rng`), so a
population is a pure function of its spec and seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

import numpy as np
from numba import njit
from pydantic import BaseModel, ConfigDict, Field, model_validator

from scslab.rng import STREAM_POPULATION, step_key, uniform
from scslab.schemes.model import Slug

HUKOU = ("urban", "rural")
AGE_BANDS = ("18-29", "30-44", "45-59", "60+")
INCOME_BANDS = ("low", "lower-middle", "middle", "upper-middle", "high")
TRAITS = ("region", "hukou", "age", "income")

Share = Annotated[float, Field(ge=0, le=1)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Shares(_Spec):
    """A distribution over named levels, with where it comes from."""

    values: dict[str, Share]
    source: str | None = None
    assumed: bool = False

    @model_validator(mode="after")
    def _check(self) -> Shares:
        total = sum(self.values.values())
        if abs(total - 1) > 1e-6:
            raise ValueError(f"shares must add up to 1, they add up to {total:g}")
        if (self.source is None) == (not self.assumed):
            raise ValueError("give source: TEXT or assumed: true (exactly one)")
        return self

    def probabilities(self, levels: tuple[str, ...]) -> np.ndarray:
        unknown = set(self.values) - set(levels)
        if unknown:
            raise ValueError(f"unknown levels {sorted(unknown)}; use {', '.join(levels)}")
        return np.array([self.values.get(k, 0.0) for k in levels], np.float64)


class Region(_Spec):
    """A part of the county: its share of people, hukou mix and camera density."""

    id: Slug
    share: Share
    urban_hukou: Share = Field(description="share of people with urban hukou")
    cameras_per_person: Annotated[float, Field(ge=0, le=10)] = Field(
        description="CCTV cameras per person; China 2018: about 1 per 7 "
        "(docs/sources.md#surveillance)"
    )


_ASSUMED_REGIONS = (
    Region(id="city-centre", share=0.30, urban_hukou=0.85, cameras_per_person=0.25),
    Region(id="suburbs", share=0.25, urban_hukou=0.60, cameras_per_person=0.15),
    Region(id="towns", share=0.25, urban_hukou=0.35, cameras_per_person=0.08),
    Region(id="villages", share=0.20, urban_hukou=0.10, cameras_per_person=0.03),
)


class PopulationSpec(_Spec):
    """How to draw a synthetic population. Defaults: a county like Rongcheng.

    Sources: the county size follows Rongcheng (about 670,000 people, not yet sourced); the
    national camera density (one per 7 people, 2018) is from docs/sources.md#surveillance and the
    default regions spread it from dense city centre to sparse villages (their mix is assumed).
    Age, income and household shapes are assumed: plausible for a prosperous coastal county, not
    calibrated.
    """

    agents: Annotated[int, Field(gt=0, le=2_000_000_000)] = 670_000
    regions: tuple[Region, ...] = _ASSUMED_REGIONS
    age: Shares = Shares(
        values={"18-29": 0.18, "30-44": 0.26, "45-59": 0.30, "60+": 0.26}, assumed=True
    )
    income_urban: Shares = Shares(
        values={
            "low": 0.12,
            "lower-middle": 0.17,
            "middle": 0.20,
            "upper-middle": 0.24,
            "high": 0.27,
        },
        assumed=True,
    )
    income_rural: Shares = Shares(
        values={
            "low": 0.34,
            "lower-middle": 0.27,
            "middle": 0.20,
            "upper-middle": 0.13,
            "high": 0.06,
        },
        assumed=True,
    )
    household_adults: Shares = Shares(
        values={"1": 0.16, "2": 0.52, "3": 0.20, "4": 0.12}, assumed=True
    )
    neighbourhood_households: Annotated[int, Field(ge=1, le=10_000)] = Field(
        default=10,
        description=(
            "households per neighbourhood group, for collective rules; baojia's smallest unit, "
            "the jia, was ten households (assumed)"
        ),
    )

    @model_validator(mode="after")
    def _check(self) -> PopulationSpec:
        total = sum(r.share for r in self.regions)
        if not self.regions:
            raise ValueError("give at least one region")
        if abs(total - 1) > 1e-6:
            raise ValueError(f"region shares must add up to 1, they add up to {total:g}")
        ids = [r.id for r in self.regions]
        if len(set(ids)) != len(ids):
            raise ValueError("region ids must be unique")
        if len(self.regions) > 64:
            raise ValueError("at most 64 regions")
        for key in ("age", "income_urban", "income_rural"):
            levels = AGE_BANDS if key == "age" else INCOME_BANDS
            getattr(self, key).probabilities(levels)
        for k in self.household_adults.values:
            if not k.isdigit() or not 1 <= int(k) <= 20:
                raise ValueError("household_adults levels are household sizes 1..20")
        return self

    def levels(self) -> dict[str, tuple[str, ...]]:
        """The labels of each trait's levels, in code order."""
        return {
            "region": tuple(r.id for r in self.regions),
            "hukou": HUKOU,
            "age": AGE_BANDS,
            "income": INCOME_BANDS,
        }

    def n_cells(self) -> int:
        return len(self.regions) * len(HUKOU) * len(AGE_BANDS) * len(INCOME_BANDS)

    def cells(self) -> Cells:
        """The (region, hukou, age, income) cells that rates and results are kept by."""
        return Cells(self.levels(), self.regions)

    def cell_shares(self) -> np.ndarray:
        """The expected share of people in each cell (cell order of :meth:`cells`)."""
        region = np.array([r.share for r in self.regions])
        urban = np.array([r.urban_hukou for r in self.regions])
        hukou = np.stack([urban, 1.0 - urban], axis=1)  # [region, hukou]
        age = self.age.probabilities(AGE_BANDS)
        income = np.stack(
            [
                self.income_urban.probabilities(INCOME_BANDS),
                self.income_rural.probabilities(INCOME_BANDS),
            ]
        )  # [hukou, income]
        out = (
            region[:, None, None, None]
            * hukou[:, :, None, None]
            * age[None, None, :, None]
            * income[None, :, None, :]
        )
        return np.ascontiguousarray(out.ravel())


@dataclass(frozen=True, eq=False)
class Cells:
    """The cells of a population of people or firms: every combination of its traits' levels.

    Rates are kept per cell and results are written per cell. ``levels`` names each trait's
    levels in code order; the first trait is always ``region``, and a subject's cell is the
    mixed-radix number of its levels (last trait fastest).
    """

    levels: dict[str, tuple[str, ...]]
    regions: tuple[Region, ...]

    def n_cells(self) -> int:
        return int(np.prod([len(v) for v in self.levels.values()]))

    def traits(self) -> np.ndarray:
        """The level of each trait in every cell, shape ``(n_cells, traits)``."""
        grids = np.meshgrid(*(np.arange(len(v)) for v in self.levels.values()), indexing="ij")
        return np.stack([g.ravel() for g in grids], axis=1).astype(np.int64)

    def region_of(self) -> np.ndarray:
        """The region index of every cell."""
        out: np.ndarray = self.traits()[:, 0]
        return out


@dataclass(eq=False)
class Population:
    """People as columns. ``cell`` indexes the (region, hukou, age, income) combination.

    ``network`` and ``firms`` are seams for social ties and enterprises; they stay ``None`` until
    a generator for them is given.
    """

    spec: PopulationSpec
    region: np.ndarray
    hukou: np.ndarray
    age: np.ndarray
    income: np.ndarray
    household: np.ndarray
    network: Any = None
    firms: Any = None
    cell: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.cell = cell_index(self.region, self.hukou, self.age, self.income)

    @property
    def n(self) -> int:
        return int(self.region.shape[0])

    def trait_columns(self) -> dict[str, np.ndarray]:
        return {"region": self.region, "hukou": self.hukou, "age": self.age, "income": self.income}

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (*self.trait_columns().values(), self.household, self.cell))


def cell_index(
    region: np.ndarray, hukou: np.ndarray, age: np.ndarray, income: np.ndarray
) -> np.ndarray:
    """The cell of each person: ``((region * 2 + hukou) * 4 + age) * 5 + income``."""
    c = region.astype(np.uint16) * len(HUKOU) + hukou
    c = c * len(AGE_BANDS) + age
    out: np.ndarray = (c * len(INCOME_BANDS) + income).astype(np.uint16)
    return out


@njit(cache=True)
def _pick(u: float, cum: np.ndarray) -> int:
    k = 0
    while k < cum.shape[0] - 1 and u >= cum[k]:
        k += 1
    return k


@njit(cache=True)
def _draw(
    n: int,
    seed: int,
    region_cum: np.ndarray,
    urban_share: np.ndarray,
    size_cum: np.ndarray,
    sizes: np.ndarray,
    age_cum: np.ndarray,
    income_cum: np.ndarray,  # (2, 5): urban, rural
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    hkey = step_key(seed, STREAM_POPULATION, 0)
    pkey = step_key(seed, STREAM_POPULATION, 1)
    region = np.empty(n, np.uint8)
    hukou = np.empty(n, np.uint8)
    age = np.empty(n, np.uint8)
    income = np.empty(n, np.uint8)
    household = np.empty(n, np.int32)
    i = 0
    h = 0
    while i < n:
        size = sizes[_pick(uniform(hkey, h, 0), size_cum)]
        r = _pick(uniform(hkey, h, 1), region_cum)
        rural = 0 if uniform(hkey, h, 2) < urban_share[r] else 1
        for _ in range(size):
            if i >= n:
                break
            region[i] = r
            hukou[i] = rural
            household[i] = h
            age[i] = _pick(uniform(pkey, i, 0), age_cum)
            income[i] = _pick(uniform(pkey, i, 1), income_cum[rural])
            i += 1
        h += 1
    return region, hukou, age, income, household


def generate(spec: PopulationSpec, seed: int, agents: int | None = None) -> Population:
    """Draw a population from ``spec`` (``agents`` overrides ``spec.agents``)."""
    n = spec.agents if agents is None else agents
    sizes = np.array(sorted(int(k) for k in spec.household_adults.values), np.int64)
    size_p = np.array([spec.household_adults.values[str(s)] for s in sizes])
    income = np.stack(
        [
            np.cumsum(spec.income_urban.probabilities(INCOME_BANDS)),
            np.cumsum(spec.income_rural.probabilities(INCOME_BANDS)),
        ]
    )
    region, hukou, age, inc, household = _draw(
        n,
        seed,
        np.cumsum([r.share for r in spec.regions]),
        np.array([r.urban_hukou for r in spec.regions]),
        np.cumsum(size_p),
        sizes,
        np.cumsum(spec.age.probabilities(AGE_BANDS)),
        income,
    )
    # Lay people out by region and hukou (households stay together), so that friends, who are
    # mostly of one's own kind, sit close in memory when a step reads their scores.
    order = np.argsort(region.astype(np.int64) * len(HUKOU) + hukou, kind="stable")
    region, hukou, age, inc, household = (a[order] for a in (region, hukou, age, inc, household))
    starts = np.empty(n, bool)
    starts[:1] = True
    np.not_equal(household[1:], household[:-1], out=starts[1:])
    household = (np.cumsum(starts) - 1).astype(np.int32)
    return Population(spec, region, hukou, age, inc, household)
