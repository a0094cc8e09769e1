"""Synthetic populations: individuals now; firms and social ties plug in beside them."""

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

__all__ = [
    "AGE_BANDS",
    "HUKOU",
    "INCOME_BANDS",
    "TRAITS",
    "Population",
    "PopulationSpec",
    "Region",
    "generate",
]
