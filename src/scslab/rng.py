"""Counter-based random numbers keyed by (seed, stream, step, agent).

Nothing here carries state. A draw is a pure function of its key, so the same seed gives the same
numbers bit for bit whatever the number of threads, shards or restarts, and two schemes run on the
same population see the same draws (common random numbers).

The mixer is SplitMix64's finaliser (Steele, Lea & Flood 2014; passes BigCrush as a counter-based
generator). :func:`step_key` folds seed, stream and step into one 64-bit key; :func:`uniform` mixes
that key with an agent index and a sub-draw index ``j < 2**16``.
"""

from __future__ import annotations

import numpy as np
from numba import int64, njit, uint64

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_INV53 = 1.0 / 9007199254740992.0  # 2**-53
_INV32 = 1.0 / 4294967296.0  # 2**-32

#: Streams: one per kind of decision, so that adding a draw to one never shifts another.
STREAM_POPULATION = 1
STREAM_EVENTS = 2
STREAM_OBSERVE = 3
STREAM_REPAIR = 4
STREAM_PANEL = 5
STREAM_NETWORK = 6
STREAM_FALSE = 7
STREAM_COUNTS = 8
STREAM_NETWORK_BUILD = 9  # drawing the friendship network (STREAM_NETWORK rewires it per step)
STREAM_GAMES = 10  # reputation games (scslab.games)
STREAM_FIRMS = 11  # drawing firms and their managers (step 0, 1), and closures (step t + 2)
STREAM_CONTRACTS = 12  # the contract game: strategies (step 0), month t's contracts (step t + 1)
STREAM_DESIGN = 13  # a sweep's random design points (scslab.sweep)
STREAM_ATTEMPTS = 14  # attempts at an act that a running sanction blocks, per person
STREAM_ATTEMPT_COUNTS = 15  # attempts by everyone else, drawn as counts per cell
STREAM_FULFIL = 16  # leaving a list early by performing the obligation behind it
STREAM_APPEALS = 24  # objecting to a negative record (draw j: record j), and the decision (draw 0)
STREAM_LIVES = 17  # effects on lives in the step: income band moves (slot: the group)
STREAM_SHAME = 18  # ties cut by friends of people under public shaming (effects on ties)
STREAM_REFUSE = 19  # contracts refused by partners of people under an effect on contracts
#: The severity of a person's j-th record of the month, for an event scored by severity, is drawn
#: on STREAM_OBSERVE at sub-draw SLOT_SEVERITY + j: beside the draw of whether it was recorded.
SLOT_SEVERITY = 1 << 15


@njit(cache=True, inline="always")
def mix64(z: np.uint64) -> np.uint64:
    z = uint64(z)
    z = (z ^ (z >> uint64(30))) * _M1
    z = (z ^ (z >> uint64(27))) * _M2
    return z ^ (z >> uint64(31))


@njit(cache=True, inline="always")
def step_key(seed: int, stream: int, step: int) -> int:
    """One key per (seed, stream, step).

    Inlined into the kernels that call it: kernels pass each stream as a constant, and numba
    would otherwise compile it once per stream and argument type."""
    k = mix64(uint64(seed) * GOLDEN + uint64(stream))
    # Returned as int64 (same bits) so that Python can hold it and hand it back to kernels.
    return int64(mix64(k ^ (uint64(step + 1) * _M2)))


@njit(cache=True, inline="always")
def bits(key: int, agent: int, j: int) -> np.uint64:
    return mix64(uint64(key) + (uint64(agent) * uint64(65536) + uint64(j)) * GOLDEN)


@njit(cache=True, inline="always")
def uniform(key: int, agent: int, j: int) -> float:
    """A float in [0, 1) for this key, agent and sub-draw."""
    return float(bits(key, agent, j) >> uint64(11)) * _INV53


@njit(cache=True, inline="always")
def uniform_pair(key: int, agent: int, j: int) -> tuple[float, float]:
    """Two independent floats in [0, 1) with 32-bit resolution, from one mix."""
    x = bits(key, agent, j)
    return float(x >> uint64(32)) * _INV32, float(x & uint64(0xFFFFFFFF)) * _INV32


@njit(cache=True)
def uniforms(key: int, n: int, j: int) -> np.ndarray:
    """``uniform(key, i, j)`` for agents ``i = 0 .. n-1``."""
    out = np.empty(n, np.float64)
    for i in range(n):
        out[i] = uniform(key, i, j)
    return out
