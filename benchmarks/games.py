"""Reputation games benchmark: game steps (donations) per second in each observation mode.

Public and institutional reputations at 1,000,000 agents, private views at 10,000 agents (a
10,000 × 10,000-bit view matrix, 12.5 MB), both pairings, Stern Judging with discriminators,
unconditional cooperators and defectors (0.6/0.2/0.2), e1 = e2 = 0.01. A game step is one
donation: a round is N/2 of them with pairs, N with random pairing. Each figure is the median of
five timed games after a warm-up that compiles the kernels; the time includes measuring the good
fraction after every round. A judgement is one observer's assessment of one donation. Results go
to benchmarks/RESULTS.md by hand, with the machine noted.

    .venv/bin/python benchmarks/games.py [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numba

from scslab.games import Game, GameConfig

STRATEGIES = "disc=0.6,allc=0.2,alld=0.2"


def seconds(config: GameConfig, repeats: int) -> float:
    times = []
    for seed in range(repeats):
        game = Game(config.model_copy(update={"seed": seed}))
        start = time.perf_counter()
        game.play()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="ten times fewer agents and rounds")
    p.add_argument(
        "--observation", choices=["public", "institution", "private"], help="only these rows"
    )
    args = p.parse_args()
    scale = 10 if args.quick else 1
    big, small = 1_000_000 // scale, 10_000 // scale
    cases = [
        ("public", "pairs", big, {}, 20),
        ("public", "random", big, {}, 10),
        (
            "institution",
            "pairs",
            big,
            {"institution_size": 10, "institution_protocol": "shared"},
            20,
        ),
        (
            "institution",
            "random",
            big,
            {"institution_size": 10, "institution_protocol": "shared"},
            10,
        ),
        ("institution", "pairs", big, {"institution_size": 10}, 20),
        ("institution", "random", big, {"institution_size": 10}, 10),
        ("private", "pairs", small, {"q_obs": 1.0}, 20),
        ("private", "pairs", small, {"q_obs": 0.1}, 40),
        ("private", "pairs", small, {"q_obs": 0.01}, 100),
        ("private", "random", small, {"q_obs": 1.0}, 4),
        ("private", "random", small, {"q_obs": 0.1}, 10),
    ]
    threads = numba.get_num_threads()
    print(
        f"numba threads: {threads}; private pairs and independent institutions (parallel) "
        "also on one thread, side by side"
    )
    print("| observation | pairing | agents | q_obs | rounds/s | game steps/s | judgements/s |")
    print("|---|---|---:|---:|---:|---:|---:|")
    per_round_of: dict[tuple[str, str, str], float] = {}
    for observation, pairing, agents, extra, rounds in cases:
        if args.observation and observation != args.observation:
            continue
        rounds = max(2, rounds // scale)
        config = GameConfig(
            norm="stern-judging",
            observation=observation,
            pairing=pairing,
            agents=agents,
            steps=rounds,
            strategies=STRATEGIES,
            e1=0.01,
            e2=0.01,
            **extra,
        )
        Game(config.model_copy(update={"agents": 200, "steps": 2})).play()  # compile
        steps = agents // 2 if pairing == "pairs" else agents
        # a judgement is one observer's assessment of one donation: one per step in public mode
        # and in shared institutions (the judges' verdicts are drawn as one count); Q per agent
        # and round in independent ones, at most (a count stops once the verdict is settled)
        q = extra.get("q_obs")
        judges = 1.0 if q is None else 2 + q * (agents - 2)
        protocol = str(extra.get("institution_protocol", "independent"))
        if observation == "institution" and protocol == "independent":
            judges = agents * float(extra["institution_size"]) / steps
        parallel = (observation, pairing) == ("private", "pairs") or (
            observation == "institution" and protocol == "independent"
        )
        for n_threads in (threads, 1) if parallel and threads > 1 else (threads,):
            numba.set_num_threads(n_threads)
            per_round = seconds(config, 5) / rounds
            numba.set_num_threads(threads)
            label = f"{'' if q is None else q}" + (
                f" ({n_threads} thread)" if n_threads == 1 else ""
            )
            name = observation
            if observation == "institution":
                name = f"institution, {protocol} (Q = {extra['institution_size']})"
                per_round_of[(protocol, pairing, str(n_threads))] = per_round
            print(
                f"| {name} | {pairing} | {agents:,} | {label} "
                f"| {1 / per_round:,.1f} | {steps / per_round / 1e6:,.3f} M "
                f"| {steps * judges / per_round / 1e6:,.1f} M |"
            )
    print("\nInstitutions side by side (medians, ms a round):")
    print("| pairing | threads | shared | independent | independent / shared |")
    print("|---|---:|---:|---:|---:|")
    for (protocol, pairing, n), independent in per_round_of.items():
        if protocol != "independent":
            continue
        shared = per_round_of[("shared", pairing, str(threads))]
        print(
            f"| {pairing} | {n} | {shared * 1e3:,.1f} | {independent * 1e3:,.1f} "
            f"| {independent / shared:,.2f} |"
        )


if __name__ == "__main__":
    main()
