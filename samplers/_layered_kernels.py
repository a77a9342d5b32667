"""Compiled per-unit kernels of layered block Gibbs (SPEC.md §2 "Block Gibbs", §1 RBM, §5).

Layout: every layer is held **unit-major**, ``x[j, c]`` = unit ``j`` of chain ``c`` (shape
``(n, chains)``), and the chains' xoshiro256 states (``samplers._rng``) as ``S[w, c]``
(shape ``(4, chains)``, the transpose of ``ChainState.rng_state``).  The dense part of a block
update is one BLAS product done by the caller (``samplers/_layered.py``), e.g. ``Wᵀ v`` for all
chains at once, followed by numpy's SIMD ``exp``.  These kernels then loop over units outside
and chains inside: the inner loop is independent across chains, so LLVM vectorises the
xoshiro256 steps, the uniforms and the comparisons (AVX-512: eight chains per instruction),
while each chain still draws its uniforms in the same order (unit 0, 1, … of each layer, layers
in sweep order), from its own stream — results do not depend on the number of chains or on
threads.

* :func:`bernoulli_block` — ``x_j = 1{u < σ(a_j)} = 1{u · e^{−a_j} < 1 − u}``, one 53-bit
  uniform per unit;
* :func:`gaussian_block` — ``x = pre + bias + σ z``, ``z`` standard normal by Box–Muller (one
  pair of uniforms per pair of units);
* :func:`sbn_site_gibbs` — single-site Gibbs for a layer of a sigmoid belief net given its
  prior log-odds and its child layer (the DBN posterior, where a layer does not factorise).

The kernels are single-threaded: the BLAS products already use every core through BLAS's own
thread pool, and a second pool (numba's parallel workers) running between them was measured to
lose 2–15× on a 2-core machine — OpenBLAS workers busy-wait after each product and the two
pools time-slice each other.  Clamped units still consume their uniforms, so a chain's stream
does not depend on the evidence pattern (the driver overwrites them after
:func:`bernoulli_block`; :func:`gaussian_block` keeps ``val[j]`` where ``mask[j] != 0``).
"""

import numba
import numpy as np

from ._rng import TWO_POW_M53

__all__ = ["bernoulli_block", "gaussian_block", "sbn_site_gibbs"]

_TWO_PI = 2.0 * np.pi


@numba.njit(inline="always")
def _step(s0, s1, s2, s3, c):
    """Advance chain ``c``'s xoshiro256 state (arrays of one word each); return a uniform in
    ``[0, 1)`` from the ``+`` output (53 bits, as ``samplers._rng.next_double``)."""
    a0, a1, a2, a3 = s0[c], s1[c], s2[c], s3[c]
    r = a0 + a3
    t = a1 << numba.uint64(17)
    a2 ^= a0
    a3 ^= a1
    a1 ^= a2
    a0 ^= a3
    a2 ^= t
    a3 = (a3 << numba.uint64(45)) | (a3 >> numba.uint64(19))
    s0[c] = a0
    s1[c] = a1
    s2[c] = a2
    s3[c] = a3
    return numba.float64(numba.int64(r >> numba.uint64(11))) * TWO_POW_M53  # < 2**53: exact


@numba.njit(cache=True)
def bernoulli_block(t, S, out):
    """Sample a binary layer: ``out[j, c] = 1{u < 1 / (1 + t[j, c])}``.

    ``t = exp(−a)`` for pre-activations ``a`` (``inf`` on overflow gives 0).  Branch-free (a
    data-dependent branch costs ~6 ns per unit in mispredictions) and vectorised over chains.
    """
    n, chains = t.shape
    s0, s1, s2, s3 = S[0], S[1], S[2], S[3]
    for j in range(n):
        tj = t[j]
        oj = out[j]
        for c in range(chains):
            u = _step(s0, s1, s2, s3, c)
            oj[c] = numba.float64(u * tj[c] < 1.0 - u)


@numba.njit(cache=True)
def gaussian_block(pre, bias, sigma, S, out, dots, mask, val):
    """Sample a Gaussian layer: ``out[j, c] = pre[j, c] + bias[j] + sigma[j] · z`` (Box–Muller;
    units ``2i`` and ``2i+1`` of a chain share one pair of uniforms).

    ``dots[c] = Σ_j [(out − bias)²/2 − out · pre] / sigma²`` (the energy terms of the layer).
    """
    n, chains = pre.shape
    s0, s1, s2, s3 = S[0], S[1], S[2], S[3]
    for c in range(chains):
        dots[c] = 0.0
    for j0 in range(0, n, 2):
        for c in range(chains):
            u1 = _step(s0, s1, s2, s3, c)
            u2 = _step(s0, s1, s2, s3, c)
            rad = np.sqrt(-2.0 * np.log(1.0 - u1))  # 1 − u1 ∈ (0, 1]
            theta = _TWO_PI * u2
            zs = (rad * np.cos(theta), rad * np.sin(theta))
            for j in range(j0, min(j0 + 2, n)):
                if mask[j] != 0:
                    x = numba.float64(val[j])
                else:
                    x = pre[j, c] + bias[j] + sigma[j] * zs[j - j0]
                out[j, c] = x
                xv = numba.float64(out[j, c])
                dx = xv - bias[j]
                dots[c] += (0.5 * dx * dx - xv * pre[j, c]) / (numba.float64(sigma[j]) * sigma[j])


@numba.njit(inline="always")
def _softplus(a):
    return max(a, 0.0) + np.log1p(np.exp(-abs(a)))


@numba.njit(cache=True)
def sbn_site_gibbs(x, prior, child, child_pre, W, S):
    """Single-site Gibbs over the units of a sigmoid-belief-net layer, in order ``j = 0..n−1``.

    ``x`` (n, chains): the layer (updated in place); ``prior`` (n, chains): log-odds of each
    unit from above (bias included); ``child`` (m, chains): the layer below, with
    ``p(child_i = 1 | x) = σ(child_pre_i)``; ``child_pre`` (m, chains) = ``b + W x`` for ``W``
    (m, n), kept up to date in place.  The conditional log-odds of unit ``j`` is
    ``prior_j + Σ_i [child_i W_ij − ζ(a_i|x_j=1) + ζ(a_i|x_j=0)]``.
    """
    n, chains = x.shape
    m = child.shape[0]
    s0, s1, s2, s3 = S[0], S[1], S[2], S[3]
    for j in range(n):
        for c in range(chains):
            xj = numba.float64(x[j, c])
            delta = numba.float64(prior[j, c])
            for i in range(m):
                w = numba.float64(W[i, j])
                a = numba.float64(child_pre[i, c])
                delta += child[i, c] * w - _softplus(a + w * (1.0 - xj)) + _softplus(a - w * xj)
            u = _step(s0, s1, s2, s3, c)
            new = 1.0 if u < 1.0 / (1.0 + np.exp(-delta)) else 0.0
            if new != xj:
                for i in range(m):
                    child_pre[i, c] += W[i, j] * (new - xj)
                x[j, c] = new
