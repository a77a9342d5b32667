"""Undirected → directed conversion by triangulation (SPEC.md §1, "Conversions").

Eliminating the variables in the reverse of a topological ``order`` triangulates the graph; the
cluster of each variable ``v`` at its elimination is ``{v} ∪ pa(v)`` where ``pa(v)`` are its
neighbours that come earlier in ``order``.  Orienting edges from earlier to later variables then
gives a DAG without immoralities whose moral graph is the chordal completion, so the
distribution factorises over it exactly, with ``p(v | pa(v))`` read off the calibrated clique
belief of ``v``'s cluster.
"""

import numpy as np

from ._validation import check_name
from .cpd import TabularCPD
from .errors import ModelError

__all__ = ["markov_to_bayesian"]


def markov_to_bayesian(model, order=None, memory_limit=None):
    from . import exact
    from .bayesian import BayesianNetwork
    from .elimination import best_order

    problem = exact.ReducedModel(model, evidence={})
    g = problem.graph()
    if order is None:
        elim = best_order(g, problem.cards)
    else:
        order = [check_name(v) for v in order]
        if set(order) != set(model.variables) or len(order) != len(model.variables):
            raise ModelError("order must list every variable of the model exactly once")
        elim = order[::-1]
    tree = exact._CliqueTree(problem, elim, (), memory_limit, store=True)
    roots = tree.upward(store=True)
    if not np.isfinite(sum(float(m) for _, m in roots)):
        raise ModelError("the model has Z = 0: it defines no distribution")
    belief = tree.downward()
    cpds = []
    for v in elim:
        C = tree.clusters[v]  # [v, *earlier neighbours]
        b = belief[v]
        joint = np.exp(b - b.max())
        total = joint.sum(axis=0, keepdims=True)
        # parent configurations of probability zero: any conditional is exact; use uniform
        cond = np.divide(joint, total, out=np.full_like(joint, 1.0 / problem.cards[v]),
                         where=total > 0)
        cpds.append(TabularCPD(v, problem.cards[v], cond, parents=C[1:],
                               parent_cardinalities=[problem.cards[u] for u in C[1:]],
                               tolerance=1e-6))
    nodes = list(model.variables)
    return BayesianNetwork(cpds, nodes=nodes)
