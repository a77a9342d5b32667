"""Loopy belief propagation on factor graphs, sum- and max-product (SPEC.md §4b).

Any discrete model with factors (``MarkovNetwork``, ``FactorGraph``, discrete
``BayesianNetwork``, ``Ising``, ``Potts``, ``BoltzmannMachine``) is reduced by its evidence and
compiled to flat arrays; messages live in log space in two flat arrays (factor→variable and
variable→factor), updated by the numba kernels of ``pgm/_bp_kernels.py``:

* ``schedule="parallel"`` — flooding: every variable→factor message from the previous
  factor→variable messages, then every factor→variable message (deterministic for any thread
  count);
* ``schedule="residual"`` — residual BP (Elidan, McGraw & Koller 2006): the pending
  factor→variable message that would change most is committed first; ``max_iter`` counts
  sweeps' worth of single-message updates (one sweep = as many updates as there are edges).

Models whose factors are all unary or pairwise, over variables of one cardinality and without
zero entries, run the flooding schedule in ``pgm/_bp_pairwise.py`` — on log-odds for binary
variables, as whole-array numpy operations otherwise; the rest, and the residual schedule, run
the general numba kernels.

Damping mixes log messages, ``m ← (1 − λ) m_new + λ m_old``.  Convergence: the largest change of
a log message in one iteration (or the largest pending residual) below ``tol``; otherwise a
:class:`pgm.errors.ConvergenceWarning` and ``converged=False``.

Sum-product returns the beliefs ``b_i`` (approximate marginals) and the Bethe approximation
``log Z ≈ −F_Bethe``, ``F = Σ_a Σ_{x_a} b_a log(b_a/ψ_a) − Σ_i (d_i − 1) Σ_{x_i} b_i log b_i``
(``d_i``: number of factors of ``i``), plus the log-weight of the evidence; on a tree both are
exact.  Max-product returns max-marginals and the assignment decoded from them, with its exact
log-score ``log p̃(x*, e)``; on a tree with a unique maximiser that is the exact MAP.
"""

import math
import numbers
import warnings

import numpy as np

from .errors import ConvergenceWarning, EvidenceError
from .exact import ReducedModel

__all__ = ["belief_propagation", "BPResult", "MODES", "SCHEDULES"]

MODES = ("sum", "max")
SCHEDULES = ("parallel", "residual")


class BPResult:
    """Outcome of :func:`belief_propagation`.

    Attributes
    ----------
    marginals : dict {variable: ndarray}
        Beliefs (sum-product) or max-marginals scaled to a maximum of 1 (max-product) of every
        variable; observed variables get a one-hot vector.
    log_z : float or None
        Bethe approximation of ``log Z`` (of ``Σ_free p̃(x, e)`` with evidence); None for
        max-product.
    map_assignment : dict or None
        Max-product: each variable's state (observed ones included); None for sum-product.
    map_log_score : float or None
        ``log p̃`` of ``map_assignment`` (exact, evaluated from the factors).
    iterations : int
        Parallel iterations, or single-message updates (residual schedule).
    residual : float
        Largest change of a log message in the last iteration (largest pending residual).
    converged : bool
    """

    def __init__(self, **kw):
        self.__dict__.update(kw)

    def __repr__(self):
        what = f"log_z={self.log_z:.6f}" if self.log_z is not None else f"map_log_score={self.map_log_score:.6f}"
        return (f"BPResult(mode={self.mode!r}, {what}, iterations={self.iterations}, "
                f"converged={self.converged}, residual={self.residual:.3g})")


