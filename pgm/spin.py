"""Pairwise discrete energy models: Ising, Potts and Boltzmann machines (SPEC.md §1, §5).

* :class:`Ising` — spins ``s_i ∈ {−1, +1}`` on a networkx graph,
  ``E(s) = −Σ_{(i,j)} J_ij s_i s_j − Σ_i h_i s_i``, ``p(s) ∝ exp(−β E(s))``.
* :class:`Potts` — ``x_i ∈ {0..q−1}``, ``E(x) = −Σ_{(i,j)} J_ij δ(x_i, x_j) − Σ_i h_i[x_i]``,
  ``p ∝ exp(−β E)``.
* :class:`BoltzmannMachine` — units ``x_i ∈ {0, 1}``, ``E(x) = −xᵀWx − bᵀx`` with symmetric
  ``W`` and zero diagonal (SPEC §5; each pair counts twice in ``xᵀWx``), optional hidden units;
  ``p(x_i = 1 | x_{−i}) = σ(b_i + 2 Σ_j W_ij x_j)``.

Variables are the integers ``0..n−1`` (the graph's nodes are kept as ``.nodes``).  Each model
states its ``domain`` (the values a state array holds), compiles itself to arrays for the
samplers (:mod:`pgm.compiled`), and converts to a :class:`~pgm.MarkovNetwork` over state
*indices* (Ising: index 0 ↔ spin −1, index 1 ↔ +1) so that :mod:`pgm.exact` applies.
"""

import numbers

import networkx as nx
import numpy as np

from .compiled import compile_factors, spin_csr
from .errors import CardinalityError, EvidenceError, ModelError, UnknownVariableError
from .factor import DiscreteFactor

__all__ = ["Ising", "Potts", "BoltzmannMachine", "PairwiseModel"]


