"""Exact inference by variable elimination on a clique tree, in log space (SPEC.md §1).

``log_partition`` runs one upward pass of sum-product variable elimination; ``marginals`` adds a
downward pass over the elimination clique tree (Hugin-style, so every variable's marginal costs
two passes in total, not one elimination per variable); ``query`` eliminates everything but the
query variables.  Tables are log values throughout (``-inf`` for zeros), summed out with a
max-shifted log-sum-exp, so products of thousands of factors neither underflow nor overflow.

The elimination order is the cheapest of several greedy heuristics (weighted min-fill, min-fill,
min-degree, and a reverse Cuthill–McKee bandwidth order that is near-optimal on grids), chosen
by the total size of the tables it would create.  Before any table is allocated the largest
one is estimated and :class:`~pgm.errors.TooLargeError` is raised above ``memory_limit`` bytes.

``map_assignment`` runs the same upward pass with max instead of log-sum-exp (max-product
variable elimination) and decodes the maximiser by backtracking through the stored cluster
tables in reverse elimination order (SPEC.md §4b, "exact MAP").

``enumerate`` lists every joint state: an independent reference for tiny models.
"""

import builtins
import math
import os
from typing import NamedTuple

import numpy as np
import networkx as nx

from ._validation import check_evidence, check_variables
from .elimination import HEURISTICS, best_order, elimination_order, order_cost
from .errors import EvidenceError, ModelError, TooLargeError

__all__ = ["log_partition", "log_likelihood", "marginals", "query", "enumerate", "map_assignment",
           "MAPResult", "MEMORY_LIMIT", "MEMORY_FRACTION", "default_memory_limit", "Enumeration"]

#: Fallback limit (bytes) on the tables exact inference may allocate, when the available memory
#: cannot be read (see :func:`default_memory_limit`).
MEMORY_LIMIT = 4 * 2**30
#: Share of the available memory exact inference may allocate by default.
MEMORY_FRACTION = 0.5
#: :func:`marginals` of a Bayesian network answers one variable at a time (each on its pruned
#: sub-network) when the full calibrated tree would hold a table larger than this (entries)
PER_NODE_ABOVE = 2**18


# ---------------------------------------------------------------------------- helpers
def _available_memory():
    """Bytes of memory available to new allocations (Linux ``MemAvailable``; else free pages),
    or None."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def default_memory_limit():
    """``(bytes, explanation)``: :data:`MEMORY_FRACTION` of the memory available now, or
    :data:`MEMORY_LIMIT` when that cannot be read.

    Examples
    --------
    >>> limit, why = default_memory_limit()
    >>> limit > 0 and "memory" in why
    True
    """
    avail = _available_memory()
    if avail is None:
        return MEMORY_LIMIT, f"the fallback default {MEMORY_LIMIT / 2**30:.3g} GiB"
    limit = int(MEMORY_FRACTION * avail)
    return limit, (f"the default {MEMORY_FRACTION:.0%} of the {avail / 2**30:.3g} GiB of memory "
                   f"available now = {limit / 2**30:.3g} GiB")


def _limit(memory_limit):
    """``(bytes, explanation)`` of a user's ``memory_limit`` or the default."""
    if memory_limit is None:
        return default_memory_limit()
    return memory_limit, f"memory_limit={memory_limit / 2**30:.3g} GiB"


def _lse(a, axis):
    """log Σ exp(a) over ``axis`` with ``-inf`` handled (an all ``-inf`` slice gives ``-inf``)."""
    m = np.max(a, axis=axis, keepdims=True)
    finite = np.isfinite(m)
    if not finite.all():
        m[~finite] = 0.0
    t = np.subtract(a, m)
    np.exp(t, out=t)
    total = t.sum(axis=axis)
    with np.errstate(divide="ignore"):        # all -inf slices: log 0 = -inf
        out = np.log(total)
    out += m.reshape(out.shape)
    return out


