"""MCMC for continuous energy models: HMC, MALA, unadjusted Langevin and random-walk Metropolis
(SPEC.md §2, MCMC; reached through :func:`samplers.sample`).

Model protocol
--------------
A model is *continuous* when ``model.sampler_family == "continuous"`` (or, without that
attribute, when it has ``dim``, ``energy`` and ``grad_x`` and is not a discrete model).  It
provides

* ``dim`` — the number of real variables ``d``;
* ``energy(x)`` — ``E(x)`` of shape ``(n,)`` for ``x`` of shape ``(n, d)``;
* ``grad_x(x)`` — ``∇ₓE(x)`` of shape ``(n, d)``;
* optionally ``energy_and_grad(x)`` — ``(E, ∇ₓE)`` in one pass (used when present: HMC and MALA
  need both at every point);
* optionally ``initial_points(n, rng)`` — default initial states (else ``N(0, I)`` draws).

The target density is ``p(x) ∝ exp(−E(x))``.  Every step makes one batched call for all
chains; the model only ever sees finite points.

Methods
-------
``"hmc"``
    Hamiltonian Monte Carlo with ``n_leapfrog`` leapfrog steps (default 10), momentum
    ``p ~ N(0, M)`` with ``M = diag(mass)`` (identity by default).  The step size of each
    transition is jittered, ``ε(1 + j(2v − 1))`` with ``v`` uniform (``j = jitter``, default
    0.5): with a fixed ``εL`` the trajectories of a strongly anisotropic target can be nearly
    periodic in some direction (on the 10-D Gaussian of condition number 100 in the tests,
    the smallest ESS with jitter 0.5 is 25–100 times that with jitter 0).
``"mala"``
    Metropolis-adjusted Langevin, ``x' = x − h∇E(x) + √(2h) z`` (the step size is ``h``).
``"langevin"``
    The same proposal without accept/reject (ULA): biased for any ``h > 0`` (on
    ``E = x²/2`` its stationary variance is ``1/(1 − h/2)``).  Without a user ``step_size`` it
    adapts ``h`` during warm-up toward the MALA acceptance 0.574, using the MALA probability
    computed but not applied; a user ``step_size`` is used as given (no adaptation).
``"mh"``
    Gaussian random-walk Metropolis ``x' = x + εz``; ``ε`` (the proposal scale) adapts like a
    step size.

Step sizes
----------
Per chain.  The initial value is the user's ``step_size``, else the one stored in an ``init``
:class:`~samplers.results.ChainState`, else Hoffman & Gelman's (2014, Alg. 4) "find reasonable
ε" search (doubling/halving until one transition's acceptance probability crosses ½).  With
``adapt_step_size=True`` and ``warmup > 0`` each chain then runs dual averaging (Alg. 5:
``μ = log 10ε₀``, ``γ = 0.05``, ``t₀ = 10``, ``κ = 0.75``) toward ``target_accept`` (defaults:
hmc 0.8, mala and langevin 0.574, mh 0.234); after warm-up the step size is fixed to the
averaged iterate ``ε̄``.  With ``adapt_step_size=False`` the initial value is used throughout.

Randomness and resume
---------------------
``SeedSequence(seed).spawn(3)`` → (initial states, one xoshiro256 stream per chain, unused).
Every iteration draws ``d`` normals and 2 uniforms (jitter, accept) from the chain's own stream
(``samplers/_continuous_kernels.py``), so a chain's trajectory depends on its own stream only
(bit for bit whatever the number of chains when the model computes each row independently of
the batch it is in — BLAS products may not), and results are bit-identical for any number of
numba threads.  ``Samples.final_state`` holds
the states, the streams and the step sizes: ``sample(..., init=final_state, warmup=0)`` after a
run with ``warmup=W`` continues it exactly (energies are recomputed from the states, in a call
of the same shape).  Adaptation is not resumable: split a run after its warm-up.

Sample statistics (``Samples.sample_stats``, ArviZ names, arrays (chain, draw))
------------------------------------------------------------------------------------
``lp`` ``= −E(x)``; ``acceptance_rate`` — ``min(1, exp(−ΔH))`` of the transition that produced
the draw (0 if it diverged; for ULA the would-be MALA value); ``step_size`` — the (jittered)
step used; ``diverging``; HMC only: ``energy`` — the Hamiltonian ``E(q) + ½pᵀM⁻¹p`` of the
recorded ``(q, p)`` pair of that transition (its end point if accepted, else its start with the
freshly drawn momentum), for ``arviz.bfmi``; ``n_steps`` — leapfrog steps taken.  With
``thin > 1`` the statistics are those of the last transition before each draw.

Divergences (see ``samplers/_continuous_moves.py``) are rejected and recorded; a NaN energy at
a finite point, or an output of the wrong shape, raises :class:`pgm.errors.SamplingError`
naming the iteration (``"warm-up iteration i"`` or ``"draw j"``, 0-based) and the chain.
"""

