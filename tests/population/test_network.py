"""The friendship network: reproducible, well-formed CSR, heavy-tailed, homophilous, and the
score assortativity measured on it."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from helpers import numba_threads
from scslab.errors import ScenarioError, ScslabError
from scslab.population import PopulationSpec, generate
from scslab.population.individuals import Population
from scslab.population.network import (
    Network,
    NetworkSpec,
    generate_network,
    score_assortativity,
    tie_group,
)
from scslab.rng import step_key, uniforms

N = 20_000


@pytest.fixture(scope="module")
def pop() -> Population:
    return generate(PopulationSpec(agents=N), 11)


@pytest.fixture(scope="module")
def net(pop: Population) -> Network:
    return generate_network(pop, NetworkSpec(), 5)


def assert_well_formed(net: Network) -> None:
    n = net.n
    indptr, indices = net.indptr, net.indices
    assert indptr.dtype == np.int64 and indices.dtype == np.int32
    assert indptr.shape == (n + 1,) and indptr[0] == 0 and indptr[-1] == indices.shape[0]
    assert np.all(np.diff(indptr) >= 0)
    if indices.size == 0:
        return
    assert indices.min() >= 0 and indices.max() < n
    src = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
    dst = indices.astype(np.int64)
    assert not np.any(src == dst), "self-loop"
    same_row = src[1:] == src[:-1]
    assert np.all(dst[1:][same_row] > dst[:-1][same_row]), "row not strictly ascending"
    forward = np.sort(src * n + dst)
    backward = np.sort(dst * n + src)
    assert np.array_equal(forward, backward), "a tie is stored in one direction only"


def edge_scores(net: Network, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    src = np.repeat(np.arange(net.n), net.degrees())
    return score[src], score[net.indices]


def test_the_same_seed_gives_the_same_network_bit_for_bit(pop: Population, net: Network) -> None:
    """Drawing again with the same population, spec and seed reproduces both arrays exactly."""
    again = generate_network(pop, NetworkSpec(), 5)
    assert np.array_equal(again.indptr, net.indptr)
    assert np.array_equal(again.indices, net.indices)


def test_a_different_seed_gives_a_different_network(pop: Population, net: Network) -> None:
    """Another seed draws other degrees and other ties."""
    other = generate_network(pop, NetworkSpec(), 6)
    assert not np.array_equal(other.indptr, net.indptr)


def test_the_network_does_not_depend_on_the_number_of_threads(pop: Population) -> None:
    """One thread and all threads build identical arrays (fixed blocks, counter-based draws)."""
    with numba_threads(1):
        single = generate_network(pop, NetworkSpec(homophily=0.5), 8)
    with numba_threads(2):
        many = generate_network(pop, NetworkSpec(homophily=0.5), 8)
    assert np.array_equal(single.indptr, many.indptr)
    assert np.array_equal(single.indices, many.indices)


@pytest.mark.parametrize(
    ("agents", "spec"),
    [
        (N, NetworkSpec()),
        (3000, NetworkSpec(homophily=0.0, tail=2.1)),
        (3000, NetworkSpec(homophily=1.0, tail=6.0)),
        (3000, NetworkSpec(mean_degree=0.5)),
        (200, NetworkSpec(mean_degree=150)),
        (2, NetworkSpec(mean_degree=1, homophily=0.0)),
    ],
)
def test_the_csr_arrays_are_well_formed_and_symmetric(agents: int, spec: NetworkSpec) -> None:
    """Offsets rise, friends are in range, sorted, without self-loops or repeats, and every tie
    is stored in both directions."""
    people = generate(PopulationSpec(agents=agents), 2)
    assert_well_formed(generate_network(people, spec, 3))


def test_the_mean_degree_is_close_to_the_spec(pop: Population, net: Network) -> None:
    """Realised degrees are a little below the targets (dropped repeats), and the heavy tail
    makes the sample mean wander; both stay within 10 % of the spec at 20k people."""
    for spec, drawn in ((NetworkSpec(), net), (NetworkSpec(mean_degree=8, homophily=0.0), None)):
        drawn = drawn or generate_network(pop, spec, 5)
        assert drawn.degrees().mean() == pytest.approx(spec.mean_degree, rel=0.1)


def test_degrees_are_heavy_tailed_and_the_tail_exponent_steers_it(
    pop: Population, net: Network
) -> None:
    """Hubs far above the mean exist, and a smaller exponent makes the tail heavier."""
    deg = net.degrees()
    assert deg.max() > 4 * deg.mean()
    assert (deg > 3 * deg.mean()).mean() > 0.01  # a Poisson(20) would have practically none
    heavy = generate_network(pop, NetworkSpec(tail=2.2), 5).degrees()
    light = generate_network(pop, NetworkSpec(tail=5.0), 5).degrees()
    assert np.percentile(heavy, 99) > 2 * np.percentile(light, 99)


@pytest.mark.parametrize("homophily", [0.0, 0.5, 0.9])
def test_the_share_of_ties_within_group_follows_homophily(
    pop: Population, homophily: float
) -> None:
    """Within-group ties are about ``h + (1 - h) * chance``, chance being the share that random
    pairing of stubs would give (sum of squared stub shares of the groups)."""
    net = generate_network(pop, NetworkSpec(homophily=homophily), 5)
    group = tie_group(pop)
    a, b = edge_scores(net, group)
    within = float(np.mean(a == b))
    stub_share = np.bincount(group, weights=net.degrees()) / net.degrees().sum()
    chance = float(np.sum(stub_share**2))
    assert abs(within - (homophily + (1 - homophily) * chance)) < 0.03


def test_homophily_raises_the_share_of_ties_within_group(pop: Population) -> None:
    """Homophily 0.9 gives clearly more within-group ties than homophily 0."""
    group = tie_group(pop)
    shares = []
    for h in (0.0, 0.9):
        a, b = edge_scores(generate_network(pop, NetworkSpec(homophily=h), 5), group)
        shares.append(np.mean(a == b))
    assert shares[1] > shares[0] + 0.5


@pytest.mark.parametrize(("agents", "mean"), [(20, 20.0), (20, 25.0), (20, 19.5), (1, 0.5)])
def test_a_mean_degree_the_population_cannot_reach_is_refused(agents: int, mean: float) -> None:
    """A mean degree above n - 1 (hence any at or above n) is a ScenarioError naming both."""
    people = generate(PopulationSpec(agents=agents), 1)
    with pytest.raises(ScenarioError, match=r"mean_degree .* not possible among"):
        generate_network(people, NetworkSpec(mean_degree=mean), 1)


def test_assortativity_is_one_when_friends_share_a_group_constant_score(pop: Population) -> None:
    """With homophily 1 every tie is within a group, so a score constant per group correlates
    perfectly across ties."""
    net = generate_network(pop, NetworkSpec(homophily=1.0), 5)
    score = (tie_group(pop) * 7 % 13).astype(np.int16)
    assert score_assortativity(net, score) == pytest.approx(1.0, abs=1e-9)


def test_assortativity_is_near_zero_for_random_scores(net: Network) -> None:
    """Scores drawn independently of the ties do not correlate across them."""
    score = (uniforms(step_key(9, 99, 0), net.n, 0) * 1000).astype(np.int16)
    assert abs(score_assortativity(net, score)) < 0.05


def test_assortativity_matches_numpy_over_explicit_pairs() -> None:
    """The O(edges) kernel equals numpy's corrcoef over the listed (person, friend) pairs."""
    people = generate(PopulationSpec(agents=600), 4)
    net = generate_network(people, NetworkSpec(mean_degree=6, homophily=0.8), 4)
    score = (tie_group(people) * 10 + (uniforms(step_key(1, 99, 0), 600, 0) * 30)).astype(np.int16)
    a, b = edge_scores(net, score.astype(np.float64))
    expected = np.corrcoef(a, b)[0, 1]
    assert score_assortativity(net, score) == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_assortativity_is_nan_when_undefined() -> None:
    """No ties, or a score that does not vary, leave the correlation undefined: NaN."""
    ring = Network(np.array([0, 1, 2, 3], np.int64), np.array([1, 2, 0], np.int32))
    assert np.isnan(score_assortativity(ring, np.full(3, 5, np.int16)))
    empty = Network(np.zeros(4, np.int64), np.zeros(0, np.int32))
    assert np.isnan(score_assortativity(empty, np.arange(3, dtype=np.int16)))
    with pytest.raises(ScenarioError, match="one per person"):
        score_assortativity(ring, np.arange(4, dtype=np.int16))


