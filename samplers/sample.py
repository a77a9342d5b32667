"""``samplers.sample(model, method=...)`` and ``samplers.parallel_tempering`` (SPEC.md §2, MCMC).

A lookup and a call: the kernel for the model and method comes from the registry
(``samplers/_kernel.py``, ``samplers/_registry.py``), validates its own options, and the one
driver (``samplers/_driver.py``) runs it — wrapped in replica exchange
(``samplers/tempering.py``) when a ``tempering`` ladder is given.

Reproducibility: one ``seed`` → ``SeedSequence(seed).spawn(3)`` (initial states, one xoshiro256
stream per chain, auxiliary streams such as replica swaps).  Results are bit-identical for any
thread count, and continuing from ``Samples.final_state`` reproduces a longer run exactly.
With ``executor=`` the chains run in groups on a ``concurrent.futures.Executor`` or a Dask
client and the same numbers come back (``samplers/_groups.py``).
"""

from . import _groups, diagnostics
from ._driver import run, run_settings
from ._kernel import spawn_seeds
from ._registry import find_kernel
from .results import ChainState
from .tempering import Tempered

__all__ = ["sample", "parallel_tempering", "METHODS", "CONTINUOUS_METHODS"]

#: methods for discrete models: single-site Gibbs, block Gibbs, single-site Metropolis
METHODS = ("gibbs", "block_gibbs", "metropolis")
#: methods for continuous energy models (``samplers/continuous.py``)
CONTINUOUS_METHODS = ("hmc", "mala", "langevin", "mh")


def sample(model, method=None, chains=None, draws=1000, warmup=None, thin=1, seed=None, init=None,
           observables=None, keep_states=True, progress=None, tempering=None, swap_interval=1,
           adapt_ladder=False, warn=True, executor=None, groups=None, **options):
    """Draw MCMC samples of a discrete, layered or continuous model.

    Parameters
    ----------
    model : Ising, Potts, BoltzmannMachine, MarkovNetwork, FactorGraph, BayesianNetwork, a layered model (RBM, DBM, DBN, ...), a binary energy or a continuous energy model
    method : str, optional
        Discrete models (default ``"gibbs"``): ``"gibbs"`` (single-site heat bath),
        ``"block_gibbs"`` (colour classes or ``blocks``), ``"metropolis"`` (single site, uniform
        proposal among the other states); pairwise binary (Ising-type) models also
        ``"swendsen_wang"`` and ``"wolff"`` cluster moves (``samplers/_cluster.py``).  Layered
        models: ``"block_gibbs"`` (``"gibbs"`` is an alias).  Binary energies: ``"gibbs"``.
        Continuous models (default ``"hmc"``): :data:`CONTINUOUS_METHODS`.
    chains : int, default 4 (or the number in ``init`` when it is a ChainState)
    draws : int
        Recorded draws per chain.
    warmup : int, optional
        Sweeps discarded before recording (default ``draws // 2``; use 0 when continuing).
    thin : int
        Sweeps per recorded draw.
    seed : int, SeedSequence or None
    init : array (chains, n_vars) or (n_vars,), ChainState, or None
        Initial states (random when ``None``).  A :class:`ChainState` (e.g.
        ``Samples.final_state``) continues those chains and their random streams exactly.
    observables : dict {name: callable}, optional
        Extra per-draw observables; each callable receives states ``(chains, k, n_vars)`` in the
        model's domain and returns ``(chains, k)``.  Kernels record their own too (``energy``,
        ``magnetization`` for spin models, ``mean_activation`` for Boltzmann machines).
    keep_states : bool
        Store every recorded state (``Samples.states``); set ``False`` for long runs on large
        models and record observables only.
    progress : bool or None
        A tqdm progress bar with rate and ETA (``None``: only when stderr is a terminal).
    tempering : array_like, optional
        Inverse temperatures ``0 < β_0 < … < β_{R−1} = 1``: run parallel tempering with ``R``
        replicas per chain (each with the chosen kernel) and return the β = 1 replicas; see
        :func:`parallel_tempering`.  ``info`` then reports per-pair swap acceptance and replica
        round trips, ``sample_stats`` a per-draw ``swap_rate``.
    swap_interval : int
        Sweeps between replica-exchange rounds.
    adapt_ladder : bool
        During warm-up, respace the interior inverse temperatures toward equal swap acceptance
        (the recorded draws use the final, fixed ladder; ``info["betas"]`` reports it).
    executor : concurrent.futures.Executor, dask.distributed.Client or "dask", optional
        Run the chains in ``groups`` on this executor (``"dask"``: the current Dask client; needs
        ``pip install "pgmc[distributed]"``).  The starts of all chains are drawn here, each
        group continues its rows exactly, and the results are concatenated: the same numbers as
        a local run, bit for bit, for any number of groups or workers.  The model travels as
        its save file (JSON + arrays) when it has one.  Not with ``adapt_ladder`` (which couples
        the chains); user ``observables`` must be per chain (they always are: ``(chains, k)``).
    groups : int, optional
        Number of groups (default: one per worker).
    warn : bool
        Diagnose the run (rank-normalised split R-hat and bulk ESS of every recorded observable
        and, when states are kept, of every variable; :mod:`samplers.diagnostics`) and issue a
        :class:`samplers.ConvergenceWarning` naming the quantities with R-hat > 1.01 or bulk
        ESS < 100 and the remedy.  ``False`` skips the check.
    **options
        Options of the chosen kernel (a ``ValueError`` names any it does not take):

        * discrete Gibbs / Metropolis: ``evidence`` (``{variable: value}``, default
          ``model.evidence``), ``scan`` (``"systematic"`` or ``"random"``), ``blocks`` (lists of
          variables for ``"block_gibbs"``; default the colour classes of a ``smallest_last``
          colouring, a checkerboard on even lattices);
        * Swendsen–Wang, Wolff: ``evidence``; Wolff also ``clusters`` (cluster moves per step;
          see ``samplers/_cluster.py``);
        * layered models: ``evidence`` (``{visible index: value}``), ``include_hidden``
          (record every layer, not just the visible units);
        * continuous models: ``step_size``, ``n_leapfrog``, ``target_accept``,
          ``adapt_step_size``, ``jitter``, ``mass``, ``evidence`` (``{variable index: value}``)
          (see ``samplers/continuous.py``);
        * binary energy models (``MLPEnergy(domain="binary")``): ``evidence``;
        * denoising-autoencoder and GSN chains (``method="dae_chain"``, ``pgm.DAEChain``,
          ``pgm.GSN``): ``evidence``, ``include_hidden`` (see ``samplers/_dae.py``).

        ``evidence`` clamps units in every family (conditional sampling, inpainting): they
        keep their values and the chains sample the conditional of the others.

    Returns
    -------
    Samples

    Examples
    --------
    >>> import pgm, samplers
    >>> s = samplers.sample(pgm.Ising.grid(8, 8, beta=0.44), method="block_gibbs", chains=2,
    ...                     draws=100, seed=1, progress=False)
    >>> s.states.shape, s.observables["magnetization"].shape
    ((2, 100, 64), (2, 100))
    """
    kernel = find_kernel(model, method, **options)
    if tempering is not None:
        kernel = Tempered(kernel, tempering, swap_interval, adapt_ladder)
    elif swap_interval != 1 or adapt_ladder is not False:
        raise ValueError("swap_interval and adapt_ladder apply to tempered runs (pass tempering=betas)")
    if executor is None:
        if groups is not None:
            raise ValueError("groups applies to runs on an executor (pass executor=)")
        return run(kernel, chains=chains, draws=draws, warmup=warmup, thin=thin, seed=seed, init=init,
                   observables=observables, keep_states=keep_states, progress=progress, warn=warn)
    if adapt_ladder:
        raise ValueError("adapt_ladder respaces one ladder from every chain's swaps: it cannot run in "
                         "independent groups (drop executor= or adapt_ladder)")
    executor = _groups.resolve_executor(executor)
    chains, draws, warmup, thin, observables = run_settings(init, chains, draws, warmup, thin, observables)
    # every chain's start (states and streams) is drawn here, exactly as a local run draws it
    start = init if isinstance(init, ChainState) else kernel.to_user(kernel.init(chains, spawn_seeds(seed), init))
    ranges = _groups.split(chains, _groups.default_groups(executor) if groups is None else groups)
    shipped = _groups.ship_model(model)
    spec = (method, options, tempering, swap_interval, draws, warmup, thin, observables, keep_states)
    tasks = [(shipped, spec, _groups.state_to_arrays(_groups.select_chains(start, chains, a, b)))
             for a, b in ranges]
    parts = _groups.run_all(executor, _sample_group, tasks, "chains", ranges)
    samples = _groups.merge_samples(parts, chains, seed)
    if warn:
        diagnostics.warn_if_unconverged(samples, f"samplers.sample (method={kernel.method!r}, {len(parts)} groups)")
    return samples


