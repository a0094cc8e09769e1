"""Replaying a run: the same scenario, scheme, catalogue and seed give the same run, bit for bit.

A results file keeps everything a run was made from, so analyses that need what is not stored
(each person's final state, or a paired run with one thing switched off) run it again instead of
estimating. Paired runs share every random number that the switched-off part does not use.
"""

from __future__ import annotations

from typing import Any

from scslab import __version__
from scslab.behaviour.model import Chilling, Deterrence
from scslab.behaviour.rates import parse_catalogue
from scslab.engine.scenario import Scenario
from scslab.engine.simulation import Simulation
from scslab.errors import ScslabError
from scslab.schemes.loader import parse_scheme
from scslab.store.results import Results


def replay(
    results: Results,
    *,
    false_records: bool = True,
    adaptation: bool = True,
    seed: int | None = None,
) -> Simulation:
    """A simulation of the run in ``results``, optionally without false records or adaptation.

    ``seed``: the same scenario with another seed, a replicate of the run rather than a replay.

    Without adaptation nobody is deterred or chilled, so the acts are those of a world without
    the scheme: the baseline for deterrence and chilling. Tie-cutting stays as it was: it changes
    who is friends with whom, not what people do.
    """
    run = results.run()
    if run.get("version") != __version__ or "acts_yaml" not in run:
        raise ScslabError(
            f"{results.path}: written by scslab {run.get('version', 'of an older layout')}, and "
            f"this is scslab {__version__}; run the scenario again with this version to audit it"
        )
    return replay_run(
        run, str(results.path), false_records=false_records, adaptation=adaptation, seed=seed
    )


def replay_run(
    run: dict[str, Any],
    where: str,
    *,
    false_records: bool = True,
    adaptation: bool = True,
    seed: int | None = None,
) -> Simulation:
    """:func:`replay` from the ``runs`` row of a results file (``where`` names it in errors):
    what a Dask worker, which may not see the file, is sent to run a replicate."""
    scenario = Scenario.from_text(run["scenario"], f"{where}:runs.scenario")
    changes: dict[str, Any] = {}
    if seed is not None:
        changes["seed"] = seed
    if not false_records:
        changes["observation"] = scenario.observation.model_copy(update={"false_records": False})
    if not adaptation:
        changes["adaptation"] = scenario.adaptation.model_copy(
            update={
                "deterrence": Deterrence(enabled=False),
                "chilling": Chilling(enabled=False),
            }
        )
    if changes:
        scenario = scenario.model_copy(update=changes)
    scheme = parse_scheme(run["scheme_yaml"], f"{where}:runs.scheme_yaml")
    if scheme.links():  # a layer that reads others ran with them: alone it is another run
        read = sorted({c.layer for _, c in scheme.links() if c.layer is not None})
        raise ScslabError(
            f"{where}: this layer reads layer(s) {', '.join(read)} of its layered run, so "
            "replaying it alone would not reproduce it; replays of linked layers are not "
            "supported yet"
        )
    catalogue = parse_catalogue(run["acts_yaml"], f"{where}:runs.acts_yaml")
    return Simulation(
        scenario,
        scheme=scheme,
        catalogue=catalogue,
        also_personal=tuple(run["personal_acts"] or ()),
    )
