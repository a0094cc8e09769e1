"""Social ties: a homophilous, heavy-tailed friendship network stored as CSR arrays.

Person ``i``'s friends are ``indices[indptr[i]:indptr[i + 1]]`` (``int64`` offsets, ``int32``
people). The generator is written with numpy and numba so that ten million people with a mean
degree of 20 build in well under a minute; small networks can be handed to networkx or igraph.

How :func:`generate_network` draws ties (a configuration model with homophily):

1. Each person gets a target degree: a Pareto variable with density exponent ``spec.tail``
   (``P(k) ~ k**-tail``), capped and rounded up or down at random so that its expectation is
   kept. The cap is ``min(n - 1, 100 * mean_degree, sqrt(mean_degree * n), 65535)``; the square
   root is the structural cut-off of uncorrelated networks (Boguñá, Pastor-Satorras & Vespignani
   2004), above which hubs would mostly draw repeated ties, and binds only below about
   ``10_000 * mean_degree`` people. The Pareto minimum is solved for so that the mean target
   degree, cap included, equals ``spec.mean_degree``. With a small mean and a heavy tail that
   minimum falls below 1 and some people have no friends.
2. Each of a person's stubs (half-ties) is *local* with probability ``spec.homophily`` and is then
   paired within the person's group (region, hukou, income band), or *global* and paired with any
   global stub.
3. Stubs are put in a uniformly random order within their group (local) or among all global stubs,
   by a counting sort into random buckets followed by a shuffle within each bucket, and
   consecutive stubs are paired.
4. Self-loops and repeated ties are dropped, as is the odd stub left over in a group. Realised
   degrees are therefore a little below the targets, more so in small populations whose groups
   are small: at the defaults, about 8 % below with 20,000 people, 2-3 % with 200,000 and under
   1 % from a million on (a hub cannot have more distinct friends than its group has members).

Every draw comes from :mod:`scslab.rng` under ``STREAM_NETWORK_BUILD``, keyed by person and stub,
and every parallel loop runs over fixed blocks, so the same population, spec and seed give the
same arrays bit for bit whatever the number of threads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
from numba import njit, prange
from pydantic import BaseModel, ConfigDict, Field

from scslab.errors import ScenarioError
from scslab.optional import need
from scslab.population.individuals import HUKOU, INCOME_BANDS, Population
from scslab.rng import STREAM_NETWORK_BUILD, step_key, uniform, uniform_pair

#: People per block of the parallel loops. Fixed, so that results never depend on thread count.
BLOCK = 1 << 14
#: The stub-scatter passes keep one row of bucket counters per chunk of people, so they use at
#: most this many chunks (each at least BLOCK people).
MAX_CHUNKS = 64
#: People per part when half-ties are grouped by owner before going into rows: a part's rows are
#: rebuilt in cache, and an owner's offset in its part must fit ``uint16``.
PART = 1 << 16
#: A target degree is drawn per (person, stub) with ``j < 2**16``, hence this hard cap.
MAX_DEGREE = 65535
#: Average stubs per random bucket; a bucket is shuffled in cache.
BUCKET_STUBS = 4096
#: At most this many buckets (all groups together), so the counters stay small.
MAX_BUCKETS = 1 << 16
_N_HUKOU = len(HUKOU)
_N_INCOME = len(INCOME_BANDS)


class NetworkSpec(BaseModel):
    """How to draw the friendship network. All defaults are assumed, not calibrated."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mean_degree: Annotated[float, Field(gt=0, le=1000)] = Field(
        default=20.0, description="average number of friends per person (assumed)"
    )
    homophily: Annotated[float, Field(ge=0, le=1)] = Field(
        default=0.7,
        description="share of ties drawn within one's own region, hukou and income band (assumed)",
    )
    tail: Annotated[float, Field(gt=2, le=10)] = Field(
        default=2.5,
        description="Pareto exponent of the degree distribution; smaller is heavier (assumed)",
    )