class _Graph:
    """Flat arrays of a reduced model's factor graph (see ``pgm/_bp_kernels.py``)."""

    def __init__(self, problem):
        self.variables = problem.variables
        index = {v: i for i, v in enumerate(self.variables)}
        self.cards = np.array([problem.cards[v] for v in self.variables], dtype=np.int64)
        f_ptr, f_var, f_stride, f_off, f_size, tables = [0], [], [], [], [], []
        off = 0
        for scope, table in problem.factors:
            t = np.ascontiguousarray(table, dtype=np.float64)
            strides = np.ones(t.ndim, dtype=np.int64)
            for j in range(t.ndim - 2, -1, -1):
                strides[j] = strides[j + 1] * t.shape[j + 1]
            f_var.extend(index[v] for v in scope)
            f_stride.extend(strides.tolist())
            f_ptr.append(len(f_var))
            f_off.append(off)
            f_size.append(t.size)
            tables.append(t.reshape(-1))
            off += t.size
        i64 = lambda a: np.asarray(a, dtype=np.int64)  # noqa: E731
        self.f_ptr, self.f_var, self.f_stride = i64(f_ptr), i64(f_var), i64(f_stride)
        self.f_off, self.f_size = i64(f_off), i64(f_size)
        self.tables = np.concatenate(tables) if tables else np.zeros(0)
        self.moff = np.zeros(self.f_var.size + 1, dtype=np.int64)
        np.cumsum(self.cards[self.f_var], out=self.moff[1:])
        order = np.argsort(self.f_var, kind="stable")
        self.v_edge = order.astype(np.int64)
        self.v_ptr = np.zeros(len(self.variables) + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.f_var, minlength=len(self.variables)), out=self.v_ptr[1:])
        self.e_fac = np.repeat(np.arange(len(problem.factors), dtype=np.int64), np.diff(self.f_ptr))
        self.voff = np.zeros(len(self.variables) + 1, dtype=np.int64)
        np.cumsum(self.cards, out=self.voff[1:])

    def run(self, mode, damping, max_iter, tol, schedule):
        """Messages to convergence; returns ``(iterations, residual, log beliefs per variable,
        Bethe free energy or None)``."""
        from ._bp_kernels import beliefs, run_parallel, run_residual   # numba: loaded on first use

        m = 1 if mode == "max" else 0
        f2v = np.zeros(int(self.moff[-1]))
        v2f = np.zeros_like(f2v)
        args = (self.f_ptr, self.f_var, self.f_stride, self.f_off, self.f_size, self.cards, self.tables,
                self.moff, self.v_ptr, self.v_edge)
        if schedule == "parallel":
            iterations, residual = run_parallel(*args, f2v, v2f, m, damping, max_iter, tol)
        else:
            iterations, residual = run_residual(*args, self.e_fac, f2v, v2f, m, damping,
                                                max_iter * max(1, self.f_var.size), tol)
        logb = np.empty(int(self.voff[-1]))
        terms = np.zeros(2)
        beliefs(*args, self.voff, f2v, v2f, m, logb, terms)
        per_var = [logb[self.voff[i]:self.voff[i + 1]] for i in range(len(self.variables))]
        return iterations, residual, per_var, (terms[0] - terms[1]) if m == 0 else None


def _check(value, name, choices):
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; expected one of {choices}")
    return value


