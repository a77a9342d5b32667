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
The driver's ``SeedSequence(seed).spawn(3)`` → (initial states, one xoshiro256 stream per chain,
unused).
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
from typing import NamedTuple, Optional

import numpy as np

from pgm.validation import as_float_array
from pgm.bayesian import BayesianNetwork
from pgm.discrete import DiscreteModel
from pgm.errors import ModelError
from pgm.spin import PairwiseModel

from ._continuous_kernels import draw_normal_uniform
from ._clamp import apply, unit_evidence
from ._continuous_moves import Evaluator, hmc, initial_step_size, langevin, mh
from ._kernel import Kernel, check_streams, register
from ._rng import make_rng_state
from .results import ChainState

__all__ = ["ContinuousMCMC", "ContinuousState", "ContinuousInfo", "CONTINUOUS_METHODS",
           "DualAveraging", "is_continuous"]

CONTINUOUS_METHODS = ("hmc", "mala", "langevin", "mh")
TARGET_ACCEPT = {"hmc": 0.8, "mala": 0.574, "langevin": 0.574, "mh": 0.234}
N_LEAPFROG = 10
JITTER = {"hmc": 0.5}


def is_continuous(model):
    """A continuous energy model (see the protocol above)?"""
    family = getattr(model, "sampler_family", None)
    if family is not None:
        return family == "continuous"
    return not isinstance(model, (PairwiseModel, DiscreteModel, BayesianNetwork)) and \
        all(hasattr(model, a) for a in ("dim", "energy", "grad_x"))


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


# ---------------------------------------------------------------------------- the kernel
class ContinuousState(NamedTuple):
    """Chains of a continuous sampler: positions ``x`` (chains, d), their energies and gradients
    (``None`` for MH), per-chain step sizes, xoshiro256 streams, and the dual-averaging state
    while the step sizes adapt (else None)."""

    x: np.ndarray
    energy: np.ndarray
    grad: Optional[np.ndarray]
    step_size: np.ndarray
    rng: np.ndarray
    adaptation: Optional[DualAveraging] = None


class ContinuousInfo(NamedTuple):
    """Per-draw statistics (chains, draws) of the transition before each draw (see the module
    docstring; ``energy`` is the HMC Hamiltonian, and it and ``n_steps`` are HMC only)."""

    states: Optional[np.ndarray]
    lp: np.ndarray
    acceptance_rate: np.ndarray
    step_size: np.ndarray
    diverging: np.ndarray
    energy: Optional[np.ndarray] = None
    n_steps: Optional[np.ndarray] = None


