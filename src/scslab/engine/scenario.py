"""A scenario: which scheme, which population, how acts are observed and how people adapt.

A scenario is plain data, read from YAML (with ``path:line:column`` errors) or built in Python.
Every default names its source or is marked assumed in its field description.
"""

from __future__ import annotations

import re
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from scslab._yaml import Located, load_located, located_errors, looks_like_path, read_located
from scslab.behaviour.model import Adaptation, Observation
from scslab.engine.contracts import Contracts
from scslab.errors import ScenarioError
from scslab.population.firms import FirmSpec
from scslab.population.individuals import PopulationSpec
from scslab.population.network import NetworkSpec

#: The package that holds the built-in scenarios, each ``NAME.yaml``, most with their targets.
BUILTIN = "scslab.scenarios"
TARGETS_SUFFIX = ".targets.yaml"


def builtin_scenarios() -> list[str]:
    """Names of the built-in scenarios (``NAME.yaml``, most with ``NAME.targets.yaml`` beside)."""
    files = resources.files(BUILTIN).iterdir()
    return sorted(
        f.name.removesuffix(".yaml")
        for f in files
        if f.name.endswith(".yaml") and not f.name.endswith(TARGETS_SUFFIX)
    )


def builtin_path(name: str, suffix: str = ".yaml") -> Path:
    """The file of a built-in scenario (``.yaml``) or of its targets (``.targets.yaml``)."""
    return Path(str(resources.files(BUILTIN).joinpath(f"{name}{suffix}")))


def load_scenario(spec: str | Path) -> Scenario:
    """A scenario from a file, or a built-in scenario by name (``spc-defaulters``); a built-in
    name wins unless the argument looks like a path."""
    if not looks_like_path(spec) and str(spec) in builtin_scenarios():
        return Scenario.from_yaml(builtin_path(str(spec)))
    return Scenario.from_yaml(spec)


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Fitted(_Spec):
    """A setting fitted by ``scslab calibrate``: its value, its posterior interval, and to what."""

    value: float
    interval: tuple[float, float] = Field(description="the posterior's central interval")
    level: Annotated[float, Field(gt=0, lt=1)] = Field(
        default=0.9, description="the interval's probability"
    )
    targets: str = Field(description="the targets file the setting was fitted to")


class Scenario(_Spec):
    """Everything a run needs besides the code: scheme, population, horizon, seed, behaviour."""

    scheme: str = Field(default="rongcheng-2014", description="a built-in name or a scheme file")
    population: PopulationSpec = PopulationSpec()
    network: NetworkSpec | None = Field(
        default=None, description="draw a friendship network; needed by network rules"
    )
    contracts: Contracts = Field(
        default=Contracts(),
        description="contracts between people as reputation games; their breaches are scored",
    )
    firms: FirmSpec | None = Field(
        default=None,
        description="the firms of the population, for schemes that score enterprises; "
        "default: FirmSpec() when the scheme scores enterprises",
    )
    start: str | None = Field(
        default=None,
        description=(
            "the calendar month of the first step, YYYY-MM (e.g. 2013-10): months then carry "
            "dates in results and reports; dated targets need it"
        ),
    )
    years: Annotated[float, Field(gt=0, le=100)] = 5
    history_months: Annotated[int, Field(ge=0, le=1200)] | None = Field(
        default=None,
        description=(
            "months people live under the scheme before month 0, run but not recorded; "
            "default: the scheme's score.history_months (0: everyone starts at base). A firm "
            "run's history is firms.history_months"
        ),
    )
    seed: Annotated[int, Field(ge=0, lt=2**63)] = 0
    observation: Observation = Observation()
    adaptation: Adaptation = Adaptation()
    panel: Annotated[int, Field(ge=0, le=100_000)] = Field(
        default=1000, description="people whose whole trajectories are kept"
    )
    acts: str | None = Field(default=None, description="an act catalogue file; default: built-in")
    rates: dict[str, Annotated[float, Field(ge=0, le=120)]] = Field(
        default_factory=dict,
        description="acts per agent-year by act id, in place of the catalogue's base rates "
        "(calibration varies them as `rates.<act id>`)",
    )
    fitted: dict[str, Fitted] = Field(
        default_factory=dict,
        description="settings `scslab calibrate` fitted, by dotted path, with their intervals; "
        "written by calibrate, read by people (the run uses the settings themselves)",
    )

    @field_validator("start", mode="before")
    @classmethod
    def _month(cls, value: Any) -> Any:
        if value is None:
            return None
        text = value.isoformat() if isinstance(value, date) else str(value)
        m = re.fullmatch(r"(\d{4})-(\d{2})", text) if isinstance(value, str) else None
        if m is None or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 1:
            raise ValueError(f"'{text}' is not a calendar month; write YYYY-MM, e.g. 2013-10")
        return text

    def dates(self, steps: int | None = None) -> np.ndarray | None:
        """The first day of each step's month (``datetime64[D]``), or ``None`` without a start."""
        if self.start is None:
            return None
        n = self.steps if steps is None else steps
        return (np.datetime64(self.start, "M") + np.arange(n)).astype("datetime64[D]")

    @property
    def steps(self) -> int:
        """Monthly steps in the horizon (at least one)."""
        return max(1, round(self.years * 12))

    @classmethod
    def from_yaml(cls, path: str | Path) -> Scenario:
        """Read a scenario file; relative scheme and catalogue paths are taken from its folder."""
        path = Path(path)
        return cls.from_located(read_located(path, ScenarioError, "scenario file")).anchored(
            path.parent
        )

    def anchored(self, folder: Path) -> Scenario:
        """This scenario with relative scheme and act catalogue files taken from ``folder``."""
        updates: dict[str, Any] = {}

        def local(value: str | None) -> str | None:
            if value and looks_like_path(value):
                p = Path(value)
                return str(p if p.is_absolute() else (folder / p))
            return value

        for key in ("scheme", "acts"):
            if local(getattr(self, key)) != getattr(self, key):
                updates[key] = local(getattr(self, key))
        firms = self.firms
        if firms is not None:
            moved = {k: local(getattr(firms, k)) for k in ("people_scheme", "acts")}
            if any(moved[k] != getattr(firms, k) for k in moved):
                updates["firms"] = firms.model_copy(update=moved)
        return self.model_copy(update=updates) if updates else self

    @classmethod
    def from_text(cls, text: str, source: str = "<scenario>") -> Scenario:
        return cls.from_located(load_located(text, source, ScenarioError))

    @classmethod
    def from_located(cls, doc: Located) -> Scenario:
        try:
            return cls.model_validate(doc.data)
        except ValidationError as exc:
            raise ScenarioError(located_errors(exc.errors(), doc)) from None

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