def _finite_scalar(value, name, positive=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not np.isfinite(value) or (positive and value <= 0):
        raise ModelError(f"{name} must be finite{' and > 0' if positive else ''}, got {value!r}")
    return value


def _edge_values(graph, edges, coupling, name):
    """Per-edge values from a scalar, an edge-attribute name, a dict or a sequence."""
    m = len(edges)
    if isinstance(coupling, str):
        vals = []
        for u, v in edges:
            if coupling not in graph.edges[u, v]:
                raise ModelError(f"edge ({u!r}, {v!r}) has no attribute {coupling!r}")
            vals.append(graph.edges[u, v][coupling])
        out = np.asarray(vals, dtype=np.float64)
    elif isinstance(coupling, dict):
        out = np.empty(m)
        for k, (u, v) in enumerate(edges):
            if (u, v) in coupling:
                out[k] = coupling[(u, v)]
            elif (v, u) in coupling:
                out[k] = coupling[(v, u)]
            else:
                raise ModelError(f"{name} dict has no value for edge ({u!r}, {v!r})")
    elif np.ndim(coupling) == 0:
        out = np.full(m, _finite_scalar(coupling, name))
    else:
        out = np.asarray(coupling, dtype=np.float64)
        if out.shape != (m,):
            raise CardinalityError(f"{name} must be a scalar or have one value per edge ({m}), got shape {out.shape}")
    if not np.all(np.isfinite(out)):
        raise ModelError(f"{name} has non-finite values")
    return out


def _site_values(n, field, name, width=None):
    shape = (n,) if width is None else (n, width)
    if field is None:
        return np.zeros(shape)
    arr = np.asarray(field, dtype=np.float64)
    if arr.ndim == 0 and width is None:
        arr = np.full(n, float(arr))
    elif width is not None and arr.shape == (width,):
        arr = np.broadcast_to(arr, shape).copy()
    if arr.shape != shape:
        raise CardinalityError(f"{name} must have shape {shape}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ModelError(f"{name} has non-finite values")
    return arr


class PairwiseModel:
    """Base of the pairwise discrete models (Ising, Potts, BoltzmannMachine): variables 0..n−1,
    evidence in the model's domain, exact conversion to a Markov network."""

    domain = None  # tuple of allowed values, in state-index order

    @property
    def variables(self):
        return list(range(self.n_variables))

    @property
    def cardinalities(self):
        return {i: len(self.domain) for i in range(self.n_variables)}

    @property
    def cardinality_array(self):
        return np.full(self.n_variables, len(self.domain), dtype=np.int64)

    def index(self, variable):
        if isinstance(variable, (int, np.integer)) and 0 <= variable < self.n_variables:
            return int(variable)
        raise UnknownVariableError(f"unknown variable {variable!r}; expected 0..{self.n_variables - 1}")

    def to_index(self, x):
        """Map states in the model's domain to state indices ``0..k−1``."""
        x = np.asarray(x)
        lookup = {v: i for i, v in enumerate(self.domain)}
        bad = ~np.isin(x, self.domain)
        if bad.any():
            raise EvidenceError(f"value {x[bad].flat[0]!r} is outside the domain {self.domain}")
        out = np.zeros(x.shape, dtype=np.int64)
        for v, i in lookup.items():
            out[x == v] = i
        return out

    def from_index(self, idx):
        return np.asarray(self.domain, dtype=np.int8)[np.asarray(idx)]

    def check_states(self, x):
        arr = np.asarray(x)
        one = arr.ndim == 1
        if one:
            arr = arr[None]
        if arr.ndim != 2 or arr.shape[1] != self.n_variables:
            raise CardinalityError(
                f"states must have shape (n, {self.n_variables}) or ({self.n_variables},), got {np.shape(x)}"
            )
        if arr.dtype.kind not in "iub":
            if arr.dtype.kind != "f" or np.any(arr != np.round(arr)):
                raise TypeError(f"states must be integers in {self.domain}, got dtype {arr.dtype}")
        if not np.all(np.isin(arr, self.domain)):
            bad = arr[~np.isin(arr, self.domain)].flat[0]
            raise EvidenceError(f"state value {bad!r} is outside the domain {self.domain}")
        return arr.astype(np.float64), one

    def check_evidence(self, evidence):
        """``{variable: value in domain}`` → ``{variable: state index}``."""
        if evidence is None:
            return {}
        if not isinstance(evidence, dict):
            raise TypeError(f"evidence must be a dict, got {type(evidence).__name__}")
        out = {}
        for v, val in evidence.items():
            i = self.index(v)
            if isinstance(val, bool) or not isinstance(val, (numbers.Integral,)) or val not in self.domain:
                raise EvidenceError(f"evidence value {val!r} for variable {v!r} is outside the domain {self.domain}")
            out[i] = self.domain.index(int(val))
        return out

    def log_unnormalized(self, x):
        return -self.beta * self.energy(x)

    def log_factors(self):
        mn = self.to_markov_network()
        return mn.variables, mn.cardinalities, mn.factors

    def compile_factors(self):
        """General discrete-factor compiled form (state indices)."""
        return compile_factors(*self.log_factors())

    @property
    def evidence(self):
        return dict(self._evidence)

    def _cached_spin_form(self, inputs, build):
        """``build()`` once for these values of ``inputs`` (arrays compared element by element:
        a model whose parameters are edited in place is recompiled)."""
        cache = getattr(self, "_spin_cache", None)
        if cache is not None and all(a.shape == b.shape and np.array_equal(a, b)
                                     for a, b in zip(cache[0], inputs)):
            return cache[1]
        out = build()
        self._spin_cache = (tuple(np.array(a, copy=True) for a in inputs), out)
        return out


_PairwiseModel = PairwiseModel  # the former private name


class Ising(PairwiseModel):
    """Ising model on a graph: spins ±1, ``p(s) ∝ exp(β Σ J_ij s_i s_j + β Σ h_i s_i)``.

    Parameters
    ----------
    graph : networkx.Graph
        Interaction graph; its nodes (any labels) become variables ``0..n−1`` in
        ``list(graph.nodes)`` order.
    coupling : float, sequence, dict or str
        ``J``: a scalar, one value per edge in ``list(graph.edges)`` order, a dict keyed by edge,
        or the name of an edge attribute.
    field : float or array_like (n,)
    beta : float > 0
    evidence : dict, optional
        ``{variable: ±1}`` clamped spins.

    Examples
    --------
    >>> m = Ising.grid(4, 4, coupling=1.0, beta=0.44)
    >>> m.n_variables, m.graph.number_of_edges()
    (16, 32)
    >>> float(m.energy(np.ones(16)))
    -32.0
    """

    domain = (-1, 1)

    def __init__(self, graph, coupling=1.0, field=0.0, beta=1.0, evidence=None):
        if not isinstance(graph, nx.Graph) or graph.is_directed():
            raise TypeError(f"graph must be an undirected networkx.Graph, got {type(graph).__name__}")
        if nx.number_of_selfloops(graph):
            raise ModelError("an Ising graph must not have self-loops")
        self.nodes = list(graph.nodes)
        pos = {v: i for i, v in enumerate(self.nodes)}
        edges = list(graph.edges)
        self.n_variables = len(self.nodes)
        self.coupling = _edge_values(graph, edges, coupling, "coupling")
        self.edges = np.array([(pos[u], pos[v]) for u, v in edges], dtype=np.int64).reshape(-1, 2)
        self.field = _site_values(self.n_variables, field, "field")
        self.beta = _finite_scalar(beta, "beta", positive=True)
        self.graph = nx.relabel_nodes(graph, pos, copy=True)
        self._evidence = self.check_evidence(evidence)

    @classmethod
    def grid(cls, rows, cols, coupling=1.0, field=0.0, beta=1.0, periodic=True):
        """``rows × cols`` square lattice; site ``(r, c)`` is variable ``r * cols + c``.

        ``periodic=True`` wraps both directions (a torus; needs ``rows, cols ≥ 3``).
        """
        for name, v in (("rows", rows), ("cols", cols)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
        if periodic and (rows < 3 or cols < 3):
            raise ValueError(f"a periodic lattice needs rows, cols >= 3 (got {rows}×{cols}): "
                             "smaller tori would double bonds")
        g = nx.Graph()
        g.add_nodes_from(range(rows * cols))
        for r in range(rows):
            for c in range(cols):
                i = r * cols + c
                if c + 1 < cols or periodic:
                    g.add_edge(i, r * cols + (c + 1) % cols)
                if r + 1 < rows or periodic:
                    g.add_edge(i, ((r + 1) % rows) * cols + c)
        model = cls(g, coupling, field, beta)
        model.shape = (rows, cols)
        return model

    def energy(self, x):
        """``E(s) = −Σ J_ij s_i s_j − Σ h_i s_i`` (without β) for states ``(m, n)`` or ``(n,)``."""
        s, one = self.check_states(x)
        e = -(s[:, self.edges[:, 0]] * s[:, self.edges[:, 1]]) @ self.coupling - s @ self.field
        return e[0] if one else e

    def magnetization(self, x):
        s, one = self.check_states(x)
        m = s.mean(axis=1)
        return m[0] if one else m

    def spin_arrays(self):
        """Compiled :class:`~pgm.compiled.SpinArrays` (couplings without β) and offset 0.

        Cached while ``edges``, ``coupling`` and ``field`` keep their values (callers must not
        write into the returned arrays)."""
        return self._cached_spin_form((self.edges, self.coupling, self.field), lambda: (
            spin_csr(self.n_variables, self.edges[:, 0], self.edges[:, 1], self.coupling, self.field), 0.0))

    def to_markov_network(self):
        """Exact equivalent over state indices (0 ↔ −1, 1 ↔ +1)."""
        from .discrete import MarkovNetwork

        s = np.array([-1.0, 1.0])
        factors = [DiscreteFactor.from_log([int(i), int(j)], self.beta * J * np.outer(s, s))
                   for (i, j), J in zip(self.edges, self.coupling)]
        factors += [DiscreteFactor.from_log([i], self.beta * h * s)
                    for i, h in enumerate(self.field) if h != 0.0]
        return MarkovNetwork(factors, variables=self.variables, cardinalities=self.cardinalities,
                             evidence=self._evidence)


class Potts(PairwiseModel):
    """q-state Potts model: ``E(x) = −Σ J_ij δ(x_i, x_j) − Σ_i h_i[x_i]``, ``p ∝ exp(−β E)``.

    Parameters
    ----------
    graph : networkx.Graph
    q : int ≥ 2
    coupling : float, sequence, dict or str
    field : array_like (n, q) or (q,), optional
    beta : float > 0

    Examples
    --------
    >>> import networkx as nx
    >>> m = Potts(nx.cycle_graph(4), q=3, coupling=1.0)
    >>> float(m.energy([0, 0, 0, 0]))
    -4.0
    """

    def __init__(self, graph, q, coupling=1.0, field=None, beta=1.0, evidence=None):
        if not isinstance(graph, nx.Graph) or graph.is_directed():
            raise TypeError(f"graph must be an undirected networkx.Graph, got {type(graph).__name__}")
        if isinstance(q, bool) or not isinstance(q, numbers.Integral) or q < 2:
            raise ValueError(f"q must be an integer >= 2, got {q!r}")
        if q > 127:
            raise ValueError(f"q must be <= 127, got {q}")
        self.q = int(q)
        self.domain = tuple(range(self.q))
        self.nodes = list(graph.nodes)
        pos = {v: i for i, v in enumerate(self.nodes)}
        edges = list(graph.edges)
        self.n_variables = len(self.nodes)
        self.coupling = _edge_values(graph, edges, coupling, "coupling")
        self.edges = np.array([(pos[u], pos[v]) for u, v in edges], dtype=np.int64).reshape(-1, 2)
        self.field = _site_values(self.n_variables, field, "field", width=self.q)
        self.beta = _finite_scalar(beta, "beta", positive=True)
        self.graph = nx.relabel_nodes(graph, pos, copy=True)
        self._evidence = self.check_evidence(evidence)

    def energy(self, x):
        s, one = self.check_states(x)
        s = s.astype(np.int64)
        same = (s[:, self.edges[:, 0]] == s[:, self.edges[:, 1]]).astype(float)
        e = -same @ self.coupling - self.field[np.arange(self.n_variables), s].sum(axis=1)
        return e[0] if one else e

    def to_markov_network(self):
        from .discrete import MarkovNetwork

        eye = np.eye(self.q)
        factors = [DiscreteFactor.from_log([int(i), int(j)], self.beta * J * eye)
                   for (i, j), J in zip(self.edges, self.coupling)]
        factors += [DiscreteFactor.from_log([i], self.beta * h)
                    for i, h in enumerate(self.field) if np.any(h != 0.0)]
        return MarkovNetwork(factors, variables=self.variables, cardinalities=self.cardinalities,
                             evidence=self._evidence)


class BoltzmannMachine(PairwiseModel):
    """Boltzmann machine over ``{0,1}`` units: ``E(x) = −xᵀWx − bᵀx``.

    Parameters
    ----------
    W : array_like (n, n)
        Symmetric with zero diagonal.
    b : array_like (n,), optional
    hidden : int or array_like of int, optional
        Number of hidden units (the last ones) or their indices.

    Examples
    --------
    >>> bm = BoltzmannMachine([[0.0, 1.0], [1.0, 0.0]], [0.5, -0.5])
    >>> float(bm.energy([1, 1]))
    -2.0
    """

    domain = (0, 1)
    beta = 1.0

    def __init__(self, W, b=None, hidden=None, evidence=None):
        W = np.asarray(W, dtype=np.float64)
        if W.ndim != 2 or W.shape[0] != W.shape[1]:
            raise CardinalityError(f"W must be a square matrix, got shape {W.shape}")
        n = W.shape[0]
        if not np.all(np.isfinite(W)):
            raise ModelError("W has non-finite entries")
        if not np.allclose(W, W.T, rtol=0, atol=1e-12):
            raise ModelError("W must be symmetric")
        if np.any(np.diag(W) != 0):
            raise ModelError("W must have a zero diagonal")
        self.W = (W + W.T) / 2
        self.b = _site_values(n, b, "b") if b is not None else np.zeros(n)
        self.n_variables = n
        if hidden is None:
            hid = np.zeros(0, dtype=np.int64)
        elif np.ndim(hidden) == 0:
            if isinstance(hidden, bool) or not isinstance(hidden, numbers.Integral) or not 0 <= hidden <= n:
                raise ValueError(f"hidden must be a count in 0..{n} or a list of unit indices, got {hidden!r}")
            hid = np.arange(n - int(hidden), n, dtype=np.int64)
        else:
            hid = np.unique(np.asarray(hidden, dtype=np.int64))
            if hid.size and (hid.min() < 0 or hid.max() >= n):
                raise ValueError(f"hidden unit indices must lie in 0..{n - 1}")
        self.hidden = hid
        self.visible = np.setdiff1d(np.arange(n), hid)
        self.nodes = list(range(n))
        self._evidence = self.check_evidence(evidence)

    @property
    def edges(self):
        """Pairs ``i < j`` with ``W_ij ≠ 0`` (read from the current ``W``)."""
        iu, ju = np.nonzero(np.triu(self.W, 1))
        return np.stack([iu, ju], axis=1).astype(np.int64)

    @property
    def graph(self):
        g = nx.Graph()
        g.add_nodes_from(range(self.n_variables))
        g.add_edges_from(map(tuple, self.edges))
        return g

    def energy(self, x):
        s, one = self.check_states(x)
        e = -((s @ self.W) * s).sum(axis=1) - s @ self.b
        return e[0] if one else e

    # -------------------------------------------------------------- learning protocol
    param_names = ("W", "b")

    @property
    def params(self):
        """``{"W": W, "b": b}`` — the model's own arrays (updates in place take effect)."""
        return {"W": self.W, "b": self.b}

    def set_params(self, **values):
        """Replace ``W`` and/or ``b`` (validated: shape, symmetry, zero diagonal, finite)."""
        W = np.asarray(values.pop("W", self.W), dtype=np.float64)
        b = np.asarray(values.pop("b", self.b), dtype=np.float64)
        if values:
            raise KeyError(f"unknown parameters {sorted(values)}; expected 'W' and 'b'")
        if W.shape != self.W.shape or b.shape != self.b.shape:
            raise CardinalityError(f"W must have shape {self.W.shape} and b {self.b.shape}")
        if not (np.all(np.isfinite(W)) and np.all(np.isfinite(b))):
            raise ModelError("parameters must be finite")
        if not np.allclose(W, W.T, rtol=0, atol=1e-12) or np.any(np.diag(W) != 0):
            raise ModelError("W must be symmetric with a zero diagonal")
        self.W[...] = (W + W.T) / 2
        self.b[...] = b

    def grad_energy(self, x):
        """``∂E/∂θ`` averaged over the rows of ``x``: ``∂E/∂W = −x xᵀ`` (zero diagonal; ``W``
        is symmetric, so a step along it moves ``W_ij`` and ``W_ji`` together), ``∂E/∂b = −x``.

        Examples
        --------
        >>> bm = BoltzmannMachine(np.zeros((2, 2)))
        >>> bm.grad_energy([[1, 1]])["W"].tolist(), bm.grad_energy([[1, 1]])["b"].tolist()
        ([[0.0, -1.0], [-1.0, 0.0]], [-1.0, -1.0])
        """
        s, _ = self.check_states(x)
        gw = -(s.T @ s) / s.shape[0]
        np.fill_diagonal(gw, 0.0)
        return {"W": gw, "b": -s.mean(axis=0)}

    def free_energy(self, x):
        """Fully visible: ``F = E``.  With hidden units use exact inference (small models)."""
        if self.hidden.size:
            raise NotImplementedError("free_energy with hidden units: use pgm.exact on to_markov_network()")
        return self.energy(x)

    def grad_free_energy(self, x):
        if self.hidden.size:
            raise NotImplementedError("grad_free_energy with hidden units is not implemented")
        return self.grad_energy(x)

    def spin_arrays(self):
        """Spin form ``x = (1+s)/2``: ``J = W/2``, ``h = b/2 + W·1/2``, ``E = E_spin + offset``
        (cached while ``W``, ``b`` and the edges keep their values)."""
        return self._cached_spin_form((self.edges, self.W, self.b), self._spin_form)

    def _spin_form(self):
        edges = self.edges
        w = self.W[edges[:, 0], edges[:, 1]]
        field = self.b / 2 + self.W.sum(axis=1) / 2
        # E(x) = −Σ_{i<j} 2W_ij x_i x_j − Σ b_i x_i; constants: −Σ_{i<j} W_ij/2 − Σ b_i/2
        offset = -np.triu(self.W, 1).sum() / 2 - self.b.sum() / 2
        return spin_csr(self.n_variables, edges[:, 0], edges[:, 1], w / 2, field), float(offset)

    def to_markov_network(self):
        from .discrete import MarkovNetwork

        factors = [DiscreteFactor.from_log([int(i), int(j)], np.array([[0.0, 0.0], [0.0, 2 * self.W[i, j]]]))
                   for i, j in self.edges]
        factors += [DiscreteFactor.from_log([i], np.array([0.0, bi])) for i, bi in enumerate(self.b)]
        return MarkovNetwork(factors, variables=self.variables, cardinalities=self.cardinalities,
                             evidence=self._evidence)
