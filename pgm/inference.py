"""Mean-field variational inference for Boltzmann machines with hidden units (SPEC.md §4).

``q(h | v) = Π_j Bernoulli(h_j; μ_j)``.  The fixed-point update of each unit is
``μ_j = σ(E_{h_{−j}~q}[log-odds of h_j])``; the ELBO is
``L(v, q) = E_q[log p̃(v, h)] + H(q) ≤ log p̃(v) = −F(v)``, a lower bound on ``log p(v) + log Z``.

* :class:`~pgm.DBM` (and :class:`~pgm.RBM`, a one-hidden-layer DBM), with ``μ⁰ = v``:
  ``μ^l = σ(b_l + μ^{l−1} W_l + μ^{l+1} W_{l+1}ᵀ)`` — for two hidden layers exactly SPEC §4's
  ``ĥ¹_j = σ(Σ_i v_i W¹_ij + Σ_k W²_jk ĥ²_k)``, ``ĥ²_k = σ(Σ_j W²_jk ĥ¹_j)`` (plus biases).
  ``L = Σ_l b_l·μ^l + Σ_l μ^{l−1}ᵀ W_l μ^l + Σ_l H(μ^l)``.
* :class:`~pgm.BoltzmannMachine` with hidden units (``E = −xᵀWx − bᵀx``):
  ``μ_j = σ(b_j + 2 Σ_k W_jk x̄_k)`` with ``x̄`` = visible values and hidden means;
  ``L = x̄ᵀWx̄ + b·x̄ + H(μ)``.

``update="sequential"`` updates one layer (DBM) or one unit (Boltzmann machine) at a time with
its neighbours' newest values: every update maximises the ELBO over that block exactly, so the
ELBO never decreases (also with ``damping``, since the ELBO is concave in each block).
``update="parallel"`` updates everything from the previous iterate (Jacobi; may oscillate
without damping).
"""

import numbers

import numpy as np

from ._layered import entropy_bernoulli, sigmoid
from .belief_propagation import BPResult, belief_propagation
from .errors import CardinalityError, EvidenceError, ModelError
from .exact import ReducedModel

__all__ = ["mean_field", "MeanFieldResult", "belief_propagation", "BPResult"]

UPDATES = ("sequential", "parallel")


class MeanFieldResult:
    """Variational parameters and bound returned by :func:`mean_field`.

    Attributes
    ----------
    mu : list of ndarray
        DBM / RBM: one array ``(n, n_l)`` per hidden layer ``l = 1..L``; Boltzmann machine: one
        array ``(n, n_hidden)`` over ``model.hidden`` (rows dropped for 1-D input).
    elbo : ndarray (n,) or float
        ``E_q[log p̃(v,h)] + H(q) − log_z`` at the returned point.
    history : ndarray (iterations + 1, n)
        ELBO after initialisation and after every iteration.
    iterations : int
        Iterations performed.
    converged : bool
        Whether the largest change of an iteration fell below ``tol``.
    residual : float
        ``max |μ − update(μ)|`` of the fixed-point equations at the returned point.
    """

    def __init__(self, mu, elbo, history, iterations, converged, residual):
        self.mu, self.elbo, self.history = mu, elbo, history
        self.iterations, self.converged, self.residual = iterations, converged, residual

    def __repr__(self):
        return (f"{type(self).__name__}(iterations={self.iterations}, converged={self.converged}, "
                f"residual={self.residual:.3g})")


class _LayerProblem:
    """DBM / RBM mean field over hidden layers 1..L (float64)."""

    def __init__(self, model, v):
        self.W = [None] + [np.asarray(w, dtype=np.float64) for w in model.weights]
        self.b = [np.asarray(x, dtype=np.float64) for x in model.biases]
        self.sizes = list(model.layer_sizes)
        self.L = len(self.sizes) - 1
        self.v, self.one = model._data(0, v)
        self.v = self.v.astype(np.float64)
        self.blocks = list(range(self.L))
        self.n = self.v.shape[0]

    def init(self):
        mu, below = [], self.v
        for l in range(1, self.L + 1):  # bottom-up pass
            below = sigmoid(self.b[l] + below @ self.W[l])
            mu.append(below)
        return mu

    def update(self, mu, k):
        l = k + 1
        below = self.v if l == 1 else mu[l - 2]
        pre = self.b[l] + below @ self.W[l]
        if l < self.L:
            pre = pre + mu[l] @ self.W[l + 1].T
        return sigmoid(pre)

    def step(self, mu, k, damping):
        """Update layer ``k+1`` in place; returns the largest change."""
        old = mu[k]
        mu[k] = damping * old + (1 - damping) * self.update(mu, k)
        return float(np.max(np.abs(mu[k] - old)))

    def fixed_point_map(self, mu):
        return [self.update(mu, k) for k in range(self.L)]

    def elbo(self, mu):
        x = [self.v] + mu
        out = self.v @ self.b[0]
        for l in range(1, self.L + 1):
            out = out + x[l] @ self.b[l] + ((x[l - 1] @ self.W[l]) * x[l]).sum(1) + entropy_bernoulli(x[l])
        return out


