"""``scslab calibrate firms``: fit the firm act rates to the STA's 2018 tax-credit ratings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.table import Table

from scslab.cli import console, err_console
from scslab.errors import ScenarioError

app = typer.Typer(help="Fit a scenario's free rates to published figures.", no_args_is_help=True)


@app.command()
def firms(
    scenario_file: Annotated[
        Path | None,
        typer.Argument(help="a scenario YAML file; default: the built-in one with corporate-scs"),
    ] = None,
    agents: Annotated[int | None, typer.Option(help="number of people (firms follow)")] = None,
    seed: Annotated[int | None, typer.Option(help="random seed")] = None,
    months: Annotated[int, typer.Option(help="months after which the shares are read")] = 12,
    target_a: Annotated[float, typer.Option(help="share of A ratings to reach")] = 0.0489,
    target_d: Annotated[float, typer.Option(help="share of D ratings to reach")] = 0.0701,
    tolerance: Annotated[
        float, typer.Option(help="how close each share must come, as a share")
    ] = 0.0005,
    as_json: Annotated[
        bool, typer.Option("--json", help="print the fit as JSON on stdout, nothing else")
    ] = False,
) -> None:
    """Fit firms.violation_scale and firms.award_scale so that the run ends with the target
    shares of A and D tax ratings (default: the STA's 2018 figures, 4.89 % and 7.01 %)."""
    from scslab.analysis.calibrate import calibrate_firms
    from scslab.engine.scenario import Scenario

    scenario = Scenario.from_yaml(scenario_file) if scenario_file else Scenario()
    updates: dict[str, Any] = {}
    if scenario_file is None:
        updates["scheme"] = "corporate-scs"
    if agents is not None:
        if agents <= 0:
            raise ScenarioError(f"--agents {agents}: give at least one person")
        updates["population"] = scenario.population.model_copy(update={"agents": agents})
    if seed is not None:
        if seed < 0:
            raise ScenarioError(f"--seed {seed}: give a seed of 0 or more")
        updates["seed"] = seed
    if not 0 < tolerance < 0.5:
        raise ScenarioError(f"--tolerance {tolerance:g}: give a share between 0 and 0.5")
    if updates:
        scenario = Scenario.model_validate({**scenario.model_dump(), **updates})

    status = err_console if as_json else console

    def show(row: dict[str, Any]) -> None:
        status.print(
            f"  violation_scale {row['violation_scale']:8.4f}  award_scale "
            f"{row['award_scale']:8.4f}  ->  A {row['A']:.2%}  D {row['D']:.2%}"
        )

    status.print(
        f"[bold]calibrating[/] firms of {scenario.population.agents:,} people over {months} "
        f"months to A {target_a:.2%}, D {target_d:.2%}"
    )
    fit = calibrate_firms(
        scenario,
        {"A": target_a, "D": target_d},
        months=months,
        tolerance=tolerance,
        progress=show,
    )
    if as_json:
        typer.echo(json.dumps(fit.as_dict(), indent=2))
    else:
        t = Table(title="Fitted", show_edge=False)
        t.add_column("rating")
        t.add_column("share", justify="right")
        t.add_column("target", justify="right")
        for g, share in fit.shares.items():
            target = fit.targets.get(g)
            t.add_row(g, f"{share:.2%}", f"{target:.2%}" if target is not None else "")
        console.print(t)
        snippet = {
            "firms": {
                "violation_scale": float(f"{fit.violation_scale:.4g}"),
                "award_scale": float(f"{fit.award_scale:.4g}"),
            }
        }
        console.print("put this in a scenario file to use the fit:")
        console.print(yaml.safe_dump(snippet, sort_keys=False), markup=False)
    if not fit.converged:
        err_console.print(
            f"[yellow]not converged[/] after {len(fit.evaluations)} runs: the targets may lie "
            "beyond what the two scales can reach with this catalogue"
        )
        raise typer.Exit(1)
