"""Synthetic individuals: traits as columns, generated from documented distributions.

Every person is a row index. Traits are small integer columns (``uint8`` levels, ``int32``
household ids); their labels live in the :class:`PopulationSpec`. People are adults (18+), because
the schemes score adults. A population spec with ``children:`` adds children as rows of their
households, in an age level of their own (``0-17``), unscored until they come of age at 18; then
everyone has a month of birth (:attr:`Population.birth`) and ages over the run.

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
#: the age level of children, after the adults' so that adult codes stay as they are
CHILD_BAND = "0-17"
#: the age in months at which each adult band begins, and where the ages drawn for the last one
#: end (assumed: 80 years); children are 0 to 215 months old
BAND_START_MONTHS = (216, 360, 540, 720)
OLDEST_MONTHS = 960
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


class Children(_Spec):
    """Children under 18 in each household, drawn per household; their ages are spread evenly
    over 0 to 17 years (assumed). ``inherit_record`` says whether a parent's record follows a
    child who comes of age (see docs/scenarios.md)."""

    per_household: Shares = Shares(
        values={"0": 0.45, "1": 0.40, "2": 0.13, "3": 0.02}, assumed=True
    )
    inherit_record: bool = Field(
        default=False,
        description=(
            "a child who comes of age starts from the score (with its causes and last negative "
            "record) of the household's lowest-scoring adult, instead of the base"
        ),
    )

    @model_validator(mode="after")
    def _check(self) -> Children:
        for k in self.per_household.values:
            if not k.isdigit() or not 0 <= int(k) <= 8:
                raise ValueError("children.per_household levels are counts of children 0..8")
        return self

    def mean(self) -> float:
        return sum(int(k) * p for k, p in self.per_household.values.items())


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

    children: Children | None = Field(
        default=None,
        description=(
            "children under 18 in households (rows of the population, unscored until 18); "
            "with them everyone ages month by month. `agents` still counts adults"
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
            "age": self.age_levels(),
            "income": INCOME_BANDS,
        }

    def age_levels(self) -> tuple[str, ...]:
        """The age bands, with the children's last when there are children."""
        return AGE_BANDS + ((CHILD_BAND,) if self.children is not None else ())

    def expected_people(self, agents: int | None = None) -> int:
        """Rows the population will have: ``agents`` adults, and their children if any."""
        n = self.agents if agents is None else agents
        if self.children is None:
            return n
        adults = sum(int(k) * p for k, p in self.household_adults.values.items())
        return n + int(np.ceil(n / adults * self.children.mean()))

    def n_cells(self) -> int:
        return len(self.regions) * len(HUKOU) * len(self.age_levels()) * len(INCOME_BANDS)

    def cells(self) -> Cells:
        """The (region, hukou, age, income) cells that rates and results are kept by."""
        return Cells(self.levels(), self.regions)

    def cell_shares(self) -> np.ndarray:
        """The expected share of people in each cell (cell order of :meth:`cells`)."""
        region = np.array([r.share for r in self.regions])
        urban = np.array([r.urban_hukou for r in self.regions])
        hukou = np.stack([urban, 1.0 - urban], axis=1)  # [region, hukou]
        age = self.age.probabilities(AGE_BANDS)  # of adults, whom the rates are solved for
        if self.children is not None:
            age = np.append(age, 0.0)
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

    def minor(self) -> np.ndarray:
        """Whether each cell holds children (age level ``0-17``): unscored, with no acts."""
        names = list(self.levels)
        if "age" not in self.levels or CHILD_BAND not in self.levels["age"]:
            return np.zeros(self.n_cells(), bool)
        k = names.index("age")
        out: np.ndarray = self.traits()[:, k] == self.levels["age"].index(CHILD_BAND)
        return out


@dataclass(eq=False)
class Population:
    """People as columns. ``cell`` indexes the (region, hukou, age, income) combination.

    ``network`` and ``firms`` are seams for social ties and enterprises; they stay ``None`` until
    a generator for them is given. ``birth`` (with children only) is each person's month of
    birth, counted from month 0 of the run (negative: before it); ``age`` is the band at month 0.
    """

    spec: PopulationSpec
    region: np.ndarray
    hukou: np.ndarray
    age: np.ndarray
    income: np.ndarray
    household: np.ndarray
    network: Any = None
    firms: Any = None
    birth: np.ndarray | None = None
    cell: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        ages = len(self.spec.age_levels())
        self.cell = cell_index(self.region, self.hukou, self.age, self.income, ages)

    @property
    def n(self) -> int:
        return int(self.region.shape[0])

    def trait_columns(self) -> dict[str, np.ndarray]:
        return {"region": self.region, "hukou": self.hukou, "age": self.age, "income": self.income}

    @property
    def nbytes(self) -> int:
        birth = () if self.birth is None else (self.birth,)
        columns = (*self.trait_columns().values(), self.household, self.cell, *birth)
        return sum(a.nbytes for a in columns)

    @property
    def children(self) -> int:
        """How many of the people are children (at month 0)."""
        if self.spec.children is None:
            return 0
        return int((self.age == len(AGE_BANDS)).sum())