def _align(arr, scope, target, cards):
    """Transpose/reshape ``arr`` over ``scope`` to broadcast over ``target``."""
    if list(scope) == list(target):
        return arr
    pos = {v: i for i, v in builtins.enumerate(target)}
    perm = sorted(range(len(scope)), key=lambda i: pos[scope[i]])
    t = np.transpose(arr, perm)
    shape = [1] * len(target)
    for i in perm:
        shape[pos[scope[i]]] = cards[scope[i]]
    return t.reshape(shape)


class ReducedModel:
    """A model with evidence applied: free variables, their cardinalities, reduced log factors.

    ``targets`` (Bayesian networks only) prunes what cannot matter (Shachter's "requisite"
    nodes, as pgmpy and most BN tools do): nodes outside the ancestors of ``targets ∪ evidence``
    are barren — their CPDs sum to one — and are dropped; with ``conditional=True`` the reduced
    factors not connected to the targets once the evidence is removed are dropped too (they only
    scale ``p(targets, e)`` by a constant: right for conditionals, not for ``log P(e)``).
    """

    def __init__(self, model, evidence, targets=None, conditional=False, cpd_factors=None, ancestors=None):
        if not hasattr(model, "log_factors"):
            raise TypeError(
                f"exact inference needs a discrete model (MarkovNetwork, FactorGraph, "
                f"BayesianNetwork, ...), got {type(model).__name__}"
            )
        directed = isinstance(getattr(model, "graph", None), nx.DiGraph) and hasattr(model, "cpds")
        if directed:                       # build the CPD factors that are needed only
            model._require_discrete("exact inference")
            variables, cards = list(model.variables), dict(model.cardinalities)
        else:
            variables, cards, factors = model.log_factors()
        index = {v: i for i, v in builtins.enumerate(variables)}
        if evidence is None:
            evidence = getattr(model, "evidence", {}) or {}
        self.evidence = check_evidence(evidence, index, [cards[v] for v in variables],
                                       getattr(model, "state_names", None))
        self.all_variables = list(variables)
        self.all_cards = dict(cards)
        if targets is not None:
            check_variables(list(targets), index)
        self.directed = directed
        if directed:
            keep = set(variables)
            if targets is not None:
                keep = set(targets) | set(self.evidence)
                for v in list(keep):
                    keep |= ancestors[v] if ancestors is not None else nx.ancestors(model.graph, v)
            if cpd_factors is None:
                factors = [model.cpds[v].log_factor(cards) for v in variables if v in keep]
            else:                          # built once by the caller (per-variable marginals)
                factors = [cpd_factors[v] for v in variables if v in keep]
        self.const = 0.0
        self.factors = []  # (scope list, log array)
        for f in factors:
            if set(f.scope) & self.evidence.keys():
                f = f.reduce(self.evidence)
            if not f.scope:
                self.const += float(f.log_table)
            else:
                self.factors.append((list(f.scope), f.log_table))
        if targets is not None and directed and conditional:
            self.factors = _connected_to(self.factors, [t for t in targets if t not in self.evidence])
        used = {v for scope, _ in self.factors for v in scope}
        if targets is not None and directed:
            used |= {t for t in targets if t not in self.evidence}
            self.variables = [v for v in variables if v in used]
        else:
            self.variables = [v for v in variables if v not in self.evidence]
        self.cards = {v: cards[v] for v in self.variables}

    def graph(self):
        """Interaction graph of the free variables (built once)."""
        if getattr(self, "_graph", None) is None:
            g = nx.Graph()
            g.add_nodes_from(self.variables)
            for scope, _ in self.factors:
                for i in range(len(scope)):
                    for j in range(i + 1, len(scope)):
                        g.add_edge(scope[i], scope[j])
            self._graph = g
        return self._graph


