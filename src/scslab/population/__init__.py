"""Synthetic populations: individuals and their friendships; firms plug in beside them."""

from scslab.population.individuals import (
    AGE_BANDS,
    CHILD_BAND,
    HUKOU,
    INCOME_BANDS,
    TRAITS,
    Children,
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
    "CHILD_BAND",
    "HUKOU",
    "INCOME_BANDS",
    "TRAITS",
    "Children",
    "Network",
    "NetworkSpec",
    "Population",
    "PopulationSpec",
    "Region",
    "generate",
    "generate_network",
    "score_assortativity",
]
