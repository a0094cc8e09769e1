"""observation.record_share: only a share of what the channels record reaches the scheme."""

from __future__ import annotations

import numpy as np

from conftest import catalogue, scenario, scheme
from scslab.behaviour.model import Observation
from scslab.engine.simulation import Simulation

SPITTING = """
id: spitting
name: Spitting, recorded
subject: individuals
description: one deduction
sources: {paper: the seed paper}
score: {base: 1000, min: 0, max: 1000, cap_window_months: 1200, source: paper}
categories: [{id: city}]
events:
  - {id: spitting, category: city, points: -1, domain: public-order, source: paper}
"""


def _recorded(share: float) -> tuple[int, int, int]:
    sim = Simulation(
        scenario(5000, 6, panel=0, observation=Observation(record_share=share)),
        scheme=scheme(SPITTING),
        catalogue=catalogue({"spitting": 12.0}, detect=0.8, false_ratio=0.1),
    )
    record, _ = sim.execute()
    return int(record.ev_true.sum()), int(record.ev_rec.sum()), int(record.ev_false.sum())


def test_a_share_of_the_records_reaches_the_scheme_true_and_false_alike() -> None:
    """Detection 0.8 and one false record per ten true ones; a record share of 0.25 leaves 0.2 of
    the acts recorded and a quarter of the false records (30,000 acts: sd of a share ~0.003)."""
    true_all, rec_all, false_all = _recorded(1.0)
    true_q, rec_q, false_q = _recorded(0.25)
    assert abs(true_all - true_q) < 0.03 * true_all  # nobody is deterred here: same acts
    assert abs((rec_all - false_all) / true_all - 0.8) < 0.02
    assert abs((rec_q - false_q) / true_q - 0.2) < 0.02
    assert np.isclose(false_q / false_all, 0.25, atol=0.05)