@dataclass(eq=False)
class Network:
    """Friendships as CSR arrays; ties are symmetric when generated."""

    indptr: np.ndarray  # int64[N+1]
    indices: np.ndarray  # int32[E]
    #: every tie is listed both ways; the generator's are, and an engine may then count each
    #: person's low-scoring friends from the few people who cross a threshold in a month
    symmetric: bool = False

    @property
    def n(self) -> int:
        return int(self.indptr.shape[0] - 1)

    @property
    def nbytes(self) -> int:
        return int(self.indptr.nbytes + self.indices.nbytes)

    def degrees(self) -> np.ndarray:
        return np.diff(self.indptr)

    def edges(self) -> tuple[np.ndarray, np.ndarray]:
        """Each tie once, as ``(a, b)`` with ``a < b``; a tie stored in one direction only (after
        rewiring) counts as well. Allocates ``O(edges)``: meant for small networks."""
        src = np.repeat(np.arange(self.n, dtype=np.int64), self.degrees())
        dst = self.indices.astype(np.int64)
        keep = src != dst
        lo = np.minimum(src, dst)[keep]
        hi = np.maximum(src, dst)[keep]
        pairs = np.unique(lo * max(self.n, 1) + hi)
        return pairs // max(self.n, 1), pairs % max(self.n, 1)

    def to_networkx(self, max_people: int = 200_000) -> Any:
        """An undirected ``networkx.Graph`` with nodes ``0 .. n-1``, one edge per tie.

        Refused above ``max_people`` (networkx keeps a Python dict per node and per edge; ten
        million people would take tens of GB). networkx is not a dependency of scslab.
        """
        self._check_export("to_networkx", max_people)
        nx = need("networkx", feature="Network.to_networkx")
        graph = nx.Graph()
        graph.add_nodes_from(range(self.n))
        a, b = self.edges()
        graph.add_edges_from(zip(a.tolist(), b.tolist(), strict=True))
        return graph

    def to_igraph(self, max_people: int = 200_000) -> Any:
        """An undirected ``igraph.Graph`` with vertices ``0 .. n-1``, one edge per tie.

        Refused above ``max_people``. python-igraph is not a dependency of scslab.
        """
        self._check_export("to_igraph", max_people)
        ig = need("igraph", feature="Network.to_igraph")
        a, b = self.edges()
        return ig.Graph(n=self.n, edges=np.column_stack([a, b]).tolist(), directed=False)

    def _check_export(self, what: str, max_people: int) -> None:
        if self.n > max_people:
            raise ScenarioError(
                f"{what}: this network has {self.n:,} people, above max_people={max_people:,}; "
                "exports are meant for small networks (pass a larger max_people if you are sure "
                "the machine can hold it, or analyse the CSR arrays indptr/indices directly)"
            )


# --------------------------------------------------------------------------------------------
# generator


def _expected_capped(xmin: float, a: float, cap: float) -> float:
    """``E[min(X, cap)]`` for a Pareto ``X`` with minimum ``xmin`` and survival exponent ``a``."""
    if xmin >= cap:
        return cap
    return float(xmin + xmin**a * (cap ** (1 - a) - xmin ** (1 - a)) / (1 - a))


def pareto_minimum(mean: float, tail: float, cap: float) -> float:
    """The Pareto minimum that gives ``mean`` once draws are capped at ``cap`` (``mean <= cap``)."""
    a = tail - 1.0
    lo, hi = 0.0, cap
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if _expected_capped(mid, a, cap) < mean:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


