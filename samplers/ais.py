"""Annealed importance sampling for partition functions (SPEC.md §3, "AIS").

Intermediate distributions ``p_β ∝ p_0^{1−β} p̃_1^β`` for ``0 = β_0 < β_1 < … < β_n = 1``.
Each run draws ``x_1 ~ p_0`` and, for ``j = 1..n−1``, adds
``log p̃_{β_j}(x_j) − log p̃_{β_{j−1}}(x_j)`` to its log-weight and moves ``x_{j+1} ~ T_{β_j}(x_j)``
with a compiled kernel (Gibbs, block Gibbs or Metropolis) that leaves ``p_{β_j}`` invariant.
``Z_1 / Z_0 ≈ mean(w)``: unbiased for ``Z``, so ``log Ẑ`` is biased low (a stochastic lower
bound).  Everything is in log space.

Base distributions for the discrete families: the product of uniforms over each variable's
domain (``base="uniform"``, ``log Z_0 = Σ log k_i``), for which ``p_β ∝ p̃_1^β`` is exactly the
tempered model the kernels already sample: AIS drives any kernel with ``supports_beta``
(``samplers/_kernel.py``) — its ``init`` draws the uniform start, its per-chain ``beta`` sets
the temperature of each step.
"""

import math
import numbers

import numpy as np

from ._annealing import AISResult, check_schedule, linear_betas, sigmoid_betas
from ._kernel import count, spawn_seeds
from ._registry import find_kernel
from .ais_rbm import ais_dbm, ais_rbm
from .threads import threads_for

__all__ = ["ais", "AISResult", "linear_betas", "sigmoid_betas"]


def ais(model, betas=1000, runs=100, base="uniform", transition="gibbs", sweeps=1, seed=None,
        evidence=None):
    """Estimate ``log Z`` of a discrete model by annealed importance sampling.

    Parameters
    ----------
    model : Ising, Potts, BoltzmannMachine, MarkovNetwork, FactorGraph (any model
        :func:`samplers.sample` takes)
    betas : int or array_like
        The schedule ``0 = β_0 < … < β_n = 1``, or its length (a :func:`sigmoid_betas` schedule).
    runs : int
        Independent annealing runs (importance samples).
    base : "uniform" or array_like
        Product of uniform distributions over the variables' domains.  For a binary
        :class:`pgm.RBM`, an array of base-rate visible biases (:func:`samplers.base_rate`) selects
        the Salakhutdinov–Murray scheme with hidden units summed out (see
        :mod:`samplers.ais_rbm`).
    transition : {"gibbs", "block_gibbs", "metropolis", "swendsen_wang", "wolff"}
        Kernel applied at each intermediate β.
    sweeps : int
        Kernel sweeps per intermediate β.
    seed : int or None
    evidence : dict, optional
        Clamped variables: the estimate is then of ``log Σ_free p̃(x, e)``.

    Returns
    -------
    AISResult

    Examples
    --------
    >>> import pgm, samplers
    >>> m = pgm.Ising.grid(4, 4, beta=0.3)
    >>> r = samplers.ais(m, betas=300, runs=50, seed=0)
    >>> abs(r.log_z - pgm.exact.log_partition(m)) < 5 * r.log_z_std + 0.05
    True
    """
    runs = count(runs, "runs", 1)
    sweeps = count(sweeps, "sweeps", 1)
    if isinstance(betas, numbers.Integral) and not isinstance(betas, bool):
        betas = sigmoid_betas(betas)
    b = check_schedule(betas)
    if getattr(model, "layered_kind", None) == "rbm":
        if evidence:
            raise ValueError("AIS on an RBM does not take evidence")
        return ais_rbm(model, b, runs=runs, base=None if isinstance(base, str) and base == "uniform" else base,
                       seed=seed)
    if getattr(model, "layered_kind", None) == "dbm":
        if evidence:
            raise ValueError("AIS on a DBM does not take evidence")
        return ais_dbm(model, b, runs=runs, base=None if isinstance(base, str) and base == "uniform" else base,
                       seed=seed)
    if base != "uniform":
        raise ValueError(f"unknown base {base!r}; the discrete families support base='uniform'")
    kernel = find_kernel(model, transition, **({} if evidence is None else {"evidence": evidence}))
    if not kernel.supports_beta:
        raise ValueError(f"AIS needs a kernel for tempered targets; {transition!r} on "
                         f"{type(model).__name__} has none")
    state = kernel.init(runs, spawn_seeds(seed), None)
    target = kernel.target
    log_z0 = float(sum(math.log(target.cards[i]) for i in target.free))
    lp = kernel.log_unnormalized(state)
    if not np.all(np.isfinite(lp)) and np.any(lp == np.inf):
        raise ValueError("log p̃ is +inf at a base state")
    log_w = (b[1] - b[0]) * lp
    with threads_for(runs * kernel.record_width * sweeps):
        for j in range(1, b.size - 1):
            state.beta[:] = b[j]
            _, info = kernel.advance(state, 1, sweeps, record=True)
            log_w += (b[j + 1] - b[j]) * info.lp[:, 0]
    return AISResult(log_w, log_z0, b)
