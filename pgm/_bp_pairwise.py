"""Vectorised flooding belief propagation for pairwise models (private; SPEC.md §4b).

The common case of loopy BP — every factor over one or two variables, every variable with the
same number of states ``k``, no zero entries (Ising and Potts models, image grids, most UAI
``Grids``) — runs as whole-array numpy operations, so that the ``exp`` / ``log`` of all messages
use numpy's SIMD loops (the per-message scalar ``exp`` of the general kernel,
``pgm/_bp_kernels.py``, is its bottleneck).  Unary factors are summed into a per-variable prior
``θ_i``; pairwise factor ``p`` over ``(A_p, B_p)`` has log-table ``T_p`` of shape ``(k, k)``.
Per iteration (log space, Jacobi):

* ``t_i = θ_i + Σ_{p ∋ i} m_{p→i}``; variable→factor ``n_{i→p} = t_i − m_{p→i}``;
* ``m_{p→A}(x) = ⊕_y [T_p(x, y) + n_{B→p}(y)]``, ``m_{p→B}(y) = ⊕_x [T_p(x, y) + n_{A→p}(x)]``;
* normalise, damp (``m ← (1 − λ) m_new + λ m_old``), normalise; the residual is the largest
  change of a log message.

The same fixed-point equations as the general kernel (the results agree to rounding); the Bethe
free energy with the prior folded in is
``F = Σ_p Σ b_p log(b_p/ψ_p) − Σ_i (d_i − 1) Σ b_i log b_i − Σ_i Σ b_i θ_i`` (``d_i``: pairwise
factors of ``i``).

Binary variables (``k = 2``) take a compiled path instead: a normalised log message is one
log-odds ``δ = m(1) − m(0)``, and the message of pairwise factor ``p`` to ``A`` given the
log-odds ``u`` of ``B``'s message to it is
``δ_A = (T₁₀ − T₀₀) + ζ(T₁₁ − T₁₀ + u) − ζ(T₀₁ − T₀₀ + u)`` (``ζ`` = softplus; max-product:
``max(T₁₀, T₁₁ + u) − max(T₀₀, T₀₁ + u)``), computed with ``prange`` over factors after a
``prange`` over variables for the totals (deterministic for any thread count).  Damping mixes
log-odds (the same as mixing normalised log messages); the residual is the largest change of a
log-odds, which bounds the change of the log messages from above.
"""

import math

import numba
import numpy as np
from numba import prange

__all__ = ["PairwiseGraph", "BinaryPairwiseGraph", "applies"]


def applies(problem):
    """Can ``problem`` (a ``ReducedModel``) run here (pairwise, one cardinality, no zeros)?"""
    cards = {problem.cards[v] for v in problem.variables}
    if len(cards) != 1:
        return False
    return all(len(scope) <= 2 and np.all(np.isfinite(table)) for scope, table in problem.factors)


def _lse(a, axis):
    """log-sum-exp over a short ``axis`` of arrays whose last axis is long (SIMD over it)."""
    m = np.max(a, axis=axis, keepdims=True)
    return np.log(np.sum(np.exp(a - m), axis=axis)) + np.squeeze(m, axis=axis)


class PairwiseGraph:
    """Arrays of a pairwise model of one cardinality, and its BP iterations.  Layouts put the
    long axis last: log-tables ``T (k, k, P)``, messages ``(k, P)``, prior and totals ``(k, n)``."""

    def __init__(self, problem):
        self.variables = problem.variables
        index = {v: i for i, v in enumerate(self.variables)}
        n = len(self.variables)
        self.k = k = problem.cards[self.variables[0]] if n else 1
        self.prior = np.zeros((k, n))
        A, B, T = [], [], []
        for scope, table in problem.factors:
            if len(scope) == 1:
                self.prior[:, index[scope[0]]] += table
            else:
                A.append(index[scope[0]])
                B.append(index[scope[1]])
                T.append(table)
        self.A = np.asarray(A, dtype=np.int64)
        self.B = np.asarray(B, dtype=np.int64)
        self.T = np.ascontiguousarray(np.asarray(T, dtype=np.float64).reshape(len(A), k, k).transpose(1, 2, 0))
        self.degree = np.bincount(self.A, minlength=n) + np.bincount(self.B, minlength=n)

    def _totals(self, mA, mB):
        t = self.prior.copy()
        n = t.shape[1]
        for c in range(self.k):
            t[c] += np.bincount(self.A, weights=mA[c], minlength=n)
            t[c] += np.bincount(self.B, weights=mB[c], minlength=n)
        return t

    @staticmethod
    def _reduce(a, axis, mode):
        return np.max(a, axis=axis) if mode == "max" else _lse(a, axis)

    @staticmethod
    def _normalise(m, mode):
        m -= (np.max(m, axis=0) if mode == "max" else _lse(m, 0))[None, :]
        return m

    def run(self, mode, damping, max_iter, tol):
        """Flooding iterations from uniform messages; returns ``(iterations, residual)`` and
        keeps the messages (``mA``: factor → A, ``mB``: factor → B)."""
        P = self.A.size
        self.mA = np.zeros((self.k, P))
        self.mB = np.zeros((self.k, P))
        it, r = 0, np.inf
        while it < max_iter:
            t = self._totals(self.mA, self.mB)
            nA = t[:, self.A] - self.mA                   # variable A → factor
            nB = t[:, self.B] - self.mB
            newA = self._normalise(self._reduce(self.T + nB[None, :, :], 1, mode), mode)
            newB = self._normalise(self._reduce(self.T + nA[:, None, :], 0, mode), mode)
            if damping > 0:
                newA = self._normalise((1 - damping) * newA + damping * self.mA, mode)
                newB = self._normalise((1 - damping) * newB + damping * self.mB, mode)
            r = max(float(np.max(np.abs(newA - self.mA), initial=0.0)),
                    float(np.max(np.abs(newB - self.mB), initial=0.0)))
            self.mA, self.mB = newA, newB
            it += 1
            if r < tol:
                break
        return it, r

    def beliefs(self, mode):
        """Log variable beliefs ``(n, k)`` (normalised) and, for sum-product, the Bethe free
        energy."""
        t = self._totals(self.mA, self.mB)
        logb = self._normalise(t.copy(), mode)
        if mode == "max":
            return logb.T, None
        nA = t[:, self.A] - self.mA
        nB = t[:, self.B] - self.mB
        msum = nA[:, None, :] + nB[None, :, :]
        la = self.T + msum
        z = _lse(la.reshape(self.k * self.k, -1), 0)
        ba = np.exp(la - z)
        fe = float(np.sum(ba * (msum - z)))
        b = np.exp(logb)
        ent = float(np.sum((self.degree - 1)[None, :] * b * logb))
        return logb.T, fe - ent - float(np.sum(b * self.prior))


