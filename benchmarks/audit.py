"""Time `scslab audit` with replicates: a 100,000-person, 5-year suining-2010 run, 5 replicates.

    .venv/bin/python benchmarks/audit.py [--scheme suining-2010 | --scenario NAME]
        [--agents 100000] [--years 5] [--replicates 5]

Prints the run's time, the audit's time (3 replays and replicates - 1 further runs), and the
comparison of people ever sanctioned and listed by region. A scheme runs with the scenario
defaults; a built-in scenario with its own settings (suining-2010: its start date and fitted
published share, which changes what its targets read, not the run).
Figures in RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from scslab import Scenario, Simulation
from scslab.analysis.audit import audit
from scslab.engine.scenario import load_scenario


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scheme", default="suining-2010")
    ap.add_argument("--scenario", default=None)
    ap.add_argument("--agents", type=int, default=100_000)
    ap.add_argument("--years", type=float, default=5)
    ap.add_argument("--replicates", type=int, default=5)
    a = ap.parse_args()
    base = load_scenario(a.scenario) if a.scenario else Scenario(scheme=a.scheme)
    sc = Scenario.model_validate(
        {
            **base.model_dump(),
            "population": {**base.population.model_dump(), "agents": a.agents},
            "years": a.years,
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        clock = time.perf_counter()
        results = Simulation(sc).run(Path(tmp) / "run")
        ran = time.perf_counter() - clock
        clock = time.perf_counter()
        report = audit(results, replicates=a.replicates)
        audited = time.perf_counter() - clock
        results.close()
    print(f"run: {ran:.1f} s; audit with {a.replicates} replicates: {audited:.1f} s")
    for outcome in ("sanctioned", "listed"):
        region = report["risk_ratio"].get(outcome, {}).get("region")
        if region:
            print(outcome, json.dumps(region, default=float))
    print("counterfactual", json.dumps(report["counterfactual"]))


if __name__ == "__main__":
    main()
