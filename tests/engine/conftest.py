"""Small hand-checkable schemes and catalogues for pinning engine rules."""

from __future__ import annotations

from typing import Any

import pytest

from scslab.behaviour.model import Adaptation, Catalogue, Chilling, Deterrence
from scslab.behaviour.rates import load_catalogue
from scslab.engine.scenario import Scenario
from scslab.population import Children, PopulationSpec
from scslab.schemes import parse_scheme
from scslab.schemes.model import Scheme

NO_ADAPTATION = Adaptation(deterrence=Deterrence(enabled=False), chilling=Chilling(enabled=False))


def catalogue(rates: dict[str, float], detect: float = 1.0, false_ratio: float = 0.0) -> Catalogue:
    """A catalogue of the given acts, each recorded by the court channel with ``detect``."""
    return Catalogue.model_validate(
        {
            "acts": [
                {
                    "id": act,
                    "name": act,
                    "domain": "public-order",
                    "lawful": False,
                    "rate": rate,
                    "channels": {"court": detect},
                    "assumed": True,
                }
                for act, rate in rates.items()
            ],
            "channels": [
                {"id": "court", "name": "court", "false_record_ratio": false_ratio, "assumed": True}
            ],
        }
    )


def scheme(text: str) -> Scheme:
    return parse_scheme(text, "test-scheme.yaml")


def scenario(
    agents: int,
    months: int,
    seed: int = 1,
    panel: int | None = None,
    children: Children | None = None,
    **kw: Any,
) -> Scenario:
    """``agents`` adults (with ``children``, their children too) over ``months``, without
    adaptation; the panel holds everyone (children are rows too) unless ``panel`` says."""
    if children is None:
        population, everyone = PopulationSpec(agents=agents), agents
    else:
        population, everyone = PopulationSpec(agents=agents, children=children), 10 * agents
    return Scenario(
        population=population,
        years=months / 12,
        seed=seed,
        panel=everyone if panel is None else panel,
        adaptation=NO_ADAPTATION,
        **kw,
    )


@pytest.fixture(scope="session")
def builtin_catalogue() -> Catalogue:
    return load_catalogue()
