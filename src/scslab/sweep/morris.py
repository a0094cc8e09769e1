"""Morris screening indices from a finished Morris sweep.

Each trajectory moves one parameter at a time by a step across its range; the change in an output
per step is an elementary effect. ``mu_star``, the mean of their absolute values, ranks how much a
parameter moves the output; ``sigma``, their standard deviation, says how much that depends on
the other parameters (interactions, non-linearity). Steps are measured in the space a parameter
is sampled in (its logarithm on a log scale), as a share of its range, so that parameters with
different units compare (SALib: Morris 1991, Campolongo et al. 2007).
"""

from __future__ import annotations

import math

import numpy as np

from scslab.optional import need
from scslab.sweep.design import Sweep, problem
from scslab.sweep.spec import Morris

#: ``{output: {parameter: {mu, mu_star, mu_star_conf, sigma}}}``; ``None`` where an output does
#: not vary across the design.
Screening = dict[str, dict[str, dict[str, float | None]]]
KEYS = ("mu", "mu_star", "mu_star_conf", "sigma")


def _number(x: float) -> float | None:
    return None if not math.isfinite(x) else float(x)


def morris_indices(sweep: Sweep, means: dict[str, np.ndarray]) -> Screening:
    """Morris's indices of every parameter for each output, from each point's mean output."""
    need("SALib", feature="Morris indices", extra="sensitivity")
    from SALib.analyze import morris as analyze

    design = sweep.spec.design
    assert isinstance(design, Morris) and sweep.samples is not None
    space = problem(sweep.settings)
    out: Screening = {}
    for name, y in means.items():
        if np.isnan(y).any():
            raise ValueError(f"{name}: some design points have no complete run")
        if np.ptp(y) == 0:
            out[name] = {p: dict.fromkeys(KEYS) for p in sweep.parameters}
            continue
        res = analyze.analyze(
            space,
            sweep.samples,
            np.asarray(y, np.float64),
            num_resamples=design.resamples,
            conf_level=design.confidence,
            num_levels=design.levels,
            seed=design.seed,
        )
        out[name] = {
            p: {k: _number(float(res[k][j])) for k in KEYS} for j, p in enumerate(sweep.parameters)
        }
    return out