def _connected_to(factors, targets):
    """The factors in the connected components (of the variable–factor incidence) that contain
    one of ``targets``."""
    touching = {}
    for k, (scope, _) in builtins.enumerate(factors):
        for v in scope:
            touching.setdefault(v, []).append(k)
    seen_vars, seen = set(targets), set()
    stack = list(targets)
    while stack:
        for k in touching.get(stack.pop(), ()):
            if k not in seen:
                seen.add(k)
                for u in factors[k][0]:
                    if u not in seen_vars:
                        seen_vars.add(u)
                        stack.append(u)
    return [f for k, f in builtins.enumerate(factors) if k in seen]


def _resolve_order(problem, order, keep=()):
    g = problem.graph()
    nodes = [v for v in problem.variables if v not in set(keep)]
    if order is None or order == "auto":
        return best_order(g, problem.cards, nodes=nodes if keep else None)
    if isinstance(order, str):
        if order not in HEURISTICS:
            raise ValueError(
                f"unknown elimination order {order!r}; expected 'auto', one of {HEURISTICS}, "
                "or a list of variables"
            )
        return elimination_order(g, order, problem.cards, nodes=nodes)
    order = list(order)
    known = set(problem.variables)
    bad = [v for v in order if v not in known]
    if bad:
        raise ModelError(f"elimination order names variables that are not free in the model: {bad}")
    order = [v for v in order if v not in set(keep)]
    missing = [v for v in nodes if v not in set(order)]
    if missing:
        raise ModelError(f"elimination order is missing variables {missing}")
    return order


class _CliqueTree:
    """Elimination clique tree: cluster ``C_v = {v} ∪ N(v)`` for each eliminated ``v``."""

    def __init__(self, problem, order, keep, memory_limit, store):
        self.p = problem
        cards = problem.cards
        g = problem.graph()
        adj = {v: set(g.adj[v]) for v in g.nodes}
        pos = {v: i for i, v in builtins.enumerate(order)}
        big = len(order)
        self.order = order
        self.clusters = {}
        self.parent = {}
        total = largest = 0
        for v in order:
            nbrs = adj.pop(v)
            for a in nbrs:
                adj[a].discard(v)
                adj[a].update(nbrs - {a})
            rest = sorted(nbrs, key=lambda u: pos.get(u, big))
            self.clusters[v] = [v] + rest
            elim = [u for u in rest if u in pos]
            self.parent[v] = elim[0] if elim else None
            size = math.prod(cards[u] for u in self.clusters[v])
            total += size
            largest = max(largest, size)
        need = 8 * (total if store else 3 * largest)
        limit, why = _limit(memory_limit)
        if need > limit:
            worst = max(order, key=lambda u: math.prod(cards[w] for w in self.clusters[u]))
            raise TooLargeError(
                f"exact inference would allocate about {need / 2**30:.3g} GiB (largest table over "
                f"{len(self.clusters[worst])} variables, {largest} entries, when eliminating "
                f"{worst!r}), above {why}; use belief propagation or a sampler, or pass a larger "
                "memory_limit"
            )
        self.largest = largest
        # assign each factor to the cluster of its first-eliminated variable
        self.assigned = {v: [] for v in order}
        self.residual = []  # factors entirely over kept variables
        for scope, table in problem.factors:
            el = [u for u in scope if u in pos]
            if el:
                self.assigned[min(el, key=pos.__getitem__)].append((scope, table))
            else:
                self.residual.append((scope, table))

    def upward(self, store=False, reduce="sum"):
        """Sum-product (``reduce="sum"``) or max-product (``"max"``) towards the roots. Returns
        messages to kept variables (root residuals)."""
        cards = self.p.cards
        incoming = {v: [] for v in self.order}
        roots = []
        self.up, self.msg = {}, {}
        for v in self.order:
            C = self.clusters[v]
            psi = _combine(self.assigned[v] + incoming[v], C, cards)
            msg = _lse(psi, axis=0) if reduce == "sum" else np.max(psi, axis=0)
            if store:
                self.up[v] = psi
                self.msg[v] = msg
            par = self.parent[v]
            if par is None:
                roots.append((C[1:], msg))
            else:
                incoming[par].append((C[1:], msg))
        return roots

    def downward(self):
        """Calibrate: belief of every cluster (log, unnormalised). Needs ``upward(store=True)``."""
        cards = self.p.cards
        belief = {}
        for v in reversed(self.order):
            par = self.parent[v]
            b = self.up[v]
            if par is not None:
                C, P = self.clusters[v], self.clusters[par]
                sep = C[1:]
                # message par -> v = Σ_{P \ sep} belief(par) / msg(v -> par)   (0/0 = 0)
                with np.errstate(invalid="ignore"):
                    ratio = belief[par] - _align(self.msg[v], sep, P, cards)
                ratio[np.isnan(ratio)] = -np.inf
                axes = tuple(i for i, u in builtins.enumerate(P) if u not in set(sep))
                down = _lse(ratio, axis=axes) if axes else ratio
                kept = [u for u in P if u in set(sep)]
                b += _align(down, kept, C, cards)
            belief[v] = b
        return belief


