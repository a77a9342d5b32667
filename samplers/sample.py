"""The sampling driver: ``samplers.sample(model, method=...)`` (SPEC.md §2, MCMC).

Runs many chains of a compiled kernel — single-site Gibbs (systematic or random scan), block
Gibbs over the colour classes of a graph colouring (or user blocks), or single-site Metropolis —
first for ``warmup`` sweeps (discarded), then for ``draws × thin`` sweeps in chunks, recording
states and observables, and returns :class:`~samplers.results.Samples`.

Reproducibility: one ``seed`` → ``SeedSequence(seed).spawn(2)``: one child draws the initial
states, the other seeds one xoshiro256 stream per chain (``SeedSequence.spawn``).  Results are
bit-identical for any thread count, and continuing from ``Samples.final_state`` reproduces a
longer run exactly.
"""

import functools
import numbers
import sys
import time

import networkx as nx
import numpy as np

from pgm.bayesian import BayesianNetwork
from pgm.compiled import pairwise_binary_to_spin
from pgm.discrete import DiscreteModel
from pgm.errors import EvidenceError, ModelError, TooLargeError, UnknownVariableError
from pgm.spin import BoltzmannMachine, Ising, _PairwiseModel

from ._engines import FactorEngine, SpinEngine, SpinForm
from ._rng import make_rng_state
from .results import ChainState, Samples
from .tempering import TemperedRun, check_ladder, run_tempered

__all__ = ["sample", "METHODS", "CONTINUOUS_METHODS"]

METHODS = ("gibbs", "block_gibbs", "metropolis")
#: methods for continuous energy models (``samplers/continuous.py``)
CONTINUOUS_METHODS = ("hmc", "mala", "langevin", "mh")
SCANS = ("systematic", "random")
#: largest state array ``keep_states=True`` may allocate (bytes)
STATE_MEMORY_LIMIT = 8 * 2**30
_CHUNK_BYTES = 32 * 2**20


