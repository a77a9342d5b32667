"""Large-neighbourhood search for MAP assignments with exact sub-problems (SPEC.md §4b, MAP).

Starting from any assignment (a max-product BP decoding, the best state of simulated annealing,
or random), each step picks a neighbourhood ``S`` — a breadth-first ball of up to
``neighbourhood`` free variables around a random one, in the interaction graph, neighbours taken
in random order (continued from another random variable when a component is exhausted) — fixes every other variable at its current state, and replaces ``x_S`` by the
exact maximiser of ``p̃(x_S, x_{−S})`` (max-product variable elimination on the factors that
touch ``S``, sliced at the boundary).  No step can lower the score; the search stops at
``iterations`` steps.  Neighbourhoods whose elimination would exceed ``memory_limit`` are
skipped.  It escapes the single-variable local optima that trap annealing at low temperature
(a 40-variable ball of a 40×40 spin glass is solved exactly in milliseconds).
"""

import math
import numbers

import networkx as nx
import numpy as np

from .errors import EvidenceError, TooLargeError
from .exact import MAPResult, ReducedModel, _resolve_order, max_product

__all__ = ["local_search"]


class _Sub:
    """The factors touching ``S`` sliced at the current states of the other variables."""

    def __init__(self, variables, cards, factors):
        self.variables, self.cards, self.factors, self.const = variables, cards, factors, 0.0
        self.evidence = {}

    def graph(self):
        g = nx.Graph()
        g.add_nodes_from(self.variables)
        for scope, _ in self.factors:
            g.add_edges_from((scope[i], scope[j]) for i in range(len(scope)) for j in range(i + 1, len(scope)))
        return g


def _score(factors, x):
    return sum(float(t[tuple(x[v] for v in scope)]) for scope, t in factors)


def local_search(model, assignment, evidence=None, neighbourhood=40, iterations=1000, seed=None,
                 memory_limit=2**27):
    """Improve a MAP assignment by large-neighbourhood search with exact sub-problems.

    Parameters
    ----------
    model : a discrete model with ``log_factors()`` (MarkovNetwork, BayesianNetwork, Ising, ...)
    assignment : dict
        ``{variable: state}`` for every free variable (observed ones are ignored).
    evidence : dict, optional
        Default ``model.evidence``.
    neighbourhood : int
        Largest number of variables re-optimised at once.
    iterations : int
    seed : int or None
        Seeds the choice of neighbourhoods.
    memory_limit : int
        Bytes one sub-problem's elimination may use (larger balls are skipped).

    Returns
    -------
    pgm.exact.MAPResult
        The improved assignment (observed variables included) and its ``log p̃``, never below the
        start's.

    Examples
    --------
    >>> import pgm
    >>> m = pgm.Ising.grid(5, 5, coupling=1.0, field=0.1)
    >>> start = {v: 0 for v in m.variables}                  # all spins down (state index 0)
    >>> r = pgm.map_search.local_search(m, start, neighbourhood=25, iterations=1, seed=0)
    >>> set(r.assignment.values()), round(r.log_score, 6)   # all up: 50 + 0.1·25
    ({1}, 52.5)
    """
    for name, v in (("neighbourhood", neighbourhood), ("iterations", iterations)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
    if not isinstance(assignment, dict):
        raise TypeError(f"assignment must be a dict {{variable: state}}, got {type(assignment).__name__}")
    p = ReducedModel(model, evidence)
    x = {}
    for v in p.variables:
        if v not in assignment:
            raise EvidenceError(f"the assignment has no state for variable {v!r}")
        s = assignment[v]
        if isinstance(s, bool) or not isinstance(s, numbers.Integral) or not 0 <= s < p.cards[v]:
            raise EvidenceError(f"state {s!r} of {v!r} is outside 0..{p.cards[v] - 1}")
        x[v] = int(s)
    of = {v: [] for v in p.variables}
    for k, (scope, _) in enumerate(p.factors):
        for v in scope:
            of[v].append(k)
    g = p.graph()
    rng = np.random.default_rng(seed)
    free = p.variables
    for _ in range(int(iterations) if free else 0):
        start = free[int(rng.integers(len(free)))]
        S, seen, queue = [start], {start}, [start]
        while len(S) < min(neighbourhood, len(free)):
            if not queue:                  # the component is exhausted: continue from another one
                rest = [v for v in free if v not in seen]
                w = rest[int(rng.integers(len(rest)))]
                seen.add(w)
                S.append(w)
                queue.append(w)
                continue
            u = queue.pop(0)
            nb = list(g.adj[u])
            rng.shuffle(nb)
            for w in nb:
                if w not in seen and len(S) < neighbourhood:
                    seen.add(w)
                    S.append(w)
                    queue.append(w)
        sub = []
        for k in sorted({k for v in S for k in of[v]}):
            scope, table = p.factors[k]
            idx = tuple(slice(None) if v in seen else x[v] for v in scope)
            sub.append(([v for v in scope if v in seen], table[idx]))
        prob = _Sub(S, {v: p.cards[v] for v in S}, [f for f in sub if f[0]])
        try:
            best, score = max_product(prob, _resolve_order(prob, None), memory_limit)
        except TooLargeError:
            continue
        if score > -math.inf and score >= _score(prob.factors, x):
            x.update(best)
    out = dict(x)
    out.update(p.evidence)
    return MAPResult({v: out[v] for v in p.all_variables}, p.const + _score(p.factors, x))
