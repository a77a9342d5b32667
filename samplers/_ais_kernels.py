"""Fused element-wise steps of RBM AIS (private): weight increment + hidden sampling in one
pass, visible sampling (+ the next weight's linear term) in another; per-run xoshiro streams
(``samplers._rng``).

Layout: layers are held **unit-major**, ``x[j, r]`` (shape ``(n, runs)``), and the runs'
xoshiro256 states as ``S[w, r]`` (shape ``(4, runs)``), as in ``samplers/_layered_kernels.py``:
the kernels loop over units outside and runs inside, so LLVM vectorises the inner loop (the
xoshiro steps, the uniforms, the comparisons, the log-weight arithmetic: eight runs per
AVX-512 instruction) while each run still draws its uniforms unit after unit from its own
stream.  Every ``exp`` is numpy's SIMD ``exp`` on a whole layer before the kernel (in the
model's dtype: float32 models use float32 ``exp``); the kernels call no transcendental
function in their vectorised loops.

Serial on purpose: they alternate with BLAS products whose worker threads spin after each
call; a second parallel pool between them would fight those threads for the cores.
``error_model="numpy"``: numba's default (Python) error model tests every float division for a
zero divisor, which stops LLVM from vectorising the loop.
"""

import numba
import numpy as np

from ._layered_kernels import _step

#: ``e^t − 1`` is summed as its Taylor series up to ``t¹⁴/14!`` for ``|t| <`` this (truncation
#: below ``0.1¹⁵/15! ≈ 8e-28`` relative); larger ``|t|`` (coarse schedules, large activations)
#: take an exact scalar pass.
SERIES_MAX = 0.1
#: units whose log-weight factors are multiplied before one ``log`` (each factor is within
#: ``e^{±0.1}``, so 2048 of them stay within ``e^{±205}``)
LOG_EVERY = 2048


@numba.njit(cache=True, inline="always")
def _expm1_series(t):
    """``e^t − 1 = Σ_{k=1}^{14} t^k / k!`` (Horner)."""
    s = 1.0 / 87178291200.0                      # 1/14!
    s = 1.0 / 6227020800.0 + t * s
    s = 1.0 / 479001600.0 + t * s
    s = 1.0 / 39916800.0 + t * s
    s = 1.0 / 3628800.0 + t * s
    s = 1.0 / 362880.0 + t * s
    s = 1.0 / 40320.0 + t * s
    s = 1.0 / 5040.0 + t * s
    s = 1.0 / 720.0 + t * s
    s = 1.0 / 120.0 + t * s
    s = 1.0 / 24.0 + t * s
    s = 1.0 / 6.0 + t * s
    s = 0.5 + t * s
    s = 1.0 + t * s
    return t * s


@numba.njit(cache=True, inline="always")
def _softplus(x):
    if x > 0:
        return x + np.log1p(np.exp(-x))
    return np.log1p(np.exp(x))


@numba.njit(cache=True, error_model="numpy")
def hidden_step(act, c, e, beta, prev, S, h_out, log_w, prod, sample):
    """Weight increment and hidden draw at ``β``, for ``a = act + c`` (``act`` (n_h, runs),
    ``c`` (n_h,)) and ``e = exp(−β a)`` (numpy, model dtype):

    ``log_w[r] += Σ_j ζ(β a_jr) − ζ(β_prev a_jr)``, each term as
    ``−log((1 + e^{βa + t}) / (1 + e^{βa})) = −log(1 + σ(βa) (e^t − 1))`` with ``t = (β_prev − β) a``
    — ``σ = 1 / (1 + e)`` in the model's precision, ``e^t − 1`` in float64 (Taylor series), so a
    float32 ``σ`` only perturbs a small increment; the factors are multiplied and one ``log``
    taken per :data:`LOG_EVERY` units.  If ``sample``: ``h_jr = 1{u (1 + e) < 1}``.  ``prod``:
    scratch (runs,).  Returns the number of terms with ``|t| ≥`` :data:`SERIES_MAX`, which
    were left out here and must be added by :func:`hidden_step_large`.
    """
    n_h, runs = act.shape
    s0, s1, s2, s3 = S[0], S[1], S[2], S[3]
    dbeta = prev - beta
    large = 0
    for j0 in range(0, n_h, LOG_EVERY):
        for r in range(runs):
            prod[r] = 1.0
        for j in range(j0, min(n_h, j0 + LOG_EVERY)):
            aj, ej, hj = act[j], e[j], h_out[j]
            cj = np.float64(c[j])
            for r in range(runs):
                a = np.float64(aj[r]) + cj
                t = dbeta * a
                sig = 1.0 / (1.0 + np.float64(ej[r]))
                big = abs(t) >= SERIES_MAX
                large += big
                f = 1.0 + sig * _expm1_series(t)
                prod[r] *= 1.0 if big else f
                if sample:
                    u = _step(s0, s1, s2, s3, r)
                    hj[r] = u * (1.0 + ej[r]) < 1.0
        for r in range(runs):
            log_w[r] -= np.log(prod[r])        # the factors are e^{ζ(β_prev a) − ζ(β a)}
    return large


@numba.njit(cache=True, error_model="numpy")
def hidden_step_large(act, c, beta, prev, log_w):
    """The terms :func:`hidden_step` left out (``|t| ≥ SERIES_MAX``), as overflow-free float64
    softplus differences."""
    n_h, runs = act.shape
    dbeta = prev - beta
    for j in range(n_h):
        cj = np.float64(c[j])
        for r in range(runs):
            a = np.float64(act[j, r]) + cj
            if abs(dbeta * a) >= SERIES_MAX:
                log_w[r] += _softplus(beta * a) - _softplus(prev * a)


@numba.njit(cache=True, error_model="numpy")
def visible_step(e, S, v_out, db, vdb):
    """``v_ir = 1{u (1 + e_ir) < 1}`` (= ``1{u < σ(a)}`` for ``e = exp(−a)``, numpy, model dtype)
    and ``vdb[r] = Σ_i v_ir db_i`` (float64), the linear term of the next weight increment."""
    n_v, runs = e.shape
    s0, s1, s2, s3 = S[0], S[1], S[2], S[3]
    for r in range(runs):
        vdb[r] = 0.0
    for i in range(n_v):
        ei, vi = e[i], v_out[i]
        dbi = db[i]
        for r in range(runs):
            u = _step(s0, s1, s2, s3, r)
            one = u * (1.0 + ei[r]) < 1.0
            vi[r] = one
            vdb[r] += dbi if one else 0.0