def belief_propagation(model, evidence=None, mode="sum", damping=0.0, schedule="parallel",
                       max_iter=200, tol=1e-8):
    """Loopy belief propagation (see the module docstring).

    Parameters
    ----------
    model : MarkovNetwork, FactorGraph, BayesianNetwork (discrete), Ising, Potts or BoltzmannMachine
    evidence : dict, optional
        ``{variable: state index}`` (default ``model.evidence``); observed variables are reduced
        out of the factors before the messages start.
    mode : {"sum", "max"}
        Sum-product (marginals, Bethe ``log Z``) or max-product (max-marginals, MAP decoding).
    damping : float in [0, 1)
        Weight of the old log message in each update.
    schedule : {"parallel", "residual"}
    max_iter : int
        Parallel iterations, or sweeps' worth of single-message updates (residual schedule).
    tol : float
        Convergence threshold on the largest change of a log message.

    Returns
    -------
    BPResult

    Raises
    ------
    pgm.errors.EvidenceError
        Evidence of probability zero (no state of some variable remains possible).

    Examples
    --------
    >>> import numpy as np, pgm
    >>> chain = pgm.MarkovNetwork([pgm.DiscreteFactor(["a", "b"], [[2.0, 1.0], [1.0, 3.0]]),
    ...                            pgm.DiscreteFactor(["b", "c"], [[1.0, 2.0], [2.0, 1.0]])])
    >>> r = pgm.inference.belief_propagation(chain)
    >>> bool(r.converged), round(r.log_z, 10) == round(pgm.exact.log_partition(chain), 10)
    (True, True)
    >>> np.round(r.marginals["a"], 6).tolist() == np.round(pgm.exact.marginals(chain)["a"], 6).tolist()
    True
    >>> pgm.inference.belief_propagation(chain, mode="max").map_assignment
    {'a': 1, 'b': 1, 'c': 0}
    """
    _check(mode, "mode", MODES)
    _check(schedule, "schedule", SCHEDULES)
    if isinstance(damping, bool) or not isinstance(damping, numbers.Real) or not 0 <= damping < 1:
        raise ValueError(f"damping must be a number in [0, 1), got {damping!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral) or max_iter < 1:
        raise ValueError(f"max_iter must be an integer >= 1, got {max_iter!r}")
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not tol > 0:
        raise ValueError(f"tol must be a number > 0, got {tol!r}")
    problem = ReducedModel(model, evidence)
    if problem.const == -math.inf:
        raise EvidenceError(f"the evidence {problem.evidence} has probability zero")
    from . import _bp_pairwise            # numba: loaded on first use, not with ``import pgm``

    if schedule == "parallel" and _bp_pairwise.applies(problem):
        binary = all(problem.cards[v] == 2 for v in problem.variables)
        g = (_bp_pairwise.BinaryPairwiseGraph if binary else _bp_pairwise.PairwiseGraph)(problem)
        iterations, residual = g.run(mode, float(damping), int(max_iter), float(tol))
        logb, free_energy = g.beliefs(mode)
        logb = list(logb)
    else:
        g = _Graph(problem)
        iterations, residual, logb, free_energy = g.run(mode, float(damping), int(max_iter), float(tol),
                                                        schedule)
    converged = bool(residual < tol)
    if not converged:
        warnings.warn(f"belief propagation did not converge in {iterations} "
                      f"{'iterations' if schedule == 'parallel' else 'message updates'} (largest "
                      f"message change {residual:.3g} > tol {tol:g}); try damping or more iterations",
                      ConvergenceWarning, stacklevel=2)
    marg = {}
    for i, v in enumerate(problem.variables):
        b = logb[i]
        if not np.isfinite(b).any():
            raise EvidenceError(f"no state of {v!r} remains possible: the evidence {problem.evidence} "
                                "has probability zero")
        marg[v] = np.exp(b)
    cards_all = problem.all_cards
    for v, x in problem.evidence.items():
        one = np.zeros(cards_all[v])
        one[x] = 1.0
        marg[v] = one
    marg = {v: marg[v] for v in problem.all_variables}
    out = dict(mode=mode, schedule=schedule, damping=float(damping), iterations=int(iterations),
               residual=float(residual), converged=converged, marginals=marg, log_z=None,
               map_assignment=None, map_log_score=None)
    if mode == "sum":
        out["log_z"] = float(-free_energy + problem.const)
    else:
        x = {v: int(np.argmax(logb[i])) for i, v in enumerate(problem.variables)}
        out["map_log_score"] = float(problem.const + sum(
            float(table[tuple(x[u] for u in scope)]) for scope, table in problem.factors))
        x.update(problem.evidence)
        out["map_assignment"] = {v: x[v] for v in problem.all_variables}
    return BPResult(**out)
