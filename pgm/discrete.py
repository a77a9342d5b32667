"""Discrete undirected models: Markov networks and factor graphs (SPEC.md §1).

``p̃(x) = Π_C φ_C(x_C)``, ``p(x) = p̃(x) / Z``.  Both classes hold the same data (variables with
cardinalities and a list of :class:`~pgm.factor.DiscreteFactor`); they differ in the graph they
expose: a Markov network's graph joins variables that share a factor, a factor graph is the
bipartite variable–factor graph (which keeps one 3-way factor distinct from three pairwise
factors on the same triangle).
"""

import numpy as np
import networkx as nx

from ._validation import check_cardinality, check_evidence, check_name, check_states, check_variables
from .errors import CardinalityError, ModelError, UnknownVariableError
from .factor import DiscreteFactor

__all__ = ["DiscreteModel", "MarkovNetwork", "FactorGraph"]


class DiscreteModel:
    """Variables with finite domains and non-negative factors (base class).

    Parameters
    ----------
    factors : iterable of DiscreteFactor
    variables : sequence, optional
        Variable order (the columns of state arrays).  Default: order of first appearance in
        ``factors``, then any remaining names of ``cardinalities``.
    cardinalities : dict or sequence of int, optional
        Number of states per variable (needed for variables that appear in no factor).
    evidence : dict, optional
        ``{variable: state}`` observed values, used by exact inference and samplers when no
        other evidence is given.
    """

    def __init__(self, factors=(), variables=None, cardinalities=None, evidence=None):
        factors = list(factors)
        for f in factors:
            if not isinstance(f, DiscreteFactor):
                raise TypeError(f"factors must be DiscreteFactor objects, got {type(f).__name__}")
        cards = {}
        if cardinalities is not None:
            if isinstance(cardinalities, dict):
                items = cardinalities.items()
            else:
                if variables is None:
                    raise ModelError("cardinalities given as a sequence need `variables`")
                cardinalities = list(cardinalities)
                if len(cardinalities) != len(variables):
                    raise CardinalityError(
                        f"{len(variables)} variables but {len(cardinalities)} cardinalities"
                    )
                items = zip(variables, cardinalities)
            for v, c in items:
                cards[check_name(v)] = check_cardinality(v, c)
        order = [] if variables is None else [check_name(v) for v in variables]
        if len(set(order)) != len(order):
            raise ModelError(f"variables repeat a name: {order}")
        seen = set(order)
        for i, f in enumerate(factors):
            for v, c in zip(f.scope, f.cardinalities):
                if v in cards and cards[v] != c:
                    raise CardinalityError(
                        f"variable {v!r} has cardinality {cards[v]} but factor {i} over {f.scope} "
                        f"gives it {c}"
                    )
                cards[v] = c
                if v not in seen:
                    if variables is not None:
                        raise UnknownVariableError(
                            f"factor {i} uses variable {v!r}, which is not in `variables`"
                        )
                    seen.add(v)
                    order.append(v)
        for v in cards:
            if v not in seen:
                if variables is not None:
                    raise UnknownVariableError(f"cardinality given for unknown variable {v!r}")
                seen.add(v)
                order.append(v)
        missing = [v for v in order if v not in cards]
        if missing:
            raise CardinalityError(f"no cardinality known for variables {missing}")
        self.variables = order
        self.cardinalities = {v: cards[v] for v in order}
        self.factors = factors
        self._index = {v: i for i, v in enumerate(order)}
        self.evidence = check_evidence(evidence, self._index, self.cardinality_array)

    # ------------------------------------------------------------------ basic properties
    @property
    def cardinality_array(self):
        """Cardinalities as an int64 array in variable order."""
        return np.array([self.cardinalities[v] for v in self.variables], dtype=np.int64)

    @property
    def n_variables(self):
        return len(self.variables)

    def index(self, variable):
        """Column of ``variable`` in state arrays."""
        try:
            return self._index[variable]
        except (KeyError, TypeError):
            raise UnknownVariableError(f"unknown variable {variable!r}") from None

    def log_factors(self):
        """``(variables, cardinalities, factors)`` in the form exact inference consumes."""
        return self.variables, self.cardinalities, self.factors

    # ------------------------------------------------------------------ densities
    def log_unnormalized(self, x):
        """``log p̃(x) = Σ_C log φ_C(x_C)`` for states ``x`` of shape ``(n, n_vars)`` or ``(n_vars,)``.

        Examples
        --------
        >>> m = MarkovNetwork([DiscreteFactor(["a", "b"], [[1.0, 2.0], [3.0, 4.0]])])
        >>> float(np.exp(m.log_unnormalized([1, 1])))
        4.0
        """
        states, one = check_states(x, self.cardinality_array, self.variables)
        out = np.zeros(states.shape[0])
        for f in self.factors:
            cols = [self._index[v] for v in f.scope]
            out += f.log_table[tuple(states[:, cols].T)] if cols else f.log_table
        return out[0] if one else out

    def energy(self, x):
        """``E(x) = -log p̃(x)``."""
        return -self.log_unnormalized(x)

    # ------------------------------------------------------------------ structure
    @property
    def graph(self):
        """Interaction graph (variables joined when they share a factor)."""
        g = nx.Graph()
        g.add_nodes_from(self.variables)
        for f in self.factors:
            s = f.scope
            for i in range(len(s)):
                for j in range(i + 1, len(s)):
                    g.add_edge(s[i], s[j])
        return g

    def markov_blanket(self, variable):
        """Neighbours of ``variable`` in the interaction graph, as a set."""
        self.index(variable)
        return set(self.graph.adj[variable])

    def is_separated(self, xs, ys, given=()):
        """Graph separation ``xs ⟂ ys | given``: every path from xs to ys passes through ``given``.

        Examples
        --------
        >>> f = lambda a, b: DiscreteFactor([a, b], np.ones((2, 2)))
        >>> m = MarkovNetwork([f("a", "b"), f("b", "c")])
        >>> m.is_separated(["a"], ["c"], given=["b"]), m.is_separated(["a"], ["c"])
        (True, False)
        """
        xs, ys, given = (set(check_variables(_as_list(s), self._index, "separation query"))
                         for s in (xs, ys, given))
        if xs & ys:
            return False
        g = self.graph
        g.remove_nodes_from(given)
        reach = set()
        for x in xs - given:
            if x not in reach:
                reach |= nx.node_connected_component(g, x)
        return not (reach & (ys - given))

    def reduce(self, evidence):
        """Model over the unobserved variables with evidence substituted into the factors."""
        ev = check_evidence(evidence, self._index, self.cardinality_array)
        factors = [f.reduce(ev) if set(f.scope) & ev.keys() else f for f in self.factors]
        free = [v for v in self.variables if v not in ev]
        return type(self)(factors, variables=free, cardinalities={v: self.cardinalities[v] for v in free})

    def parameter_count(self):
        """Number of table entries (free parameters up to normalisation)."""
        return int(sum(np.prod(f.cardinalities, dtype=np.int64) for f in self.factors))

    def _clone(self, cls, **kw):
        return cls(self.factors, variables=self.variables, cardinalities=self.cardinalities,
                   evidence=self.evidence, **kw)

    def save(self, path):
        """Save to ``path`` (``.npz``, no pickle); load with :func:`pgm.load`."""
        from .io.persist import save_model

        save_model(self, path)

    def __repr__(self):
        return (f"{type(self).__name__}(n_variables={self.n_variables}, "
                f"n_factors={len(self.factors)}, evidence={len(self.evidence)})")


