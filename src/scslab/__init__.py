"""scslab: a laboratory for social credit systems.

Schemes are data (:mod:`scslab.schemes`), populations are synthetic, and every run records both
what people truly did and what the scheme recorded, so that its consequences can be measured.
"""

from scslab.errors import ResourceError, ScenarioError, SchemeError, ScslabError
from scslab.schemes import Scheme, load_scheme

__version__ = "0.1.0"

__all__ = [
    "ResourceError",
    "ScenarioError",
    "Scheme",
    "SchemeError",
    "ScslabError",
    "__version__",
    "load_scheme",
]
