"""Bayesian networks: a DAG with one conditional per node (SPEC.md §1).

``p(x) = Π_i p(x_i | Pa(x_i))``.  D-separation uses the reachability ("Bayes ball") algorithm of
Koller & Friedman (Alg. 3.1): a path is blocked by a chain or fork whose middle node is observed,
or by a collider none of whose descendants (itself included) is observed.
"""

import numpy as np
import networkx as nx

from ._validation import check_evidence, check_variables
from .cpd import TabularCPD, _CPD
from .errors import CardinalityError, CycleError, ModelError, UnknownVariableError

__all__ = ["BayesianNetwork"]


class BayesianNetwork:
    """Directed graphical model with tabular, logistic or linear-Gaussian conditionals.

    Parameters
    ----------
    cpds : iterable of TabularCPD, LogisticCPD, LinearGaussianCPD
        Exactly one per node; parents must be nodes of the network.
    nodes : sequence, optional
        Column order of state arrays (default: order of ``cpds``).
    evidence : dict, optional
        ``{variable: state}`` observed values used by exact inference by default.

    Examples
    --------
    >>> from pgm import BayesianNetwork, TabularCPD
    >>> bn = BayesianNetwork([
    ...     TabularCPD("a", 2, [0.6, 0.4]),
    ...     TabularCPD("b", 2, [[0.9, 0.2], [0.1, 0.8]], parents=["a"], parent_cardinalities=[2]),
    ... ])
    >>> sorted(bn.graph.edges)
    [('a', 'b')]
    >>> round(float(np.exp(bn.log_prob([1, 1]))), 2)
    0.32
    """

    def __init__(self, cpds, nodes=None, evidence=None):
        cpds = list(cpds)
        by_var = {}
        for c in cpds:
            if not isinstance(c, _CPD):
                raise TypeError(f"expected CPD objects, got {type(c).__name__}")
            if c.variable in by_var:
                raise ModelError(f"two CPDs given for variable {c.variable!r}")
            by_var[c.variable] = c
        order = list(by_var) if nodes is None else list(nodes)
        if set(order) != set(by_var) or len(order) != len(by_var):
            missing = [v for v in order if v not in by_var]
            extra = [v for v in by_var if v not in set(order)]
            raise ModelError(f"nodes without a CPD: {missing}; CPDs for unlisted nodes: {extra}")
        g = nx.DiGraph()
        g.add_nodes_from(order)
        for v in order:
            for p in by_var[v].parents:
                if p not in by_var:
                    raise UnknownVariableError(f"CPD of {v!r} names unknown parent {p!r}")
                g.add_edge(p, v)
        if not nx.is_directed_acyclic_graph(g):
            raise CycleError([u for u, _ in nx.find_cycle(g)])
        cards = {v: by_var[v].cardinality for v in order}
        for v in order:
            c = by_var[v]
            if isinstance(c, TabularCPD):
                for p, k in zip(c.parents, c.parent_cardinalities):
                    if cards[p] is None:
                        raise CardinalityError(
                            f"table CPD of {v!r} has continuous parent {p!r}; use LogisticCPD "
                            "or LinearGaussianCPD"
                        )
                    if cards[p] != k:
                        raise CardinalityError(
                            f"CPD of {v!r} gives parent {p!r} cardinality {k}, but {p!r} has {cards[p]}"
                        )
        self.variables = order
        self.cpds = {v: by_var[v] for v in order}
        self.cardinalities = cards
        self.graph = g
        self._index = {v: i for i, v in enumerate(order)}
        self.topological_order = list(nx.lexicographical_topological_sort(g, key=self._index.get))
        self.evidence = check_evidence(evidence, self._index, [c if c else 0 for c in cards.values()],
                                       self.state_names) if evidence else {}
        if self.evidence:
            cont = [v for v in self.evidence if cards[v] is None]
            if cont:
                raise ModelError(f"evidence on continuous variables {cont} is not supported")

    # ------------------------------------------------------------------ basics
    @property
    def state_names(self):
        """``{variable: [state names]}`` of the variables whose CPD names their states (BIF
        files do); evidence may use these names, e.g. ``{"CVP": "HIGH"}``."""
        return {v: list(c.state_names[v]) for v, c in self.cpds.items()
                if getattr(c, "state_names", None) and c.state_names.get(v)}

    @property
    def n_variables(self):
        return len(self.variables)

    @property
    def is_discrete(self):
        return all(c is not None for c in self.cardinalities.values())

    @property
    def cardinality_array(self):
        return np.array([self.cardinalities[v] or 0 for v in self.variables], dtype=np.int64)

    def index(self, variable):
        try:
            return self._index[variable]
        except (KeyError, TypeError):
            raise UnknownVariableError(f"unknown variable {variable!r}") from None

    def parents(self, variable):
        self.index(variable)
        return list(self.cpds[variable].parents)

    def children(self, variable):
        self.index(variable)
        return list(self.graph.successors(variable))

    def parameter_count(self):
        """Number of free parameters, ``Σ_i (k_i − 1) Π_{j∈Pa(i)} k_j`` for tables.

        Examples
        --------
        The book's relay race: three runners' times with 2000 values each, as a chain
        ``t0 → t1 → t2`` needs ``1999 + 2·2000·1999`` parameters instead of ``2000³ − 1``.
        """
        return int(sum(c.parameter_count() for c in self.cpds.values()))

    def __repr__(self):
        return f"BayesianNetwork(n_variables={self.n_variables}, n_edges={self.graph.number_of_edges()})"

    # ------------------------------------------------------------------ densities
    def _states(self, x):
        arr = np.asarray(x)
        one = arr.ndim == 1
        if one:
            arr = arr[None]
        if arr.ndim != 2 or arr.shape[1] != self.n_variables:
            raise CardinalityError(
                f"states must have shape (n, {self.n_variables}) or ({self.n_variables},), got {np.shape(x)}"
            )
        for v, j in self._index.items():
            k = self.cardinalities[v]
            if k is not None:
                col = arr[:, j]
                if np.any(col != np.round(col)) or np.any(col < 0) or np.any(col >= k):
                    bad = col[(col != np.round(col)) | (col < 0) | (col >= k)][0]
                    raise ModelError(f"state {bad!r} of variable {v!r} is outside 0..{k - 1}")
        return arr, one

    def log_prob(self, x):
        """``log p(x) = Σ_i log p(x_i | pa_i)`` for states of shape ``(n, n_vars)`` or ``(n_vars,)``."""
        arr, one = self._states(x)
        out = np.zeros(arr.shape[0])
        for v, cpd in self.cpds.items():
            cols = [self._index[p] for p in cpd.parents]
            xv = arr[:, self._index[v]]
            pa = arr[:, cols]
            if cpd.is_discrete:
                xv = xv.astype(np.int64)
            out += cpd.log_prob(xv, pa)
        return out[0] if one else out

    def log_unnormalized(self, x):
        return self.log_prob(x)

    def energy(self, x):
        return -self.log_prob(x)

    # ------------------------------------------------------------------ structure
    def markov_blanket(self, variable):
        """Parents, children and the children's other parents."""
        self.index(variable)
        mb = set(self.graph.predecessors(variable)) | set(self.graph.successors(variable))
        for c in self.graph.successors(variable):
            mb |= set(self.graph.predecessors(c))
        mb.discard(variable)
        return mb

    def is_d_separated(self, xs, ys, given=()):
        """D-separation ``xs ⟂ ys | given`` in the DAG.

        Examples
        --------
        Explaining away: two causes of a common effect are independent until the effect
        (or a descendant of it) is observed.

        >>> from pgm import BayesianNetwork, TabularCPD
        >>> cp = lambda v, pa=(): TabularCPD(v, 2, np.full((2,) + (2,) * len(pa), 0.5), pa, [2] * len(pa))
        >>> bn = BayesianNetwork([cp("a"), cp("b"), cp("c", ["a", "b"]), cp("d", ["c"])])
        >>> bn.is_d_separated("a", "b"), bn.is_d_separated("a", "b", given=["d"])
        (True, False)
        """
        xs, ys, zs = (set(check_variables(_as_list(s), self._index, "d-separation query"))
                      for s in (xs, ys, given))
        if xs & ys or xs & zs or ys & zs:
            raise ModelError("the sets of a d-separation query must be disjoint")
        g = self.graph
        # ancestors of the observed set (including itself): colliders there are open
        anc = set(zs)
        stack = list(zs)
        while stack:
            for p in g.predecessors(stack.pop()):
                if p not in anc:
                    anc.add(p)
                    stack.append(p)
        visited = set()
        stack = [(x, "up") for x in xs]  # "up": arrived from a child; "down": from a parent
        while stack:
            node, d = stack.pop()
            if (node, d) in visited:
                continue
            visited.add((node, d))
            if node in ys:
                return False
            if d == "up" and node not in zs:
                stack.extend((p, "up") for p in g.predecessors(node))
                stack.extend((c, "down") for c in g.successors(node))
            elif d == "down":
                if node not in zs:
                    stack.extend((c, "down") for c in g.successors(node))
                if node in anc:
                    stack.extend((p, "up") for p in g.predecessors(node))
        return True

    def moral_graph(self):
        """Undirected graph with co-parents married (``networkx.moral_graph``)."""
        return nx.moral_graph(self.graph)

    # ------------------------------------------------------------------ conversions
    def _require_discrete(self, what):
        cont = [v for v, k in self.cardinalities.items() if k is None]
        if cont:
            raise TypeError(f"{what} needs discrete variables; {cont} are continuous")

    def log_factors(self):
        """``(variables, cardinalities, factors)``: one ``log p(x_i | pa_i)`` factor per node."""
        self._require_discrete("exact inference")
        factors = [self.cpds[v].log_factor(self.cardinalities) for v in self.variables]
        return self.variables, self.cardinalities, factors

    def to_markov_network(self):
        """Moralised undirected model with the CPDs as factors (Z = 1, same distribution)."""
        from .discrete import MarkovNetwork

        _, cards, factors = self.log_factors()
        return MarkovNetwork(factors, variables=self.variables, cardinalities=cards,
                             evidence=self.evidence)

    def to_factor_graph(self):
        return self.to_markov_network().to_factor_graph()

    def save(self, path):
        """Save to ``path`` (``.npz``, no pickle); load with :func:`pgm.load`."""
        from .io.persist import save_model

        save_model(self, path)


def _as_list(s):
    if isinstance(s, (str, int, np.integer)):
        return [s]
    return list(s)
