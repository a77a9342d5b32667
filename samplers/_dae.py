"""Sampling the Markov chain of a denoising autoencoder or a generative stochastic network
(SPEC.md §5, "Sampling a Markov chain defined by a denoising autoencoder", "Generative
stochastic networks"; book §20.11).

The models (:class:`pgm.DAEChain`, :class:`pgm.GSN`, or any model with
``sampler_family = "dae_chain"``) define the transition themselves as a deterministic function
of its noise: ``model.chain_step(state, noise, clamp)`` with ``noise = {"normal": (chains, a),
"uniform": (chains, b)}`` as ``model.chain_noise_shapes(chains)`` says.  This kernel only owns the
randomness and the bookkeeping: every step draws chain ``c``'s ``a`` standard normals (Box–Muller)
and ``b`` uniforms from chain ``c``'s own xoshiro256 stream (``samplers/_continuous_kernels.py``),
so the draws are the same for any thread count and ``Samples.final_state`` (states and streams)
continues a run bit for bit.

Protocol of the model: ``n_visible``, ``chain_width`` (columns of a chain state, the visible
units first: ``D`` for a DAE, ``D + H`` for a GSN), ``domain`` (``(0, 1)`` for binary visibles),
``chain_init(x)`` (chain states from visible states ``(n, D)`` — or full states — checked),
``chain_noise_shapes(n)`` and ``chain_step(state, noise, clamp=None)``.

Options: ``evidence`` (``{visible index: value}``; the values must lie in the model's domain):
those units start at their values and ``chain_step`` keeps them (conditional sampling,
inpainting); ``include_hidden`` (record the whole chain state, e.g. a GSN's ``h``, not only the
visible units).  Per draw the kernel records ``sample_stats["squared_jump"]``, the squared
Euclidean distance the visible units moved in the last step (an expected-squared-jump-distance
mixing diagnostic; a DAE chain has no tractable density, hence no ``lp``).
"""

from typing import NamedTuple, Optional

import numpy as np

from pgm.errors import ModelError, SamplingError

from ._clamp import apply, unit_evidence
from ._continuous_kernels import draw_normal_uniform
from ._kernel import Kernel, check_streams, register
from ._rng import make_rng_state
from .results import ChainState

__all__ = ["DAEChainKernel", "DAEChainState", "DAEChainInfo"]


class DAEChainState(NamedTuple):
    """Chains: full chain states ``(chains, chain_width)`` float64 and their xoshiro256 streams."""

    x: np.ndarray
    rng: np.ndarray


class DAEChainInfo(NamedTuple):
    """Per-draw records: states (when kept) and the squared jump of the visible units."""

    states: Optional[np.ndarray]
    squared_jump: np.ndarray


