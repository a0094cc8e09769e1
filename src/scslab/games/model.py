"""The settings of one reputation game, validated in one place.

:meth:`GameConfig.from_options` is the entry point for a user's settings: every mistake (a
probability outside [0, 1], strategy shares that do not add up to one, an unknown norm, a norm
table of the wrong shape) comes back as one :class:`~scslab.errors.ScenarioError` that lists each
problem.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from scslab.errors import ScenarioError
from scslab.games.kernels import SCORE_MAX, SCORE_MIN
from scslab.games.norms import Norm, resolve_norm

#: Strategy names, in the order of the kernels' codes (ALLD = 0, ALLC = 1, DISC = 2).
STRATEGIES = ("alld", "allc", "disc")
_SHARE_TOLERANCE = 1e-6


def _probability(value: float) -> float:
    if not (0.0 <= value <= 1.0):  # NaN fails too
        raise ValueError(f"a probability must lie between 0 and 1, not {value:g}")
    return value


Probability = Annotated[float, AfterValidator(_probability)]


def _strictness(value: float) -> float:
    if not (0.0 <= value < 1.0):  # NaN fails too; at 1 nobody could ever be judged good
        raise ValueError(
            f"the strictness must lie in [0, 1), not {value:g} (good needs more than "
            "strictness × Q judges saying good)"
        )
    return value


def parse_strategies(text: str) -> dict[str, float]:
    """``"disc=0.6,allc=0.2,alld=0.2"`` -> ``{"disc": 0.6, "allc": 0.2, "alld": 0.2}``."""
    shares: dict[str, float] = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        name = name.strip().lower()
        if not sep or not name:
            raise ValueError(
                f"'{part.strip()}' is not NAME=SHARE (e.g. disc=0.6,allc=0.2,alld=0.2)"
            )
        if name in shares:
            raise ValueError(f"'{name}' is given twice")
        try:
            shares[name] = float(value)
        except ValueError:
            raise ValueError(f"'{part.strip()}': the share must be a number") from None
    return shares


class GameConfig(BaseModel):
    """Who plays, by which norm, seen how, with which errors, for how long.

    A round is ``agents // 2`` disjoint donor–recipient pairs (``pairing="pairs"``) or ``agents``
    donations between a random donor and a random other recipient (``pairing="random"``).
    Rounds are grouped in generations of ``generation`` rounds: payoffs are summed over a
    generation, round ``t`` of it weighted ``discount**t``; with ``fresh_reputations`` everyone
    starts each generation good; with ``evolve`` strategies are revised at its end.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    norm: Norm = Field(default_factory=lambda: resolve_norm("stern-judging"))
    observation: Literal["public", "private", "institution"] = "public"
    agents: Annotated[int, Field(ge=2, le=2**31 - 1)] = 1000
    steps: Annotated[int, Field(ge=1, description="rounds")] = 1000
    pairing: Literal["pairs", "random"] = "pairs"
    strategies: dict[str, float] = Field(default_factory=lambda: {"disc": 1.0})
    b: Annotated[
        float, Field(ge=0, allow_inf_nan=False, description="benefit to the recipient")
    ] = 1.0
    c: Annotated[float, Field(ge=0, allow_inf_nan=False, description="cost to the donor")] = 0.1
    e1: Probability = Field(default=0.01, description="an intended cooperation becomes defection")
    e2: Probability = Field(default=0.01, description="a judgement is flipped")
    q_obs: Probability = Field(default=1.0, description="private: an agent observes a donation")
    q_know: Probability = Field(
        default=1.0,
        description="a discriminator knows the recipient's reputation; else assumes good",
    )
    institution_size: Annotated[int, Field(ge=1, le=1_000_000)] = 10
    strictness: Annotated[float, AfterValidator(_strictness)] = Field(
        default=0.5, description="institution: good when more than this fraction of judges say so"
    )
    institution_protocol: Literal["independent", "shared"] = Field(
        default="independent",
        description=(
            "institution: each judge observes an action of the donor towards a recipient of its "
            "own, and everyone is reassessed each round (Radzvilavicius, Kessinger & Plotkin "
            "2021), or all judges assess the one observed donation"
        ),
    )
    threshold: Annotated[int, Field(ge=SCORE_MIN, le=SCORE_MAX + 1)] = Field(
        default=0, description="image scores: a discriminator helps recipients scoring at least k"
    )
    generation: Annotated[int, Field(ge=1, description="rounds per generation")] = 10
    discount: Annotated[
        float, Field(gt=0, le=1, description="round t of a generation weighs discount**t")
    ] = 1.0
    fresh_reputations: bool = Field(
        default=False, description="everyone starts each generation good"
    )
    evolve: bool = Field(default=False, description="revise strategies after each generation")
    selection: Annotated[
        float, Field(ge=0, allow_inf_nan=False, description="imitation: strength of selection")
    ] = 1.0
    mutation: Probability = Field(
        default=0.01, description="imitation: chance of a random named strategy instead"
    )
    burn_in: Annotated[int, Field(ge=0)] | None = Field(
        default=None, description="rounds left out of the averages; default a fifth of the steps"
    )
    seed: Annotated[int, Field(ge=0, lt=2**63)] = 0

    @field_validator("burn_in")
    @classmethod
    def _burn_in(cls, value: int | None, info: ValidationInfo) -> int | None:
        steps = info.data.get("steps")
        if value is not None and steps is not None and value >= steps:
            raise ValueError(
                f"the burn-in ({value} rounds) must be smaller than the number of rounds "
                f"(steps = {steps}), or no round would be measured"
            )
        return value

    @field_validator("norm", mode="before")
    @classmethod
    def _norm(cls, value: Any) -> Any:
        # a mapping is validated as a Norm in place, so that its errors carry their location
        return value if isinstance(value, dict | Norm) else resolve_norm(value)

    @field_validator("strategies", mode="before")
    @classmethod
    def _strategies(cls, value: Any) -> Any:
        return parse_strategies(value) if isinstance(value, str) else value

    @field_validator("strategies")
    @classmethod
    def _shares(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = [s for s in value if s not in STRATEGIES]
        if unknown:
            raise ValueError(
                f"unknown strategy '{unknown[0]}'; the strategies are {', '.join(STRATEGIES)}"
            )
        for name, share in value.items():
            if not (0.0 <= share <= 1.0):
                raise ValueError(f"the share of {name} must lie between 0 and 1, not {share:g}")
        total = math.fsum(value.values())
        if abs(total - 1.0) > _SHARE_TOLERANCE:
            listed = ", ".join(f"{k}={v:g}" for k, v in value.items())
            raise ValueError(f"the strategy shares add up to {total:g}, not 1 ({listed})")
        return value

    @model_validator(mode="after")
    def _fits(self) -> GameConfig:
        if self.norm.kind == "score" and self.observation != "public":
            raise ValueError(
                f"image scores ('{self.norm.name}') are public reputations; "
                "use observation 'public' or a good/bad norm"
            )
        return self

    @property
    def measured_from(self) -> int:
        """The first round that counts in the averages."""
        return self.steps // 5 if self.burn_in is None else self.burn_in

    def settings(self) -> dict[str, Any]:
        """Every setting the game runs with, as JSON values: the norm by name (its table and
        action rule beside it), the burn-in as the rounds actually left out."""
        out = self.model_dump(mode="json", exclude={"norm"})
        out["burn_in"] = self.measured_from
        return {
            "norm": self.norm.name,
            "norm_table": self.norm.table().tolist(),
            "norm_action": self.norm.rule().tolist(),
            **out,
        }

    @classmethod
    def from_options(cls, *, flags: bool = False, **options: Any) -> GameConfig:
        """Validate a user's settings; every problem is reported in one :class:`ScenarioError`.

        With ``flags``, settings are named as command-line flags (``--institution-size``).
        """
        try:
            return cls.model_validate(options)
        except ValidationError as exc:
            lines = []
            for err in exc.errors():
                loc = [str(p) for p in err["loc"] if "[" not in str(p)]
                if flags and loc:
                    loc[0] = "--" + loc[0].replace("_", "-")
                msg = str(err["msg"]).removeprefix("Value error, ")
                given = err.get("input")
                scalar = isinstance(given, int | float | str)
                shown = f" (got {given!r})" if scalar and str(given) not in msg else ""
                lines.append(f"{'.'.join(loc)}: {msg}{shown}" if loc else f"{msg}{shown}")
            raise ScenarioError("; ".join(lines)) from None