def _combine(pieces, scope, cards):
    """Sum of log tables over sub-scopes, broadcast to a fresh array over ``scope``."""
    out = np.zeros([cards[u] for u in scope])
    for s, t in pieces:
        out += _align(t, s, scope, cards)
    return out


# ---------------------------------------------------------------------------- public API
def log_partition(model, evidence=None, order=None, memory_limit=None, method="ve"):
    """Natural log of the partition function ``Z`` (with evidence: of ``Σ_free p̃(x, e)``).

    For a Bayesian network this is ``ln P(evidence)`` (0 without evidence).

    Parameters
    ----------
    model : MarkovNetwork, FactorGraph, BayesianNetwork, or any object with ``log_factors()``
    evidence : dict, optional
        ``{variable: state}``; default ``model.evidence``.
    order : "auto", a heuristic name, or a list of variables, optional
        Elimination order.  ``"auto"`` (default) takes the cheapest of several heuristics.
    memory_limit : int, optional
        Bytes; default :func:`default_memory_limit` (half of the memory available now).  Raises
        :class:`~pgm.errors.TooLargeError` above it, before allocating.
    method : {"ve", "enumerate"}

    Examples
    --------
    >>> from pgm import DiscreteFactor, MarkovNetwork
    >>> m = MarkovNetwork([DiscreteFactor(["a", "b"], [[1.0, 2.0], [3.0, 4.0]])])
    >>> round(float(np.exp(log_partition(m))), 12)
    10.0
    """
    if hasattr(model, "exact_log_partition"):  # models with their own closed form / enumeration
        if evidence is not None:
            raise ModelError(f"log_partition of a {type(model).__name__} takes no evidence; "
                             "use log_likelihood(model, v)")
        import inspect

        accepts = "memory_limit" in inspect.signature(model.exact_log_partition).parameters
        return model.exact_log_partition(**({"memory_limit": memory_limit} if accepts else {}))
    if method == "enumerate":
        return enumerate(model, evidence, memory_limit=memory_limit).log_z
    if method != "ve":
        raise ValueError(f"unknown method {method!r}; expected 've' or 'enumerate'")
    p = ReducedModel(model, evidence, targets=())      # Bayesian networks: ancestors of the evidence
    order = _resolve_order(p, order)
    tree = _CliqueTree(p, order, (), memory_limit, store=False)
    roots = tree.upward()
    log_z = float(p.const + sum(float(m) for _, m in roots))
    if log_z == -math.inf and not p.evidence:
        # with evidence, ln P(e) = -inf is an answer; without, the model is no distribution
        raise ModelError(f"every state of this {type(model).__name__} has probability zero (Z = 0): "
                         "some factor, or a product of factors, is zero everywhere")
    return log_z