@register
class DAEChainKernel(Kernel):
    """The Markov chain of a denoising autoencoder / GSN (see the module docstring).

    Examples
    --------
    >>> import numpy as np, samplers
    >>> from pgm.autoencoder_chain import DAEChain
    >>> dae = DAEChain(3, hidden=(8,), noise=0.3, seed=0)
    >>> s = samplers.sample(dae, method="dae_chain", chains=4, draws=10, seed=1,
    ...                     evidence={0: 0.5}, progress=False)
    >>> s.states.shape, bool((s.states[:, :, 0] == 0.5).all())
    ((4, 10, 3), True)
    """

    name = "dae_chain"
    family = "denoising-autoencoder and GSN chains"
    methods = ("dae_chain",)
    options = ("evidence", "include_hidden")
    sample_stats = ("squared_jump",)
    chunk_steps = 100

    @classmethod
    def accepts(cls, model):
        return getattr(model, "sampler_family", None) == "dae_chain"

    def __init__(self, model, method, evidence=None, include_hidden=False):
        super().__init__(model, method)
        if not isinstance(include_hidden, bool):
            raise TypeError(f"include_hidden must be True or False, got {include_hidden!r}")
        for k, w in model.params.items():
            if not np.all(np.isfinite(w)):
                raise ModelError(f"parameter {k!r} of the model has non-finite values")
        self.d = int(model.n_visible)
        self.width = int(model.chain_width)
        self.binary = tuple(getattr(model, "domain", None) or ()) == (0, 1)
        self.clamp = unit_evidence(evidence, self.d, binary=self.binary, what="visible unit")
        self.mask = np.zeros(self.d, dtype=bool)
        self.mask[list(self.clamp)] = True
        self.include_hidden = include_hidden
        self.record_width = self.width if include_hidden else self.d
        self.record_dtype = np.dtype(np.int8) if self.binary and not include_hidden else np.dtype(np.float64)
        self.variables = list(range(self.d)) + [f"h{j}" for j in range(self.width - self.d)] \
            if include_hidden else list(range(self.d))
        shapes = model.chain_noise_shapes(1)
        self.n_normal = int(shapes.get("normal", (1, 0))[1])
        self.n_uniform = int(shapes.get("uniform", (1, 0))[1])

    def _initial(self, init, chains, rng):
        if init is None:
            x = rng.integers(0, 2, size=(chains, self.d)).astype(np.float64) if self.binary else \
                rng.standard_normal((chains, self.d))
            return self.model.chain_init(x)
        arr = np.asarray(init)
        if arr.ndim == 1:
            arr = np.broadcast_to(arr, (chains, arr.shape[0]))
        if arr.ndim != 2 or arr.shape[0] != chains or arr.shape[1] not in (self.d, self.width):
            widths = f"{self.d}" if self.d == self.width else f"{self.d} or {self.width}"
            raise ModelError(f"init must have shape ({chains}, {widths}) or ({widths},), got {np.shape(init)}")
        return np.array(self.model.chain_init(arr), dtype=np.float64)

    def init(self, chains, start, init):
        if isinstance(start, ChainState):
            if start.x.shape != (chains, self.width):
                raise ModelError(f"ChainState has shape {start.x.shape}, expected ({chains}, {self.width})")
            x = apply(np.array(self.model.chain_init(start.x), dtype=np.float64), self.clamp, True,
                      "ChainState.x")
            return DAEChainState(x, check_streams(start.rng_state, chains))
        x = apply(self._initial(init, chains, start.initial), self.clamp, init is not None)
        return DAEChainState(np.ascontiguousarray(x), make_rng_state(start.streams, chains))

    def _step(self, x, rng, where):
        z, u = draw_normal_uniform(rng, self.n_normal, self.n_uniform)
        new = np.asarray(self.model.chain_step(x, {"normal": z, "uniform": u},
                                               clamp=self.mask if self.clamp else None), dtype=np.float64)
        if new.shape != x.shape:
            raise SamplingError(f"{type(self.model).__name__}.chain_step returned shape {new.shape}, "
                                f"expected {x.shape} ({where})")
        if not np.all(np.isfinite(new)):
            c = int(np.flatnonzero(~np.isfinite(new).all(axis=1))[0])
            raise SamplingError(f"the chain state of chain {c} became non-finite ({where})")
        return new

    def advance(self, state, n, thin=1, record=False, keep=False, phase=None):
        first = phase.start if phase is not None else 0
        warm = phase is None or phase.warmup
        x, rng = state.x, state.rng
        if not record:
            for it in range(first, first + n):
                x = self._step(x, rng, f"warm-up step {it}" if warm else f"step {it}")
            return DAEChainState(x, rng), None
        chains, d = x.shape[0], self.d
        jump = np.empty((chains, n))
        states = np.empty((chains, n, self.record_width), dtype=self.record_dtype) if keep else None
        for k in range(n):
            for _ in range(thin):
                old = x
                x = self._step(x, rng, f"draw {first + k}")
            diff = x[:, :d] - old[:, :d]
            jump[:, k] = np.einsum("ij,ij->i", diff, diff)
            if keep:
                states[:, k] = x[:, :self.record_width]
        return DAEChainState(x, rng), DAEChainInfo(states, jump)

    def to_user(self, state):
        return ChainState(state.x, state.rng)

    def info(self, state):
        out = {"model": type(self.model).__name__, "include_hidden": self.include_hidden,
               "evidence": dict(self.clamp), "noise": {"normal": self.n_normal, "uniform": self.n_uniform}}
        if self.binary and not self.include_hidden:
            out.update({"domain": (0, 1), "cardinalities": [2] * self.d})
        else:
            out["state_space"] = "continuous"
        return out