def cell_index(
    region: np.ndarray,
    hukou: np.ndarray,
    age: np.ndarray,
    income: np.ndarray,
    ages: int = len(AGE_BANDS),
) -> np.ndarray:
    """The cell of each person: ``((region * 2 + hukou) * ages + age) * 5 + income``, with
    ``ages`` age levels (4, or 5 with children)."""
    c = region.astype(np.uint16) * len(HUKOU) + hukou
    c = c * ages + age
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


@njit(cache=True)
def _add_children(
    region: np.ndarray,
    hukou: np.ndarray,
    age: np.ndarray,
    income: np.ndarray,
    household: np.ndarray,
    seed: int,
    count_cum: np.ndarray,
    counts: np.ndarray,
    band_start: np.ndarray,  # int64[bands + 1]: months where each adult band starts, then the end
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The adults (in draw order, households contiguous) with each household's children after its
    adults, and everyone's month of birth. New keys of the population stream, so that the
    adults' own draws stay as they are: children per household (step 2), a child's age (3), an
    adult's age in months within the band (4)."""
    n = region.shape[0]
    ckey = step_key(seed, STREAM_POPULATION, 2)
    kkey = step_key(seed, STREAM_POPULATION, 3)
    akey = step_key(seed, STREAM_POPULATION, 4)
    H = household[n - 1] + 1 if n > 0 else 0
    kids = np.empty(H, np.int64)
    total = n
    for h in range(H):
        kids[h] = counts[_pick(uniform(ckey, h, 0), count_cum)]
        total += kids[h]
    out = (
        np.empty(total, np.uint8),
        np.empty(total, np.uint8),
        np.empty(total, np.uint8),
        np.empty(total, np.uint8),
        np.empty(total, np.int32),
    )
    birth = np.empty(total, np.int16)
    child = len(band_start) - 1  # the children's age code, after the adult bands
    w = 0
    j = 0  # children so far: the slot of each child's age draw
    first = 0
    for i in range(n):
        h = household[i]
        if i == 0 or household[i - 1] != h:
            first = i
        out[0][w], out[1][w], out[2][w] = region[i], hukou[i], age[i]
        out[3][w], out[4][w] = income[i], h
        lo, hi = band_start[age[i]], band_start[age[i] + 1]
        birth[w] = -(lo + np.int64(uniform(akey, i, 0) * (hi - lo)))
        w += 1
        if i == n - 1 or household[i + 1] != h:
            for _ in range(kids[h]):
                out[0][w], out[1][w], out[2][w] = region[i], hukou[i], child
                out[3][w], out[4][w] = income[first], h  # the household's first adult's band
                birth[w] = -np.int64(uniform(kkey, j, 0) * band_start[0])
                w += 1
                j += 1
    return out[0], out[1], out[2], out[3], out[4], birth


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
    birth = None
    if spec.children is not None:
        kids = np.array(sorted(int(k) for k in spec.children.per_household.values), np.int64)
        kid_p = np.array([spec.children.per_household.values[str(k)] for k in kids])
        region, hukou, age, inc, household, birth = _add_children(
            region,
            hukou,
            age,
            inc,
            household,
            seed,
            np.cumsum(kid_p),
            kids,
            np.array((*BAND_START_MONTHS, OLDEST_MONTHS), np.int64),
        )
        n = len(region)
    # Lay people out by region and hukou (households stay together), so that friends, who are
    # mostly of one's own kind, sit close in memory when a step reads their scores.
    order = np.argsort(region.astype(np.int64) * len(HUKOU) + hukou, kind="stable")
    region, hukou, age, inc, household = (a[order] for a in (region, hukou, age, inc, household))
    if birth is not None:
        birth = birth[order]
    starts = np.empty(n, bool)
    starts[:1] = True
    np.not_equal(household[1:], household[:-1], out=starts[1:])
    household = (np.cumsum(starts) - 1).astype(np.int32)
    return Population(spec, region, hukou, age, inc, household, birth=birth)