def log_likelihood(model, x, memory_limit=None):
    """Exact ``log p(x)`` of states ``x`` (rows), for small models.

    Layered energy models (:class:`~pgm.RBM`, :class:`~pgm.DBM`, ...) take visible vectors
    ``v`` and use their own enumeration (``log p(v) = −F(v) − log Z``); discrete models take
    full joint states (state indices, no evidence) and use ``Σ log φ(x) − log Z``.

    Examples
    --------
    >>> from pgm import DiscreteFactor, MarkovNetwork
    >>> m = MarkovNetwork([DiscreteFactor(["a"], [1.0, 3.0])])
    >>> np.exp(log_likelihood(m, [[0], [1]])).round(12).tolist()
    [0.25, 0.75]
    """
    if hasattr(model, "exact_log_likelihood"):
        return model.exact_log_likelihood(x, memory_limit=memory_limit)
    from ._validation import check_states

    p = ReducedModel(model, {})
    states, one = check_states(x, [p.all_cards[v] for v in p.all_variables], p.all_variables)
    col = {v: i for i, v in builtins.enumerate(p.all_variables)}
    logp = np.full(states.shape[0], p.const)
    for scope, table in p.factors:
        logp += table[tuple(states[:, col[u]] for u in scope)]
    logp -= log_partition(model, evidence={}, memory_limit=memory_limit)
    return logp[0] if one else logp


def marginals(model, evidence=None, order=None, memory_limit=None):
    """Marginal distribution of every variable, given the evidence.

    Returns
    -------
    dict
        ``{variable: probabilities}`` (arrays of length ``cardinality``, summing to one);
        observed variables get a point mass.

    Bayesian networks whose calibrated clique tree would hold a table of more than
    :data:`PER_NODE_ABOVE` entries are answered one variable at a time instead, each query on
    its requisite sub-network (ancestors of the variable and the evidence, pruned to what
    connects them; see :class:`ReducedModel`) — what makes large networks such as *munin1* fast.
    Variables whose requisite sub-networks coincide (those among the ancestors of the evidence)
    share one calibrated clique tree of that sub-network (calibrating the largest sub-networks,
    to answer all their variables at once, was measured twice as slow).

    Examples
    --------
    >>> from pgm import DiscreteFactor, MarkovNetwork
    >>> m = MarkovNetwork([DiscreteFactor(["a"], [1.0, 3.0])])
    >>> marginals(m)["a"].round(12).tolist()
    [0.25, 0.75]
    """
    cpd_factors = ancestors = None
    if isinstance(getattr(model, "graph", None), nx.DiGraph) and hasattr(model, "cpds"):
        model._require_discrete("exact inference")
        cpd_factors = {v: model.cpds[v].log_factor(model.cardinalities) for v in model.variables}
        ancestors = {}
        for v in nx.topological_sort(model.graph):          # each node's from its parents'
            ancestors[v] = set().union(*([ancestors[u] | {u} for u in model.graph.predecessors(v)] or [set()]))
    p = ReducedModel(model, evidence, cpd_factors=cpd_factors)
    if cpd_factors is not None and p.evidence:   # reduce by the evidence once, not per query
        cpd_factors = {v: f.reduce(p.evidence) if set(f.scope) & p.evidence.keys() else f
                       for v, f in cpd_factors.items()}
    order = _resolve_order(p, order)
    out = {}
    for v, x in p.evidence.items():
        out[v] = np.zeros(p.all_cards[v])
        out[v][x] = 1.0
    if p.directed and order_cost(p.graph(), order, p.cards)[1] > PER_NODE_ABOVE:
        out.update(_per_variable(model, p, memory_limit, cpd_factors, ancestors))
    else:
        out.update(_calibrated(p, order, memory_limit))
    return {v: out[v] for v in p.all_variables}


