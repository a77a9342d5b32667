"""Compiled greedy elimination orders and their cost on a dense adjacency matrix (private).

The same heuristics as :mod:`pgm.elimination` (Koller & Friedman §9.4.3; SPEC.md §1 exact
inference) with the same deterministic tie-breaking (lowest score, then lowest node index), so a
compiled order equals the pure-Python one.  Node ``i`` is the ``i``-th node of the graph; the
adjacency matrix is boolean and symmetric with an empty diagonal.  Scores are float64 (exact
for integers below 2⁵³, which every table size the memory guard admits is).

Heuristic codes: 0 ``min_fill``, 1 ``weighted_min_fill``, 2 ``min_degree``, 3 ``min_weight``.
"""

import numba
import numpy as np

HEURISTIC_CODES = {"min_fill": 0, "weighted_min_fill": 1, "min_degree": 2, "min_weight": 3}


@numba.njit(cache=True)
def _neighbours(adj, v, out):
    d = 0
    for u in range(adj.shape[0]):
        if adj[v, u]:
            out[d] = u
            d += 1
    return d


@numba.njit(cache=True)
def _score(adj, card, v, heuristic, nb):
    d = _neighbours(adj, v, nb)
    if heuristic == 2:
        return float(d)
    if heuristic == 3:
        w = card[v]
        for k in range(d):
            w *= card[nb[k]]
        return w
    fill = 0.0
    for i in range(d):
        a = nb[i]
        for j in range(i + 1, d):
            b = nb[j]
            if not adj[a, b]:
                fill += card[a] * card[b] if heuristic == 1 else 1.0
    return fill


@numba.njit(cache=True)
def greedy_order(adjacency, card, todo, heuristic):
    """Indices of the ``todo`` nodes in greedy elimination order (``adjacency`` is copied)."""
    n = adjacency.shape[0]
    adj = adjacency.copy()
    nb = np.empty(n, np.int64)
    nb2 = np.empty(n, np.int64)
    score = np.full(n, np.inf)
    remaining = todo.copy()
    m = 0
    for v in range(n):
        if remaining[v]:
            score[v] = _score(adj, card, v, heuristic, nb)
            m += 1
    touched = np.zeros(n, np.bool_)
    order = np.empty(m, np.int64)
    for step in range(m):
        best = -1
        for v in range(n):
            if remaining[v] and (best < 0 or score[v] < score[best]):
                best = v
        order[step] = best
        remaining[best] = False
        d = _neighbours(adj, best, nb)
        for i in range(d):
            a = nb[i]
            adj[a, best] = False
            adj[best, a] = False
            for j in range(i + 1, d):
                b = nb[j]
                adj[a, b] = True
                adj[b, a] = True
        # only the neighbours and their neighbours can change score
        for i in range(d):
            a = nb[i]
            touched[a] = True
            d2 = _neighbours(adj, a, nb2)
            for k in range(d2):
                touched[nb2[k]] = True
        for u in range(n):
            if touched[u]:
                touched[u] = False
                if remaining[u]:
                    score[u] = _score(adj, card, u, heuristic, nb2)
    return order


@numba.njit(cache=True)
def order_cost(adjacency, card, order):
    """Total and largest cluster table size (``card`` product of ``{v} ∪ N(v)``) of ``order``."""
    n = adjacency.shape[0]
    adj = adjacency.copy()
    nb = np.empty(n, np.int64)
    total = 0.0
    largest = 1.0
    for step in range(order.shape[0]):
        v = order[step]
        d = _neighbours(adj, v, nb)
        size = card[v]
        for i in range(d):
            a = nb[i]
            size *= card[a]
            adj[a, v] = False
            adj[v, a] = False
            for j in range(i + 1, d):
                b = nb[j]
                adj[a, b] = True
                adj[b, a] = True
        total += size
        if size > largest:
            largest = size
    return total, largest