class _UnitProblem:
    """Boltzmann machine with hidden units: one block per hidden unit (float64)."""

    def __init__(self, model, v):
        if model.hidden.size == 0:
            raise ModelError("mean field given v needs hidden units; this Boltzmann machine has none "
                             "(without v it is a factor model: pass evidence= if any)")
        arr = np.asarray(v, dtype=np.float64)
        self.one = arr.ndim == 1
        arr = np.atleast_2d(arr)
        nv = model.visible.size
        if arr.ndim != 2 or arr.shape[1] != nv:
            raise CardinalityError(f"v must have shape (n, {nv}) or ({nv},) (the visible units), got {np.shape(v)}")
        if not np.all((arr == 0) | (arr == 1)):
            raise EvidenceError(f"v must be binary (0 or 1), found {arr[(arr != 0) & (arr != 1)].flat[0]!r}")
        self.W, self.b = np.asarray(model.W, dtype=np.float64), np.asarray(model.b, dtype=np.float64)
        self.vis, self.hid = model.visible, model.hidden
        self.x = np.zeros((arr.shape[0], model.n_variables))
        self.x[:, self.vis] = arr
        self.sizes = [nv, self.hid.size]
        self.blocks = list(range(self.hid.size))
        self.n = arr.shape[0]

    def _full(self, mu):
        x = self.x.copy()
        x[:, self.hid] = mu[0]
        return x

    def init(self):
        return [np.full((self.x.shape[0], self.hid.size), 0.5)]

    def step(self, mu, k, damping):
        """Update hidden unit ``k`` in place; returns its largest change."""
        j = self.hid[k]
        old = mu[0][:, k].copy()
        new = sigmoid(self.b[j] + 2 * self._full(mu) @ self.W[j])
        mu[0][:, k] = damping * old + (1 - damping) * new
        return float(np.max(np.abs(mu[0][:, k] - old)))

    def fixed_point_map(self, mu):
        return [sigmoid(self.b[self.hid] + 2 * self._full(mu) @ self.W[self.hid].T)]

    def elbo(self, mu):
        x = self._full(mu)
        return ((x @ self.W) * x).sum(1) + x @ self.b + entropy_bernoulli(mu[0])


class _FactorProblem:
    """Naive mean field of any discrete factor model with evidence: one block per free variable,
    ``log q_i(x) = Σ_{a ∋ i} E_{q_{a∖i}}[log ψ_a(x_a)] + const``, with ``0 · log 0 = 0`` (a state
    that some possible configuration of the other variables makes impossible gets ``q = 0``)."""

    def __init__(self, model, evidence):
        self.p = p = ReducedModel(model, evidence)
        self.variables = p.variables
        index = {v: i for i, v in enumerate(self.variables)}
        self.cards = [p.cards[v] for v in self.variables]
        self.factors = []                   # (variable indices, finite part, impossible mask or None)
        self.of = [[] for _ in self.variables]
        for scope, table in p.factors:
            t = np.asarray(table, dtype=np.float64)
            zero = ~np.isfinite(t)
            self.factors.append(([index[v] for v in scope], np.where(zero, 0.0, t),
                                 zero.astype(np.float64) if zero.any() else None))
            for v in scope:
                self.of[index[v]].append(len(self.factors) - 1)
        self.blocks = list(range(len(self.variables)))
        self.sizes = [None] + self.cards
        self.n, self.one = 1, True

    def init(self):
        return [np.full((1, k), 1.0 / k) for k in self.cards]

    def _expect(self, a, mu, keep):
        """``E_q[log ψ_a]`` as a function of variable ``keep`` (or a scalar when ``keep`` is None)."""
        idx, fin, zero = self.factors[a]
        ops = []
        for ax, j in enumerate(idx):
            if j != keep:
                ops += [mu[j][0], [ax]]
        out = [idx.index(keep)] if keep is not None else []
        e = np.einsum(fin, list(range(len(idx))), *ops, out)
        if zero is not None:
            e = np.where(np.einsum(zero, list(range(len(idx))), *ops, out) > 0, -np.inf, e)
        return e

    def update(self, mu, i):
        logq = np.zeros(self.cards[i])
        for a in self.of[i]:
            logq = logq + self._expect(a, mu, i)
        if not np.isfinite(logq).any():
            raise EvidenceError(f"mean field leaves no possible state for {self.variables[i]!r}: every "
                                "state meets a zero of some factor (the model or evidence has zeros "
                                "a fully factorised q cannot avoid)")
        q = np.exp(logq - logq.max())
        return (q / q.sum())[None, :]

    def step(self, mu, i, damping):
        old = mu[i]
        mu[i] = damping * old + (1 - damping) * self.update(mu, i)
        return float(np.max(np.abs(mu[i] - old)))

    def fixed_point_map(self, mu):
        return [self.update(mu, i) for i in self.blocks]

    def elbo(self, mu):
        e = self.p.const + sum(float(self._expect(a, mu, None)) for a in range(len(self.factors)))
        for q in mu:
            nz = q[q > 0]
            e -= float(np.sum(nz * np.log(nz)))
        return np.array([e])