def _per_variable(model, p, memory_limit, cpd_factors, ancestors):
    """Marginals of the free variables of ``p``, each from its requisite sub-network; the
    variables whose sub-networks coincide (those among the ancestors of the evidence, typically)
    share one calibrated clique tree."""
    groups = {}
    for v in p.variables:
        r = ReducedModel(model, p.evidence, targets=[v], conditional=True, cpd_factors=cpd_factors,
                         ancestors=ancestors)
        groups.setdefault(frozenset(r.variables), []).append((v, r))
    out = {}
    for members in groups.values():
        r = members[0][1]
        if len(members) > 1:
            beliefs = _calibrated(r, _resolve_order(r, None), memory_limit)
            out.update((v, beliefs[v]) for v, _ in members)
        else:
            v = members[0][0]
            out[v] = _joint(r, [v], None, memory_limit)
    return out


def _calibrated(p, order, memory_limit):
    """Marginals of the free variables of ``p`` from one calibrated clique tree."""
    tree = _CliqueTree(p, order, (), memory_limit, store=True)
    roots = tree.upward(store=True)
    log_z = p.const + sum(float(m) for _, m in roots)
    if not np.isfinite(log_z):
        raise ModelError("the evidence has probability zero: marginals are undefined")
    belief = tree.downward()
    out = {}
    for v in p.variables:
        b = belief[v]
        lm = _lse(b, axis=tuple(range(1, b.ndim))) if b.ndim > 1 else b
        m = np.exp(lm - _lse(lm, axis=0))
        out[v] = m / m.sum()
    return out


def query(model, variables, evidence=None, order=None, memory_limit=None):
    """Joint distribution of a few ``variables`` given the evidence.

    Returns
    -------
    numpy.ndarray
        Normalised table with one axis per query variable, in the given order.  Observed query
        variables get point-mass axes.

    Examples
    --------
    >>> from pgm import DiscreteFactor, MarkovNetwork
    >>> m = MarkovNetwork([DiscreteFactor(["a", "b"], [[1.0, 2.0], [3.0, 4.0]])])
    >>> query(m, ["b", "a"]).round(2).tolist()
    [[0.1, 0.3], [0.2, 0.4]]
    """
    return _query(model, _list_of(variables), evidence, order, memory_limit)


def _query(model, variables, evidence, order, memory_limit):
    p = ReducedModel(model, evidence, targets=variables, conditional=True)
    check_variables(variables, {v: i for i, v in builtins.enumerate(p.all_variables)})
    return _joint(p, variables, order, memory_limit)


def _joint(p, variables, order, memory_limit):
    """Normalised joint table of ``variables`` in the reduced model ``p``."""
    free_q = [v for v in variables if v not in p.evidence]
    size = math.prod(p.cards[v] for v in free_q)
    limit, why = _limit(memory_limit)
    if 8 * 3 * size > limit:
        raise TooLargeError(f"the joint table of {free_q} has {size} entries: above {why}")
    order = _resolve_order(p, order, keep=free_q)
    tree = _CliqueTree(p, order, free_q, memory_limit, store=False)
    roots = tree.upward()
    joint = _combine(roots + tree.residual, free_q, p.cards)
    lz = _lse(joint.reshape(-1), axis=0)
    if not np.isfinite(lz + p.const):
        raise ModelError("the evidence has probability zero: the query is undefined")
    joint = np.exp(joint - lz)
    # insert point-mass axes for observed query variables, in the requested order
    out = joint
    shape_axes = []
    for v in variables:
        if v in p.evidence:
            shape_axes.append(v)
    if shape_axes:
        full_shape = [p.all_cards[v] for v in variables]
        full = np.zeros(full_shape)
        idx = tuple(p.evidence[v] if v in p.evidence else slice(None) for v in variables)
        full[idx] = joint
        out = full
    return out


class Enumeration:
    """All joint states of a model with their normalised log probabilities.

    Attributes
    ----------
    variables : list
        Column order of ``states`` (all variables; observed ones are fixed).
    states : ndarray, shape (K, n_vars)
    log_prob : ndarray, shape (K,)
    log_z : float
    """

    def __init__(self, variables, states, log_prob, log_z):
        self.variables, self.states, self.log_prob, self.log_z = variables, states, log_prob, log_z

    @property
    def prob(self):
        return np.exp(self.log_prob)


