"""Synthetic populations: individuals and their friendships; firms plug in beside them."""

from scslab.population.individuals import (
    AGE_BANDS,
    HUKOU,
    INCOME_BANDS,
    TRAITS,
    Population,
    PopulationSpec,
    Region,
    generate,
)
from scslab.population.network import (
    Network,
    NetworkSpec,
    generate_network,
    score_assortativity,
)

__all__ = [
    "AGE_BANDS",
    "HUKOU",
    "INCOME_BANDS",
    "TRAITS",
    "Network",
    "NetworkSpec",
    "Population",
    "PopulationSpec",
    "Region",
    "generate",
    "generate_network",
    "score_assortativity",
]
