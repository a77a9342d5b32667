"""Compiled per-unit kernels of layered block Gibbs (SPEC.md §2 "Block Gibbs", §1 RBM, §5).

The dense part of a block update — the pre-activations of a whole layer for all chains — is
one BLAS matrix product done by the caller (``samplers/_layered.py``).  These kernels do the
rest in one pass per layer, in parallel over chains (``prange``), each chain drawing from its
own xoshiro256 stream (``samplers._rng``), so results do not depend on the thread count:

* :func:`bernoulli_block` — ``a = pre + bias`` (written back to ``pre``),
  ``x_j = 1 if u < σ(a_j) else 0`` with one uniform per unit;
* :func:`gaussian_block` — ``x = pre + bias + σ z``, ``z`` standard normal by Box–Muller (one
  pair of uniforms per pair of units);
* :func:`sbn_site_gibbs` — single-site Gibbs for a layer of a sigmoid belief net given its
  prior log-odds and its child layer (the DBN posterior, where a layer does not factorise).

Clamped units (``mask[j] != 0``) keep ``val[j]`` but still consume their uniforms, so a chain's
stream does not depend on the evidence pattern.  The kernels also return the per-chain dot
products the driver needs for the energy of the new state without another matrix product.
"""

import numba
import numpy as np
from numba import prange

from ._rng import TWO_POW_M53, xoshiro_step

__all__ = ["bernoulli_block", "gaussian_block", "sbn_site_gibbs"]

_TWO_PI = 2.0 * np.pi


@numba.njit(parallel=True, cache=True)
def bernoulli_block(pre, bias, rng, out, dots, mask, val):
    """Sample a binary layer: ``out[c, j] = 1{u < σ(pre[c, j] + bias[j])}`` (in place).

    On return ``pre`` holds ``a = pre + bias``, ``dots[c, 0] = Σ_j out[c, j] a[c, j]`` and
    ``dots[c, 1] = Σ_j out[c, j] bias[j]``.
    """
    chains, n = pre.shape
    for c in prange(chains):
        s0, s1, s2, s3 = rng[c, 0], rng[c, 1], rng[c, 2], rng[c, 3]
        d0 = 0.0
        d1 = 0.0
        for j in range(n):
            a = pre[c, j] + bias[j]
            pre[c, j] = a
            r, _, s0, s1, s2, s3 = xoshiro_step(s0, s1, s2, s3)
            u = numba.float64(r >> numba.uint64(11)) * TWO_POW_M53
            if mask[j] != 0:
                x = val[j]
            elif u < 1.0 / (1.0 + np.exp(-a)):
                x = 1.0
            else:
                x = 0.0
            out[c, j] = x
            if x != 0.0:
                d0 += x * a
                d1 += x * bias[j]
        dots[c, 0] = d0
        dots[c, 1] = d1
        rng[c, 0] = s0
        rng[c, 1] = s1
        rng[c, 2] = s2
        rng[c, 3] = s3


@numba.njit(parallel=True, cache=True)
def gaussian_block(pre, bias, sigma, rng, out, dots, mask, val):
    """Sample a Gaussian layer: ``out = pre + bias + sigma · z`` (Box–Muller).

    ``dots[c, 0] = Σ_j [(out − bias)²/2 − out · pre] / sigma²`` (``pre`` before adding the
    bias; it is left unchanged).
    """
    chains, n = pre.shape
    for c in prange(chains):
        s0, s1, s2, s3 = rng[c, 0], rng[c, 1], rng[c, 2], rng[c, 3]
        d0 = 0.0
        for j0 in range(0, n, 2):
            r1, _, s0, s1, s2, s3 = xoshiro_step(s0, s1, s2, s3)
            r2, _, s0, s1, s2, s3 = xoshiro_step(s0, s1, s2, s3)
            u1 = numba.float64(r1 >> numba.uint64(11)) * TWO_POW_M53
            u2 = numba.float64(r2 >> numba.uint64(11)) * TWO_POW_M53
            rad = np.sqrt(-2.0 * np.log(1.0 - u1))  # 1 − u1 ∈ (0, 1]
            theta = _TWO_PI * u2
            zs = (rad * np.cos(theta), rad * np.sin(theta))
            for j in range(j0, min(j0 + 2, n)):
                z = zs[j - j0]
                if mask[j] != 0:
                    x = val[j]
                else:
                    x = pre[c, j] + bias[j] + sigma[j] * z
                out[c, j] = x
                dx = numba.float64(x) - bias[j]
                d0 += (0.5 * dx * dx - numba.float64(x) * pre[c, j]) / (numba.float64(sigma[j]) * sigma[j])
        dots[c, 0] = d0
        rng[c, 0] = s0
        rng[c, 1] = s1
        rng[c, 2] = s2
        rng[c, 3] = s3


@numba.njit(inline="always")
def _softplus(a):
    return max(a, 0.0) + np.log1p(np.exp(-abs(a)))


@numba.njit(parallel=True, cache=True)
def sbn_site_gibbs(x, prior, child, child_pre, W, rng):
    """Single-site Gibbs over the units of a sigmoid-belief-net layer, in order ``j = 0..n−1``.

    ``x`` (chains, n): the layer (updated in place); ``prior`` (chains, n): log-odds of each
    unit from above (bias included); ``child`` (chains, m): the layer below, with
    ``p(child_i = 1 | x) = σ(child_pre_i)``; ``child_pre`` (chains, m) = ``b + x Wᵀ`` for
    ``W`` (m, n), kept up to date in place.  The conditional log-odds of unit ``j`` is
    ``prior_j + Σ_i [child_i W_ij − ζ(a_i|x_j=1) + ζ(a_i|x_j=0)]``.
    """
    chains, n = x.shape
    m = child.shape[1]
    for c in prange(chains):
        s0, s1, s2, s3 = rng[c, 0], rng[c, 1], rng[c, 2], rng[c, 3]
        for j in range(n):
            xj = numba.float64(x[c, j])
            delta = numba.float64(prior[c, j])
            for i in range(m):
                w = numba.float64(W[i, j])
                a = numba.float64(child_pre[c, i])
                delta += child[c, i] * w - _softplus(a + w * (1.0 - xj)) + _softplus(a - w * xj)
            r, _, s0, s1, s2, s3 = xoshiro_step(s0, s1, s2, s3)
            u = numba.float64(r >> numba.uint64(11)) * TWO_POW_M53
            new = 1.0 if u < 1.0 / (1.0 + np.exp(-delta)) else 0.0
            if new != xj:
                for i in range(m):
                    child_pre[c, i] += W[i, j] * (new - xj)
                x[c, j] = new
        rng[c, 0] = s0
        rng[c, 1] = s1
        rng[c, 2] = s2
        rng[c, 3] = s3
