"""``scslab run``: run a scenario and print what happened."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.table import Table

from scslab.cli import console, err_console, months_bar, with_flags
from scslab.errors import ScenarioError

if TYPE_CHECKING:  # the engine is imported when a run starts, not when the CLI does
    from scslab.engine.layers import LayeredSimulation
    from scslab.engine.scenario import Scenario
    from scslab.engine.simulation import RunInterrupted
    from scslab.store.results import Results


def run(
    scenario_file: Annotated[
        Path | None,
        typer.Argument(
            help="a scenario YAML file or a built-in scenario's name (e.g. spc-defaulters); "
            "default: the default scenario"
        ),
    ] = None,
    scheme: Annotated[
        str | None, typer.Option(help="a built-in scheme name or a scheme file")
    ] = None,
    agents: Annotated[int | None, typer.Option(help="number of people")] = None,
    years: Annotated[float | None, typer.Option(help="years of monthly steps")] = None,
    seed: Annotated[int | None, typer.Option(help="random seed")] = None,
    out: Annotated[
        Path | None, typer.Option(help="output folder; default: runs/TIME-SCHEME")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="replace results in an existing --out")] = False,
    network: Annotated[
        bool | None,
        typer.Option("--network/--no-network", help="draw a friendship network (default settings)"),
    ] = None,
    tie_cutting: Annotated[
        bool, typer.Option(help="people cut ties to low-scoring friends (needs a network)")
    ] = False,
    contracts: Annotated[
        bool,
        typer.Option(help="people make contracts with each other; the scheme scores breaches"),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="print the summary as JSON on stdout, nothing else")
    ] = False,
    checkpoint_every: Annotated[
        int | None,
        typer.Option(
            help="write a checkpoint every N months; `scslab resume OUT` continues from it "
            "(sharded runs: default 12)"
        ),
    ] = None,
    shards: Annotated[
        int, typer.Option(help="split the population by region into K shards on Dask workers")
    ] = 1,
    cluster: Annotated[
        str | None,
        typer.Option(help="Dask scheduler address for the shards; default: K local workers"),
    ] = None,
) -> None:
    """Run a scenario: monthly steps, then a summary and results.duckdb in the output folder."""
    # the engine (numba) loads here, so that other commands start fast
    from scslab.engine.scenario import Scenario, load_scenario
    from scslab.population.network import NetworkSpec
    from scslab.runs import RunInterrupted, Simulation, run_checkpointed, run_sharded

    scenario = load_scenario(scenario_file) if scenario_file else Scenario()
    updates: dict[str, Any] = {}
    if scheme is not None and scenario.layers is not None:
        raise ScenarioError(
            f"--scheme {scheme}: the scenario has layers, and each names its scheme in `layers:`"
        )
    if scheme is not None:
        updates["scheme"] = scheme
    if years is not None:
        if years <= 0:
            raise ScenarioError(f"--years {years:g}: give a positive number of years")
        updates["years"] = years
    if seed is not None:
        if seed < 0:
            raise ScenarioError(f"--seed {seed}: give a seed of 0 or more")
        updates["seed"] = seed
    if agents is not None:
        if agents <= 0:
            raise ScenarioError(f"--agents {agents}: give at least one agent")
        updates["population"] = scenario.population.model_copy(update={"agents": agents})
    if shards < 1:
        raise ScenarioError(f"--shards {shards}: give one shard or more")
    if checkpoint_every is not None and checkpoint_every < 1:
        raise ScenarioError(f"--checkpoint-every {checkpoint_every}: give 1 month or more")
    if network is not None:
        updates["network"] = (scenario.network or NetworkSpec()) if network else None
    if tie_cutting:
        adaptation = scenario.adaptation
        updates["adaptation"] = adaptation.model_copy(
            update={"tie_cutting": adaptation.tie_cutting.model_copy(update={"enabled": True})}
        )
    if contracts:
        updates["contracts"] = scenario.contracts.model_copy(update={"enabled": True})
    flags = {
        "scheme": f"--scheme {scheme}",
        "years": f"--years {years}",
        "seed": f"--seed {seed}",
        "population": f"--agents {agents}",
        "network": "--network",
        "adaptation": "--tie-cutting",
        "contracts": "--contracts",
    }
    if updates:
        scenario = with_flags(scenario, updates, flags)
    if scenario.layers is not None:
        run_layers(
            scenario,
            out,
            overwrite=overwrite,
            as_json=as_json,
            every=checkpoint_every,
            shards=shards,
            cluster=cluster,
        )
        return

    sim = Simulation(scenario)
    # the folder is prepared once; with --overwrite its old results (and checkpoint) stay until
    # this run's replace them
    folder = sim.prepare(out, overwrite=overwrite)
    with months_bar(
        f"[bold]{sim.scheme.id}[/] {sim.agents:,} {sim.subjects}", as_json=as_json
    ) as bar:
        task = bar.add_task("run", total=scenario.steps)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done)

        try:
            if shards != 1 or cluster is not None:
                results = run_sharded(
                    sim,
                    folder,
                    shards,
                    cluster=cluster,
                    every=checkpoint_every,
                    progress=advance,
                    log=err_console.print,  # a lost worker, and the month the run restarts from
                )
            elif checkpoint_every is not None:
                results = run_checkpointed(sim, folder, checkpoint_every, advance)
            else:
                results = sim.run(folder, progress=advance)
        except RunInterrupted as stop:
            stopped(stop)
        except BaseException:
            sim.abandon()  # a refused or failed run leaves no empty folder behind
            raise
    show_summary(results, as_json=as_json)


def run_layers(
    scenario: Scenario,
    out: Path | None,
    *,
    overwrite: bool,
    as_json: bool,
    every: int | None = None,
    shards: int = 1,
    cluster: str | None = None,
) -> None:
    """A scenario with ``layers:``: run them together (checkpointing every ``every`` months; in
    ``shards`` shards, on ``cluster``), then each layer's summary."""
    from scslab.engine.layers import LayeredSimulation
    from scslab.engine.simulation import RunInterrupted
    from scslab.layered import run_layered

    lsim = LayeredSimulation(scenario)
    ids = ", ".join(ls.id for ls in lsim.layers)
    with months_bar(f"[bold]layers {ids}[/] {lsim.agents:,} people", as_json=as_json) as bar:
        task = bar.add_task("run", total=scenario.steps)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done)

        try:
            results = run_layered(
                lsim,
                out,
                overwrite=overwrite,
                progress=advance,
                every=every,
                shards=shards,
                cluster=cluster,
                log=err_console.print,  # a lost worker, and the month the run restarts from
            )
        except RunInterrupted as stop:
            stopped(stop)
    show_layers(lsim, results, as_json=as_json)