def _problem(model, v, evidence):
    kind = getattr(model, "layered_kind", None)
    if kind in ("dbm", "rbm"):
        return _LayerProblem(model, v)
    from .spin import BoltzmannMachine

    if isinstance(model, BoltzmannMachine) and (model.hidden.size or v is not None):
        return _UnitProblem(model, v)
    if hasattr(model, "log_factors") and kind is None:
        if v is not None:
            raise TypeError(f"mean field of a {type(model).__name__} takes evidence=, not v")
        return _FactorProblem(model, evidence)
    raise TypeError(f"mean_field needs a DBM, RBM, BoltzmannMachine with hidden units or a discrete "
                    f"factor model, got {type(model).__name__}")


def mean_field(model, v=None, iterations=100, tol=1e-10, update="sequential", damping=0.0, init=None,
               log_z=0.0, evidence=None):
    """Mean-field fixed point ``q(h|v) = Π Bernoulli(μ)`` (or ``q(x) = Π_i q_i(x_i)``) and its ELBO.

    Parameters
    ----------
    model : DBM, RBM, BoltzmannMachine (with hidden units), or any discrete factor model
        (MarkovNetwork, FactorGraph, BayesianNetwork, Ising, Potts, fully visible BoltzmannMachine)
    v : array_like (n, n_visible) or (n_visible,)
        Binary visible vectors (for a Boltzmann machine: values of ``model.visible`` in order);
        None for factor models, which take ``evidence`` instead.
    iterations : int
        Most iterations (one iteration updates every layer / unit once); ≈10 for learning,
        ≈100 for evaluation.
    tol : float
        Stop when no variational parameter changed by more than ``tol`` in an iteration.
    update : {"sequential", "parallel"}
        Block-coordinate ascent (ELBO monotone) or Jacobi updates.
    damping : float in [0, 1)
        ``μ ← damping·μ + (1 − damping)·update(μ)``.
    init : list of arrays, optional
        Starting ``μ`` (same layout as :attr:`MeanFieldResult.mu`); default a bottom-up pass
        (DBM) or 0.5 (Boltzmann machine).
    log_z : float
        Subtracted from the ELBO (pass ``pgm.exact.log_partition(model)`` or an estimate to
        bound ``log p(v)``; default 0 bounds ``log p̃(v) = −F(v)``).
    evidence : dict, optional
        Factor models: ``{variable: state}`` (default ``model.evidence``); the ELBO then bounds
        ``log Σ_free p̃(x, e)`` (``log Z`` without evidence).

    Returns
    -------
    MeanFieldResult
        For factor models ``mu`` is ``{variable: q_i}`` over the free variables and ``elbo`` a
        float.

    Examples
    --------
    >>> import pgm
    >>> dbm = pgm.DBM([4, 3, 2], seed=0)
    >>> r = pgm.inference.mean_field(dbm, [1, 0, 1, 1], log_z=pgm.exact.log_partition(dbm))
    >>> r.converged, r.residual < 1e-8, [m.shape for m in r.mu]
    (True, True, [(3,), (2,)])
    >>> bool(r.elbo <= pgm.exact.log_likelihood(dbm, [1, 0, 1, 1]))
    True
    >>> ising = pgm.Ising.grid(3, 3, coupling=0.3, field=0.1)
    >>> q = pgm.inference.mean_field(ising)
    >>> q.converged, bool(q.elbo <= pgm.exact.log_partition(ising)), q.mu[0].round(3).tolist()
    (True, True, [0.114, 0.886])
    """
    check_settings(iterations, tol, update, damping)
    if isinstance(log_z, bool) or not isinstance(log_z, numbers.Real) or not np.isfinite(log_z):
        raise ValueError(f"log_z must be a finite real number, got {log_z!r}")
    prob = _problem(model, v, evidence)
    factor = isinstance(prob, _FactorProblem)
    mu = prob.init() if init is None else (_check_factor_init(init, prob) if factor else _check_init(init, prob, prob.n))
    mu, history, it, converged, residual = iterate(prob, mu, iterations, tol, update, damping)
    history = history - log_z
    elbo = history[-1]
    if prob.one:
        mu = [m[0] for m in mu]
        elbo, history = float(elbo[0]), history[:, 0]
    if factor:
        mu = dict(zip(prob.variables, mu))
    return MeanFieldResult(mu, elbo, history, it, converged, residual)