def enumerate(model, evidence=None, memory_limit=None, max_states=2**24):
    """Brute-force joint distribution by listing every state (tiny models; a reference).

    Examples
    --------
    >>> from pgm import DiscreteFactor, MarkovNetwork
    >>> m = MarkovNetwork([DiscreteFactor(["a"], [1.0, 3.0])])
    >>> enumerate(m).prob.round(12).tolist()
    [0.25, 0.75]
    """
    p = ReducedModel(model, evidence)
    n_states = math.prod(p.cards[v] for v in p.variables)
    limit, _ = _limit(memory_limit)
    if n_states > max_states or 8 * n_states * (len(p.all_variables) + 2) > limit:
        raise TooLargeError(
            f"enumeration needs {n_states} joint states (max_states={max_states}); use "
            "log_partition/marginals (variable elimination) instead"
        )
    free = p.variables
    grids = np.indices([p.cards[v] for v in free]).reshape(len(free), -1).T if free else np.zeros((1, 0), int)
    states = np.empty((grids.shape[0], len(p.all_variables)), dtype=np.int64)
    col = {v: i for i, v in builtins.enumerate(p.all_variables)}
    for j, v in builtins.enumerate(free):
        states[:, col[v]] = grids[:, j]
    for v, val in p.evidence.items():
        states[:, col[v]] = val
    logp = np.full(states.shape[0], p.const)
    for scope, table in p.factors:
        logp += table[tuple(states[:, col[u]] for u in scope)]
    log_z = float(_lse(logp, axis=0))
    return Enumeration(list(p.all_variables), states, logp - log_z, log_z)


def _list_of(variables):
    if isinstance(variables, (str, int, np.integer)):
        return [variables]
    return list(variables)


class MAPResult(NamedTuple):
    """A most probable assignment and its log-score ``log p̃(x*, e)`` (natural log; with the
    evidence's factors applied)."""

    assignment: dict
    log_score: float


def map_assignment(model, evidence=None, order=None, memory_limit=None):
    """Exact MAP / MPE assignment by max-product variable elimination.

    Parameters
    ----------
    model : MarkovNetwork, FactorGraph, BayesianNetwork, or any object with ``log_factors()``
    evidence : dict, optional
        ``{variable: state}``; default ``model.evidence``.
    order, memory_limit :
        As in :func:`log_partition`; the cluster tables are kept for the backtracking, so the
        memory estimate is that of :func:`marginals`.

    Returns
    -------
    MAPResult
        ``assignment`` (``{variable: state}``, observed variables included, in model order) and
        ``log_score`` = ``log p̃`` of it (ties are broken towards lower states).

    Examples
    --------
    >>> from pgm import DiscreteFactor, MarkovNetwork
    >>> m = MarkovNetwork([DiscreteFactor(["a", "b"], [[1.0, 5.0], [3.0, 4.0]])])
    >>> r = map_assignment(m)
    >>> r.assignment, round(float(np.exp(r.log_score)), 12)
    ({'a': 0, 'b': 1}, 5.0)
    """
    p = ReducedModel(model, evidence)
    x, score = max_product(p, _resolve_order(p, order), memory_limit)
    if score == -math.inf:
        raise EvidenceError(f"every assignment has probability zero (evidence {p.evidence})")
    x.update(p.evidence)
    return MAPResult({v: x[v] for v in p.all_variables}, score)


def max_product(problem, order, memory_limit=None):
    """Max-product elimination of a reduced problem (``variables``, ``cards``, ``factors``,
    ``const``, ``graph()``): ``({free variable: state}, log-score)``."""
    tree = _CliqueTree(problem, order, (), memory_limit, store=True)
    roots = tree.upward(store=True, reduce="max")
    score = float(problem.const + sum(float(m) for _, m in roots))
    x = {}
    for v in reversed(order):
        rest = tuple(x[u] for u in tree.clusters[v][1:])
        x[v] = int(np.argmax(tree.up[v][(slice(None),) + rest]))
    return x, score