@njit(cache=True, parallel=True)
def _draw_degrees(n: int, key: int, xmin: float, inv_a: float, cap: int) -> np.ndarray:
    deg = np.empty(n, np.int32)
    for b in prange((n + BLOCK - 1) // BLOCK):
        for i in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
            x = xmin * (1.0 - uniform(key, i, 0)) ** (-inv_a)
            if x >= cap:
                deg[i] = cap
            else:
                d = int(x)
                if uniform(key, i, 1) < x - d:
                    d += 1
                deg[i] = d
    return deg


@njit(cache=True, inline="always")
def _bucket(
    key: int,
    i: int,
    j: int,
    group: int,
    homophily: float,
    n_groups: int,
    per_group: int,
) -> int:
    """The random bucket of stub ``j`` of person ``i``: inside its group if local, else global."""
    u, v = uniform_pair(key, i, j)
    g = group if u < homophily else n_groups
    return g * per_group + int(v * per_group)


@njit(cache=True, parallel=True)
def _count_buckets(
    deg: np.ndarray,
    region: np.ndarray,
    hukou: np.ndarray,
    income: np.ndarray,
    key: int,
    homophily: float,
    n_groups: int,
    per_group: int,
    chunk: int,
) -> np.ndarray:
    n = deg.shape[0]
    n_chunks = (n + chunk - 1) // chunk
    n_buckets = (n_groups + 1) * per_group
    counts = np.zeros((n_chunks, n_buckets), np.int64)
    for c in prange(n_chunks):
        row = counts[c]
        for i in range(c * chunk, min(n, (c + 1) * chunk)):
            g = (np.int64(region[i]) * _N_HUKOU + hukou[i]) * _N_INCOME + income[i]
            for j in range(deg[i]):
                row[_bucket(key, i, j, g, homophily, n_groups, per_group)] += 1
    return counts


@njit(cache=True)
def _bucket_offsets(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start of each bucket, and the write cursor of each (chunk, bucket): chunks in order."""
    n_chunks, n_buckets = counts.shape
    starts = np.empty(n_buckets + 1, np.int64)
    cursor = np.empty((n_chunks, n_buckets), np.int64)
    at = np.int64(0)
    for k in range(n_buckets):
        starts[k] = at
        for c in range(n_chunks):
            cursor[c, k] = at
            at += counts[c, k]
    starts[n_buckets] = at
    return starts, cursor


@njit(cache=True, parallel=True)
def _scatter_stubs(
    deg: np.ndarray,
    region: np.ndarray,
    hukou: np.ndarray,
    income: np.ndarray,
    key: int,
    homophily: float,
    n_groups: int,
    per_group: int,
    chunk: int,
    cursor: np.ndarray,
    total: int,
) -> np.ndarray:
    n = deg.shape[0]
    stubs = np.empty(total, np.int32)
    for c in prange(cursor.shape[0]):
        at = cursor[c]
        for i in range(c * chunk, min(n, (c + 1) * chunk)):
            g = (np.int64(region[i]) * _N_HUKOU + hukou[i]) * _N_INCOME + income[i]
            for j in range(deg[i]):
                k = _bucket(key, i, j, g, homophily, n_groups, per_group)
                stubs[at[k]] = i
                at[k] += 1
    return stubs


@njit(cache=True, parallel=True)
def _shuffle_buckets(stubs: np.ndarray, starts: np.ndarray, key: int) -> None:
    """Fisher-Yates within each bucket, keyed by stub position (so independent of threads)."""
    for k in prange(starts.shape[0] - 1):
        lo = starts[k]
        for t in range(starts[k + 1] - lo - 1, 0, -1):
            r = int(uniform(key, lo + t, 0) * (t + 1))
            tmp = stubs[lo + t]
            stubs[lo + t] = stubs[lo + r]
            stubs[lo + r] = tmp


@njit(cache=True)
def _pair_chunks(starts: np.ndarray, per_group: int, chunk_pairs: int) -> np.ndarray:
    """``(first stub, end stub)`` of runs of at most ``chunk_pairs`` pairs, each inside one
    group's (or the global) range. An odd stub at the end of a range is left out."""
    n_seg = (starts.shape[0] - 1) // per_group
    k = 0
    for g in range(n_seg):
        m = (starts[(g + 1) * per_group] - starts[g * per_group]) // 2
        k += (m + chunk_pairs - 1) // chunk_pairs
    out = np.empty((k, 2), np.int64)
    k = 0
    for g in range(n_seg):
        lo = starts[g * per_group]
        m = (starts[(g + 1) * per_group] - lo) // 2
        for c in range((m + chunk_pairs - 1) // chunk_pairs):
            out[k, 0] = lo + 2 * c * chunk_pairs
            out[k, 1] = lo + 2 * min(m, (c + 1) * chunk_pairs)
            k += 1
    return out


@njit(cache=True, parallel=True)
def _count_half_edges(stubs: np.ndarray, chunks: np.ndarray, n_parts: int, part: int) -> np.ndarray:
    """Half-ties per (chunk of pairs, part of people); self-loops are not counted."""
    counts = np.zeros((chunks.shape[0], n_parts), np.int64)
    for c in prange(chunks.shape[0]):
        row = counts[c]
        for p in range(chunks[c, 0], chunks[c, 1], 2):
            a = stubs[p]
            b = stubs[p + 1]
            if a != b:
                row[a // part] += 1
                row[b // part] += 1
    return counts


@njit(cache=True)
def _half_edge_offsets(
    counts: np.ndarray, indptr: np.ndarray, part: int
) -> tuple[np.ndarray, np.ndarray]:
    """Write cursor of each (chunk, part): a part's half-ties go to its own CSR range, chunks in
    order; and the number of half-ties of each part."""
    n_chunks, n_parts = counts.shape
    cursor = np.empty((n_chunks, n_parts), np.int64)
    filled = np.zeros(n_parts, np.int64)
    for q in range(n_parts):
        at = indptr[q * part]
        for c in range(n_chunks):
            cursor[c, q] = at
            at += counts[c, q]
        filled[q] = at - indptr[q * part]
    return cursor, filled


@njit(cache=True, parallel=True)
def _scatter_half_edges(
    stubs: np.ndarray,
    chunks: np.ndarray,
    cursor: np.ndarray,
    indices: np.ndarray,
    owner: np.ndarray,
    part: int,
) -> None:
    """Each pair ``(a, b)`` becomes ``a -> b`` and ``b -> a``, written into the range of the
    owner's part (``owner`` holds the owner's offset inside its part); few write heads, so this
    stays in cache where writing straight into rows would miss it on every tie."""
    for c in prange(chunks.shape[0]):
        at = cursor[c]
        for p in range(chunks[c, 0], chunks[c, 1], 2):
            a = stubs[p]
            b = stubs[p + 1]
            if a != b:
                q = a // part
                indices[at[q]] = b
                owner[at[q]] = a - q * part
                at[q] += 1
                q = b // part
                indices[at[q]] = a
                owner[at[q]] = b - q * part
                at[q] += 1


@njit(cache=True, inline="always")
def _sort_row(x: np.ndarray) -> None:
    m = x.shape[0]
    if m > 32:
        x.sort()
        return
    for t in range(1, m):
        v = x[t]
        s = t - 1
        while s >= 0 and x[s] > v:
            x[s + 1] = x[s]
            s -= 1
        x[s + 1] = v


@njit(cache=True, parallel=True)
def _rows(
    indptr: np.ndarray, indices: np.ndarray, owner: np.ndarray, filled: np.ndarray, part: int
) -> np.ndarray:
    """Within each part, move half-ties into their owner's row, sort each row and drop repeats
    (all in cache); returns the new length of each row."""
    n = indptr.shape[0] - 1
    length = np.empty(n, np.int64)
    for q in prange(filled.shape[0]):
        first = q * part
        last = min(n, first + part)
        lo = indptr[first]
        dst = indices[lo : lo + filled[q]].copy()
        at = indptr[first:last].copy()
        for e in range(filled[q]):
            k = owner[lo + e]
            indices[at[k]] = dst[e]
            at[k] += 1
        for i in range(first, last):
            r0 = indptr[i]
            r1 = at[i - first]
            _sort_row(indices[r0:r1])
            w = r0
            for p in range(r0, r1):
                if p == r0 or indices[p] != indices[p - 1]:
                    indices[w] = indices[p]
                    w += 1
            length[i] = w - r0
    return length


@njit(cache=True, parallel=True)
def _compact(old_ptr: np.ndarray, old: np.ndarray, new_ptr: np.ndarray) -> np.ndarray:
    n = new_ptr.shape[0] - 1
    out = np.empty(new_ptr[n], np.int32)
    for b in prange((n + BLOCK - 1) // BLOCK):
        for i in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
            lo = old_ptr[i]
            base = new_ptr[i]
            for p in range(new_ptr[i + 1] - base):
                out[base + p] = old[lo + p]
    return out


def tie_group(pop: Population) -> np.ndarray:
    """The group within which local ties are drawn: ``(region * 2 + hukou) * 5 + income``."""
    g = (pop.region.astype(np.int32) * _N_HUKOU + pop.hukou) * _N_INCOME + pop.income
    out: np.ndarray = g.astype(np.int32)
    return out


def generate_network(pop: Population, spec: NetworkSpec, seed: int) -> Network:
    """Draw a symmetric, homophilous, heavy-tailed friendship network over ``pop``.

    See the module docstring for the model. Refuses (``ScenarioError``) a mean degree that ``n``
    people cannot reach, before anything is allocated.
    """
    n = pop.n
    mean = float(spec.mean_degree)
    if mean > n - 1:
        raise ScenarioError(
            f"network.mean_degree {mean:g} is not possible among {n:,} people: a person can "
            f"have at most {n - 1:,} friends; give a mean degree below {n - 1:,} or more people"
        )
    cap = min(n - 1, max(1, math.ceil(100 * mean)), MAX_DEGREE, math.ceil(math.sqrt(mean * n)))
    xmin = pareto_minimum(mean, spec.tail, cap)
    n_groups = len(pop.spec.regions) * _N_HUKOU * _N_INCOME
    for name, col, levels in (
        ("region", pop.region, len(pop.spec.regions)),
        ("hukou", pop.hukou, _N_HUKOU),
        ("income", pop.income, _N_INCOME),
    ):
        if col.shape != (n,) or (n and int(col.max()) >= levels):
            raise ScenarioError(
                f"population column {name} does not match its spec ({levels} levels)"
            )

    deg = _draw_degrees(
        n, step_key(seed, STREAM_NETWORK_BUILD, 0), xmin, 1.0 / (spec.tail - 1.0), cap
    )
    total = int(deg.sum(dtype=np.int64))
    # buckets: a power of two per group (and for the global stubs), about BUCKET_STUBS each
    want = max(1, min(MAX_BUCKETS // (n_groups + 1), total // ((n_groups + 1) * BUCKET_STUBS)))
    per_group = 1 << (want.bit_length() - 1)
    chunk = max(BLOCK, -(-n // MAX_CHUNKS))
    skey = step_key(seed, STREAM_NETWORK_BUILD, 1)
    cols = (pop.region, pop.hukou, pop.income)
    h = float(spec.homophily)
    counts = _count_buckets(deg, *cols, skey, h, n_groups, per_group, chunk)
    starts, cursor = _bucket_offsets(counts)
    del counts
    stubs = _scatter_stubs(deg, *cols, skey, h, n_groups, per_group, chunk, cursor, total)
    del cursor
    _shuffle_buckets(stubs, starts, step_key(seed, STREAM_NETWORK_BUILD, 2))

    # rows sized for the targets; self-loops, odd stubs and repeats leave gaps, closed at the end
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(deg, out=indptr[1:])
    del deg
    chunks = _pair_chunks(starts, per_group, max(1 << 16, -(-total // (2 * MAX_CHUNKS))))
    n_parts = -(-n // PART)
    counts = _count_half_edges(stubs, chunks, n_parts, PART)
    cursor, filled = _half_edge_offsets(counts, indptr, PART)
    indices = np.empty(total, np.int32)
    owner = np.empty(total, np.uint16)
    _scatter_half_edges(stubs, chunks, cursor, indices, owner, PART)
    del stubs, cursor
    length = _rows(indptr, indices, owner, filled, PART)
    del owner
    new_ptr = np.zeros(n + 1, np.int64)
    np.cumsum(length, out=new_ptr[1:])
    del length
    return Network(new_ptr, _compact(indptr, indices, new_ptr), symmetric=True)


# --------------------------------------------------------------------------------------------
# measures


@njit(cache=True, parallel=True)
def _moment_blocks(
    indptr: np.ndarray, indices: np.ndarray, rows: int, x: np.ndarray, y: np.ndarray
) -> np.ndarray:
    """Per block of rows ``i < rows``: ties, and the sums of ``x[i]``, ``x[i]**2``, ``y[j]``,
    ``y[j]**2`` and ``x[i] * y[j]`` over ties ``i -> j``, as exact integers.

    Scores are int16, so a term is below 2**30 and a block (BLOCK rows of at most MAX_DEGREE
    ties) sums below 2**60: no overflow."""
    nb = (rows + BLOCK - 1) // BLOCK
    out = np.zeros((nb, 6), np.int64)
    for b in prange(nb):
        m = np.int64(0)
        sx = np.int64(0)
        sxx = np.int64(0)
        sy = np.int64(0)
        syy = np.int64(0)
        sxy = np.int64(0)
        for i in range(b * BLOCK, min(rows, (b + 1) * BLOCK)):
            lo = indptr[i]
            hi = indptr[i + 1]
            if hi == lo:
                continue
            xi = np.int64(x[i])
            ty = np.int64(0)
            tyy = np.int64(0)
            for p in range(lo, hi):
                yj = np.int64(y[indices[p]])
                ty += yj
                tyy += yj * yj
            d = hi - lo
            m += d
            sx += xi * d
            sxx += xi * xi * d
            sy += ty
            syy += tyy
            sxy += xi * ty
        out[b, 0] = m
        out[b, 1] = sx
        out[b, 2] = sxx
        out[b, 3] = sy
        out[b, 4] = syy
        out[b, 5] = sxy
    return out


def tie_moments(
    indptr: np.ndarray,
    indices: np.ndarray,
    x: np.ndarray,
    y: np.ndarray | None = None,
    rows: int | None = None,
) -> tuple[int, ...]:
    """Exact integer moments of the scores at both ends of the ties of rows ``0 .. rows-1``:
    ``(ties, Σx, Σx², Σy, Σy², Σxy)`` with ``x = x[i]`` and ``y = y[j]`` over ties ``i -> j``.

    Integers add up the same in any order, so the moments of parts of the ties (a sharded run's
    shards) sum to those of the whole; :func:`moments_correlation` turns them into the
    correlation. ``y`` defaults to ``x``; it may be longer (a shard's scores of people held
    elsewhere follow its own).
    """
    n = indptr.shape[0] - 1 if rows is None else rows
    blocks = _moment_blocks(indptr, indices, n, x, x if y is None else y)
    # exact totals: each int64 split into high and low 32 bits, summed apart, joined in Python
    high = (blocks >> 32).sum(axis=0)
    low = (blocks & 0xFFFFFFFF).sum(axis=0)
    return tuple((int(h) << 32) + int(lo) for h, lo in zip(high, low, strict=True))


def moments_correlation(moments: tuple[int, ...]) -> float:
    """Pearson correlation from :func:`tie_moments` (or their sum over parts); NaN when there
    are no ties or either end's scores do not vary. Computed from exact integers, so the same
    moments always give the same float."""
    m, sx, sxx, sy, syy, sxy = moments
    vx = m * sxx - sx * sx
    vy = m * syy - sy * sy
    if m == 0 or vx <= 0 or vy <= 0:
        return math.nan
    return (m * sxy - sx * sy) / math.sqrt(vx * vy)


def score_assortativity(net: Network, score: np.ndarray) -> float:
    """Pearson correlation of ``score[i]`` and ``score[j]`` over every stored tie ``i -> j``.

    A symmetric network counts each tie in both directions. One pass over the ties (``O(edges)``
    time, ``O(n / BLOCK)`` memory) summing exact integer moments (:func:`tie_moments`), so the
    result is the same bit for bit whatever the number of threads or shards. NaN when there are
    no ties or the scores at either end of the ties do not vary.
    """
    if score.shape != (net.n,):
        raise ScenarioError(f"score has shape {score.shape}; expected ({net.n},), one per person")
    return moments_correlation(tie_moments(net.indptr, net.indices, score))