# ---------------------------------------------------------------------------- binary variables
@numba.njit(inline="always", cache=True)
def _softplus(x):
    return x + math.log1p(math.exp(-x)) if x > 0 else math.log1p(math.exp(x))


@numba.njit(parallel=True, cache=True)
def _binary_run(h, inc_ptr, inc, A, B, dA, cA0, cA1, dB, cB0, cB1, mode, damping, max_iter, tol, xA, xB):
    n, P = h.size, A.size
    tot = np.empty(n)
    res = np.empty(P)
    it = 0
    r = np.inf
    while it < max_iter:
        for i in prange(n):
            t = h[i]
            for q in range(inc_ptr[i], inc_ptr[i + 1]):
                j = inc[q]
                t += xA[j >> 1] if j & 1 == 0 else xB[j >> 1]
            tot[i] = t
        for p in prange(P):
            u = tot[B[p]] - xB[p]                  # B → factor
            v = tot[A[p]] - xA[p]                  # A → factor
            if mode == 1:
                na = max(dA[p] + cA1[p] + u, dA[p]) - max(cA0[p] + u, 0.0)
                nb = max(dB[p] + cB1[p] + v, dB[p]) - max(cB0[p] + v, 0.0)
            else:
                na = dA[p] + _softplus(cA1[p] + u) - _softplus(cA0[p] + u)
                nb = dB[p] + _softplus(cB1[p] + v) - _softplus(cB0[p] + v)
            if damping > 0.0:
                na = (1.0 - damping) * na + damping * xA[p]
                nb = (1.0 - damping) * nb + damping * xB[p]
            res[p] = max(abs(na - xA[p]), abs(nb - xB[p]))
            xA[p] = na
            xB[p] = nb
        it += 1
        r = 0.0
        for p in range(P):
            if res[p] > r:
                r = res[p]
        if r < tol:
            break
    return it, r


class BinaryPairwiseGraph(PairwiseGraph):
    """:class:`PairwiseGraph` of binary variables iterated on log-odds by compiled kernels."""

    def __init__(self, problem):
        super().__init__(problem)
        T = self.T                                     # (2, 2, P): T[x_A, x_B]
        n = self.prior.shape[1]
        self.h = np.ascontiguousarray(self.prior[1] - self.prior[0])
        # message to A: δ_A = (T10 − T00) + ζ(T11 − T10 + u) − ζ(T01 − T00 + u), written with
        # dA = T10 − T00, cA1 = T11 − T10, cA0 = T01 − T00 (and max-product alike)
        self.dA = np.ascontiguousarray(T[1, 0] - T[0, 0])
        self.cA1 = np.ascontiguousarray(T[1, 1] - T[1, 0])
        self.cA0 = np.ascontiguousarray(T[0, 1] - T[0, 0])
        self.dB = np.ascontiguousarray(T[0, 1] - T[0, 0])
        self.cB1 = np.ascontiguousarray(T[1, 1] - T[0, 1])
        self.cB0 = np.ascontiguousarray(T[1, 0] - T[0, 0])
        side = np.concatenate([2 * np.arange(self.A.size), 2 * np.arange(self.B.size) + 1])
        owner = np.concatenate([self.A, self.B])
        order = np.argsort(owner, kind="stable")
        self.inc = np.ascontiguousarray(side[order], dtype=np.int64)
        self.inc_ptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(owner, minlength=n), out=self.inc_ptr[1:])

    def run(self, mode, damping, max_iter, tol):
        P = self.A.size
        self.xA, self.xB = np.zeros(P), np.zeros(P)
        it, r = _binary_run(self.h, self.inc_ptr, self.inc, self.A, self.B, self.dA, self.cA0, self.cA1,
                            self.dB, self.cB0, self.cB1, 1 if mode == "max" else 0, damping, max_iter,
                            tol, self.xA, self.xB)
        # the normalised log messages (k, P) for beliefs(): m(1) − m(0) = δ
        for name, x in (("mA", self.xA), ("mB", self.xB)):
            m = np.stack([np.zeros(P), x])
            setattr(self, name, self._normalise(m, mode))
        return int(it), float(r)