def _count(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


class _Target:
    """Variables, cardinalities, domain, evidence and graph of a model, uniformly."""

    def __init__(self, model, evidence):
        if isinstance(model, _PairwiseModel):
            self.variables = model.variables
            self.cards = model.cardinality_array
            self.domain = tuple(model.domain)
            self.evidence = model.check_evidence(model.evidence if evidence is None else evidence)
            self._make_graph = lambda: model.graph
        elif isinstance(model, (DiscreteModel, BayesianNetwork)):
            if isinstance(model, BayesianNetwork):
                model._require_discrete("Gibbs sampling")
            from pgm._validation import check_evidence

            self.variables = list(model.variables)
            self.cards = model.cardinality_array
            self.domain = None
            index = {v: i for i, v in enumerate(self.variables)}
            ev = check_evidence(model.evidence if evidence is None else evidence, index, self.cards)
            self.evidence = {index[v]: x for v, x in ev.items()}
            self._make_graph = lambda: nx.convert_node_labels_to_integers(
                model.moral_graph() if isinstance(model, BayesianNetwork) else _factor_graph(model),
                ordering="default")
        else:
            raise TypeError(
                f"samplers.sample needs a discrete model (Ising, Potts, BoltzmannMachine, "
                f"MarkovNetwork, FactorGraph, BayesianNetwork), got {type(model).__name__}"
            )
        self.n = len(self.variables)
        self.free = np.array([i for i in range(self.n) if i not in self.evidence], dtype=np.int64)

    @functools.cached_property
    def graph(self):
        """Interaction graph over variable indices (built on first use: block orders need it,
        single-site sweeps do not — a dense Boltzmann machine's graph costs more than a sweep)."""
        return self._make_graph()

    def user_value(self, i, idx):
        return self.domain[idx] if self.domain is not None else idx


def _factor_graph(model):
    g = nx.Graph()
    g.add_nodes_from(model.variables)
    for f in model.factors:
        s = f.scope
        g.add_edges_from((s[a], s[b]) for a in range(len(s)) for b in range(a + 1, len(s)))
    return g


def _colour_order(model, target):
    """Block-Gibbs order: colour classes of the free variables, one after another."""
    free = target.free
    shape = getattr(model, "shape", None)
    if shape is not None and isinstance(model, Ising) and all(k % 2 == 0 for k in shape):
        rows, cols = shape
        colour = (np.arange(rows)[:, None] + np.arange(cols)[None, :]).reshape(-1) % 2
        colours = colour[free]
    else:
        g = target.graph.subgraph(free.tolist())
        if nx.is_bipartite(g):
            cmap = nx.bipartite.color(g)
        else:
            cmap = nx.greedy_color(g, strategy="smallest_last")
        colours = np.array([cmap[int(i)] for i in free])
    return free[np.argsort(colours, kind="stable")]


def _user_blocks(blocks, target, model):
    index = {v: i for i, v in enumerate(target.variables)}
    seen = []
    for b, block in enumerate(blocks):
        idx = []
        for v in block:
            if v not in index:
                raise UnknownVariableError(f"block {b} names unknown variable {v!r}")
            i = index[v]
            if i in target.evidence:
                raise EvidenceError(f"block {b} contains observed variable {v!r}")
            idx.append(i)
        sub = target.graph.subgraph(idx)
        if sub.number_of_edges():
            u, w = next(iter(sub.edges))
            raise ModelError(
                f"block {b} is not conditionally independent: variables "
                f"{target.variables[u]!r} and {target.variables[w]!r} interact"
            )
        seen.extend(idx)
    if sorted(seen) != sorted(target.free.tolist()):
        raise ModelError("blocks must partition the unobserved variables (each exactly once)")
    return np.array(seen, dtype=np.int64)


def _initial_states(init, target, chains, rng, engine):
    n = target.n
    if init is None:
        x = np.empty((chains, n), dtype=np.int64)
        for i in range(n):
            x[:, i] = rng.integers(0, target.cards[i], size=chains)
        idx = x
    else:
        arr = np.asarray(init)
        if arr.ndim == 1:
            arr = np.broadcast_to(arr, (chains, n))
        if arr.shape != (chains, n):
            raise ModelError(f"init must have shape ({chains}, {n}) or ({n},), got {np.shape(init)}")
        if arr.dtype.kind not in "iu":
            raise TypeError(f"init must hold integers, got dtype {arr.dtype}")
        if target.domain is not None:
            ok = np.isin(arr, target.domain)
            if not ok.all():
                raise EvidenceError(f"init value {arr[~ok].flat[0]!r} is outside the domain {target.domain}")
            idx = np.searchsorted(np.asarray(target.domain), arr)
        else:
            bad = (arr < 0) | (arr >= target.cards[None, :])
            if bad.any():
                r, c = np.argwhere(bad)[0]
                raise EvidenceError(f"init value {arr[r, c]} of variable {target.variables[c]!r} is outside 0..{target.cards[c] - 1}")
            idx = arr.astype(np.int64)
        for i, v in target.evidence.items():
            if np.any(idx[:, i] != v):
                raise EvidenceError(f"init disagrees with the evidence on variable {target.variables[i]!r}")
        idx = np.array(idx, dtype=np.int64)
    for i, v in target.evidence.items():
        idx[:, i] = v
    user = np.asarray(target.domain)[idx] if target.domain is not None else idx
    return engine.to_internal(user)


class _Progress:
    def __init__(self, total, enabled):
        self.total, self.done = total, 0
        self.enabled = enabled and total > 0 and sys.stderr.isatty()
        self.t0 = time.perf_counter()

    def update(self, k, phase):
        self.done += k
        if self.enabled:
            frac = self.done / self.total
            bar = "#" * int(30 * frac)
            sys.stderr.write(f"\r{phase:>8} [{bar:<30}] {100 * frac:5.1f}%  {time.perf_counter() - self.t0:6.1f}s")
            sys.stderr.flush()

    def close(self):
        if self.enabled:
            sys.stderr.write("\n")


def run_settings(init, chains, draws, warmup, thin, observables):
    """Validated ``(chains, draws, warmup, thin, observables)`` with the documented defaults."""
    if isinstance(init, ChainState):
        chains = init.chains if chains is None else chains
    chains = _count(4 if chains is None else chains, "chains", 1)
    draws = _count(draws, "draws", 1)
    warmup = draws // 2 if warmup is None else _count(warmup, "warmup", 0)
    thin = _count(thin, "thin", 1)
    if observables is None:
        observables = {}
    if not isinstance(observables, dict) or not all(callable(f) for f in observables.values()):
        raise TypeError("observables must be a dict {name: callable}")
    return chains, draws, warmup, thin, observables


def _build_engine(model, target, method, scan, blocks):
    """The compiled engine and sweep order for ``method`` on ``model``."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {METHODS}")
    if scan not in SCANS:
        raise ValueError(f"unknown scan {scan!r}; expected one of {SCANS}")
    if method == "block_gibbs":
        if scan != "systematic":
            raise ValueError("block_gibbs visits blocks in sequence; scan='random' applies to 'gibbs' and 'metropolis'")
        order = _user_blocks(blocks, target, model) if blocks is not None else _colour_order(model, target)
    else:
        if blocks is not None:
            raise ValueError(f"blocks apply to method='block_gibbs', not {method!r}")
        order = target.free
    random_scan = scan == "random"
    spin_form = None
    if isinstance(model, (DiscreteModel, BayesianNetwork)) and method != "metropolis":
        converted = pairwise_binary_to_spin(*model.log_factors())
        spin_form = None if converted is None else SpinForm(*converted)
    if isinstance(model, (Ising, BoltzmannMachine)) and method != "metropolis":
        return SpinEngine(model, order, random_scan)
    elif spin_form is not None:
        return SpinEngine(spin_form, order, random_scan)
    else:
        return FactorEngine(model, order, random_scan, metropolis=method == "metropolis")


class _Prepared:
    """Engine, initial states and streams of ``chains`` fresh chains (used by AIS)."""

    def __init__(self, model, method, chains, seed, evidence):
        self.target = _Target(model, evidence)
        self.engine = _build_engine(model, self.target, method, "systematic", None)
        ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        init_ss, chain_ss, _ = ss.spawn(3)
        self.state = _initial_states(None, self.target, chains, np.random.default_rng(init_ss), self.engine)
        self.rng_state = make_rng_state(chain_ss, chains)

    def log_unnormalized(self, state):
        return self.engine.log_unnormalized(state)


def _is_continuous(model):
    """Continuous energy model (``samplers/continuous.py`` protocol)?"""
    family = getattr(model, "sampler_family", None)
    if family is not None:
        return family == "continuous"
    if isinstance(model, (_PairwiseModel, DiscreteModel, BayesianNetwork)):
        return False
    return all(hasattr(model, a) for a in ("dim", "energy", "grad_x"))


def _reject_options(kind, given):
    """``ValueError`` for options of the other model kind set to non-default values."""
    for name, (value, default) in given.items():
        if value is default or (default is not None and isinstance(value, type(default))
                                and value == default):
            continue
        raise ValueError(f"{name}={value!r} does not apply to {kind}; leave it at its default {default!r}")


def sample(model, method=None, chains=None, draws=1000, warmup=None, thin=1, seed=None,
           evidence=None, init=None, scan="systematic", blocks=None, observables=None,
           keep_states=True, progress=True, tempering=None, swap_interval=1, adapt_ladder=False,
           include_hidden=False, step_size=None, n_leapfrog=None, target_accept=None,
           adapt_step_size=True, jitter=None, mass=None):
    """Draw MCMC samples of a discrete or continuous model.

    Parameters
    ----------
    model : Ising, Potts, BoltzmannMachine, MarkovNetwork, FactorGraph, BayesianNetwork, a layered model, or a continuous energy model
        Continuous energy models (``dim``, ``energy``, ``grad_x``; e.g.
        :class:`pgm.GaussianEnergy`) are sampled by :func:`samplers.continuous.sample_continuous`.
    method : {"gibbs", "block_gibbs", "metropolis"} or {"hmc", "mala", "langevin", "mh"}
        Discrete models (default ``"gibbs"``): single-site heat-bath Gibbs; block Gibbs over
        colour classes (``blocks``); single-site Metropolis with a uniform proposal among the
        other states.  Continuous models (default ``"hmc"``, see
        :data:`CONTINUOUS_METHODS`): HMC, MALA, unadjusted Langevin, random-walk Metropolis.
    chains : int, default 4 (or the number in ``init`` when it is a ChainState)
    draws : int
        Recorded draws per chain.
    warmup : int, optional
        Sweeps discarded before recording (default ``draws // 2``; use 0 when continuing).
    thin : int
        Sweeps per recorded draw.
    seed : int, SeedSequence or None
    evidence : dict, optional
        ``{variable: value}`` clamped variables (default ``model.evidence``).
    init : array (chains, n_vars) or (n_vars,), ChainState, or None
        Initial states (uniformly random when ``None``).  A :class:`ChainState` (e.g.
        ``Samples.final_state``) continues those chains and their random streams exactly.
    scan : {"systematic", "random"}
        Site order of single-site methods.
    blocks : list of lists of variables, optional
        Block-Gibbs blocks (each conditionally independent given the others); default: colour
        classes of a ``smallest_last`` greedy colouring (a checkerboard on even lattices).
    observables : dict {name: callable}, optional
        Extra per-draw observables; each callable receives states ``(chains, k, n_vars)`` in the
        model's domain and returns ``(chains, k)``.  ``energy`` (and ``magnetization`` for spin
        models, ``mean_activation`` for Boltzmann machines) are always recorded.
    keep_states : bool
        Store every recorded state (``Samples.states``); set ``False`` for long runs on large
        models and record observables only.
    progress : bool
        Progress bar on a terminal's stderr.
    tempering : array_like, optional
        Inverse temperatures ``0 < β_0 < … < β_{R−1} = 1``: run parallel tempering with ``R``
        replicas per chain (each with the chosen kernel) and return the β = 1 replicas; see
        :func:`samplers.parallel_tempering`.  ``info`` then reports per-pair swap acceptance
        and replica round trips, ``sample_stats`` a per-draw ``swap_rate``.
    swap_interval : int
        Sweeps between replica-exchange rounds.
    adapt_ladder : bool
        During warm-up, respace the interior inverse temperatures toward equal swap acceptance
        (the recorded draws use the final, fixed ladder; ``info["betas"]`` reports it).
    include_hidden : bool
        Layered models (RBM, DBM, DBN, ...; see ``samplers/_layered.py``) only: record every
        layer, not just the visible units.
    step_size, n_leapfrog, target_accept, adapt_step_size, jitter, mass :
        Continuous models only (``ValueError`` for discrete ones unless left at their
        defaults): per-chain step sizes (initial value of the warm-up adaptation, or fixed with
        ``adapt_step_size=False``), HMC leapfrog steps (default 10), dual-averaging target
        acceptance, step-size jitter, diagonal HMC mass; see ``samplers/continuous.py``.
        ``evidence``, ``scan``, ``blocks``, ``tempering``, ``swap_interval``, ``adapt_ladder``
        and ``include_hidden`` apply to discrete models only.

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
    continuous_options = {"step_size": (step_size, None), "n_leapfrog": (n_leapfrog, None),
                          "target_accept": (target_accept, None),
                          "adapt_step_size": (adapt_step_size, True), "jitter": (jitter, None),
                          "mass": (mass, None)}
    if _is_continuous(model):
        from .continuous import sample_continuous  # HMC / MALA / unadjusted Langevin / MH

        if method in METHODS:
            raise ValueError(f"method {method!r} samples discrete models; {type(model).__name__} is "
                             f"continuous: use one of {CONTINUOUS_METHODS}")
        _reject_options("continuous models", {
            "evidence": (evidence, None), "scan": (scan, "systematic"), "blocks": (blocks, None),
            "tempering": (tempering, None), "swap_interval": (swap_interval, 1),
            "adapt_ladder": (adapt_ladder, False), "include_hidden": (include_hidden, False)})
        return sample_continuous(model, method="hmc" if method is None else method, chains=chains,
                                 draws=draws, warmup=warmup, thin=thin, seed=seed, init=init,
                                 observables=observables, keep_states=keep_states,
                                 progress=progress, **{k: v for k, (v, _) in continuous_options.items()})
    _reject_options(f"the discrete model {type(model).__name__}", continuous_options)
    if method is None:
        method = "gibbs"
    elif method in CONTINUOUS_METHODS:
        raise ValueError(f"unknown method {method!r} for the discrete model {type(model).__name__} "
                         f"({method!r} samples continuous energy models); expected one of {METHODS}")
    if getattr(model, "sampler_family", None) == "binary_energy":
        from .energy_gibbs import sample_binary_energy  # e.g. MLPEnergy over {0, 1}^d

        return sample_binary_energy(model, method=method, chains=chains, draws=draws, warmup=warmup,
                                    thin=thin, seed=seed, init=init, observables=observables,
                                    keep_states=keep_states, progress=progress)
    if getattr(model, "sampler_family", None) == "layered":
        from ._layered import sample_layered  # RBM / DBM / DBN family: BLAS block Gibbs

        return sample_layered(model, method=method, chains=chains, draws=draws, warmup=warmup,
                              thin=thin, seed=seed, evidence=evidence, init=init, scan=scan,
                              blocks=blocks, observables=observables, keep_states=keep_states,
                              progress=progress, tempering=tempering, swap_interval=swap_interval,
                              include_hidden=include_hidden)
    chains, draws, warmup, thin, observables = run_settings(init, chains, draws, warmup, thin,
                                                            observables)
    target = _Target(model, evidence)
    engine = _build_engine(model, target, method, scan, blocks)
    n = target.n
    itemsize = np.dtype(np.int8 if isinstance(engine, SpinEngine) else np.int32).itemsize
    if keep_states and chains * draws * n * itemsize > STATE_MEMORY_LIMIT:
        raise TooLargeError(
            f"keeping {chains}×{draws}×{n} states needs {chains * draws * n * itemsize / 2**30:.1f} GiB; "
            "pass keep_states=False and record observables"
        )
    ladder = None if tempering is None else check_ladder(tempering)
    swap_interval = _count(swap_interval, "swap_interval", 1)
    replicas = 1 if ladder is None else ladder.size
    rows = chains * replicas
    swap_rng = None
    if isinstance(init, ChainState):
        if init.x.shape != (rows, n):
            raise ModelError(f"ChainState has shape {init.x.shape}, expected ({rows}, {n})")
        if (ladder is not None) != (init.swap_rng_state is not None):
            raise ModelError("a tempered run continues only from a tempered ChainState (and vice versa)")
        state = _initial_states(init.x, target, rows, None, engine)
        rng_state = np.ascontiguousarray(init.rng_state, dtype=np.uint64).copy()
        if ladder is not None:
            swap_rng = np.ascontiguousarray(init.swap_rng_state, dtype=np.uint64).copy()
    else:
        ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        init_ss, chain_ss, swap_ss = ss.spawn(3)
        if init is not None and np.ndim(init) == 2 and replicas > 1:
            init = np.repeat(np.asarray(init), replicas, axis=0)
        state = _initial_states(init, target, rows, np.random.default_rng(init_ss), engine)
        rng_state = make_rng_state(chain_ss, rows)
        if ladder is not None:
            swap_rng = make_rng_state(swap_ss, chains)

    need_states = keep_states or bool(observables)
    per_chunk = max(1, _CHUNK_BYTES // max(1, chains * n * itemsize))
    bar = _Progress(warmup + draws * thin * swap_interval, progress)
    t0 = time.perf_counter()
    if ladder is not None:
        tr = TemperedRun(ladder, chains, swap_rng, swap_interval)
        kept, obs_out, stats_out = run_tempered(engine, state, rng_state, tr, warmup, draws, thin,
                                                keep_states, observables, bar, adapt=adapt_ladder)
        bar.close()
        info = _info(method, scan, chains, draws, warmup, thin, seed, target, engine, t0, 0.0)
        info.update(tr.info())
        final = ChainState(engine.to_user(state), rng_state, swap_rng_state=tr.swap_rng)
        return Samples(kept, obs_out, stats_out, target.variables, final, info)
    done = 0
    while done < warmup:
        k = min(warmup - done, per_chunk * thin)
        engine.run(state, rng_state, k, 1, record=False, keep=False)
        done += k
        bar.update(k, "warmup")
    t_warm = time.perf_counter() - t0
    kept = np.empty((chains, draws, n), dtype=np.int8 if isinstance(engine, SpinEngine) else np.int32) \
        if keep_states else None
    obs_out, stats_out = {}, {}
    done = 0
    while done < draws:
        k = min(draws - done, per_chunk)
        states, obs, stats = engine.run(state, rng_state, k, thin, record=True, keep=need_states)
        for name, f in observables.items():
            val = np.asarray(f(states))
            if val.shape != (chains, k):
                raise ModelError(f"observable {name!r} returned shape {val.shape}, expected ({chains}, {k})")
            obs[name] = val
        if keep_states:
            kept[:, done:done + k] = states
        for dst, src in ((obs_out, obs), (stats_out, stats)):
            for name, val in src.items():
                if name not in dst:
                    dst[name] = np.empty((chains, draws), dtype=np.float64)
                dst[name][:, done:done + k] = val
        done += k
        bar.update(k * thin, "sampling")
    bar.close()
    final = ChainState(engine.to_user(state), rng_state)
    info = _info(method, scan, chains, draws, warmup, thin, seed, target, engine, t0, t_warm)
    return Samples(kept, obs_out, stats_out, target.variables, final, info)


def _info(method, scan, chains, draws, warmup, thin, seed, target, engine, t0, t_warm):
    return {"method": method, "scan": scan, "chains": chains, "draws": draws, "warmup": warmup,
            "thin": thin, "seed": seed if isinstance(seed, (int, type(None))) else None,
            "domain": target.domain, "cardinalities": target.cards.tolist(),
            "evidence": {target.variables[i]: target.user_value(i, v) for i, v in target.evidence.items()},
            "seconds_warmup": t_warm, "seconds_sampling": time.perf_counter() - t0 - t_warm,
            "engine": type(engine).__name__}