import functools
import numbers
import time

import numpy as np

from pgm._validation import as_float_array
from pgm.errors import ModelError, TooLargeError

from ._continuous_kernels import draw_normal_uniform
from ._continuous_moves import Evaluator, hmc, initial_step_size, langevin, mh
from ._rng import make_rng_state
from .results import ChainState, Samples
from .sample import CONTINUOUS_METHODS, STATE_MEMORY_LIMIT, _Progress, run_settings

__all__ = ["sample_continuous", "CONTINUOUS_METHODS", "DualAveraging"]

TARGET_ACCEPT = {"hmc": 0.8, "mala": 0.574, "langevin": 0.574, "mh": 0.234}
N_LEAPFROG = 10
JITTER = {"hmc": 0.5}
_CHUNK_BYTES = 32 * 2**20


class DualAveraging:
    """Per-chain dual averaging of ``log ε`` (Hoffman & Gelman 2014, Alg. 5).

    Parameters
    ----------
    eps0 : ndarray (chains,)
        Initial step sizes; ``μ = log(10 ε₀)``.
    target : float
        Target acceptance probability ``δ``.

    Examples
    --------
    >>> import numpy as np
    >>> da = DualAveraging(np.array([1.0, 1.0]), target=0.8)
    >>> eps = da.update(np.array([1.0, 0.0]))   # accepted → larger, rejected → smaller step
    >>> bool(eps[0] > eps[1]), da.final().shape
    (True, (2,))
    """

    gamma, t0, kappa = 0.05, 10.0, 0.75

    def __init__(self, eps0, target):
        self.mu = np.log(10.0 * eps0)
        self.target = target
        self.m = 0
        self.h_bar = np.zeros_like(eps0)
        self.log_eps_bar = np.zeros_like(eps0)

    def update(self, accept_prob):
        """Feed one transition's acceptance probabilities; returns the next step sizes."""
        self.m += 1
        w = 1.0 / (self.m + self.t0)
        self.h_bar = (1.0 - w) * self.h_bar + w * (self.target - accept_prob)
        log_eps = self.mu - np.sqrt(self.m) / self.gamma * self.h_bar
        k = self.m ** -self.kappa
        self.log_eps_bar = k * log_eps + (1.0 - k) * self.log_eps_bar
        return np.exp(log_eps)

    def final(self):
        """The averaged step sizes ``ε̄`` used after warm-up."""
        return np.exp(self.log_eps_bar)


# ---------------------------------------------------------------------------- validation
def _positive(value, name, chains):
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a positive number or one per chain, got {value!r}") from None
    if arr.ndim == 0:
        arr = np.full(chains, float(arr))
    if arr.shape != (chains,):
        raise ValueError(f"{name} must be a scalar or have shape ({chains},), got shape {arr.shape}")
    bad = ~(np.isfinite(arr) & (arr > 0))
    if bad.any():
        raise ValueError(f"{name} must be finite and > 0, got {arr[bad][0]!r} (chain {int(np.argmax(bad))})")
    return arr


