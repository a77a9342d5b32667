"""Compiled loopy belief propagation on flat factor-graph arrays (private; SPEC.md §4b).

Layout (see :func:`pgm.belief_propagation.belief_propagation`): factor ``a`` has scope
``f_var[f_ptr[a]:f_ptr[a+1]]`` with strides ``f_stride`` into its C-order log-table starting at
``tables[f_off[a]]``; every scope position ``e`` is an *edge* (factor ``a`` – variable
``f_var[e]``) whose two messages live in ``f2v[moff[e]:moff[e+1]]`` and
``v2f[moff[e]:moff[e+1]]`` (log space, normalised: log-sum-exp 0 for sum-product, max 0 for
max-product); ``v_edge[v_ptr[i]:v_ptr[i+1]]`` lists the edges of variable ``i``.

* variable → factor: ``m_{i→a}(x) = Σ_{b ∋ i, b ≠ a} m_{b→i}(x)``;
* factor → variable: ``m_{a→i}(x_i) = ⊕_{x_a∖i} [log ψ_a(x_a) + Σ_{j ∈ a, j ≠ i} m_{j→a}(x_j)]``
  with ``⊕`` = log-sum-exp (``mode = 0``, sum-product) or max (``mode = 1``, max-product);
* damping ``λ``: the new log message is ``(1 − λ) m_new + λ m_old``, renormalised (unary
  factors' messages are constant: they are set before the first iteration and never damped).

Parallel (flooding) iterations update every variable→factor message from the previous
factor→variable messages (``prange`` over variables), then every factor→variable message
(``prange`` over factors): deterministic for any thread count.  Residual scheduling (Elidan et
al. 2006) keeps the pending factor→variable messages with their residuals (max-abs change in log
space) in an indexed max-heap and commits the largest first.
"""

import math

import numba
import numpy as np
from numba import prange

NEG_INF = -np.inf


@numba.njit(inline="always", cache=True)
def _lse2(a, b):
    if a < b:
        a, b = b, a
    if b == NEG_INF:
        return a
    return a + math.log1p(math.exp(b - a))


@numba.njit(cache=True)
def _normalise(m, lo, hi, mode):
    if mode == 0 and hi - lo == 2:
        z = _lse2(m[lo], m[lo + 1])
        if z != NEG_INF:
            m[lo] -= z
            m[lo + 1] -= z
        return
    top = NEG_INF
    for k in range(lo, hi):
        if m[k] > top:
            top = m[k]
    if top == NEG_INF:                 # an impossible message: keep it (reported as such)
        return
    if mode == 1:
        z = top
    else:
        s = 0.0
        for k in range(lo, hi):
            s += math.exp(m[k] - top)
        z = top + math.log(s)
    for k in range(lo, hi):
        m[k] -= z


@numba.njit(cache=True)
def _diff(a, b):
    if a == b:                         # also both -inf
        return 0.0
    if a == NEG_INF or b == NEG_INF:
        return np.inf
    return abs(a - b)


@numba.njit(cache=True)
def variable_messages(i, v_ptr, v_edge, moff, f2v, v2f, mode):
    """All messages of variable ``i`` to its factors (sums of normalised log messages: bounded
    above by 0, so they are not renormalised)."""
    for p in range(v_ptr[i], v_ptr[i + 1]):
        e = v_edge[p]
        lo, hi = moff[e], moff[e + 1]
        for k in range(hi - lo):
            v2f[lo + k] = 0.0
        for q in range(v_ptr[i], v_ptr[i + 1]):
            if q != p:
                e2 = v_edge[q]
                lo2 = moff[e2]
                for k in range(hi - lo):
                    v2f[lo + k] += f2v[lo2 + k]


