"""AIS for binary RBMs (the Salakhutdinov & Murray 2008 scheme) and DBMs (SPEC.md §3, §5).

Base: a "base-rate" model with visible biases ``b_A`` (from smoothed data marginals,
:func:`base_rate`) and no weights.  Intermediate unnormalised marginals over ``v`` with the
hidden units summed out analytically:

    log p*_β(v) = (1−β) b_Aᵀv + β bᵀv + Σ_j ζ(β (c_j + vᵀW_{:,j}))

so ``p*_0`` is the base (``log Z_0 = Σ_i ζ(b_A,i) + n_h log 2``) and ``p*_1`` the RBM's
``exp(−F(v))``.  Transition at ``β``: ``h_j ~ σ(β (c_j + vᵀW_{:,j}))`` then
``v_i ~ σ((1−β) b_A,i + β (b_i + W_{i,:} h))`` — two matrix products over all runs per step;
the first is shared with the weight update.  Uniforms come from the per-run xoshiro streams.
"""

import math

import numpy as np

from ._annealing import AISResult, check_schedule
from ._kernel import seed_sequence
from ._rng import draw_doubles, make_rng_state
from .progress import Progress

__all__ = ["base_rate", "ais_rbm", "ais_dbm", "salakhutdinov_murray_betas"]


