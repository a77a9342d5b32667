"""Compiled single-site Gibbs and Metropolis kernels for general discrete factor models.

Reads :class:`pgm.compiled.FactorArrays`.  For variable ``i`` of chain ``c`` at inverse
temperature ``β_c`` the local log-conditional is

    ℓ(s) = β_c Σ_{f ∋ i} log φ_f(x_f with x_i = s),   s = 0..k_i−1

computed by walking only the factors that touch ``i`` (SPEC.md §2, "Gibbs sampling": the
conditional given the Markov blanket).

* Gibbs (heat-bath): draw ``s`` with probability ``exp(ℓ(s)) / Σ exp(ℓ)``; if every state has
  probability zero (a chain started in an impossible configuration) the new state is uniform.
* Metropolis: propose one of the other ``k_i − 1`` states uniformly, accept with
  ``min(1, exp(ℓ(s') − ℓ(x_i)))``.

Sites are visited in ``order`` (systematic scan or colour classes one after another = block
Gibbs), or ``len(order)`` uniformly drawn sites per sweep (random scan).  Each chain owns a
xoshiro256 stream (``samplers._rng``) kept in four locals and written back, so results do not
depend on the thread count and runs resume exactly.
"""

import numba
import numpy as np
from numba import prange

from ._rng import TWO_POW_M53, xoshiro_step

__all__ = ["factor_chunk", "factor_log_unnormalized"]


@numba.njit(cache=True, inline="always")
def _local(x, i, k, beta, v_ptr, v_factor, v_stride, f_offset, f_ptr, f_var, f_stride, tables, buf):
    for s in range(k):
        buf[s] = 0.0
    for a in range(v_ptr[i], v_ptr[i + 1]):
        f = v_factor[a]
        st = v_stride[a]
        base = f_offset[f]
        for b in range(f_ptr[f], f_ptr[f + 1]):
            u = f_var[b]
            if u != i:
                base += x[u] * f_stride[b]
        for s in range(k):
            buf[s] += tables[base + s * st]
    if beta != 1.0:
        for s in range(k):
            buf[s] *= beta


@numba.njit(cache=True)
def _log_p(x, f_offset, f_ptr, f_var, f_stride, tables):
    total = 0.0
    for f in range(f_offset.shape[0]):
        idx = f_offset[f]
        for b in range(f_ptr[f], f_ptr[f + 1]):
            idx += x[f_var[b]] * f_stride[b]
        total += tables[idx]
    return total


@numba.njit(parallel=True, cache=True)
def factor_log_unnormalized(states, f_offset, f_ptr, f_var, f_stride, tables):
    """``log p̃`` of each row of ``states`` (int32, (m, n))."""
    out = np.empty(states.shape[0])
    for r in prange(states.shape[0]):
        out[r] = _log_p(states[r], f_offset, f_ptr, f_var, f_stride, tables)
    return out


@numba.njit(cache=True)
def _chain(x, s0, s1, s2, s3, order, random_scan, metropolis, beta, cards, v_ptr, v_factor,
           v_stride, f_offset, f_ptr, f_var, f_stride, tables, buf, n_sweeps):
    m = order.shape[0]
    accepted = 0
    for _ in range(n_sweeps):
        for t in range(m):
            if random_scan:
                r, _, s0, s1, s2, s3 = xoshiro_step(s0, s1, s2, s3)
                i = order[min(np.int64(np.float64(r >> np.uint64(11)) * TWO_POW_M53 * m), m - 1)]
            else:
                i = order[t]
            k = cards[i]
            _local(x, i, k, beta, v_ptr, v_factor, v_stride, f_offset, f_ptr, f_var, f_stride,
                   tables, buf)
            r, _, s0, s1, s2, s3 = xoshiro_step(s0, s1, s2, s3)
            u = np.float64(r >> np.uint64(11)) * TWO_POW_M53
            if metropolis:
                if k < 2:
                    continue
                prop = (x[i] + 1 + min(np.int64(u * (k - 1)), k - 2)) % k
                r, _, s0, s1, s2, s3 = xoshiro_step(s0, s1, s2, s3)
                u2 = np.float64(r >> np.uint64(11)) * TWO_POW_M53
                d = buf[prop] - buf[x[i]]
                if d >= 0.0 or u2 < np.exp(d):
                    x[i] = prop
                    accepted += 1
            else:
                mx = -np.inf
                for s in range(k):
                    if buf[s] > mx:
                        mx = buf[s]
                if mx == -np.inf:
                    x[i] = min(np.int64(u * k), k - 1)
                    continue
                tot = 0.0
                for s in range(k):
                    buf[s] = np.exp(buf[s] - mx)
                    tot += buf[s]
                target = u * tot
                acc = 0.0
                new = k - 1
                for s in range(k):
                    acc += buf[s]
                    if target < acc:
                        new = s
                        break
                while buf[new] == 0.0:  # never land on a zero-probability state by rounding
                    new -= 1
                x[i] = new
    return s0, s1, s2, s3, accepted


@numba.njit(parallel=True, cache=True)
def factor_chunk(x, rng, order, random_scan, metropolis, betas, n_draws, thin, record,
                 cards, v_ptr, v_factor, v_stride, f_offset, f_ptr, f_var, f_stride, tables,
                 out_states, out_lp, out_acc):
    """Advance every chain by ``n_draws * thin`` sweeps, recording after every ``thin``.

    ``x`` int32 (chains, n) and ``rng`` uint64 (chains, 4) are updated in place.  When
    ``record`` is true, ``out_states[c, d]`` gets the state, ``out_lp[c, d]`` its ``log p̃``
    (at β = 1) and ``out_acc[c, d]`` the Metropolis acceptance rate of those ``thin`` sweeps.
    """
    chains = x.shape[0]
    kmax = 1
    for i in range(cards.shape[0]):
        kmax = max(kmax, cards[i])
    per_sweep = max(order.shape[0], 1)
    for c in prange(chains):
        buf = np.empty(kmax)
        s0, s1, s2, s3 = rng[c, 0], rng[c, 1], rng[c, 2], rng[c, 3]
        xc = x[c]
        for d in range(n_draws):
            s0, s1, s2, s3, acc = _chain(xc, s0, s1, s2, s3, order, random_scan, metropolis,
                                         betas[c], cards, v_ptr, v_factor, v_stride, f_offset,
                                         f_ptr, f_var, f_stride, tables, buf, thin)
            if record:
                out_states[c, d, :] = xc
                out_lp[c, d] = _log_p(xc, f_offset, f_ptr, f_var, f_stride, tables)
                out_acc[c, d] = acc / (per_sweep * thin)
        rng[c, 0], rng[c, 1], rng[c, 2], rng[c, 3] = s0, s1, s2, s3
