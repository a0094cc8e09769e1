"""scslab and the Mesa implementation of the reference model agree in distribution.

The reference model is benchmarks/REFERENCE.md. Its two implementations draw different random
numbers (scslab: counter-based, keyed by seed, stream, step and agent; Mesa: ``random.Random``), so
single runs cannot match; what must match is the distribution over seeds of every output after 24
monthly steps: the share of people in each of the six grades, the defaulter-list size, and the
number of people under a running C and a running D restriction (9 outcomes).

Design, fixed before looking at the results:

- **Samples.** 30 runs each, seeds 0..29 for both (independent, since the generators differ),
  2,000 people on one network file in ``tmp_path`` that both load, 24 steps.
- **Test.** Per outcome, a two-sided Mann-Whitney U test (rank-sum), normal approximation with
  tie correction and continuity correction. Rank-based, so it needs no normality: the counts are
  discrete and small (D restrictions average about 3), and AAA and AA shares are almost always 0
  (all ties give p = 1, rightly). Deterministic, unlike a random permutation test, and it needs
  nothing beyond numpy (scipy is not a dependency).
- **Significance.** Family-wise 5 %: Bonferroni over the 9 outcomes, 0.05 / 9 = 0.0056 each.
  (Bonferroni holds whatever the correlation between outcomes, and the grade shares are
  correlated.) With fixed seeds the verdict is deterministic; a false alarm has at most a 5 %
  chance per change to the engine's random draws. Simulated, the per-outcome size is 0.0047.
- **Power.** For a shift of the mean by 1.0 between-seed standard deviation the power is 80 %
  per outcome (95 % at 1.2 SD, 99.7 % at 1.5 SD; Monte Carlo, 4,000 normal pairs of samples).
  In the outcomes' own units, from 200 seeds of each implementation at this size: about
  0.6 percentage points of grade A, 1.3 of B, 1.5 of C; 13 people on the list (7 % of about
  180); 29 people under C restrictions (4 % of about 700).
- **Teeth.** The same procedure must reject a changed model: Mesa without the friend rule
  (shifts C by about 4 SD), and Mesa with a 25 % higher unpaid-judgment rate (the list by about
  3 SD). If these pass, the agreement above is not the test's blindness.

Runs use one numba thread: scslab's results do not depend on the thread count (tests/engine
cover that), and on a busy 2-core machine a parallel region can wait a scheduler tick, which at
2,000 people costs far more than the work.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from helpers import numba_threads

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))

import mesa_reference  # noqa: E402
import scslab_reference  # noqa: E402
from reference_network import draw, save_network  # noqa: E402

N = 2_000
STEPS = 24
SEEDS = range(30)
OUTCOMES = scslab_reference.OUTCOMES
ALPHA = 0.05 / len(OUTCOMES)  # Bonferroni: family-wise 5 %

Runner = Callable[[int], dict[str, float]]


def mann_whitney(x: np.ndarray, y: np.ndarray) -> float:
    """Two-sided p-value of the Mann-Whitney U test (normal approximation, tie and continuity
    corrected); 1 when every value is tied."""
    n1, n2 = len(x), len(y)
    total = n1 + n2
    values = np.concatenate([x, y]).astype(np.float64)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    mid_rank = np.cumsum(counts) - (counts - 1) / 2.0  # average rank of each distinct value
    u = mid_rank[inverse][:n1].sum() - n1 * (n1 + 1) / 2.0
    ties = float((counts.astype(np.float64) ** 3 - counts).sum())
    var = n1 * n2 / 12.0 * ((total + 1) - ties / (total * (total - 1)))
    if var <= 0:
        return 1.0
    z = max(abs(u - n1 * n2 / 2.0) - 0.5, 0.0) / math.sqrt(var)
    return math.erfc(z / math.sqrt(2.0))


def samples(runner: Runner) -> np.ndarray:
    """``[seed, outcome]`` over the fixed seeds."""
    return np.array([[out[k] for k in OUTCOMES] for out in map(runner, SEEDS)])


def p_values(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    return {k: mann_whitney(a[:, j], b[:, j]) for j, k in enumerate(OUTCOMES)}


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    with numba_threads(1):
        yield


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared network file, written once for the module; both implementations load it."""
    path = tmp_path_factory.mktemp("reference") / f"network-{N}.npz"
    return save_network(path, *draw(N))


@pytest.fixture(scope="module")
def scslab_runs(network: Path, one_thread: None) -> np.ndarray:
    return samples(lambda seed: scslab_reference.run(network, N, STEPS, seed))


@pytest.fixture(scope="module")
def mesa_runs(network: Path) -> np.ndarray:
    return samples(lambda seed: mesa_reference.run(network, N, STEPS, seed))


def test_mann_whitney_matches_a_worked_example() -> None:
    """The rank-sum statistic and its p-value match a hand-checked case and tied edge cases."""
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    y = np.array([6.0, 7.0, 8.0, 9.0, 10.0])
    # U = 0, mean 12.5, sd sqrt(25 * 11 / 12); z = 12 / 4.787 = 2.507, p = 0.0122
    assert mann_whitney(x, y) == pytest.approx(0.01219, abs=1e-4)
    assert mann_whitney(y, x) == pytest.approx(mann_whitney(x, y))
    assert mann_whitney(np.zeros(30), np.zeros(30)) == 1.0
    assert mann_whitney(x, x) == 1.0


@pytest.mark.slow
def test_scslab_and_mesa_agree_in_distribution(
    scslab_runs: np.ndarray, mesa_runs: np.ndarray
) -> None:
    """No outcome's distribution over 30 seeds differs at family-wise 5 % (Bonferroni)."""
    p = p_values(scslab_runs, mesa_runs)
    differ = {k: v for k, v in p.items() if v < ALPHA}
    assert not differ, (
        f"scslab and Mesa differ (p < {ALPHA:.4f}): {differ}; means scslab "
        f"{dict(zip(OUTCOMES, scslab_runs.mean(0).round(4), strict=True))}, Mesa "
        f"{dict(zip(OUTCOMES, mesa_runs.mean(0).round(4), strict=True))}"
    )
    # the outputs are what REFERENCE.md says they are
    assert np.allclose(scslab_runs[:, :6].sum(axis=1), 1.0)
    assert np.allclose(mesa_runs[:, :6].sum(axis=1), 1.0)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("variant", "moved"),
    [
        ({"friend_rule": False}, "C"),
        ({"rate_factor": {"unpaid-judgment": 1.25}}, "listed"),
    ],
    ids=["no-friend-rule", "judgments-up-25pc"],
)
def test_the_same_procedure_detects_a_changed_model(
    network: Path, scslab_runs: np.ndarray, variant: dict[str, object], moved: str
) -> None:
    """The agreement test has teeth: a Mesa model with one rule changed is told apart from
    scslab on the outcome the change moves, at the same per-outcome significance."""
    changed = samples(lambda seed: mesa_reference.run(network, N, STEPS, seed, **variant))
    p = p_values(scslab_runs, changed)
    assert p[moved] < ALPHA, f"{variant} not detected: p = {p}"