def _check_factor_init(init, prob):
    if not isinstance(init, dict):
        raise TypeError("init of a factor model's mean field must be a dict {variable: probabilities}")
    out = prob.init()
    for v, q in init.items():
        if v not in prob.variables:
            raise EvidenceError(f"init names {v!r}, which is not a free variable of the model")
        i = prob.variables.index(v)
        arr = np.asarray(q, dtype=np.float64).reshape(-1)
        if arr.shape != (prob.cards[i],) or not np.all(arr >= 0) or not abs(arr.sum() - 1) < 1e-9:
            raise CardinalityError(f"init[{v!r}] must be a probability vector of length {prob.cards[i]}, got {q!r}")
        out[i] = arr[None, :]
    return out


def check_settings(iterations, tol, update, damping):
    """Validate the iteration settings shared by every mean-field routine."""
    if isinstance(iterations, bool) or not isinstance(iterations, numbers.Integral) or iterations < 1:
        raise ValueError(f"iterations must be an integer >= 1, got {iterations!r}")
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not tol >= 0:
        raise ValueError(f"tol must be a real number >= 0, got {tol!r}")
    if isinstance(damping, bool) or not isinstance(damping, numbers.Real) or not 0 <= damping < 1:
        raise ValueError(f"damping must lie in [0, 1), got {damping!r}")
    if update not in UPDATES:
        raise ValueError(f"update must be one of {UPDATES}, got {update!r}")


def iterate(prob, mu, iterations, tol, update, damping):
    """The mean-field iteration of any problem with ``blocks``, ``step(mu, k, damping)`` (update
    block ``k`` in place, return its largest change), ``fixed_point_map(mu)`` and ``elbo(mu)``
    over a list of parameter arrays ``mu``.  Returns ``(mu, ELBO history (array), iterations,
    converged, residual)``."""
    history = [prob.elbo(mu)]
    converged, it = False, 0
    for it in range(1, iterations + 1):
        if update == "sequential":
            change = max(prob.step(mu, k, damping) for k in prob.blocks)
        else:
            new = prob.fixed_point_map(mu)
            change = max(float(np.max(np.abs(nw - m), initial=0.0)) for nw, m in zip(new, mu))
            mu = [damping * m + (1 - damping) * nw for m, nw in zip(mu, new)]
            change *= 1 - damping
        history.append(prob.elbo(mu))
        if change <= tol:
            converged = True
            break
    residual = max(float(np.max(np.abs(f - m), initial=0.0)) for f, m in zip(prob.fixed_point_map(mu), mu))
    return mu, np.array(history), it, converged, residual


def _check_init(init, prob, n):
    sizes = prob.sizes[1:] if isinstance(prob, _LayerProblem) else [prob.hid.size]
    if not isinstance(init, (list, tuple)) or len(init) != len(sizes):
        raise CardinalityError(f"init must be a list of {len(sizes)} arrays, one per hidden block")
    out = []
    for k, (m, s) in enumerate(zip(init, sizes)):
        arr = np.array(m, dtype=np.float64)
        if arr.ndim == 1:
            arr = np.broadcast_to(arr, (n, s)).copy()
        if arr.shape != (n, s):
            raise CardinalityError(f"init[{k}] must have shape ({n}, {s}) or ({s},), got {np.shape(m)}")
        if not np.all((arr >= 0) & (arr <= 1)):
            raise ValueError(f"init[{k}] must hold probabilities in [0, 1]")
        out.append(arr)
    return out
