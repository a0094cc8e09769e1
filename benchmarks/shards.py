"""Sharding benchmark: what splitting a run over Dask workers costs, and what the exchange costs.

1. Overhead: the same population (default 2,000,000 people, friendship network of mean degree 10)
   run as one process (numba on every core) and as 2 shards on a 2-worker LocalCluster (each
   worker's kernels on its share of the cores), alternately, side by side in one run. Figures are
   medians over months; the first month (and the build) is left out of both.
2. Exchange: 2 shards on 1,000,000 people while the homophily of the network, and with it the
   share of ties that cross the shard boundary, varies. For each: cross-shard ties, ghost scores
   sent per month (bytes), the month's wall time on the coordinator, the slower shard's own work,
   and the rest (exchange and scheduling).
3. Per shard: engine memory per person (state, traits, ties in local numbering, ghosts) and
   throughput of one shard's month on one core, for the whole-country estimate in docs/scale.md.
4. Exchange volume against the number of shards (plans only, no run): a population of 32 equal
   regions split into 2 to 32 shards; ghost scores sent per person and month.
5. The scheduler's cost per task: 5,000 tiny tasks pinned to the two workers (a month of K shards
   is K tasks and up to K(K-1) messages).

    .venv/bin/python benchmarks/shards.py [--agents N] [--years Y] [--pairs P] [--quick]
    .venv/bin/python benchmarks/shards.py --scheme rongcheng-2014 --equal-regions --quick
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from scslab.engine.checkpoint import columns, write_file
from scslab.engine.cluster import dask_client
from scslab.engine.scenario import Scenario
from scslab.engine.shards import Coordinator, Shard, plan_shards
from scslab.engine.simulation import Simulation
from scslab.population import NetworkSpec, PopulationSpec
from scslab.population.individuals import Region


def equal_regions(k: int) -> tuple[Region, ...]:
    return tuple(
        Region(id=f"r{j}", share=1 / k, urban_hukou=0.5, cameras_per_person=0.1) for j in range(k)
    )


def scenario(
    agents: int, years: float, scheme: str, homophily: float = 0.7, equal: bool = False
) -> Scenario:
    spec = PopulationSpec(agents=agents)
    if equal:  # four regions of a quarter each: two shards of half the people each
        spec = PopulationSpec(agents=agents, regions=equal_regions(4))
    return Scenario(
        scheme=scheme,
        population=spec,
        network=NetworkSpec(mean_degree=10, homophily=homophily),
        years=years,
        seed=1,
        panel=1000,
    )


def one_process(sim: Simulation) -> list[float]:
    """Seconds per month through Run.advance (with the monthly assortativity, as shards do)."""
    run = sim.start()
    months = []
    for t in range(sim.scenario.steps):
        t0 = time.perf_counter()
        run.advance(t)
        months.append(time.perf_counter() - t0)
    return months[1:]


def sharded(sim: Simulation, client: Any, shards: int, every: int) -> dict[str, Any]:
    """Seconds per month (coordinator's view), and each shard's own seconds per month."""
    pop = sim.population()
    t0 = time.perf_counter()
    plans = plan_shards(sim, pop, shards)  # type: ignore[arg-type]
    planned = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as folder:
        coordinator = Coordinator(client, sim, Path(folder), plans, every, None, None)
        coordinator.run(None)
    done = coordinator.done_at
    clocks = np.stack(coordinator.clocks)  # [shard, month, (receive, moments, step, send)]
    work = clocks.sum(axis=2).max(axis=0)  # the slower shard's own seconds, each month
    return {
        "months": list(np.diff(done)),  # month t+1 done minus month t done: months 1..
        "work": list(work[1:]),
        "receive_send": list(clocks[:, 1:, [0, 3]].sum(axis=2).max(axis=0)),
        "moments": list(clocks[:, 1:, 1].max(axis=0)),
        "step": list(clocks[:, 1:, 2].max(axis=0)),
        "plans": plans,
        "planned": planned,
    }


def exchange_stats(plans: list[Any]) -> dict[str, float]:
    """Cross-shard ties and what a month sends."""
    cross = sum(int((p.friends[p.indptr[0] : p.indptr[p.n]] >= p.base).sum()) for p in plans)
    ties = sum(int(p.indptr[p.n] - p.indptr[0]) for p in plans)
    ghosts = sum(len(p.ghosts) for p in plans)
    sent = sum(len(rows) * 2 + len(spans) for p in plans for rows, spans in p.exports.values())
    return {"ties": ties, "cross": cross, "ghosts": ghosts, "bytes": sent}


def checkpoint_part(sim: Simulation, plan: Any) -> tuple[float, float]:
    """Bytes per person of one shard's checkpoint part, and the rate it is written at (MB/s)."""
    shard = Shard(sim, plan)
    with tempfile.TemporaryDirectory() as folder:
        t0 = time.perf_counter()
        _, size = write_file(Path(folder) / "part.ckpt", {}, columns(shard))
        seconds = time.perf_counter() - t0
    return size / plan.n, size / seconds / 1e6


def shard_memory(sim: Simulation, plans: list[Any]) -> float:
    """Bytes per person a shard holds for a run: its columns, ties and record (largest shard)."""
    worst = 0.0
    for plan in plans:
        shard = Shard(sim, plan)
        # state.score is a view of score_ext (own scores, then the ghosts'): counted there
        arrays = [*shard.state[1:], *shard.traits[:-1], shard.score_ext, *shard.tally]
        held = {id(a): a.nbytes for a in arrays if isinstance(a, np.ndarray)}
        held.update({id(a): a.nbytes for a in (plan.group, plan.members, plan.group_start)})
        record = sum(v.nbytes for v in vars(shard.record).values() if isinstance(v, np.ndarray))
        worst = max(worst, (sum(held.values()) + record) / plan.n)
    return worst


def coordinator_memory(pop: Any, plans: list[Any]) -> float:
    """Bytes per person the coordinator keeps: the population, its network and the plans."""
    arrays = [*vars(pop).values(), *vars(pop.network).values()]
    for plan in plans:
        arrays += [v for v in vars(plan).values() if isinstance(v, np.ndarray)]
    own: dict[int, int] = {}
    for a in arrays:
        if isinstance(a, np.ndarray):
            while isinstance(a.base, np.ndarray):  # a view: count the array it views, once
                a = a.base
            own[id(a)] = a.nbytes
    return sum(own.values()) / pop.n


def median(xs: list[float]) -> float:
    return float(statistics.median(xs))


def volume_by_shards(agents: int) -> None:
    """Ghost scores per person and month as the number of shards grows (32 equal regions)."""
    sc = Scenario(
        scheme="sesame-credit",
        population=PopulationSpec(agents=agents, regions=equal_regions(32)),
        network=NetworkSpec(mean_degree=10),
        years=1,
    )
    sim = Simulation(sc)
    pop = sim.population()
    print(f"\nexchange volume against shards ({agents:,} people, 32 equal regions, degree 10):")
    print("shards  cross-shard ties  ghosts per person  bytes per person and month")
    for k in (2, 4, 8, 16, 32):
        st = exchange_stats(plan_shards(sim, pop, k))
        print(
            f"{k:6}  {st['cross'] / st['ties']:16.1%}  {st['ghosts'] / agents:17.2f}  "
            f"{st['bytes'] / agents:26.2f}"
        )


def _noop(i: int) -> int:
    return i


def task_cost(client: Any, n: int = 5000) -> float:
    """Seconds per tiny task pinned to a worker, submitted at once and waited for."""
    from distributed import wait

    workers = sorted(client.scheduler_info()["workers"])
    t0 = time.perf_counter()
    futures = [client.submit(_noop, i, workers=[workers[i % len(workers)]]) for i in range(n)]
    wait(futures)  # type: ignore[no-untyped-call]
    return (time.perf_counter() - t0) / n


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--agents", type=int, default=2_000_000)
    p.add_argument("--years", type=float, default=2)
    p.add_argument("--pairs", type=int, default=2, help="alternating one-process/sharded pairs")
    p.add_argument("--scheme", default="sesame-credit")
    p.add_argument("--quick", action="store_true", help="skip the exchange sweep")
    p.add_argument(
        "--equal-regions", action="store_true", help="four equal regions instead of the default"
    )
    args = p.parse_args()

    print(f"load average before: {os.getloadavg()[0]:.2f} (2-minute runs are noisy above 1)")
    sc = scenario(args.agents, args.years, args.scheme, equal=args.equal_regions)
    sim = Simulation(sc)
    t0 = time.perf_counter()
    sim.population()
    print(f"population and network of {args.agents:,}: {time.perf_counter() - t0:.1f} s")
    Simulation(scenario(20_000, 1 / 6, args.scheme)).execute()  # compile outside the timings

    with dask_client(None, 2) as client:
        sharded(Simulation(scenario(20_000, 1 / 6, args.scheme)), client, 2, 1000)  # warm up
        one, two, work = [], [], []
        for pair in range(args.pairs):
            months = one_process(sim)
            result = sharded(sim, client, 2, 1000)
            one.append(median(months))
            two.append(median(result["months"]))
            work.append(median(result["work"]))
            print(
                f"pair {pair + 1}: one process {one[-1] * 1e3:.0f} ms/month, 2 shards "
                f"{two[-1] * 1e3:.0f} ms/month (slower shard's own work {work[-1] * 1e3:.0f} ms)"
            )
        stats = exchange_stats(result["plans"])
        with_ckpt = sharded(sim, client, 2, 12)
        n = args.agents
        regions = "four equal regions" if args.equal_regions else "the default regions"
        print(
            f"\n{args.scheme}, {n:,} people in {regions}, mean degree 10, {sc.steps} months, "
            f"{args.pairs} pairs (medians):"
        )
        print(f"  one process: {median(one) * 1e3:.0f} ms/month = {n / median(one) / 1e6:.1f} M/s")
        print(f"  2 shards:    {median(two) * 1e3:.0f} ms/month = {n / median(two) / 1e6:.1f} M/s")
        print(f"  overhead of sharding: {median(two) / median(one) - 1:+.1%}")
        print(
            f"  with a checkpoint every 12 months: {median(with_ckpt['months']) * 1e3:.0f} "
            f"ms/month median, {max(with_ckpt['months']) * 1e3:.0f} ms the month of a checkpoint"
        )
        sizes = [pl.n for pl in result["plans"]]
        print(f"  shard sizes {sizes}; cross-shard ties {stats['cross']:,} of {stats['ties']:,}")
        print(f"  ghost scores sent per month: {stats['bytes'] / 1e6:.2f} MB")
        memory = shard_memory(sim, result["plans"])
        print(f"  engine memory per person in the largest shard: {memory:.0f} B")
        largest_plan = max(result["plans"], key=lambda pl: pl.n)
        per_person, rate = checkpoint_part(sim, largest_plan)
        print(f"  a checkpoint part: {per_person:.0f} B per person, written at {rate:.0f} MB/s")
        print(f"  planning the shards: {result['planned']:.2f} s")
        held = coordinator_memory(sim.population(), result["plans"])
        print(f"  the coordinator's population, network and plans: {held:.0f} B per person")
        step, moments = median(result["step"]), median(result["moments"])
        largest = max(sizes)
        print(
            f"  one shard's month on one core: {step * 1e3:.0f} ms for {largest:,} people = "
            f"{largest / step / 1e6:.1f} M agent-steps/s; with its tie moments "
            f"({moments * 1e3:.0f} ms) {largest / (step + moments) / 1e6:.1f} M/s"
        )

        print(f"  scheduler: {task_cost(client) * 1e3:.2f} ms per tiny pinned task")
        if args.quick:
            print(f"load average after: {os.getloadavg()[0]:.2f}")
            return
        print("\nexchange against cross-shard ties (2 shards, 1,000,000 people, 1 year):")
        print(
            "homophily  cross ties  share  MB/month  month ms  shard work ms  recv+send ms  rest ms"
        )
        for h in (1.0, 0.85, 0.7, 0.5, 0.3, 0.0):
            s = Simulation(scenario(1_000_000, 1, args.scheme, homophily=h))
            r = sharded(s, client, 2, 1000)
            st = exchange_stats(r["plans"])
            month, own = median(r["months"]), median(r["work"])
            print(
                f"{h:9.2f}  {st['cross']:10,}  {st['cross'] / st['ties']:5.1%}  "
                f"{st['bytes'] / 1e6:8.2f}  {month * 1e3:8.0f}  {own * 1e3:13.0f}  "
                f"{median(r['receive_send']) * 1e3:12.1f}  {(month - own) * 1e3:7.0f}"
            )
    volume_by_shards(1_000_000)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
