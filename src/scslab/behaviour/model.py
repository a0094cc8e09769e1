"""What people truly do, how it is observed, and how they adapt: the behaviour specification.

Schemes score *events*; people commit *acts*. The catalogue of acts is shared by every scheme, so
that two schemes run on the same population see the same true behaviour (common random numbers)
and differ only in what they record and score. Each act has a base rate per agent-year, trait
multipliers, and the observation channels that can see it. The defaults ship as
``behaviour/acts.yaml``; every number there names its source or is marked ``assumed``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from scslab.schemes.model import ChannelId, Domain, Right, Slug, range_problems

Trait = Literal["region", "hukou", "age", "income", "sector", "size", "conduct"]
Probability = Annotated[float, Field(ge=0, le=1)]
#: attempt acts a catalogue may have: the step holds those refused to a person as int64 bits
MAX_ATTEMPTS = 62


class _Sourced(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str | None = None
    assumed: bool = False
    ranges: dict[str, tuple[float, float]] = Field(
        default_factory=dict,
        description=(
            "an assumed number's plausible range, by its field, e.g. {rate: [0.2, 2]}; "
            "`scslab assumptions` varies it across it (docs/audit.md)"
        ),
    )

    @model_validator(mode="after")
    def _one_origin(self) -> _Sourced:
        if (self.source is None) == (not self.assumed):
            raise ValueError("give source: TEXT or assumed: true (exactly one)")
        for problem in range_problems(self, self.ranges):
            raise ValueError(problem)
        return self


class Act(_Sourced):
    """One kind of true behaviour, with its base rate and who observes it."""

    id: Slug
    name: str
    domain: Domain
    rights: tuple[Right, ...] = ()
    lawful: bool = Field(description="true for lawful activity: good deeds and protected rights")
    rate: Annotated[float, Field(ge=0, le=120)] = Field(description="acts per agent-year")
    measured_under: Slug | None = Field(
        default=None,
        description=(
            "the scheme in place when the rate was measured: none (the default) for a latent "
            "propensity, or a scheme's id for an observed flow, which already holds that "
            "scheme's deterrence (the engine solves for the latent rate; docs/scenarios.md)"
        ),
    )
    attempt: bool = Field(
        default=False,
        description=(
            "an attempt to buy or use something that a sanction may refuse (a scheme's "
            "`blocks:`); drawn from streams of its own, and never scored"
        ),
    )
    multipliers: dict[Trait, dict[str, Annotated[float, Field(ge=0, le=100)]]] = Field(
        default_factory=dict,
        description="rate multipliers by trait level, e.g. {income: {low: 1.5}}; unnamed levels: 1",
    )
    channels: dict[ChannelId, Probability] = Field(
        default_factory=dict,
        description="probability that each channel records the act; camera: within its coverage",
    )


class Channel(_Sourced):
    """An observation channel: its false records per true detection of the same act."""

    id: ChannelId
    name: str
    false_record_ratio: Annotated[float, Field(ge=0, le=10)] = Field(
        description="false records made per true record (cameras: the false-match rate)"
    )


class Catalogue(BaseModel):
    """The acts people commit and the channels that observe them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    acts: tuple[Act, ...] = Field(min_length=1)
    channels: tuple[Channel, ...]

    @model_validator(mode="after")
    def _consistent(self) -> Catalogue:
        ids = [a.id for a in self.acts]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"act ids must be unique; repeated: {', '.join(sorted(dup))}")
        attempts = [a.id for a in self.acts if a.attempt]
        if len(attempts) > MAX_ATTEMPTS:
            raise ValueError(f"at most {MAX_ATTEMPTS} acts can be attempts; found {len(attempts)}")
        have = {c.id for c in self.channels}
        missing = sorted({c for a in self.acts for c in a.channels} - have)
        if missing:
            raise ValueError(f"acts use channels that are not defined: {', '.join(missing)}")
        return self

    def act(self, act_id: str) -> Act:
        for a in self.acts:
            if a.id == act_id:
                return a
        raise KeyError(act_id)


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Deterrence(_Frozen):
    """People commit fewer scored offences as the expected penalty grows.

    An act's rate is multiplied by ``exp(-elasticity * P(recorded) * penalty)``. The penalty is
    the points the scheme deducts divided by a tenth of the score range, plus
    ``list_entry_points / 100`` if the act puts one on a list, weighted by
    ``1 + sanctioned_salience`` for people under an active sanction. All assumed.
    """

    enabled: bool = True
    elasticity: Annotated[float, Field(ge=0, le=100)] = 1.0
    sanctioned_salience: Annotated[float, Field(ge=0, le=100)] = 1.0


