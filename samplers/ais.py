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
import warnings

import numpy as np

from pgm.errors import ConvergenceWarning

from . import _groups, diagnostics
from ._annealing import AISResult, check_schedule, linear_betas, sigmoid_betas
from ._kernel import count, seed_sequence, spawn_seeds
from ._registry import find_kernel
from .ais_rbm import ais_dbm, ais_rbm
from ._rng import make_rng_state
from .progress import Progress
from .threads import threads_for

__all__ = ["ais", "AISResult", "linear_betas", "sigmoid_betas", "ESS_FRACTION"]

#: AIS warns when the weights' effective sample size is below this fraction of the runs
ESS_FRACTION = 0.1


def ais(model, betas=1000, runs=100, base="uniform", transition="gibbs", sweeps=1, seed=None,
        evidence=None, progress=None, warn=True, executor=None, groups=None):
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
    progress : bool or None
        A progress bar over the β (``None``: only when stderr is a terminal).
    warn : bool
        Issue a :class:`samplers.ConvergenceWarning` when the effective sample size of the
        importance weights is below 10 % of the runs (the estimate then rests on a few runs
        and its standard error is unreliable).
    executor : concurrent.futures.Executor, dask.distributed.Client or "dask", optional
        Run the annealing runs in ``groups`` on this executor (as :func:`samplers.sample` does
        with chains): the same log-weights as a local run, bit for bit.
    groups : int, optional
        Number of groups (default: one per worker).

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
    if executor is None:
        if groups is not None:
            raise ValueError("groups applies to runs on an executor (pass executor=)")
        result = _ais(model, b, runs, base, transition, sweeps, seed, evidence, progress)
    else:
        result = _ais_on(_groups.resolve_executor(executor), groups, model, b, runs, base, transition, sweeps,
                         seed, evidence)
    if warn:
        warn_if_few_effective(result.ess, runs, b.size)
    return result


def warn_if_few_effective(ess, runs, n_betas):
    """The :class:`ConvergenceWarning` of :func:`ais` when the weights' ESS < 10 % of the runs."""
    if ess < ESS_FRACTION * runs:
        warnings.warn(f"AIS has not converged: the importance weights' effective sample size is "
                      f"{ess:.1f} of {runs} runs (< {ESS_FRACTION:.0%}), so log Z and its "
                      f"standard error rest on a few runs. Remedy: more inverse temperatures "
                      f"(betas; {n_betas} now), more sweeps per β, or more runs; warn=False "
                      f"silences this check.", ConvergenceWarning,
                      stacklevel=diagnostics.user_stacklevel())


def _ais(model, b, runs, base, transition, sweeps, seed, evidence, progress):
    if getattr(model, "layered_kind", None) == "rbm":
        if evidence:
            raise ValueError("AIS on an RBM does not take evidence")
        return ais_rbm(model, b, runs=runs, base=None if isinstance(base, str) and base == "uniform" else base,
                       seed=seed, progress=progress)
    if getattr(model, "layered_kind", None) == "dbm":
        if evidence:
            raise ValueError("AIS on a DBM does not take evidence")
        return ais_dbm(model, b, runs=runs, base=None if isinstance(base, str) and base == "uniform" else base,
                       seed=seed, progress=progress)
    if base != "uniform":
        raise ValueError(f"unknown base {base!r}; the discrete families support base='uniform'")
    kernel = _kernel_for(model, transition, evidence)
    state = kernel.init(runs, spawn_seeds(seed), None)
    return AISResult(_anneal(kernel, state, b, runs, sweeps, progress), _log_z_base(kernel), b)


def _kernel_for(model, transition, evidence):
    kernel = find_kernel(model, transition, **({} if evidence is None else {"evidence": evidence}))
    if not kernel.supports_beta:
        raise ValueError(f"AIS needs a kernel for tempered targets; {transition!r} on "
                         f"{type(model).__name__} has none")
    return kernel


def _log_z_base(kernel):
    target = kernel.target
    return float(sum(math.log(target.cards[i]) for i in target.free))


def _anneal(kernel, state, b, runs, sweeps, progress):
    """The log-weights of ``runs`` annealing runs started at ``state`` (uniform base draws)."""
    lp = kernel.log_unnormalized(state)
    if not np.all(np.isfinite(lp)) and np.any(lp == np.inf):
        raise ValueError("log p̃ is +inf at a base state")
    log_w = (b[1] - b[0]) * lp
    with threads_for(runs * kernel.record_width * sweeps), Progress(b.size - 2, progress, "AIS", unit="β") as bar:
        for j in range(1, b.size - 1):
            bar.update(1)
            state.beta[:] = b[j]
            _, info = kernel.advance(state, 1, sweeps, record=True)
            log_w += (b[j + 1] - b[j]) * info.lp[:, 0]
    return log_w


def _ais_on(executor, groups, model, b, runs, base, transition, sweeps, seed, evidence):
    """:func:`ais` with the runs in groups on ``executor``: every run's start (base draw and
    stream) is drawn here exactly as a local run draws it, each group anneals its rows."""
    ranges = _groups.split(runs, _groups.default_groups(executor) if groups is None else groups)
    shipped = _groups.ship_model(model)
    kind = getattr(model, "layered_kind", None)
    if kind in ("rbm", "dbm"):
        if evidence:
            raise ValueError(f"AIS on an {kind.upper()} does not take evidence")
        base = None if isinstance(base, str) and base == "uniform" else base
        streams = make_rng_state(seed_sequence(seed), runs)
        tasks = [(shipped, kind, b, base, streams[a:z]) for a, z in ranges]
        parts = _groups.run_all(executor, _layered_group, tasks, "runs", ranges)
        return AISResult(np.concatenate([p.log_weights for p in parts]), parts[0].log_z_base, b)
    if base != "uniform":
        raise ValueError(f"unknown base {base!r}; the discrete families support base='uniform'")
    kernel = _kernel_for(model, transition, evidence)
    start = kernel.to_user(kernel.init(runs, spawn_seeds(seed), None))
    tasks = [(shipped, transition, evidence, b, sweeps, _groups.state_to_arrays(_groups.select_chains(start, runs, a, z)))
             for a, z in ranges]
    parts = _groups.run_all(executor, _kernel_group, tasks, "runs", ranges)
    return AISResult(np.concatenate(parts), _log_z_base(kernel), b)


def _kernel_group(shipped, transition, evidence, b, sweeps, start):
    kernel = _kernel_for(_groups.land_model(shipped), transition, evidence)
    state = _groups.state_from_arrays(start)
    return _anneal(kernel, kernel.init(state.chains, state, None), b, state.chains, sweeps, False)


def _layered_group(shipped, kind, b, base, streams):
    model = _groups.land_model(shipped)
    run = ais_rbm if kind == "rbm" else ais_dbm
    return run(model, b, runs=streams.shape[0], base=base, rng_state=streams, progress=False)