def _sample_group(shipped, spec, start):
    """One group of chains, on a worker: continue ``start`` exactly as the local run would."""
    method, options, tempering, swap_interval, draws, warmup, thin, observables, keep_states = spec
    kernel = find_kernel(_groups.land_model(shipped), method, **options)
    if tempering is not None:
        kernel = Tempered(kernel, tempering, swap_interval, False)
    return run(kernel, draws=draws, warmup=warmup, thin=thin, init=_groups.state_from_arrays(start),
               observables=observables, keep_states=keep_states, progress=False, warn=False)


def parallel_tempering(model, betas, method="gibbs", chains=None, draws=1000, warmup=None,
                       swap_interval=1, seed=None, **kwargs):
    """Replica-exchange MCMC: ``samplers.sample(model, tempering=betas, ...)``.

    Parameters
    ----------
    model : discrete model accepted by :func:`samplers.sample`
    betas : array_like
        Increasing inverse temperatures in (0, 1], the last equal to 1
        (e.g. :func:`samplers.geometric_betas`).
    method : str
        Kernel run at every temperature (``"gibbs"``, ``"block_gibbs"``, ``"metropolis"``,
        ``"swendsen_wang"``, ``"wolff"``).
    **kwargs
        Passed to :func:`samplers.sample` (``thin``, ``evidence``, ``init``, ``observables``…).

    Returns
    -------
    Samples
        States of the β = 1 replicas; ``info["swap_acceptance"]`` (per neighbouring pair) and
        ``info["round_trips"]`` (per chain), ``sample_stats["swap_rate"]``.

    Examples
    --------
    >>> import pgm, samplers
    >>> s = samplers.parallel_tempering(pgm.Ising.grid(6, 6, beta=0.6), samplers.geometric_betas(0.3, 4),
    ...                                 chains=2, draws=50, seed=0, progress=False)
    >>> len(s.info["swap_acceptance"])
    3
    """
    return sample(model, method=method, chains=chains, draws=draws, warmup=warmup, seed=seed,
                  tempering=betas, swap_interval=swap_interval, **kwargs)
