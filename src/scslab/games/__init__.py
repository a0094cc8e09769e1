"""Reputation games on top of scores: indirect reciprocity, checked against published results.

The donation game (a donor pays ``c`` so that a recipient gets ``b``) played by ALLC, ALLD and
discriminators, who condition on the recipient's reputation. Reputations follow an assessment
norm given as a table (:mod:`scslab.games.norms`: the leading eight, Stern Judging, Simple
Standing, Scoring, Shunning, image scoring, or a user's own) and are seen in one of three ways:

- ``public``: one shared reputation per agent;
- ``private``: every agent holds its own view of every other, bit-packed (10,000 agents: 12.5 MB),
  and sees a donation with probability ``q_obs``;
- ``institution``: ``institution_size`` judges assess each donor and the public reputation is good
  when more than a fraction ``strictness`` of them say good. ``institution_protocol="independent"``
  (the default) is the model of Radzvilavicius, Kessinger & Plotkin (2021): after each round every
  agent is reassessed, each judge watching it act towards a recipient of the judge's own;
  ``"shared"`` has all judges assess the one donation the donor made, when it made it.

Execution error ``e1`` turns an intended cooperation into a defection; assessment error ``e2``
flips a judgement. Strategies may evolve by pairwise imitation with mutation.

Entry points:

- :func:`play` (:class:`GameConfig` -> :class:`GameResult`): a whole game, e.g.
  ``play(GameConfig(norm="L3", pairing="random", strategies="disc=1", e1=0.05, e2=0.02))``.
  ``GameConfig.from_options(**settings)`` validates a user's settings into one
  :class:`~scslab.errors.ScenarioError`.
- :func:`play_donations` (for a scheme engine): one batch of donations
  ``donors[i] -> recipients[i]`` decided against a public reputation array that the *caller*
  supplies (1 good, 0 bad: a grade band or a list flag standing in for an institution's
  reputation); returns which donations were cooperations. Strategy codes are
  :data:`ALLD`, :data:`ALLC`, :data:`DISC`. The caller records the defections and updates its own
  reputations; the draws are keyed by ``(seed, step, i)`` on :data:`scslab.rng.STREAM_GAMES`.

The published results these kernels reproduce, and the tests that pin them, are in
``docs/validation.md``.
"""

from scslab.games.kernels import ALLC, ALLD, DISC
from scslab.games.model import STRATEGIES, GameConfig, parse_strategies
from scslab.games.norms import NORMS, Norm, load_norm, resolve_norm
from scslab.games.run import (
    Game,
    GameResult,
    estimate_memory,
    institution_odds,
    play,
    play_donations,
)

__all__ = [
    "ALLC",
    "ALLD",
    "DISC",
    "NORMS",
    "STRATEGIES",
    "Game",
    "GameConfig",
    "GameResult",
    "Norm",
    "estimate_memory",
    "institution_odds",
    "load_norm",
    "parse_strategies",
    "play",
    "play_donations",
    "resolve_norm",
]
