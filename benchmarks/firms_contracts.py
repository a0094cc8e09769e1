"""What firms and the contract game cost, side by side with the runs they extend.

- A firm run (``corporate-scs``): its people's run plus the firms, against the people's run
  (``defaulter-blacklist``) alone, on the same people.
- The contract game: Rongcheng with ``contracts.enabled`` against Rongcheng without it.

Each pair alternates ``--pairs`` times in one process; the figure is the median month (engine
steps through ``Run.advance``, after a first month that compiles), then the median over pairs.

    python benchmarks/firms_contracts.py [--agents 1000000] [--months 12] [--pairs 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

from scslab.engine.contracts import Contracts
from scslab.engine.scenario import Scenario
from scslab.engine.simulation import Simulation
from scslab.population import PopulationSpec
from scslab.population.firms import FirmSpec


def month_ms(scenario: Scenario) -> float:
    """Median milliseconds per recorded month (the firms' history months run first, untimed)."""
    run = Simulation(scenario).start()
    run.advance(0)  # compiles, and lives through a firm run's history
    times = []
    for t in range(1, scenario.steps):
        start = time.perf_counter()
        run.advance(t, assortativity=False)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--pairs", type=int, default=3)
    args = parser.parse_args()
    people = PopulationSpec(agents=args.agents)
    years = args.months / 12
    pairs = {
        "firms": (
            Scenario(scheme="defaulter-blacklist", population=people, years=years, panel=0),
            Scenario(
                scheme="corporate-scs",
                population=people,
                years=years,
                panel=0,
                firms=FirmSpec(history_months=1),
            ),
        ),
        "contracts": (
            Scenario(population=people, years=years, panel=0),
            Scenario(population=people, years=years, panel=0, contracts=Contracts(enabled=True)),
        ),
    }
    print(f"{args.agents:,} people, {args.months} months, {args.pairs} alternating pairs")
    for name, (base, extended) in pairs.items():
        ratios, a, b = [], [], []
        for _ in range(args.pairs):
            a.append(month_ms(base))
            b.append(month_ms(extended))
            ratios.append(b[-1] / a[-1])
        print(
            f"{name:10s} without {statistics.median(a):7.1f} ms/month   with "
            f"{statistics.median(b):7.1f} ms/month   ratio {statistics.median(ratios):.2f}"
        )


if __name__ == "__main__":
    main()
