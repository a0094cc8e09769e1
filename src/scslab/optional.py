"""Optional libraries: imported through one helper that says, in one line, how to install them.

The core (``scslab run``, ``report``, ``audit``, ``explain``, ``compare``, ``export``) needs none
of them. The heavier stacks are extras of the package (``pyproject.toml``)::

    pip install 'scslab[app]'          # scslab serve: the Panel dashboard
    pip install 'scslab[scale]'        # Dask: sweeps, sharded runs, --cluster
    pip install 'scslab[sensitivity]'  # SALib: Sobol designs and indices
    pip install 'scslab[calibrate]'    # pyabc: ABC-SMC calibration

A feature whose library is missing raises :class:`~scslab.errors.LibraryMissing` (a
:class:`~scslab.errors.ScslabError`: one line, status 2 on the command line) before it starts.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from scslab.errors import LibraryMissing

#: The package's extras and the stack each brings.
EXTRAS = {
    "app": "the Panel dashboard",
    "scale": "Dask",
    "sensitivity": "SALib",
    "calibrate": "pyabc",
}


def need(
    module: str, *, feature: str, extra: str | None = None, package: str | None = None
) -> ModuleType:
    """Import ``module`` for ``feature``, or raise :class:`LibraryMissing` naming the install.

    With ``extra`` (one of :data:`EXTRAS`) the message names ``pip install 'scslab[extra]'``;
    without, ``pip install PACKAGE`` (``package`` defaults to the module's top-level name). Only
    the absence of ``module`` itself (or of a package above it) is reported so: an installed
    library that fails to import shows its own error.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        parts = module.split(".")
        if exc.name not in {".".join(parts[: i + 1]) for i in range(len(parts))}:
            raise
        if extra is not None:
            what = EXTRAS[extra]
            raise LibraryMissing(
                f"{feature} needs the {extra} extra ({what}), which is not installed: "
                f"pip install 'scslab[{extra}]'"
            ) from None
        name = package or parts[0]
        raise LibraryMissing(
            f"{feature} needs {name}, which is not installed (it is optional in scslab): "
            f"pip install {name}"
        ) from None