@register
class ContinuousMCMC(Kernel):
    """HMC, MALA, unadjusted Langevin or random-walk Metropolis on a continuous energy model
    (see the module docstring for the protocol, the algorithms and the statistics).

    Options: ``step_size`` (float or one per chain: initial value of the warm-up adaptation, or
    fixed with ``adapt_step_size=False``; leapfrog ``ε`` (hmc), ``h`` (mala, langevin), proposal
    standard deviation (mh)), ``n_leapfrog`` (HMC, default 10), ``target_accept`` (dual-averaging
    target: hmc 0.8, mala/langevin 0.574, mh 0.234), ``adapt_step_size`` (default True),
    ``jitter`` (in [0, 1): per-transition step-size jitter, default 0.5 for hmc, 0 otherwise),
    ``mass`` (diagonal HMC mass, identity by default), ``evidence`` (``{variable index: value}``:
    those variables are clamped — no momentum, noise or force on them — so the chains sample
    the conditional of the free variables; inpainting).  ``init`` may be ``(chains, dim)`` or
    ``(dim,)`` (default ``model.initial_points(chains, rng)`` or ``N(0, I)`` draws).

    ``Samples.info`` adds ``step_size`` (final, per chain), ``initial_step_size``,
    ``target_accept``, ``n_grad_evals`` / ``n_energy_evals`` (rows evaluated in the whole run)
    and their ``*_sampling`` parts (after warm-up), for ESS per gradient evaluation, and
    ``n_divergent`` (divergent transitions after warm-up).

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

    name = "continuous"
    family = "continuous energy models"
    methods = CONTINUOUS_METHODS
    options = ("step_size", "n_leapfrog", "target_accept", "adapt_step_size", "jitter", "mass", "evidence")
    sample_stats = ("lp", "acceptance_rate", "step_size", "diverging", "energy", "n_steps")
    chunk_steps = 100

    @classmethod
    def accepts(cls, model):
        return is_continuous(model)

    def __init__(self, model, method, step_size=None, n_leapfrog=None, target_accept=None,
                 adapt_step_size=True, jitter=None, mass=None, evidence=None):
        super().__init__(model, method)
        self.dim = d = _dim(model)
        self.clamp = unit_evidence(evidence, d, binary=False, what="variable")
        self.free = None
        if self.clamp:
            self.free = np.ones(d)
            self.free[list(self.clamp)] = 0.0
        if not isinstance(adapt_step_size, bool):
            raise TypeError(f"adapt_step_size must be True or False, got {adapt_step_size!r}")
        self.target = TARGET_ACCEPT[method] if target_accept is None else \
            _real(target_accept, "target_accept", 0, 1)
        self.jitter = JITTER.get(method, 0.0) if jitter is None else _real(jitter, "jitter", 0, 1, lo_open=False)
        if method != "hmc":
            for name, val in (("n_leapfrog", n_leapfrog), ("mass", mass)):
                if val is not None:
                    raise ValueError(f"{name} applies to method='hmc', not {method!r}")
        if n_leapfrog is None:
            n_leapfrog = N_LEAPFROG
        if isinstance(n_leapfrog, bool) or not isinstance(n_leapfrog, numbers.Integral) or n_leapfrog < 1:
            raise ValueError(f"n_leapfrog must be an integer >= 1, got {n_leapfrog!r}")
        self.n_leapfrog = int(n_leapfrog)
        inv_mass = sqrt_mass = 1.0
        if mass is not None:
            m = _positive(mass, "mass", d)
            inv_mass, sqrt_mass = 1.0 / m, np.sqrt(m)
        self.user_step_size = step_size
        self.adapt = adapt_step_size and not (method == "langevin" and step_size is not None)
        self.ev = ev = Evaluator(model, need_grad=method != "mh", free=self.free)
        if method == "hmc":
            self.move = functools.partial(hmc, ev, n_leapfrog=self.n_leapfrog, inv_mass=inv_mass,
                                          sqrt_mass=sqrt_mass)
            self.search_move = functools.partial(hmc, ev, n_leapfrog=1, inv_mass=inv_mass,
                                                 sqrt_mass=sqrt_mass)
        elif method == "mh":
            self.move = self.search_move = functools.partial(mh, ev)
        else:
            self.move = self.search_move = functools.partial(langevin, ev, adjust=method == "mala")
        self.variables = list(range(d))
        self.record_width, self.record_dtype = d, np.dtype(np.float64)
        self.adapted = False
        self.evals_warm = (0, 0)
        self.n_divergent = 0

    def init(self, chains, start, init):
        d, ev = self.dim, self.ev
        user_eps = None if self.user_step_size is None else _positive(self.user_step_size, "step_size", chains)
        saved_eps = None
        if isinstance(start, ChainState):
            if start.swap_rng_state is not None:
                raise ModelError("a tempered ChainState can not continue a continuous sampler")
            rng = check_streams(start.rng_state, chains)
            x = apply(_initial_points(self.model, start.x, chains, d, None), self.clamp, True, "ChainState.x")
            if start.step_size is not None:
                saved_eps = _positive(start.step_size, "ChainState.step_size", chains)
        else:
            x = apply(_initial_points(self.model, init, chains, d, start.initial), self.clamp, init is not None)
            rng = make_rng_state(start.streams, chains)
        ev.where = "initial state"
        E, G = ev(x)
        _check_start(x, E, G)
        if user_eps is not None:
            eps = user_eps
        elif saved_eps is not None:
            eps = saved_eps
        else:
            ev.where = "initial step-size search"
            z, _ = draw_normal_uniform(rng, d, 2)
            eps = initial_step_size(self.search_move, x, E, G, z if self.free is None else z * self.free)
        self.eps0 = eps
        return ContinuousState(x, E, G, eps, rng)

    def _step(self, state, eps):
        z, u = draw_normal_uniform(state.rng, self.dim, 2)
        if self.free is not None:               # clamped variables get no noise (and no force)
            z *= self.free
        used = eps * (1.0 + self.jitter * (2.0 * u[:, 0] - 1.0)) if self.jitter else eps
        return self.move(state.x, state.energy, state.grad, used, z, u[:, 1]), used

    def advance(self, state, n, thin=1, record=False, keep=False, phase=None):
        ev = self.ev
        first = phase.start if phase is not None else 0
        if not record:
            da = state.adaptation
            if da is None and self.adapt and phase is not None and phase.warmup:
                da = DualAveraging(state.step_size, self.target)
            eps = state.step_size
            for i in range(first, first + n):
                ev.where = f"warm-up iteration {i}" if phase is None or phase.warmup else f"step {i}"
                mv, _ = self._step(state, eps)
                state = state._replace(x=mv.x, energy=mv.E, grad=mv.G)
                if da is not None:
                    eps = da.update(mv.accept_prob)
            return state._replace(step_size=eps, adaptation=da), None
        chains, hmc_ = state.x.shape[0], self.method == "hmc"
        states = np.empty((chains, n, self.dim)) if keep else None
        stats = {k: np.empty((chains, n), dtype=t) for k, t in (
            ("lp", np.float64), ("acceptance_rate", np.float64), ("step_size", np.float64),
            ("diverging", bool), ("energy", np.float64), ("n_steps", np.int64))}
        eps = state.step_size
        for j in range(n):
            ev.where = f"draw {first + j}"
            for _ in range(thin):
                mv, used = self._step(state, eps)
                state = state._replace(x=mv.x, energy=mv.E, grad=mv.G)
                self.n_divergent += int(np.count_nonzero(mv.diverging))
            for k, v in (("lp", -mv.E), ("acceptance_rate", mv.accept_prob), ("step_size", used),
                         ("diverging", mv.diverging), ("energy", mv.hamiltonian), ("n_steps", mv.n_steps)):
                if hmc_ or k not in ("energy", "n_steps"):
                    stats[k][:, j] = v
            if keep:
                states[:, j] = state.x
        if not hmc_:
            stats["energy"] = stats["n_steps"] = None
        return state, ContinuousInfo(states, **stats)

    def end_warmup(self, state):
        self.evals_warm = (self.ev.n_grad, self.ev.n_energy)
        if state.adaptation is None:
            return state
        self.adapted = True
        return state._replace(step_size=state.adaptation.final(), adaptation=None)

    def to_user(self, state):
        return ChainState(state.x, state.rng, step_size=state.step_size)

    def info(self, state):
        ev = self.ev
        return {"state_space": "continuous", "model": type(self.model).__name__, "domain": None,
                "evidence": dict(self.clamp),
                "step_size": state.step_size.tolist(), "initial_step_size": self.eps0.tolist(),
                "adapt_step_size": self.adapted, "target_accept": self.target, "jitter": self.jitter,
                "n_leapfrog": self.n_leapfrog if self.method == "hmc" else None,
                "n_grad_evals": ev.n_grad, "n_energy_evals": ev.n_energy,
                "n_grad_evals_sampling": ev.n_grad - self.evals_warm[0],
                "n_energy_evals_sampling": ev.n_energy - self.evals_warm[1],
                "n_divergent": self.n_divergent}
