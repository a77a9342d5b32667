"""Simulated annealing for MAP assignments of discrete models (SPEC.md §4b, "MAP by simulated
annealing").

Independent chains of a compiled kernel that samples tempered targets ``p̃^β``
(``samplers/_kernel.py``: Gibbs, block Gibbs, Metropolis, Swendsen–Wang, Wolff) are swept at
increasing inverse temperatures ``β_1 < β_2 < … `` (a factor on the model's own β); at large β
a heat-bath sweep is nearly a greedy coordinate ascent (iterated conditional modes).  After every
step each chain's state and ``log p̃`` are compared with the best seen, so the result is the best
state any chain visited — a lower bound on the MAP score, exact when annealing slowly enough.
Chains start uniformly at random (or from ``init``, e.g. a max-product BP decoding) and are
reproducible from ``seed`` (per-chain xoshiro streams, any thread count).
"""

import numbers
from typing import NamedTuple

import numpy as np

from . import _groups
from ._kernel import spawn_seeds
from ._registry import find_kernel

__all__ = ["simulated_annealing", "AnnealingResult", "annealing_betas"]


class AnnealingResult(NamedTuple):
    """Best assignment found, its ``log p̃`` (natural log, untempered), the best score of every
    chain, and the schedule."""

    assignment: dict
    log_score: float
    chain_scores: np.ndarray
    betas: np.ndarray


def annealing_betas(n=1000, beta_min=0.05, beta_max=20.0, greedy=10):
    """``n`` geometrically spaced inverse temperatures from ``beta_min`` to ``beta_max``, then
    ``greedy`` steps at ``1e6`` (iterated conditional modes).

    Examples
    --------
    >>> b = annealing_betas(5, 0.1, 10.0, greedy=1)
    >>> b.round(3).tolist()
    [0.1, 0.316, 1.0, 3.162, 10.0, 1000000.0]
    """
    for name, v in (("n", n), ("greedy", greedy)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 0:
            raise ValueError(f"{name} must be an integer >= 0, got {v!r}")
    if not (0 < beta_min <= beta_max and np.isfinite(beta_max)):
        raise ValueError(f"need 0 < beta_min <= beta_max < inf, got {beta_min!r}, {beta_max!r}")
    return np.concatenate([np.geomspace(beta_min, beta_max, n), np.full(greedy, 1e6)])


def simulated_annealing(model, betas=None, chains=8, sweeps=1, method="gibbs", seed=None, init=None,
                        executor=None, groups=None, **options):
    """Search for a MAP assignment of a discrete model by simulated annealing.

    Parameters
    ----------
    model : a discrete model accepted by :func:`samplers.sample`
    betas : array_like, optional
        Increasing positive inverse temperatures (factors on the model's β); default
        :func:`annealing_betas` ``()``.
    chains : int
        Independent annealing runs (restarts).
    sweeps : int
        Kernel sweeps at each β.
    method : str
        Kernel (``"gibbs"``, ``"block_gibbs"``, ``"metropolis"``, ``"swendsen_wang"``, ``"wolff"``).
    seed : int or None
    init : array (chains, n) or (n,), optional
        Starting states in the model's domain (e.g. a BP decoding).
    executor : concurrent.futures.Executor, dask.distributed.Client or "dask", optional
        Run the restarts in ``groups`` on this executor (as :func:`samplers.sample` does with
        chains): the same result as a local run, bit for bit.
    groups : int, optional
        Number of groups (default: one per worker).
    **options
        Kernel options, e.g. ``evidence``.

    Returns
    -------
    AnnealingResult

    Examples
    --------
    >>> import pgm, samplers
    >>> m = pgm.Ising.grid(4, 4, coupling=1.0, field=0.2)
    >>> r = samplers.simulated_annealing(m, chains=4, seed=0)
    >>> set(r.assignment.values()), round(r.log_score, 6)   # all spins up: 32 + 0.2·16
    ({1}, 35.2)
    """
    b = annealing_betas() if betas is None else np.asarray(betas, dtype=np.float64).reshape(-1)
    if b.size < 1 or not np.all(np.isfinite(b)) or np.any(b <= 0) or np.any(np.diff(b) < 0):
        raise ValueError("betas must be finite, positive and non-decreasing")
    for name, v in (("chains", chains), ("sweeps", sweeps)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
    kernel = find_kernel(model, method, **options)
    if not kernel.supports_beta:
        raise ValueError(f"simulated annealing needs a kernel for tempered targets; {method!r} on "
                         f"{type(model).__name__} has none")
    state = kernel.init(int(chains), spawn_seeds(seed), init)
    if executor is None:
        if groups is not None:
            raise ValueError("groups applies to runs on an executor (pass executor=)")
        best, best_lp = _anneal(kernel, state, b, int(sweeps))
    else:
        executor = _groups.resolve_executor(executor)
        start = kernel.to_user(state)
        ranges = _groups.split(int(chains), _groups.default_groups(executor) if groups is None else groups)
        shipped = _groups.ship_model(model)
        tasks = [(shipped, method, options, b, int(sweeps),
                  _groups.state_to_arrays(_groups.select_chains(start, int(chains), lo, hi))) for lo, hi in ranges]
        parts = _groups.run_all(executor, _anneal_group, tasks, "restarts", ranges)
        best = np.concatenate([p[0] for p in parts])
        best_lp = np.concatenate([p[1] for p in parts])
    k = int(np.argmax(best_lp))
    return AnnealingResult(dict(zip(kernel.variables, best[k].tolist())), float(best_lp[k]), best_lp, b)


def _anneal(kernel, state, b, sweeps):
    """Best state and ``log p̃`` each chain visits while swept at the β of ``b``."""
    best = kernel.to_user(state).x.copy()
    best_lp = np.asarray(kernel.log_unnormalized(state), dtype=np.float64).copy()
    for beta in b:
        state.beta[:] = beta
        _, info = kernel.advance(state, 1, sweeps, record=True, keep=True)
        lp = info.lp[:, 0]
        better = lp > best_lp
        if better.any():
            best_lp[better] = lp[better]
            best[better] = info.states[better, 0]
    return best, best_lp


def _anneal_group(shipped, method, options, b, sweeps, start):
    kernel = find_kernel(_groups.land_model(shipped), method, **options)
    st = _groups.state_from_arrays(start)
    return _anneal(kernel, kernel.init(st.chains, st, None), b, sweeps)