@numba.njit(cache=True)
def _pair_message(tables, off, s_out, s_in, k_out, k_in, v2f, m_in, out, m_out, mode):
    """Message of a pairwise factor to its ``out`` variable (C-order index ``x_out·s_out +
    x_in·s_in``), one ⊕ over the ``in`` variable per output state."""
    for xo in range(k_out):
        base = off + xo * s_out
        if mode == 1:
            top = NEG_INF
            for xi in range(k_in):
                v = tables[base + xi * s_in] + v2f[m_in + xi]
                if v > top:
                    top = v
            out[m_out + xo] = top
        elif k_in == 2:
            out[m_out + xo] = _lse2(tables[base] + v2f[m_in], tables[base + s_in] + v2f[m_in + 1])
        else:
            top = NEG_INF
            for xi in range(k_in):
                v = tables[base + xi * s_in] + v2f[m_in + xi]
                if v > top:
                    top = v
            if top == NEG_INF:
                out[m_out + xo] = NEG_INF
            else:
                acc = 0.0
                for xi in range(k_in):
                    acc += math.exp(tables[base + xi * s_in] + v2f[m_in + xi] - top)
                out[m_out + xo] = top + math.log(acc)


@numba.njit(cache=True)
def factor_messages(a, f_ptr, f_var, f_stride, f_off, f_size, cards, tables, moff, v2f, out, mode,
                    normalise):
    """New messages of factor ``a`` to each of its variables, written to ``out`` at the edges'
    offsets (normalised if asked; :func:`_commit` normalises after damping anyway).  Unary and
    pairwise factors take direct paths; larger ones one pass over the table with an online
    log-sum-exp per output entry."""
    e0, e1 = f_ptr[a], f_ptr[a + 1]
    s = e1 - e0
    off = f_off[a]
    if s == 1:
        for x in range(cards[f_var[e0]]):
            out[moff[e0] + x] = tables[off + x]
    elif s == 2:
        ea, eb = e0, e0 + 1
        ka, kb = cards[f_var[ea]], cards[f_var[eb]]
        _pair_message(tables, off, f_stride[ea], f_stride[eb], ka, kb, v2f, moff[eb], out, moff[ea], mode)
        _pair_message(tables, off, f_stride[eb], f_stride[ea], kb, ka, v2f, moff[ea], out, moff[eb], mode)
    else:
        base0 = moff[e0]
        for k in range(base0, moff[e1]):
            out[k] = NEG_INF
        scale = np.zeros(moff[e1] - base0)          # running log-sum-exp accumulators
        x = np.zeros(s, dtype=np.int64)
        for t in range(f_size[a]):
            psi = tables[off + t]
            if psi == NEG_INF:
                continue
            for k in range(s):
                x[k] = (t // f_stride[e0 + k]) % cards[f_var[e0 + k]]
            for k in range(s):
                v = psi
                for j in range(s):
                    if j != k:
                        v += v2f[moff[e0 + j] + x[j]]
                if v == NEG_INF:
                    continue
                idx = moff[e0 + k] + x[k]
                m = out[idx]
                if mode == 1:
                    if v > m:
                        out[idx] = v
                elif v > m:
                    scale[idx - base0] = (scale[idx - base0] * math.exp(m - v) if m != NEG_INF else 0.0) + 1.0
                    out[idx] = v
                else:
                    scale[idx - base0] += math.exp(v - m)
        if mode == 0:
            for idx in range(base0, moff[e1]):
                if out[idx] != NEG_INF:
                    out[idx] += math.log(scale[idx - base0])
    if normalise:
        for e in range(e0, e1):
            _normalise(out, moff[e], moff[e + 1], mode)


@numba.njit(cache=True)
def _commit(f2v, new, lo, hi, damping, mode):
    """Damped commit of a pending message; returns the max-abs change."""
    r = 0.0
    for k in range(lo, hi):
        old = f2v[k]
        if damping > 0.0 and old != NEG_INF and new[k] != NEG_INF:
            new[k] = (1.0 - damping) * new[k] + damping * old
    _normalise(new, lo, hi, mode)
    for k in range(lo, hi):
        d = _diff(f2v[k], new[k])
        if d > r:
            r = d
        f2v[k] = new[k]
    return r


@numba.njit(parallel=True, cache=True)
def run_parallel(f_ptr, f_var, f_stride, f_off, f_size, cards, tables, moff, v_ptr, v_edge,
                 f2v, v2f, mode, damping, max_iter, tol):
    """Flooding iterations until the largest message change is below ``tol``; returns
    ``(iterations, residual)``."""
    n_fac = f_ptr.size - 1
    n_var = v_ptr.size - 1
    new = np.empty_like(f2v)
    res = np.zeros(n_fac)
    for a in range(n_fac):                     # unary messages are constant: set them first
        if f_ptr[a + 1] - f_ptr[a] == 1:
            e = f_ptr[a]
            for k in range(moff[e], moff[e + 1]):
                f2v[k] = tables[f_off[a] + k - moff[e]]
            _normalise(f2v, moff[e], moff[e + 1], mode)
    it = 0
    r = np.inf
    while it < max_iter:
        for i in prange(n_var):
            variable_messages(i, v_ptr, v_edge, moff, f2v, v2f, mode)
        for a in prange(n_fac):
            factor_messages(a, f_ptr, f_var, f_stride, f_off, f_size, cards, tables, moff, v2f, new, mode,
                            False)
            ra = 0.0
            lam = damping if f_ptr[a + 1] - f_ptr[a] > 1 else 0.0    # a unary message is constant
            for e in range(f_ptr[a], f_ptr[a + 1]):
                d = _commit(f2v, new, moff[e], moff[e + 1], lam, mode)
                if d > ra:
                    ra = d
            res[a] = ra
        it += 1
        r = 0.0
        for a in range(n_fac):
            if res[a] > r:
                r = res[a]
        if r < tol:
            break
    for i in prange(n_var):
        variable_messages(i, v_ptr, v_edge, moff, f2v, v2f, mode)
    return it, r


# ---------------------------------------------------------------------------- residual schedule
@numba.njit(cache=True)
def _sift_up(heap, pos, key, p):
    while p > 0:
        q = (p - 1) // 2
        if key[heap[q]] >= key[heap[p]]:
            break
        heap[p], heap[q] = heap[q], heap[p]
        pos[heap[p]] = p
        pos[heap[q]] = q
        p = q


@numba.njit(cache=True)
def _sift_down(heap, pos, key, p):
    n = heap.size
    while True:
        c = 2 * p + 1
        if c >= n:
            break
        if c + 1 < n and key[heap[c + 1]] > key[heap[c]]:
            c += 1
        if key[heap[p]] >= key[heap[c]]:
            break
        heap[p], heap[c] = heap[c], heap[p]
        pos[heap[p]] = p
        pos[heap[c]] = c
        p = c


@numba.njit(cache=True)
def _set_key(heap, pos, key, e, value):
    old = key[e]
    key[e] = value
    if value > old:
        _sift_up(heap, pos, key, pos[e])
    else:
        _sift_down(heap, pos, key, pos[e])


@numba.njit(cache=True)
def _pending(a, f_ptr, f_var, f_stride, f_off, f_size, cards, tables, moff, v2f, f2v, pend, key,
             heap, pos, mode):
    """Recompute factor ``a``'s pending messages and their residuals."""
    factor_messages(a, f_ptr, f_var, f_stride, f_off, f_size, cards, tables, moff, v2f, pend, mode, True)
    for e in range(f_ptr[a], f_ptr[a + 1]):
        r = 0.0
        for k in range(moff[e], moff[e + 1]):
            d = _diff(f2v[k], pend[k])
            if d > r:
                r = d
        _set_key(heap, pos, key, e, r)


@numba.njit(cache=True)
def run_residual(f_ptr, f_var, f_stride, f_off, f_size, cards, tables, moff, v_ptr, v_edge, e_fac,
                 f2v, v2f, mode, damping, max_updates, tol):
    """Residual belief propagation; returns ``(updates, residual)`` (the largest pending
    residual when it stopped)."""
    n_fac = f_ptr.size - 1
    n_var = v_ptr.size - 1
    n_edge = f_var.size
    pend = np.empty_like(f2v)
    key = np.zeros(n_edge)
    heap = np.arange(n_edge)
    pos = np.arange(n_edge)
    for i in range(n_var):
        variable_messages(i, v_ptr, v_edge, moff, f2v, v2f, mode)
    for a in range(n_fac):
        _pending(a, f_ptr, f_var, f_stride, f_off, f_size, cards, tables, moff, v2f, f2v, pend, key,
                 heap, pos, mode)
    updates = 0
    while updates < max_updates and n_edge > 0:
        e = heap[0]
        if key[e] < tol:
            break
        lo, hi = moff[e], moff[e + 1]
        tmp = pend[lo:hi].copy()
        _commit(f2v, pend, lo, hi, damping, mode)
        pend[lo:hi] = tmp                               # the undamped target stays pending
        r = 0.0
        for k in range(lo, hi):
            d = _diff(f2v[k], pend[k])
            if d > r:
                r = d
        _set_key(heap, pos, key, e, r)
        updates += 1
        i = f_var[e]
        variable_messages(i, v_ptr, v_edge, moff, f2v, v2f, mode)
        for p in range(v_ptr[i], v_ptr[i + 1]):
            b = e_fac[v_edge[p]]
            if b != e_fac[e]:
                _pending(b, f_ptr, f_var, f_stride, f_off, f_size, cards, tables, moff, v2f, f2v, pend,
                         key, heap, pos, mode)
    for i in range(n_var):
        variable_messages(i, v_ptr, v_edge, moff, f2v, v2f, mode)
    return updates, key[heap[0]] if n_edge > 0 else 0.0


# ---------------------------------------------------------------------------- beliefs
@numba.njit(cache=True)
def beliefs(f_ptr, f_var, f_stride, f_off, f_size, cards, tables, moff, v_ptr, v_edge, voff, f2v,
            v2f, mode, var_out, bethe_terms):
    """Variable beliefs (log, normalised) into ``var_out`` (offsets ``voff``) and, for
    sum-product, the two sums of the Bethe free energy: ``bethe_terms[0] = Σ_a Σ b_a log(b_a/ψ_a)``,
    ``bethe_terms[1] = Σ_i (d_i − 1) Σ b_i log b_i``."""
    n_var = v_ptr.size - 1
    n_fac = f_ptr.size - 1
    ent = 0.0
    for i in range(n_var):
        lo, hi = voff[i], voff[i + 1]
        for k in range(lo, hi):
            var_out[k] = 0.0
        for p in range(v_ptr[i], v_ptr[i + 1]):
            e = v_edge[p]
            for k in range(hi - lo):
                var_out[lo + k] += f2v[moff[e] + k]
        _normalise(var_out, lo, hi, mode)
        d = v_ptr[i + 1] - v_ptr[i]
        if mode == 0 and d != 1:
            s = 0.0
            for k in range(lo, hi):
                if var_out[k] != NEG_INF:
                    s += math.exp(var_out[k]) * var_out[k]
            ent += (d - 1) * s
    bethe_terms[1] = ent
    if mode == 1:
        return
    fe = 0.0
    for a in range(n_fac):
        e0, e1 = f_ptr[a], f_ptr[a + 1]
        s = e1 - e0
        off = f_off[a]
        # log b_a(x) = ψ + Σ m_{j→a} − z_a
        top = NEG_INF
        for t in range(f_size[a]):
            psi = tables[off + t]
            if psi == NEG_INF:
                continue
            v = psi
            for k in range(s):
                v += v2f[moff[e0 + k] + (t // f_stride[e0 + k]) % cards[f_var[e0 + k]]]
            if v > top:
                top = v
        if top == NEG_INF:
            continue
        z = 0.0
        for t in range(f_size[a]):
            psi = tables[off + t]
            if psi == NEG_INF:
                continue
            v = psi
            for k in range(s):
                v += v2f[moff[e0 + k] + (t // f_stride[e0 + k]) % cards[f_var[e0 + k]]]
            z += math.exp(v - top)
        z = top + math.log(z)
        for t in range(f_size[a]):
            psi = tables[off + t]
            if psi == NEG_INF:
                continue
            m = 0.0
            for k in range(s):
                m += v2f[moff[e0 + k] + (t // f_stride[e0 + k]) % cards[f_var[e0 + k]]]
            lb = psi + m - z
            if lb != NEG_INF:
                fe += math.exp(lb) * (m - z)            # b log(b / ψ) = b (Σ m − z)
    bethe_terms[0] = fe
