"""Fused element-wise steps of RBM AIS (private): weight increment + hidden sampling in one
pass, visible sampling in another; per-run xoshiro streams (``samplers._rng``).

Serial on purpose: they alternate with BLAS products whose worker threads spin after each
call; a second parallel pool between them would fight those threads for the cores.
"""

import numba
import numpy as np

from ._rng import TWO_POW_M53, xoshiro_step


@numba.njit(cache=True, inline="always")
def _softplus(x):
    if x > 0:
        return x + np.log1p(np.exp(-x))
    return np.log1p(np.exp(x))


@numba.njit(cache=True)
def hidden_step(act, beta, prev, rng, h_out, log_w, sample):
    """``log_w[r] += Σ_j ζ(β a_rj) − ζ(β_prev a_rj)``; if ``sample``: ``h_rj ~ σ(β a_rj)``."""
    runs, n_h = act.shape
    for r in range(runs):
        s0, s1, s2, s3 = rng[r, 0], rng[r, 1], rng[r, 2], rng[r, 3]
        acc = 0.0
        for j in range(n_h):
            a = np.float64(act[r, j])
            acc += _softplus(beta * a) - _softplus(prev * a)
            if sample:
                x, _, s0, s1, s2, s3 = xoshiro_step(s0, s1, s2, s3)
                u = np.float64(x >> np.uint64(11)) * TWO_POW_M53
                h_out[r, j] = 1.0 if u * (1.0 + np.exp(-beta * a)) < 1.0 else 0.0
        log_w[r] += acc
        rng[r, 0], rng[r, 1], rng[r, 2], rng[r, 3] = s0, s1, s2, s3


@numba.njit(cache=True)
def visible_step(pre, beta, base, bias, rng, v_out):
    """``v_ri ~ σ((1−β) base_i + β (bias_i + pre_ri))``."""
    runs, n_v = pre.shape
    for r in range(runs):
        s0, s1, s2, s3 = rng[r, 0], rng[r, 1], rng[r, 2], rng[r, 3]
        for i in range(n_v):
            a = (1.0 - beta) * base[i] + beta * (bias[i] + np.float64(pre[r, i]))
            x, _, s0, s1, s2, s3 = xoshiro_step(s0, s1, s2, s3)
            u = np.float64(x >> np.uint64(11)) * TWO_POW_M53
            v_out[r, i] = 1.0 if u * (1.0 + np.exp(-a)) < 1.0 else 0.0
        rng[r, 0], rng[r, 1], rng[r, 2], rng[r, 3] = s0, s1, s2, s3
