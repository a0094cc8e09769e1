"""The tiny dated scenario and targets file the calibration tests share."""

from __future__ import annotations

SCENARIO = """\
scheme: defaulter-blacklist
start: 2020-01
years: 1
seed: 0
panel: 0
population: {agents: 20000}
"""

TARGETS = """\
reference_population: 1400000000
targets:
  - id: stock-2020-06
    source: docs/sources.md#lists
    date: 2020-06
    observable: stock
    of: judgment-defaulters
    figure: 100000
    unit: count
    tolerance: 0.2
    role: fit
  - id: stock-2020-12
    source: docs/sources.md#lists
    date: 2020-12
    observable: stock
    of: judgment-defaulters
    figure: 150000
    unit: count
    tolerance: 0.2
    role: check
fit:
  parameters:
    rates.unpaid-judgment: {range: [0.001, 0.05]}
  particles: 8
  generations: 2
  replicates: 2
"""