def base_rate(data, smoothing=1.0):
    """Visible biases of the base-rate model: ``log(p̄ / (1 − p̄))`` with
    ``p̄_i = (Σ_n v_ni + smoothing) / (N + 2 smoothing)``.

    Examples
    --------
    >>> base_rate([[1, 0], [1, 1]], smoothing=1.0).round(4).tolist()
    [1.0986, 0.0]
    """
    x = np.asarray(data, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 1:
        raise ValueError(f"data must be a non-empty (n, n_visible) array, got shape {np.shape(data)}")
    if not np.all((x == 0) | (x == 1)):
        raise ValueError("base_rate needs binary data (0/1)")
    if not smoothing > 0:
        raise ValueError(f"smoothing must be > 0, got {smoothing!r}")
    p = (x.sum(0) + smoothing) / (x.shape[0] + 2 * smoothing)
    return np.log(p) - np.log1p(-p)


def salakhutdinov_murray_betas():
    """The 14 500-β schedule of Salakhutdinov & Murray (2008): 500 steps on [0, 0.5),
    4000 on [0.5, 0.9), 10 000 on [0.9, 1]."""
    return np.concatenate([np.linspace(0.0, 0.5, 500, endpoint=False),
                           np.linspace(0.5, 0.9, 4000, endpoint=False),
                           np.linspace(0.9, 1.0, 10000)])


def _softplus(x):
    return np.logaddexp(0.0, x)


def ais_rbm(rbm, betas, runs=100, base=None, seed=None, progress=None, rng_state=None):
    """AIS estimate of ``log Z`` of a binary RBM (see module docstring).

    Parameters
    ----------
    rbm : pgm.RBM
    betas : array_like
        Schedule from 0 to 1 (strictly increasing).
    runs : int
    base : array_like (n_visible,), optional
        Base-rate visible biases (:func:`base_rate`); default zeros (uniform visibles).
    seed : int or None
    progress : bool or None
        A progress bar over the β (``None``: only on a terminal).
    rng_state : uint64 array (runs, 4), optional
        The runs' xoshiro256 streams (instead of those of ``seed``): the rows of a larger run,
        for AIS in groups on an executor.

    Returns
    -------
    samplers.ais.AISResult
    """
    b_sched = check_schedule(betas)
    dt = rbm.dtype
    W, b, c = rbm.W, rbm.b, rbm.c
    n_v, n_h = W.shape
    bA = np.zeros(n_v) if base is None else np.asarray(base, dtype=np.float64)
    if bA.shape != (n_v,) or not np.all(np.isfinite(bA)):
        raise ValueError(f"base must be {n_v} finite visible biases, got shape {bA.shape}")
    rng = make_rng_state(seed_sequence(seed), runs) if rng_state is None else np.array(rng_state, dtype=np.uint64)
    # v ~ base: independent Bernoulli(σ(b_A)), each run's uniforms in unit order
    pA = 1.0 / (1.0 + np.exp(-bA))
    v0 = draw_doubles(rng, n_v) < pA
    log_z0 = float(np.sum(_softplus(bA)) + n_h * math.log(2.0))
    from ._ais_kernels import hidden_step, hidden_step_large, visible_step

    # unit-major layers (n, runs) and RNG states (4, runs): the kernels vectorise over runs
    S = np.ascontiguousarray(rng.T)
    v = np.ascontiguousarray(v0.T, dtype=dt)
    h = np.empty((n_h, runs), dtype=dt)
    W = np.ascontiguousarray(W, dtype=dt)
    Wt = W.T                                   # a view: BLAS reads it transposed
    b64, c_t = np.asarray(b, dtype=np.float64), np.asarray(c, dtype=dt)
    db = b64 - bA                              # linear part: (β − β_prev) (b − b_A)ᵀ v
    vdb = v0.astype(np.float64) @ db
    act = np.empty((n_h, runs), dtype=dt)      # Wᵀ v
    e_h = np.empty((n_h, runs), dtype=dt)      # exp(−β (Wᵀv + c))
    pre = np.empty((n_v, runs), dtype=dt)      # W h, then exp(−a_v)
    prod = np.empty(runs)
    log_w = np.zeros(runs)
    prev = 0.0
    last = b_sched.size - 1
    with np.errstate(over="ignore"), Progress(last, progress, "AIS", unit="β") as bar:
        for j in range(1, b_sched.size):
            bar.update(1)
            beta = float(b_sched[j])
            np.matmul(Wt, v, out=act)
            log_w += (beta - prev) * vdb
            np.multiply(act, -beta, out=e_h)
            e_h -= (beta * c_t)[:, None]
            np.exp(e_h, out=e_h)
            if hidden_step(act, c_t, e_h, beta, prev, S, h, log_w, prod, j < last):
                hidden_step_large(act, c_t, beta, prev, log_w)
            prev = beta
            if j == last:
                break
            # a_v = (1 − β) b_A + β (b + W h);  pre ← exp(−a_v)
            np.matmul(W, h, out=pre)
            pre *= -beta
            pre -= (beta * b64 + (1.0 - beta) * bA).astype(dt)[:, None]
            np.exp(pre, out=pre)
            visible_step(pre, S, v, db, vdb)
    return AISResult(log_w, log_z0, b_sched)


def ais_dbm(dbm, betas, runs=100, base=None, seed=None, progress=None, rng_state=None):
    """AIS estimate of ``log Z`` of a binary DBM with the odd layers summed out.

    Path ``p*_β ∝ exp(−β E_DBM)`` times the base (uniform, or base-rate visible biases
    ``b_A`` entering as ``(1−β) b_Aᵀv``), marginalised analytically over the odd layers:

        log p*_β(x_even) = (1−β) b_Aᵀv + β Σ_{even l} b_lᵀx_l + Σ_{odd l} Σ_j ζ(β a_{l,j})

    with ``a_l = b_l + x_{l−1} W_l + x_{l+1} W_{l+1}ᵀ``.  Transition at β: odd layers given the
    even ones, then even given odd (two-block Gibbs of the tempered DBM).
    ``log Z_0 = Σ_i ζ(b_A,i) + (n_total − n_v) log 2``.
    """
    b_sched = check_schedule(betas)
    Ws = [np.asarray(W, dtype=np.float64) for W in dbm.weights]
    bs = [np.asarray(b, dtype=np.float64) for b in dbm.biases]
    sizes = [b.size for b in bs]
    L = len(Ws)
    bA = np.zeros(sizes[0]) if base is None else np.asarray(base, dtype=np.float64)
    if bA.shape != (sizes[0],) or not np.all(np.isfinite(bA)):
        raise ValueError(f"base must be {sizes[0]} finite visible biases, got shape {bA.shape}")
    rng = make_rng_state(seed_sequence(seed), runs) if rng_state is None else np.array(rng_state, dtype=np.uint64)
    x = [None] * (L + 1)
    for l in range(0, L + 1, 2):
        p = 1.0 / (1.0 + np.exp(-bA)) if l == 0 else np.full(sizes[l], 0.5)
        x[l] = (draw_doubles(rng, sizes[l]) < p).astype(np.float64)
    log_z0 = float(np.sum(_softplus(bA)) + (sum(sizes) - sizes[0]) * math.log(2.0))

    def pre(l):  # input to layer l from its neighbours (biases excluded)
        a = np.zeros((runs, sizes[l]))
        if l >= 1:
            a += x[l - 1] @ Ws[l - 1]
        if l + 1 <= L:
            a += x[l + 1] @ Ws[l].T
        return a

    def log_p(beta, acts):
        out = (1 - beta) * (x[0] @ bA) + beta * sum(x[l] @ bs[l] for l in range(0, L + 1, 2))
        for a in acts:
            out = out + np.sum(_softplus(beta * a), axis=1)
        return out

    log_w = np.zeros(runs)
    prev = 0.0
    with Progress(b_sched.size - 1, progress, "AIS", unit="β") as bar:
        for j in range(1, b_sched.size):
            bar.update(1)
            beta = b_sched[j]
            acts = [bs[l] + pre(l) for l in range(1, L + 1, 2)]
            log_w += log_p(beta, acts) - log_p(prev, acts)
            prev = beta
            if j == b_sched.size - 1:
                break
            for a, l in zip(acts, range(1, L + 1, 2)):
                x[l] = (draw_doubles(rng, sizes[l]) < 1.0 / (1.0 + np.exp(-beta * a))).astype(np.float64)
            for l in range(0, L + 1, 2):
                a = beta * (bs[l] + pre(l)) + ((1 - beta) * bA if l == 0 else 0.0)
                x[l] = (draw_doubles(rng, sizes[l]) < 1.0 / (1.0 + np.exp(-a))).astype(np.float64)
    return AISResult(log_w, log_z0, b_sched)