def show_layers(lsim: LayeredSimulation, results: dict[str, Results], *, as_json: bool) -> None:
    """Each layer's summary, as a one-layer run reports it (``--json``: by layer id)."""
    summaries = {}
    for lid, r in results.items():
        summaries[lid] = r.summary()
        r.close()
    folder = next(iter(results.values())).path.parent.parent.parent
    if as_json:
        doc = {
            "layered": True,
            "agents": lsim.agents,
            "steps": lsim.steps,
            "path": str(folder),
            "layers": summaries,
        }
        typer.echo(json.dumps(doc, indent=2, ensure_ascii=False))
        return
    for layer, ls in zip(lsim.scenario.layers or (), lsim.layers, strict=True):
        where = ", ".join(layer.where or ()) or "everywhere"
        console.print(
            f"\n[bold]layer {ls.id}[/] ({where}; months {ls.first} to {ls.end - 1} of the run)"
        )
        print_summary(summaries[ls.id])
    console.print(f"\nlayered run: {folder} (each layer's results in {folder}/layers/<id>)")


def stopped(stop: RunInterrupted) -> NoReturn:
    """Ctrl-C during a run: say where the months done so far are, and exit with status 130.

    The months are saved; more Ctrl-Cs while the process ends would only print tracebacks."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    err_console.print(f"interrupted: the months done so far are in {stop.path}", soft_wrap=True)
    raise typer.Exit(130) from None


def show_summary(results: Results, *, as_json: bool) -> None:
    """Print a finished run's summary (as JSON on stdout, or as a table) and close its file."""
    summary = results.summary()
    results.close()
    if as_json:
        typer.echo(json.dumps(summary, indent=2, ensure_ascii=False))
        return
    print_summary(summary)


def print_summary(s: dict[str, Any]) -> None:
    from scslab.store.results import APPEAL_WORDS

    agents = s["agents"]
    console.print(
        f"\n[bold]{s['scheme']}[/]: {agents:,} {s['subjects']}, {s['steps']} months, "
        f"{s['seconds']:.1f} s ({s['status']})"
    )
    t = Table(title="At the end of the run", show_edge=False)
    t.add_column("measure")
    t.add_column(s["subjects"], justify="right")
    t.add_column("share", justify="right")
    for g, share in s["grades"].items():
        t.add_row(f"grade {g}", f"{round(share * agents):,}", f"{share:.2%}")
    for g, share in (s.get("tax_grades") or {}).items():
        t.add_row(f"tax rating {g}", f"{round(share * agents):,}", f"{share:.2%}")
    if s.get("firms"):
        f = s["firms"]
        t.add_row("a manager blacklisted", f"{f['managers_listed']:,}", "")
        t.add_row("legal representative restricted", f"{f['representatives_restricted']:,}", "")
        t.add_row("closed over the run (replaced)", f"{f['closed']:,}", "")
    for name, key in (("list", "lists"), ("sanction", "sanctions"), ("reward", "rewards")):
        for k, n in s[key].items():
            t.add_row(f"{name}: {k}", f"{n:,}", f"{n / agents:.2%}")
    console.print(t)
    if s.get("list_entries") or s.get("blocked") or s.get("appeals"):
        f = Table(title="Over the run", show_edge=False)
        f.add_column("measure")
        f.add_column("count", justify="right")
        for k, n in s["list_entries"].items():
            f.add_row(f"list entries: {k}", f"{n:,}")
            for reason, m in s["list_exits"].get(k, {}).items():
                f.add_row(f"  exits by {reason}", f"{m:,}")
        for k, n in s["blocked"].items():
            f.add_row(f"attempts blocked: {k}", f"{n:,}")
        for k, n in (s.get("appeals") or {}).items():
            f.add_row(f"appeals: {APPEAL_WORDS[k]}", f"{n:,}")
        console.print(f)
    ev = s["events"]
    e = Table(title="Events over the run", show_edge=False)
    for col in ("true acts", "records", "of which false"):
        e.add_column(col, justify="right")
    e.add_row(f"{ev['true']:,}", f"{ev['recorded']:,}", f"{ev['false']:,}")
    console.print(e)
    if s.get("network"):
        net = s["network"]
        console.print(
            f"score assortativity of friendships: {net['assortativity_first']:.3f} in the first "
            f"month, {net['assortativity_last']:.3f} in the last; ties cut: {net['ties_cut']:,}"
        )
    if s.get("contracts"):
        c = s["contracts"]
        console.print(
            f"contracts kept: {c['kept']:.1%} of {c['contracts']:,}; without the scheme "
            f"(same contracts, same draws): {c['kept_without_scheme']:.1%}"
        )
    console.print(f"results: {s['path']}")
