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
    """``log_w[r] += Σ_j ζ(β a_rj) − ζ(β_prev a_rj)``; if ``sample``: ``h_rj ~ σ(β a_rj)``.

    For moderate arguments the increment is accumulated as a product of
    ``(1 + e^{β a}) / (1 + e^{β_prev a}) = 1 / (1 + σ(β a)(e^{(β_prev − β) a} − 1))`` — one
    ``exp`` per unit (in the model's dtype), one ``log`` per 32 units — and ``σ(β a)`` is reused
    for the draw; large arguments take the overflow-free softplus path.
    """
    runs, n_h = act.shape
    for r in range(runs):
        s0, s1, s2, s3 = rng[r, 0], rng[r, 1], rng[r, 2], rng[r, 3]
        acc = 0.0
        prod = 1.0
        for j in range(n_h):
            a = np.float64(act[r, j])
            x = beta * a
            y = prev * a
            if abs(x) < 30.0 and abs(y) < 30.0:
                # (1 + e^x) / (1 + e^y) = 1 / (1 + σ(x) (e^t − 1)), t = y − x small: one exp per
                # unit, in the model's dtype (float32 models: expf; the product stays float64)
                e1 = np.float64(np.exp(act.dtype.type(x)))
                sig = e1 / (1.0 + e1)
                t = y - x
                if abs(t) < 1e-3:  # e^t − 1 by its series (error < 1e-16)
                    em1 = t * (1.0 + t * (0.5 + t * (1.0 / 6.0 + t * (1.0 / 24.0))))
                else:
                    em1 = np.expm1(t)
                prod /= 1.0 + sig * em1
                if sample:
                    z, _, s0, s1, s2, s3 = xoshiro_step(s0, s1, s2, s3)
                    u = np.float64(z >> np.uint64(11)) * TWO_POW_M53
                    h_out[r, j] = 1.0 if u < sig else 0.0
            else:
                acc += _softplus(x) - _softplus(y)
                if sample:
                    z, _, s0, s1, s2, s3 = xoshiro_step(s0, s1, s2, s3)
                    u = np.float64(z >> np.uint64(11)) * TWO_POW_M53
                    h_out[r, j] = 1.0 if u * (1.0 + np.exp(-x)) < 1.0 else 0.0
            if (j & 31) == 31:
                acc += np.log(prod)
                prod = 1.0
        log_w[r] += acc + np.log(prod)
        rng[r, 0], rng[r, 1], rng[r, 2], rng[r, 3] = s0, s1, s2, s3


@numba.njit(cache=True)
def visible_step(pre, beta, base, bias, rng, v_out):
    """``v_ri ~ σ((1−β) base_i + β (bias_i + pre_ri))``, in the dtype of ``base``/``pre``
    (float32 models draw in float32)."""
    runs, n_v = pre.shape
    one = base.dtype.type(1.0)
    b1 = base.dtype.type(beta)
    b0 = one - b1
    for r in range(runs):
        s0, s1, s2, s3 = rng[r, 0], rng[r, 1], rng[r, 2], rng[r, 3]
        for i in range(n_v):
            a = b0 * base[i] + b1 * (bias[i] + pre[r, i])
            x, _, s0, s1, s2, s3 = xoshiro_step(s0, s1, s2, s3)
            u = np.float64(x >> np.uint64(11)) * TWO_POW_M53
            v_out[r, i] = 1.0 if u * (one + np.exp(-a)) < 1.0 else 0.0
        rng[r, 0], rng[r, 1], rng[r, 2], rng[r, 3] = s0, s1, s2, s3
