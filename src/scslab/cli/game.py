"""``scslab game``: a reputation game (indirect reciprocity) and what it does to cooperation."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from scslab.cli import console, err_console

if TYPE_CHECKING:
    from scslab.games import GameConfig, GameResult


class Observation(StrEnum):
    public = "public"
    private = "private"
    institution = "institution"


class Protocol(StrEnum):
    independent = "independent"
    shared = "shared"


class Pairing(StrEnum):
    pairs = "pairs"
    random = "random"


def game(
    norm: Annotated[
        str,
        typer.Option(
            help="a built-in norm (L1..L8, stern-judging, simple-standing, scoring, "
            "shunning, image-scoring) or a norm file (.yaml/.json)"
        ),
    ] = "stern-judging",
    observation: Annotated[
        Observation,
        typer.Option(
            help="who sees reputations: one public one, each their own, or an institution's verdict"
        ),
    ] = Observation.public,
    institution_size: Annotated[
        int, typer.Option("--institution-size", metavar="Q", help="institution: judges")
    ] = 10,
    strictness: Annotated[
        float,
        typer.Option(
            metavar="q", help="institution: good when more than this share says good, in [0, 1)"
        ),
    ] = 0.5,
    institution_protocol: Annotated[
        Protocol,
        typer.Option(
            "--institution-protocol",
            help="institution: independent (each judge sees the donor act towards a recipient of "
            "its own, everyone reassessed each round: the published model) or shared (all judges "
            "assess the one observed donation)",
        ),
    ] = Protocol.independent,
    e1: Annotated[float, typer.Option("--e1", help="an intended cooperation fails")] = 0.01,
    e2: Annotated[float, typer.Option("--e2", help="a judgement is flipped")] = 0.01,
    b: Annotated[float, typer.Option("--b", help="benefit to the recipient")] = 1.0,
    c: Annotated[float, typer.Option("--c", help="cost to the donor")] = 0.1,
    agents: Annotated[int, typer.Option(metavar="N", help="players")] = 1000,
    steps: Annotated[
        int, typer.Option(metavar="T", help="rounds (a player takes part in about one donation)")
    ] = 1000,
    strategies: Annotated[
        str, typer.Option(help="shares of disc, allc and alld, e.g. disc=0.6,allc=0.2,alld=0.2")
    ] = "disc=1",
    evolve: Annotated[
        bool,
        typer.Option("--evolve/--no-evolve", help="strategies spread by imitation, with mutation"),
    ] = False,
    q_obs: Annotated[
        float, typer.Option("--q-obs", help="private: chance that a player sees a donation")
    ] = 1.0,
    q_know: Annotated[
        float,
        typer.Option(
            "--q-know",
            help="chance that a discriminator knows the recipient's reputation (else: good)",
        ),
    ] = 1.0,
    burn_in: Annotated[
        int | None,
        typer.Option(
            "--burn-in",
            metavar="ROUNDS",
            help="rounds left out of the averages, fewer than --steps [default: a fifth of them]",
        ),
    ] = None,
    pairing: Annotated[
        Pairing,
        typer.Option(help="pairs: everyone paired each round; random: N random donations a round"),
    ] = Pairing.pairs,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help="print the four figures and every setting as JSON on stdout, only that"
        ),
    ] = False,
) -> None:
    """Play the donation game under a reputation norm and report reputations and cooperation."""
    from scslab.games import Game, GameConfig

    config = GameConfig.from_options(
        flags=True,
        norm=norm,
        observation=observation.value,
        institution_size=institution_size,
        strictness=strictness,
        institution_protocol=institution_protocol.value,
        e1=e1,
        e2=e2,
        b=b,
        c=c,
        agents=agents,
        steps=steps,
        strategies=strategies,
        evolve=evolve,
        q_obs=q_obs,
        q_know=q_know,
        burn_in=burn_in,
        pairing=pairing.value,
        seed=seed,
    )
    play = Game(config)  # refuses, before allocating, a game the memory cannot hold
    with Progress(
        TextColumn(f"[bold]{config.norm.name}[/] {config.observation}, {config.agents:,} players"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rounds"),
        TimeRemainingColumn(),
        console=err_console if as_json else console,
        transient=as_json,
    ) as bar:
        task = bar.add_task("game", total=config.steps)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done)

        result = play.play(progress=advance)
    if as_json:
        typer.echo(json.dumps({**result.summary(), "settings": config.settings()}, indent=2))
        return
    _print(result)


def _seen(cfg: GameConfig) -> str:
    if cfg.observation != "institution":
        return cfg.observation
    return (
        f"institution ({cfg.institution_protocol}, Q = {cfg.institution_size}, "
        f"q = {cfg.strictness:g})"
    )


def _print(result: GameResult) -> None:
    cfg = result.config
    console.print(
        f"\n[bold]{cfg.norm.name}[/], {_seen(cfg)} reputations: {cfg.agents:,} players, "
        f"{cfg.steps:,} rounds, {result.seconds:.1f} s"
    )
    console.print(
        f"cooperation {result.cooperation:.2%}; good fraction {result.good_fraction:.2%} "
        f"(rounds {cfg.measured_from + 1:,} to {cfg.steps:,})"
    )
    t = Table(show_edge=False)
    for col in ("strategy", "share at the end", "seen as good", "payoff per round"):
        t.add_column(col, justify="left" if col == "strategy" else "right")
    for name, share in result.final_shares.items():
        good = result.good_fraction_by_strategy[name]
        pay = result.payoff_by_strategy[name]
        t.add_row(
            name,
            f"{share:.1%}",
            "–" if good is None else f"{good:.2%}",
            "–" if pay is None else f"{pay:.4f}",
        )
    console.print(t)
