"""The kernel protocol of the sampling driver, and the registry of kernels (SPEC.md §2, MCMC).

Every sampler of this package — discrete Gibbs and Metropolis, cluster moves, layered block
Gibbs, HMC and its relatives, Gibbs for binary energies — is a *kernel*: an object bound to one
model and one method that knows how to start chains and how to advance them.  The driver
(``samplers/_driver.py``) alone owns what is common: seeding, chunking, progress, warm-up,
thinning, user observables, memory limits and the assembly of :class:`~samplers.results.Samples`.
Parallel and simulated tempering (``samplers/tempering.py``, ``samplers/simulated_tempering.py``)
are kernels that wrap a kernel, and AIS (``samplers/ais.py``) drives kernels through the same
protocol.  The pattern is BlackJAX's (an immutable-looking ``State``, a transition returning
``(State, Info)``), adapted to numba: the arrays inside a state are advanced in place by compiled
kernels, and one call advances all chains by many steps.

Protocol
--------
A kernel class (subclass of :class:`Kernel`) declares

``methods``
    method names it implements (``samplers.sample(model, method=...)``); the first is the
    default when the class is the first registered kernel that accepts a model;
``options``
    the keyword options its constructor takes besides ``model`` and ``method`` (anything else
    passed to :func:`samplers.sample` is refused with a ``TypeError`` naming the accepted ones);
``accepts(model)``
    a classmethod: can this kernel sample ``model`` at all;
``sample_stats``
    names of the ``Info`` fields that go to ``Samples.sample_stats`` (ArviZ ``sample_stats``);
    the other fields except ``states`` are observables (ArviZ ``posterior``);

and its instances (``Kernel(model, method, **options)``: compiles the model, validates the
options) provide

``init(chains, start, init) -> State``
    ``start`` is a :class:`Seeds` (fresh chains: ``start.initial`` draws random initial states,
    ``start.streams`` seeds one xoshiro256 stream per chain, ``start.extra`` any auxiliary
    stream) or a :class:`~samplers.results.ChainState` to continue exactly; ``init`` optional
    initial states in the model's domain;
``advance(state, n, thin, record, keep, phase) -> (State, Info or None)``
    ``n`` steps; with ``record`` one draw every ``thin`` steps (``n`` draws, ``n · thin``
    steps), returned as an ``Info`` NamedTuple of arrays ``(chains, n, ...)`` (``states`` in
    the model's domain only with ``keep``); without ``record`` ``n`` plain steps and no Info.
    ``phase`` (:class:`Phase`) says whether this is warm-up (adaptation allowed) and where;
``end_warmup(state) -> State``
    called once between warm-up and sampling (fix adapted step sizes, reset counters);
``to_user(state) -> ChainState``
    where the chains stand, in the model's domain, with their streams (exact resume);
``info(state) -> dict``
    run information merged into ``Samples.info``;
``variables``, ``record_width``, ``record_dtype``
    names of the recorded state columns and their storage (for memory limits).

Kernels that can sample a tempered target ``p̃^β`` (``supports_beta = True``) keep a per-chain
``beta`` array in their state (a factor on the model's own β) and provide
``permute_rows(state, perm)`` (exchange configurations between chains, streams stay) and
``log_unnormalized(state)``: replica exchange, simulated tempering and AIS need nothing else.

A new sampler is one module with a :class:`Kernel` subclass decorated with :func:`register`
and one import line in ``samplers/_registry.py`` (which also looks kernels up:
``find_kernel``).
"""

import numbers
from typing import NamedTuple

import numpy as np

from pgm.errors import ModelError

from .results import ChainState

__all__ = ["Kernel", "register", "registered", "Seeds", "Phase", "spawn_seeds", "count",
           "check_streams"]


class Seeds(NamedTuple):
    """Random sources of fresh chains, all derived from one user seed."""

    initial: np.random.Generator       #: draws initial states
    streams: np.random.SeedSequence    #: one xoshiro256 stream per chain (``make_rng_state``)
    extra: np.random.SeedSequence      #: auxiliary streams (replica swaps, temperature moves)