def _real(value, name, lo, hi, lo_open=True):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    ok = (lo < value if lo_open else lo <= value) and value < hi
    if not ok:
        raise ValueError(f"{name} must lie in {'(' if lo_open else '['}{lo}, {hi}), got {value!r}")
    return float(value)


def _dim(model):
    d = getattr(model, "dim", None)
    if isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 1:
        raise ModelError(f"{type(model).__name__}.dim must be a positive integer, got {d!r}")
    return int(d)


def _initial_points(model, init, chains, d, rng):
    if init is None:
        make = getattr(model, "initial_points", None)
        x = make(chains, rng) if make is not None else rng.standard_normal((chains, d))
        what = f"{type(model).__name__}.initial_points"
    else:
        x, what = init, "init"
    arr = np.array(as_float_array(x, what))          # a copy: the chains' own states
    if arr.ndim == 1 and arr.shape == (d,):
        arr = np.repeat(arr[None, :], chains, axis=0)
    if arr.shape != (chains, d):
        raise ModelError(f"{what} must have shape ({chains}, {d}) or ({d},), got {arr.shape}")
    if not np.isfinite(arr).all():
        r, c = np.argwhere(~np.isfinite(arr))[0]
        raise ModelError(f"{what} must be finite, found {arr[r, c]!r} (chain {r}, variable {c})")
    return arr


def _check_start(x, E, G):
    for bad, what in ((E == np.inf, "energy +inf (zero density)"),
                      (None if G is None else ~np.isfinite(G).all(axis=1), "a non-finite gradient")):
        if bad is not None and bad.any():
            c = int(np.flatnonzero(bad)[0])
            raise ModelError(f"the initial state of chain {c} has {what}: {x[c].tolist()!r}")


