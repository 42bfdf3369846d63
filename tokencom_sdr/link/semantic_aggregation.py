"""Semantic packet aggregation: group tokens so that what survives still means the most.

SemPA (Lee, Park, Choi, Park, SPAWC 2025) scores a grouping of a message's
``n`` tokens into ``P`` packets by its **Average Token Similarity**

    ATS = sum over surviving packet sets H of (1 - p)^|H| p^(P - |H|) * phi(H),

where ``phi(H)`` is the similarity between the message and the tokens of
``H`` alone (for text, the cosine of sentence embeddings). This module holds
the objective and three searches over groupings; ``phi`` is injected, so the
link layer never loads an encoder:

* :func:`exhaustive_grouping`: every grouping (small messages only);
* :func:`gbeam_grouping`: a genetic beam search (a fixed beam; children by
  random swaps of a share of the tokens between packets);
* :func:`lookahead_grouping`: places tokens one at a time, most important
  first (importance = how much ``phi`` drops without the token), each in the
  packet that maximises the ATS of the partial grouping, counting the tokens
  still to be placed as always received (the lookahead to what is not yet
  decided); then improves the result by pairwise swaps within a small budget.

A grouping is an assignment vector: ``packet_of[i]`` is the packet of token
``i``. Every search keeps the packet sizes of interleaved aggregation
(``ceil(n / P)`` or one fewer), so a grouping packs like any other.

Costs are counted as ``phi`` requests (``g_calls``, the search's complexity,
as in the papers) and as distinct masks actually computed
(``encoder_calls``, what the cache leaves).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import numpy as np

from .aggregation import Aggregation, FixedGrouping

__all__ = ["SubsetSimilarity", "AverageTokenSimilarity", "SearchResult",
           "exhaustive_grouping", "gbeam_grouping", "lookahead_grouping",
           "interleaved_assignment", "sequential_assignment", "groups_of",
           "SemanticAggregation", "SEMANTIC_METHODS", "PACKET_AGGREGATIONS"]

#: ``phi`` itself: kept-token masks ``(S, n)`` bool -> similarities ``(S,)`` float.
SimilarityFunction = Callable[[np.ndarray], np.ndarray]


class SubsetSimilarity:
    """``phi`` of kept-token masks, each distinct mask computed once.

    Parameters
    ----------
    similarity : callable
        Masks ``(S, n)`` bool -> ``(S,)`` float, the similarity of the tokens
        kept by each mask to the whole message (``1`` for the full message).
    n_tokens : int
        Tokens in the message, ``n``.

    Notes
    -----
    The empty mask scores 0 and the full mask 1 without a call: nothing is
    left of the message, or all of it is.
    """

    def __init__(self, similarity: SimilarityFunction, n_tokens: int):
        self.similarity = similarity
        self.n_tokens = int(n_tokens)
        self.cache: Dict[bytes, float] = {}
        #: phi evaluations asked for (the search's cost, cache or not).
        self.requests = 0
        #: Distinct masks computed (what the cache leaves).
        self.computed = 0

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        masks = np.asarray(masks, dtype=bool)
        kept = masks.sum(axis=1)
        out = np.where(kept == self.n_tokens, 1.0, 0.0)
        todo = np.flatnonzero((kept > 0) & (kept < self.n_tokens))
        self.requests += todo.size
        keys = [row.tobytes() for row in np.packbits(masks[todo], axis=1)]
        missing: Dict[bytes, int] = {}
        for key, i in zip(keys, todo):
            if key not in self.cache and key not in missing:
                missing[key] = int(i)
        if missing:
            values = np.asarray(self.similarity(masks[list(missing.values())]), dtype=np.float64)
            self.computed += len(missing)
            self.cache.update(zip(missing, values.tolist()))
        out[todo] = [self.cache[key] for key in keys]
        return out


class AverageTokenSimilarity:
    """The ATS of groupings: exact over all ``2^P`` survivor sets, or Monte Carlo.

    Parameters
    ----------
    phi : SubsetSimilarity
    n_packets : int
        ``P``.
    loss : float
        Packet-loss probability ``p``, in ``[0, 1)``.
    exact_max_packets : int
        Enumerate all survivor sets up to this ``P``; above it, draw
        ``samples`` survivor sets once and score every grouping on the same
        ones (common random numbers, so two groupings' difference is much
        surer than either value).
    samples : int
        Survivor sets drawn when ``P > exact_max_packets``.
    seed : int
        Seed of those draws.
    """

    def __init__(self, phi: SubsetSimilarity, n_packets: int, loss: float,
                 exact_max_packets: int = 10, samples: int = 32, seed: int = 0):
        if not 0.0 <= loss < 1.0:
            raise ValueError(f"loss must lie in [0, 1), got {loss}")
        self.phi = phi
        self.n_packets = int(n_packets)
        self.loss = float(loss)
        self.exact = self.n_packets <= exact_max_packets
        if self.exact:
            patterns = np.array(list(itertools.product((False, True), repeat=self.n_packets)),
                                dtype=bool).reshape(-1, self.n_packets)
            kept = patterns.sum(axis=1)
            self.weights = (1.0 - loss) ** kept * loss ** (self.n_packets - kept)
        else:
            rng = np.random.default_rng(seed)
            patterns = rng.random((samples, self.n_packets)) >= loss
            self.weights = np.full(samples, 1.0 / samples)
        # One extra always-received column: tokens not yet placed (lookahead).
        self.patterns = np.hstack([patterns, np.ones((len(patterns), 1), dtype=bool)])
        #: ATS evaluations so far.
        self.evaluations = 0

    def __call__(self, assignments: np.ndarray) -> np.ndarray:
        """ATS of each grouping.

        Parameters
        ----------
        assignments : np.ndarray, shape ``(G, n)``, int
            Packet of each token per grouping; ``-1`` (not placed yet) counts
            as always received.

        Returns
        -------
        np.ndarray, shape ``(G,)``, float64
        """
        assignments = np.atleast_2d(np.asarray(assignments, dtype=np.int64))
        columns = np.where(assignments < 0, self.n_packets, assignments)
        masks = self.patterns[:, columns]                        # (S, G, n)
        masks = np.swapaxes(masks, 0, 1).reshape(-1, columns.shape[1])
        values = self.phi(masks).reshape(len(assignments), len(self.patterns))
        self.evaluations += len(assignments)
        return values @ self.weights

    def with_interval(self, assignment: np.ndarray) -> Tuple[float, float]:
        """ATS of one grouping and the half-width of its 95 % interval (0 when exact)."""
        columns = np.asarray(assignment, dtype=np.int64)
        values = self.phi(self.patterns[:, columns])
        mean = float(values @ self.weights)
        if self.exact:
            return mean, 0.0
        return mean, float(1.96 * values.std(ddof=1) / math.sqrt(len(values)))


@dataclass
class SearchResult:
    """A grouping found by a search.

    Attributes
    ----------
    assignment : np.ndarray, shape ``(n,)``, int64
        Packet of each token.
    ats : float
        Its ATS under the search's objective.
    evaluations : int
        Groupings scored.
    """

    assignment: np.ndarray
    ats: float
    evaluations: int


def interleaved_assignment(n_tokens: int, n_packets: int) -> np.ndarray:
    """Token ``i`` in packet ``i mod P``, ``(n,)`` int64."""
    return np.arange(n_tokens, dtype=np.int64) % n_packets


def sequential_assignment(n_tokens: int, n_packets: int) -> np.ndarray:
    """Runs of tokens, with the sizes interleaved aggregation gives, ``(n,)`` int64."""
    sizes = np.bincount(interleaved_assignment(n_tokens, n_packets), minlength=n_packets)
    return np.repeat(np.arange(n_packets, dtype=np.int64), sizes)


def groups_of(assignment: np.ndarray, n_packets: int) -> List[np.ndarray]:
    """Positions per packet, ascending, from an assignment vector."""
    return [np.flatnonzero(assignment == p).astype(np.int64) for p in range(n_packets)]


def _canonical(assignment: np.ndarray) -> bytes:
    # Packets are interchangeable: relabel them in order of first appearance.
    _, first, inverse = np.unique(assignment, return_index=True, return_inverse=True)
    rank = np.empty(first.size, dtype=np.int64)
    rank[np.argsort(first)] = np.arange(first.size)
    return rank[inverse].astype(np.int16).tobytes()


def _all_equal_groupings(n_tokens: int, n_packets: int) -> Iterator[np.ndarray]:
    # Restricted-growth strings with every packet holding n / P tokens: each
    # unordered grouping exactly once.
    size = n_tokens // n_packets
    assignment = np.zeros(n_tokens, dtype=np.int64)
    fill = [0] * n_packets

    def place(i: int, opened: int):
        if i == n_tokens:
            yield assignment.copy()
            return
        for packet in range(min(opened + 1, n_packets)):
            if fill[packet] < size:
                assignment[i] = packet
                fill[packet] += 1
                yield from place(i + 1, max(opened, packet + 1))
                fill[packet] -= 1

    yield from place(0, 0)


def exhaustive_grouping(objective: AverageTokenSimilarity, n_tokens: int,
                        batch: int = 512) -> SearchResult:
    """Score every grouping; needs ``P`` to divide ``n`` (equal packets)."""
    n_packets = objective.n_packets
    if n_tokens % n_packets:
        raise ValueError(f"exhaustive search needs equal packets: {n_tokens} tokens do not "
                         f"split into {n_packets}")
    if math.factorial(n_tokens) // (math.factorial(n_tokens // n_packets) ** n_packets
                                    * math.factorial(n_packets)) > 10 ** 6:
        raise ValueError(f"exhaustive search over {n_tokens} tokens in {n_packets} packets has "
                         f"more than 10^6 groupings; use sempa-gbeam or sempa-look")
    best, best_ats, evaluations = None, -np.inf, 0
    generator = _all_equal_groupings(n_tokens, n_packets)
    while True:
        chunk = list(itertools.islice(generator, batch))
        if not chunk:
            break
        scores = objective(np.array(chunk))
        evaluations += len(chunk)
        top = int(np.argmax(scores))
        if scores[top] > best_ats:
            best, best_ats = chunk[top], float(scores[top])
    return SearchResult(best, best_ats, evaluations)


def gbeam_grouping(objective: AverageTokenSimilarity, n_tokens: int, *, beam: int = 8,
                   children: int = 4, swap_fraction: float = 0.2, generations: int = 15,
                   patience: int = 4, seed: int = 0) -> SearchResult:
    """Genetic beam search over groupings.

    Parameters
    ----------
    beam : int
        Groupings kept per generation. The first beam holds interleaved and
        sequential aggregation and random groupings.
    children : int
        Mutations of each beam member per generation. A mutation swaps
        ``max(1, round(swap_fraction * n / 2))`` random pairs of tokens that
        sit in different packets.
    generations, patience : int
        At most ``generations`` rounds; stop earlier after ``patience``
        rounds without a better grouping.
    """
    n_packets = objective.n_packets
    rng = np.random.default_rng(seed)
    seen = set()
    start = [interleaved_assignment(n_tokens, n_packets), sequential_assignment(n_tokens, n_packets)]
    while len(start) < beam:
        start.append(rng.permutation(start[0]))
    population = _unseen(start, seen)
    scores = objective(np.array(population))
    evaluations = len(population)
    swaps = max(1, int(round(swap_fraction * n_tokens / 2)))
    best, stale = float(scores.max()), 0
    for _ in range(generations):
        offspring = []
        for parent in population:
            for _ in range(children):
                offspring.append(_mutate(parent, swaps, rng))
        offspring = _unseen(offspring, seen)
        if offspring:
            child_scores = objective(np.array(offspring))
            evaluations += len(offspring)
            population = population + offspring
            scores = np.concatenate([scores, child_scores])
        order = np.argsort(-scores, kind="stable")[:beam]
        population = [population[i] for i in order]
        scores = scores[order]
        if scores[0] > best + 1e-12:
            best, stale = float(scores[0]), 0
        else:
            stale += 1
            if stale >= patience:
                break
    return SearchResult(population[0], float(scores[0]), evaluations)


def lookahead_grouping(objective: AverageTokenSimilarity, n_tokens: int, *,
                       max_candidates: int = 4, lookahead_tokens: Optional[int] = None,
                       polish_evaluations: int = 120, seed: int = 0) -> SearchResult:
    """Greedy placement, most important token first, with a lookahead objective.

    Parameters
    ----------
    max_candidates : int
        Packets tried per token: all that have room, or, when more do, the
        ``max_candidates`` holding the least importance so far. Empty packets
        are interchangeable, so only one of them is tried.
    lookahead_tokens : int or None
        Tokens placed by the objective, most important first; the rest go to
        the packet with room holding the least importance (no evaluation).
        Default ``2 P + 4``: on long messages the least important tokens
        move the ATS too little to pay for their evaluations.
    polish_evaluations : int
        Budget of the swap phase that follows: batches of random swaps of two
        tokens in different packets, the best kept when it raises the ATS.
    """
    n_packets = objective.n_packets
    capacity = np.bincount(interleaved_assignment(n_tokens, n_packets), minlength=n_packets)
    # Importance: how much phi falls when one token alone is missing.
    without_one = ~np.eye(n_tokens, dtype=bool)
    importance = 1.0 - objective.phi(without_one)
    assignment = np.full(n_tokens, -1, dtype=np.int64)
    fill = np.zeros(n_packets, dtype=np.int64)
    load = np.zeros(n_packets)
    evaluations = 0
    if lookahead_tokens is None:
        lookahead_tokens = 2 * n_packets + 4
    for rank, token in enumerate(np.argsort(-importance, kind="stable")):
        open_packets = np.flatnonzero(fill < capacity)
        used = open_packets[fill[open_packets] > 0]
        empty = open_packets[fill[open_packets] == 0]
        candidates = list(used[np.argsort(load[used], kind="stable")])
        if empty.size:
            candidates.insert(0, int(empty[0]))
        candidates = candidates[:max_candidates]
        if rank >= lookahead_tokens:
            choice = int(open_packets[np.argmin(load[open_packets])])
        elif len(candidates) == 1:
            choice = candidates[0]
        else:
            trials = np.repeat(assignment[np.newaxis, :], len(candidates), axis=0)
            trials[np.arange(len(candidates)), token] = candidates
            scores = objective(trials)
            evaluations += len(candidates)
            choice = candidates[int(np.argmax(scores))]
        assignment[token] = choice
        fill[choice] += 1
        load[choice] += importance[token]
    score = float(objective(assignment[np.newaxis, :])[0])
    evaluations += 1
    rng = np.random.default_rng(seed)
    batch, budget = 12, polish_evaluations
    while budget >= batch:
        budget -= batch
        trials = np.array([_mutate(assignment, 1, rng) for _ in range(batch)])
        scores = objective(trials)
        evaluations += batch
        best = int(np.argmax(scores))
        if scores[best] > score + 1e-12:
            assignment, score = trials[best], float(scores[best])
    return SearchResult(assignment, score, evaluations)


def _mutate(parent: np.ndarray, swaps: int, rng: np.random.Generator) -> np.ndarray:
    child = parent.copy()
    for _ in range(swaps):
        i = int(rng.integers(child.size))
        others = np.flatnonzero(child != child[i])
        if others.size == 0:
            break
        j = int(others[rng.integers(others.size)])
        child[i], child[j] = child[j], child[i]
    return child


def _unseen(assignments: List[np.ndarray], seen: set) -> List[np.ndarray]:
    out = []
    for assignment in assignments:
        key = _canonical(assignment)
        if key not in seen:
            seen.add(key)
            out.append(assignment)
    return out


#: Searches by method name, as the aggregation interface knows them.
SEMANTIC_METHODS: Dict[str, Callable[..., SearchResult]] = {
    "sempa-gbeam": gbeam_grouping,
    "sempa-look": lookahead_grouping,
    "exhaustive": exhaustive_grouping,
}

#: Every packet aggregation a frame can be sent with: the fixed ones and the
#: semantic searches.
PACKET_AGGREGATIONS = ("sequential", "interleaved", *SEMANTIC_METHODS)


class SemanticAggregation(Aggregation):
    """Content-aware aggregation: a SemPA search per frame.

    Parameters
    ----------
    method : str
        ``sempa-gbeam``, ``sempa-look`` or ``exhaustive``.
    tokens_per_packet : int
        ``T``; a frame of ``n`` tokens goes in ``ceil(n / T)`` packets.
    similarity_for : callable
        ``frame -> SimilarityFunction``: builds ``phi`` for one frame's tokens
        (for text: sentence-embedding cosine of the decoded kept tokens).
    loss : float
        Packet-loss probability the grouping is optimised for.
    samples : int
        Monte Carlo survivor sets when a frame has more than
        ``exact_max_packets`` packets (exact enumeration costs ``2^P - 2``
        phi calls per grouping, so it stops paying off above ``P ~ 6``).
    options : dict
        Passed to the search (e.g. ``beam`` for GBeam).
    """

    def __init__(self, method: str, tokens_per_packet: int,
                 similarity_for: Callable[[object], SimilarityFunction], loss: float = 0.3,
                 samples: int = 32, exact_max_packets: int = 6, seed: int = 0,
                 options: Optional[dict] = None):
        super().__init__(tokens_per_packet)
        if method not in SEMANTIC_METHODS:
            raise ValueError(f"unknown semantic aggregation {method!r}; known: "
                             f"{sorted(SEMANTIC_METHODS)}")
        self.name = method
        self.similarity_for = similarity_for
        self.loss = float(loss)
        self.samples = int(samples)
        self.exact_max_packets = int(exact_max_packets)
        self.seed = int(seed)
        self.options = dict(options or {})
        #: The last search's counters: ``g_calls``, ``encoder_calls``, ``evaluations``, ``ats``.
        self.last_search: Dict[str, float] = {}

    def assign(self, n_tokens: int) -> List[np.ndarray]:
        raise TypeError(f"{self.name} groups tokens by their content; call for_frame(frame)")

    def objective_for(self, frame) -> AverageTokenSimilarity:
        """The ATS objective of one frame (fresh cache and counters)."""
        n = len(frame)
        phi = SubsetSimilarity(self.similarity_for(frame), n)
        return AverageTokenSimilarity(phi, self.num_packets(n), self.loss,
                                      self.exact_max_packets, self.samples, self.seed)

    def for_frame(self, frame) -> FixedGrouping:
        n = len(frame)
        objective = self.objective_for(frame)
        if objective.n_packets <= 1:
            result = SearchResult(np.zeros(n, dtype=np.int64), 1.0, 0)
        else:
            search = SEMANTIC_METHODS[self.name]
            options = dict(self.options)
            if self.name == "sempa-gbeam":
                options.setdefault("seed", self.seed)
            result = search(objective, n, **options)
        self.last_search = {"g_calls": objective.phi.requests,
                            "encoder_calls": objective.phi.computed,
                            "evaluations": result.evaluations, "ats": result.ats}
        return FixedGrouping(groups_of(result.assignment, objective.n_packets),
                             self.tokens_per_packet)

    def __repr__(self) -> str:
        return f"SemanticAggregation({self.name!r}, tokens_per_packet={self.tokens_per_packet})"

    def __eq__(self, other) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)