def seed_sequence(seed):
    """The :class:`numpy.random.SeedSequence` of a user's ``seed``: None (fresh entropy), an
    integer >= 0, a sequence of them, a SeedSequence, or a :class:`numpy.random.Generator` (which
    is advanced: four 63-bit integers drawn from it seed the run).  Anything else is a
    ``TypeError`` / ``ValueError`` naming the value."""
    if seed is None or isinstance(seed, np.random.SeedSequence):
        return seed if seed is not None else np.random.SeedSequence()
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(seed.integers(0, 2**63, size=4).tolist())
    many = isinstance(seed, (list, tuple, np.ndarray))
    values = list(np.ravel(np.asarray(seed, dtype=object))) if many else [seed]
    if not values or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) for v in values):
        raise TypeError(f"seed must be None, an integer >= 0, a sequence of them, a numpy "
                        f"SeedSequence or Generator; got {seed!r}")
    if any(v < 0 for v in values):
        raise ValueError(f"seed must be >= 0, got {seed!r}")
    return np.random.SeedSequence([int(v) for v in values] if many else int(seed))


def spawn_seeds(seed):
    """``SeedSequence(seed).spawn(3)`` → :class:`Seeds` (the same children for any kernel)."""
    ss = seed_sequence(seed)
    initial, streams, extra = ss.spawn(3)
    return Seeds(np.random.default_rng(initial), streams, extra)


class Phase(NamedTuple):
    """Where an ``advance`` call stands: in warm-up or not, its first step (warm-up) or draw
    (sampling) index, and the length of that phase."""

    warmup: bool
    start: int
    total: int


def count(value, name, minimum):
    """``value`` as an int ``>= minimum``, or a ``ValueError`` naming it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_streams(rng_state, rows, what="ChainState rng_state"):
    """A private copy of per-chain xoshiro256 states: ``uint64 (rows, 4)``, no all-zero row."""
    arr = np.asarray(rng_state)
    if arr.shape != (rows, 4):
        raise ModelError(f"{what} has shape {arr.shape}, expected ({rows}, 4)")
    if arr.dtype != np.uint64:
        raise TypeError(f"{what} must hold uint64 xoshiro256 states, got dtype {arr.dtype}")
    dead = ~arr.any(axis=1)
    if dead.any():
        raise ModelError(f"{what} row {int(np.flatnonzero(dead)[0])} is all zero (a frozen xoshiro256 stream)")
    return np.array(arr, dtype=np.uint64, order="C", copy=True)


class Kernel:
    """Base class of sampling kernels (see the module docstring for the protocol)."""

    name = None
    #: what the kernel samples, in words (error messages)
    family = None
    methods = ()
    options = ()
    sample_stats = ("lp",)
    supports_beta = False
    #: model sweeps per kernel step (replica exchange: sweeps per swap round)
    sweeps_per_step = 1
    #: most steps per ``advance`` call (None: as many as memory allows); kernels with a Python
    #: loop per step set it so that progress is shown often enough
    chunk_steps = None

    @classmethod
    def accepts(cls, model):
        raise NotImplementedError

    def __init__(self, model, method):
        self.model = model
        self.method = method

    def init(self, chains, start, init):
        raise NotImplementedError

    def advance(self, state, n, thin=1, record=False, keep=False, phase=None):
        raise NotImplementedError

    def end_warmup(self, state):
        return state

    def to_user(self, state):
        raise NotImplementedError

    def info(self, state):
        return {}

    def __repr__(self):
        return f"{type(self).__name__}({type(self.model).__name__}, method={self.method!r})"


_REGISTRY = []


def register(cls):
    """Class decorator: make a :class:`Kernel` subclass available to :func:`samplers.sample`.

    Kernels are looked up in registration order: the built-ins first, then user kernels.
    """
    if not (isinstance(cls, type) and issubclass(cls, Kernel)):
        raise TypeError(f"register expects a Kernel subclass, got {cls!r}")
    if not cls.methods or not all(isinstance(m, str) for m in cls.methods):
        raise ValueError(f"{cls.__name__}.methods must be a non-empty tuple of method names")
    if cls not in _REGISTRY:
        _REGISTRY.append(cls)
    return cls


def registered():
    """The registered kernel classes, in lookup order."""
    return tuple(_REGISTRY)