def _as_list(s):
    if isinstance(s, (str, int, np.integer)):
        return [s]
    return list(s)


class MarkovNetwork(DiscreteModel):
    """Undirected discrete model ``p(x) ∝ Π_C φ_C(x_C)``; ``.graph`` joins co-occurring variables.

    Examples
    --------
    >>> from pgm import DiscreteFactor, MarkovNetwork
    >>> m = MarkovNetwork([DiscreteFactor(["a", "b"], [[2.0, 1.0], [1.0, 2.0]])])
    >>> m.variables, m.cardinalities
    (['a', 'b'], {'a': 2, 'b': 2})
    """

    def triangulate(self, heuristic="min_fill", order=None):
        """Chordal completion of ``.graph`` by a deterministic greedy elimination order.

        Returns a new ``networkx.Graph``; the added chords have the edge attribute ``fill=True``.
        """
        from .elimination import chordal_completion

        return chordal_completion(self.graph, order=order, heuristic=heuristic,
                                  cardinalities=self.cardinalities)

    def to_factor_graph(self):
        """The same distribution as a :class:`FactorGraph`."""
        return self._clone(FactorGraph)

    def to_bayesian_network(self, order=None, memory_limit=None):
        """An exactly equivalent Bayesian network.

        The graph is triangulated by eliminating variables in the reverse of ``order`` (default:
        the reverse of a min-fill elimination order), edges are oriented from earlier to later
        variables, and each conditional ``p(x_i | pa_i)`` is computed exactly from the calibrated
        clique beliefs, so the network represents ``p`` exactly.  Evidence is not carried over.
        """
        from .convert import markov_to_bayesian

        return markov_to_bayesian(self, order=order, memory_limit=memory_limit)


class FactorGraph(DiscreteModel):
    """Bipartite variable/factor representation of a discrete model.

    ``.graph`` has the variables (attribute ``bipartite=0``) and one node ``("factor", i)`` per
    factor (``bipartite=1``, attribute ``scope``).
    """

    @property
    def graph(self):
        g = nx.Graph()
        g.add_nodes_from(self.variables, bipartite=0)
        for i, f in enumerate(self.factors):
            node = ("factor", i)
            g.add_node(node, bipartite=1, scope=f.scope)
            g.add_edges_from((node, v) for v in f.scope)
        return g

    def markov_blanket(self, variable):
        self.index(variable)
        return {u for f in self.factors if variable in f.scope for u in f.scope} - {variable}

    def is_separated(self, xs, ys, given=()):
        return self.to_markov_network().is_separated(xs, ys, given)

    def to_markov_network(self):
        """The same distribution as a :class:`MarkovNetwork`."""
        return self._clone(MarkovNetwork)