# ---------------------------------------------------------------------------- driver
def sample_continuous(model, method="hmc", chains=None, draws=1000, warmup=None, thin=1, seed=None,
                      init=None, observables=None, keep_states=True, progress=True, step_size=None,
                      n_leapfrog=None, target_accept=None, adapt_step_size=True, jitter=None,
                      mass=None):
    """MCMC draws of ``p(x) ∝ exp(−E(x))`` for a continuous energy model.

    Called by :func:`samplers.sample` for continuous models (see the module docstring for the
    protocol, the algorithms and the statistics).

    Parameters
    ----------
    model : continuous energy model
    method : {"hmc", "mala", "langevin", "mh"}
    chains, draws, warmup, thin, seed, observables, keep_states, progress :
        As in :func:`samplers.sample`; ``observables`` receive states ``(chains, k, dim)``.
    init : array (chains, dim) or (dim,), ChainState, or None
        Initial states (default ``model.initial_points(chains, rng)`` or ``N(0, I)`` draws);
        a :class:`ChainState` continues its chains, streams and step sizes exactly.
    step_size : float or array (chains,), optional
        Initial (``adapt_step_size=True``) or fixed step size: leapfrog ``ε`` (hmc), ``h``
        (mala, langevin), proposal standard deviation (mh).
    n_leapfrog : int, default 10
        Leapfrog steps per HMC transition.
    target_accept : float in (0, 1), optional
        Dual-averaging target (hmc 0.8, mala/langevin 0.574, mh 0.234).
    adapt_step_size : bool
        Adapt per-chain step sizes during warm-up.
    jitter : float in [0, 1), optional
        Per-transition step-size jitter (default 0.5 for hmc, 0 otherwise).
    mass : array (dim,), optional
        Diagonal HMC mass matrix (identity by default).

    Returns
    -------
    Samples
        ``states`` (chain, draw, dim) float64; ``info`` adds ``step_size`` (final, per chain),
        ``initial_step_size``, ``target_accept``, ``n_grad_evals`` / ``n_energy_evals``
        (rows evaluated in the whole run) and their ``*_sampling`` parts (after warm-up), for
        ESS per gradient evaluation, and ``n_divergent`` (divergent transitions after warm-up).

    Examples
    --------
    >>> import pgm, samplers
    >>> g = pgm.GaussianEnergy([0.0, 1.0], [[1.0, 0.5], [0.5, 2.0]])
    >>> s = samplers.sample(g, method="hmc", chains=2, draws=50, warmup=50, seed=0, progress=False)
    >>> s.states.shape, sorted(s.sample_stats)
    ((2, 50, 2), ['acceptance_rate', 'diverging', 'energy', 'lp', 'n_steps', 'step_size'])
    >>> s.final_state.step_size.shape
    (2,)
    """
    if method not in CONTINUOUS_METHODS:
        raise ValueError(f"unknown method {method!r} for the continuous model {type(model).__name__}; "
                         f"expected one of {CONTINUOUS_METHODS}")
    chains, draws, warmup, thin, observables = run_settings(init, chains, draws, warmup, thin,
                                                            observables)
    d = _dim(model)
    if not isinstance(adapt_step_size, bool):
        raise TypeError(f"adapt_step_size must be True or False, got {adapt_step_size!r}")
    target = TARGET_ACCEPT[method] if target_accept is None else _real(target_accept, "target_accept", 0, 1)
    jitter = JITTER.get(method, 0.0) if jitter is None else _real(jitter, "jitter", 0, 1, lo_open=False)
    if method != "hmc":
        for name, val in (("n_leapfrog", n_leapfrog), ("mass", mass)):
            if val is not None:
                raise ValueError(f"{name} applies to method='hmc', not {method!r}")
    if n_leapfrog is None:
        n_leapfrog = N_LEAPFROG
    if isinstance(n_leapfrog, bool) or not isinstance(n_leapfrog, numbers.Integral) or n_leapfrog < 1:
        raise ValueError(f"n_leapfrog must be an integer >= 1, got {n_leapfrog!r}")
    inv_mass = sqrt_mass = 1.0
    if mass is not None:
        m = _positive(mass, "mass", d)
        inv_mass, sqrt_mass = 1.0 / m, np.sqrt(m)
    user_eps = None if step_size is None else _positive(step_size, "step_size", chains)
    if keep_states and chains * draws * d * 8 > STATE_MEMORY_LIMIT:
        raise TooLargeError(f"keeping {chains}×{draws}×{d} states needs "
                            f"{chains * draws * d * 8 / 2**30:.1f} GiB; pass keep_states=False")

    saved_eps = None
    if isinstance(init, ChainState):
        if init.swap_rng_state is not None:
            raise ModelError("a tempered ChainState can not continue a continuous sampler")
        if init.rng_state.shape != (chains, 4):
            raise ModelError(f"ChainState rng_state has shape {init.rng_state.shape}, expected ({chains}, 4)")
        x = _initial_points(model, init.x, chains, d, None)
        rng_state = np.ascontiguousarray(init.rng_state, dtype=np.uint64).copy()
        if init.step_size is not None:
            saved_eps = _positive(init.step_size, "ChainState.step_size", chains)
    else:
        ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        init_ss, chain_ss, _ = ss.spawn(3)
        x = _initial_points(model, init, chains, d, np.random.default_rng(init_ss))
        rng_state = make_rng_state(chain_ss, chains)

    ev = Evaluator(model, need_grad=method != "mh")
    if method == "hmc":
        move = functools.partial(hmc, ev, n_leapfrog=int(n_leapfrog), inv_mass=inv_mass, sqrt_mass=sqrt_mass)
    elif method == "mh":
        move = functools.partial(mh, ev)
    else:
        move = functools.partial(langevin, ev, adjust=method == "mala")

    def step(x, E, G, eps):
        z, u = draw_normal_uniform(rng_state, d, 2)
        used = eps * (1.0 + jitter * (2.0 * u[:, 0] - 1.0)) if jitter else eps
        return move(x, E, G, used, z, u[:, 1]), used

    t0 = time.perf_counter()
    E, G = ev(x)
    _check_start(x, E, G)
    if user_eps is not None:
        eps = user_eps
    elif saved_eps is not None:
        eps = saved_eps
    else:
        ev.where = "initial step-size search"
        z, _ = draw_normal_uniform(rng_state, d, 2)
        one_step = functools.partial(hmc, ev, n_leapfrog=1, inv_mass=inv_mass, sqrt_mass=sqrt_mass) \
            if method == "hmc" else move
        eps = initial_step_size(one_step, x, E, G, z)
    eps0 = eps
    adapt = adapt_step_size and warmup > 0 and not (method == "langevin" and user_eps is not None)
    da = DualAveraging(eps, target) if adapt else None

    bar = _Progress(warmup + draws * thin, progress)
    for i in range(warmup):
        ev.where = f"warm-up iteration {i}"
        mv, _ = step(x, E, G, eps)
        x, E, G = mv.x, mv.E, mv.G
        if da is not None:
            eps = da.update(mv.accept_prob)
        if (i + 1) % 100 == 0 or i + 1 == warmup:
            bar.update(100 if (i + 1) % 100 == 0 else warmup % 100, "warmup")
    if da is not None:
        eps = da.final()
    t_warm = time.perf_counter() - t0
    evals_warm = (ev.n_grad, ev.n_energy)

    kept = np.empty((chains, draws, d)) if keep_states else None
    names = ["lp", "acceptance_rate", "step_size", "diverging"] + (["energy", "n_steps"] if method == "hmc" else [])
    dtypes = {"diverging": bool, "n_steps": np.int64}
    stats = {k: np.empty((chains, draws), dtype=dtypes.get(k, np.float64)) for k in names}
    obs_out = {k: np.empty((chains, draws)) for k in observables}
    per_chunk = max(1, _CHUNK_BYTES // (chains * d * 8))
    buf = None
    for j in range(draws):
        ev.where = f"draw {j}"
        for _ in range(thin):
            mv, used = step(x, E, G, eps)
            x, E, G = mv.x, mv.E, mv.G
        for k, v in (("lp", -E), ("acceptance_rate", mv.accept_prob), ("step_size", used),
                     ("diverging", mv.diverging), ("energy", mv.hamiltonian), ("n_steps", mv.n_steps)):
            if k in stats:
                stats[k][:, j] = v
        start = j - j % per_chunk
        k = min(per_chunk, draws - start)
        if keep_states:
            kept[:, j] = x
        elif observables:
            if buf is None:
                buf = np.empty((chains, per_chunk, d))
            buf[:, j - start] = x
        if observables and j - start == k - 1:
            block = kept[:, start:start + k] if keep_states else buf[:, :k]
            for name, f in observables.items():
                val = np.asarray(f(block))
                if val.shape != (chains, k):
                    raise ModelError(f"observable {name!r} returned shape {val.shape}, expected ({chains}, {k})")
                obs_out[name][:, start:start + k] = val
        if (j + 1) % 100 == 0 or j + 1 == draws:
            bar.update(thin * (100 if (j + 1) % 100 == 0 else draws % 100), "sampling")
    bar.close()

    info = {"method": method, "state_space": "continuous", "model": type(model).__name__,
            "chains": chains, "draws": draws, "warmup": warmup, "thin": thin,
            "seed": seed if isinstance(seed, (int, type(None))) else None, "domain": None,
            "step_size": eps.tolist(), "initial_step_size": eps0.tolist(),
            "adapt_step_size": da is not None, "target_accept": target, "jitter": jitter,
            "n_leapfrog": int(n_leapfrog) if method == "hmc" else None,
            "n_grad_evals": ev.n_grad, "n_energy_evals": ev.n_energy,
            "n_grad_evals_sampling": ev.n_grad - evals_warm[0],
            "n_energy_evals_sampling": ev.n_energy - evals_warm[1],
            "n_divergent": int(stats["diverging"].sum()),
            "seconds_warmup": t_warm, "seconds_sampling": time.perf_counter() - t0 - t_warm}
    final = ChainState(x, rng_state, step_size=eps)
    return Samples(kept, obs_out, stats, list(range(d)), final, info)