def test_networkx_export_has_one_edge_per_tie() -> None:
    """to_networkx gives an undirected graph with every person and every tie once."""
    import networkx as nx  # in the dev extra: this test runs in CI, never skips

    people = generate(PopulationSpec(agents=500), 1)
    net = generate_network(people, NetworkSpec(mean_degree=5), 1)
    graph = net.to_networkx()
    assert isinstance(graph, nx.Graph) and graph.number_of_nodes() == 500
    assert graph.number_of_edges() * 2 == net.indices.shape[0]
    assert sorted(graph.neighbors(0)) == net.indices[net.indptr[0] : net.indptr[1]].tolist()


def test_igraph_export_has_one_edge_per_tie() -> None:
    """to_igraph gives an undirected graph with every person and every tie once."""
    people = generate(PopulationSpec(agents=500), 1)
    net = generate_network(people, NetworkSpec(mean_degree=5), 1)
    graph = net.to_igraph()
    assert graph.vcount() == 500 and not graph.is_directed()
    assert graph.ecount() * 2 == net.indices.shape[0]


@pytest.mark.parametrize("method", ["to_networkx", "to_igraph"])
def test_exports_refuse_networks_above_the_limit(net: Network, method: str) -> None:
    """Above max_people an export is a ScenarioError that says the size and the limit."""
    with pytest.raises(ScenarioError, match="20,000 people, above max_people=1,000"):
        getattr(net, method)(max_people=1000)


@pytest.mark.parametrize(
    ("method", "module"), [("to_networkx", "networkx"), ("to_igraph", "igraph")]
)
def test_exports_say_how_to_install_a_missing_library(
    monkeypatch: pytest.MonkeyPatch, method: str, module: str
) -> None:
    """Without the library, an export raises an ImportError that is also a ScslabError and
    says what to pip install."""
    monkeypatch.setitem(sys.modules, module, None)
    small = Network(np.array([0, 1, 2], np.int64), np.array([1, 0], np.int32))
    with pytest.raises(ScslabError, match=f"pip install {module}") as caught:
        getattr(small, method)()
    assert isinstance(caught.value, ImportError)


def test_a_negative_homophily_gets_status_2_before_anything_is_drawn(tmp_path: Path) -> None:
    """Bad input from a scenario file: one line at file:line:column, status 2, no output folder."""
    import os
    import subprocess

    scenario = tmp_path / "s.yaml"
    scenario.write_text("scheme: sesame-credit\nnetwork:\n  homophily: -0.2\n")
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from scslab.cli import main; main()",
            "run",
            str(scenario),
            "--out",
            str(tmp_path / "run"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert out.returncode == 2
    assert "s.yaml:3:" in out.stderr and "network.homophily" in out.stderr
    assert not (tmp_path / "run").exists()