class Chilling(_Frozen):
    """Lawful, rights-tagged activity falls when a scheme scores it: the chilling effect.

    Same form as :class:`Deterrence`, applied to acts with rights tags. Assumed.
    """

    enabled: bool = True
    elasticity: Annotated[float, Field(ge=0, le=100)] = 1.0


class TieCutting(_Frozen):
    """People drop friends who score low and befriend someone of their own kind instead.

    Each month, each tie to a friend whose score was below ``below`` last month is cut with
    ``probability`` and replaced by a tie to a random person of one's own region, hukou and income
    band. Ties are each person's own: cutting changes the cutter's list of friends only. Assumed.
    """

    enabled: bool = False
    probability: Annotated[float, Field(ge=0, le=1)] = 0.05
    below: int | None = Field(
        default=None,
        description=(
            "a friend below this score is 'low'; default: the threshold of the first "
            "friends-below network rule"
        ),
    )


class RewardSeeking(_Frozen):
    """Lawful acts that earn points or a redlist entry rise with what they earn: the mirror of
    :class:`Deterrence`. An act's rate is multiplied by ``exp(elasticity * P(recorded) * value)``,
    the value being the points the scheme adds divided by a tenth of the score range, plus
    ``list_entry_points / 100`` if the act puts one on a redlist. Everyone alike. Assumed."""

    enabled: bool = False
    elasticity: Annotated[float, Field(ge=0, le=100)] = 0.5


class Gaming(_Frozen):
    """A ``share`` of people learn which lawful acts the scheme scores with points and do them
    ``1 + shift`` times as often, whatever the points: the mean rate of each such act rises by
    ``1 + share * shift`` in every cell (a mean over the people, not a mark on each). Assumed."""

    enabled: bool = False
    share: Annotated[float, Field(ge=0, le=1)] = 0.1
    shift: Annotated[float, Field(ge=0, le=100)] = 1.0


class Avoidance(_Frozen):
    """People under a sanction move a ``share`` of what they do off observed platforms (cash
    instead of payment apps, other accounts): while they are sanctioned the platform channels
    (``bank``, ``social-media``) record their acts ``1 - share`` times as often. Assumed."""

    enabled: bool = False
    share: Annotated[float, Field(ge=0, le=1)] = 0.3
    channels: tuple[str, ...] = ("bank", "social-media")


class Adaptation(_Frozen):
    deterrence: Deterrence = Deterrence()
    chilling: Chilling = Chilling()
    tie_cutting: TieCutting = TieCutting()
    reward_seeking: RewardSeeking = RewardSeeking()
    gaming: Gaming = Gaming()
    avoidance: Avoidance = Avoidance()
    list_entry_points: Annotated[int, Field(ge=0, le=10_000)] = Field(
        default=200,
        description="the penalty, in points, that people feel a list entry to be (assumed)",
    )


class Observation(_Frozen):
    """How acts become records; channel detection and false-record ratios are in the catalogue."""

    camera_false_match_rate: Annotated[float, Field(ge=0, le=1)] | None = Field(
        default=None,
        description="face-recognition false matches per true camera record (overrides catalogue)",
    )
    camera_reach: Annotated[float, Field(ge=0, le=1000)] = Field(
        default=5.0,
        description=(
            "coverage = 1 - exp(-camera_reach * cameras_per_person); 5 gives about half of public "
            "acts in view at China's 2018 density of one camera per 7 people (assumed)"
        ),
    )
    false_records: bool = Field(
        default=True, description="switch off to get the paired run without false records"
    )
    record_share: Annotated[float, Field(gt=0, le=1)] = Field(
        default=1.0,
        description=(
            "share of what the channels record that reaches the scheme (true and false records "
            "alike): below 1 for a pilot whose office gathered departments' records by hand "
            "(the engine's setting; the built-in suining-2010 leaves it at 1 and fits "
            "published_share instead: docs/calibration.md)"
        ),
    )
    published_share: Annotated[float, Field(gt=0, le=1)] = Field(
        default=1.0,
        description=(
            "share of a scheme's list that its published figures show: calibration targets of a "
            "list (stock, entries, exits) are compared with ours times this share. It acts on "
            "what targets read, never on the run (Suining 2010, fitted in its built-in scenario)"
        ),
    )
