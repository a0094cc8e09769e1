"""scslab: a laboratory for social credit systems.

Schemes are data (:mod:`scslab.schemes`), populations are synthetic, and every run records both
what people truly did and what the scheme recorded, so that its consequences can be measured.
"""

from scslab.errors import ResourceError, ScenarioError, SchemeError, ScslabError
from scslab.schemes import Scheme, load_scheme

#: The one place the version is written: pyproject.toml reads it from here (a dynamic version).
__version__ = "0.1.0"

#: The run API loads the compiled engine, so it is imported on first use: ``scslab.Simulation``.
_LAZY = {
    "Scenario": "scslab.engine.scenario",
    "Simulation": "scslab.runs",
    "Results": "scslab.store.results",
    "PopulationSpec": "scslab.population",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'scslab' has no attribute {name!r}")


__all__ = [  # noqa: RUF022 - errors, schemes, then the run API
    "PopulationSpec",
    "Results",
    "Scenario",
    "Simulation",
    "ResourceError",
    "ScenarioError",
    "Scheme",
    "SchemeError",
    "ScslabError",
    "__version__",
    "load_scheme",
]
