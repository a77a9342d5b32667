"""Single-site Gibbs for energies over ``{0, 1}^d`` given only as a function (SPEC.md §2, Gibbs).

For a model with no factor structure to compile — e.g. :class:`pgm.MLPEnergy` with
``domain="binary"`` — the heat-bath conditional of unit ``j`` follows from one energy difference:
``p(x_j = 1 | x_{−j}) = σ(−[E(x^{j←1}) − E(x^{j←0})])``.  A systematic sweep visits
``j = 0 … d−1`` and evaluates that difference for every chain at once (``model.energy_delta(x, j)``
when the model offers it, else two ``energy`` calls), so the cost per sweep is ``d`` batched
energy evaluations.

Randomness and resumption are the driver's: per-chain xoshiro256 streams (one uniform per unit
per sweep), ``Samples.final_state`` continues a run exactly.  :class:`BinaryEnergyGibbs` is the
kernel (``samplers/_kernel.py``).
"""

from typing import NamedTuple, Optional

import numpy as np

from pgm.errors import ModelError, SamplingError

from ._clamp import apply, unit_evidence
from ._kernel import Kernel, check_streams, register
from ._rng import draw_doubles, make_rng_state
from .results import ChainState

__all__ = ["BinaryEnergyGibbs", "EnergyGibbsState", "EnergyGibbsInfo"]


def _energy_delta(model, x, j):
    if hasattr(model, "energy_delta"):
        return np.asarray(model.energy_delta(x, j), dtype=np.float64)
    hi, lo = x.copy(), x.copy()
    hi[:, j], lo[:, j] = 1, 0
    return np.asarray(model.energy(hi), np.float64) - np.asarray(model.energy(lo), np.float64)


def _initial(init, chains, d, rng):
    if isinstance(init, ChainState):
        arr = init.x
    elif init is None:
        return rng.integers(0, 2, size=(chains, d)).astype(np.int8)
    else:
        arr = np.asarray(init)
        if arr.ndim == 1:
            arr = np.broadcast_to(arr, (chains, d))
    if arr.shape != (chains, d):
        raise ModelError(f"init must have shape ({chains}, {d}) or ({d},), got {np.shape(arr)}")
    if not np.isin(arr, (0, 1)).all():
        raise ModelError(f"init must be binary (0 or 1), found {arr[~np.isin(arr, (0, 1))].flat[0]!r}")
    return np.array(arr, dtype=np.int8)


def _sweep(model, x, rng_state, where, free):
    u = draw_doubles(rng_state, x.shape[1])
    for j in free:
        delta = _energy_delta(model, x, j)
        if delta.shape != (x.shape[0],):
            raise SamplingError(f"energy difference of unit {j} has shape {delta.shape}, expected "
                                f"({x.shape[0]},) ({where})")
        if np.isnan(delta).any():
            c = int(np.flatnonzero(np.isnan(delta))[0])
            raise SamplingError(f"energy difference of unit {j} is NaN for chain {c} ({where})")
        # σ(−Δ) without overflow: 1 / (1 + e^{Δ}) with e^{Δ} = inf → 0
        with np.errstate(over="ignore"):
            p1 = 1.0 / (1.0 + np.exp(delta))
        x[:, j] = u[:, j] < p1


class EnergyGibbsState(NamedTuple):
    """Chains: binary states ``(chains, d)`` int8 and their xoshiro256 streams."""

    x: np.ndarray
    rng: np.ndarray


class EnergyGibbsInfo(NamedTuple):
    """Per-draw records: states, ``lp = −E(x)`` and ``energy = E(x)``."""

    states: Optional[np.ndarray]
    lp: np.ndarray
    energy: np.ndarray


@register
class BinaryEnergyGibbs(Kernel):
    """Gibbs sampling of a binary energy model (``sampler_family == "binary_energy"``, e.g.
    :class:`pgm.MLPEnergy` with ``domain="binary"``): systematic scan, one energy difference per
    unit and sweep for all chains at once.  Option ``evidence`` (``{unit index: 0 or 1}``):
    clamped units, never updated (conditional sampling, inpainting).

    Examples
    --------
    >>> import pgm, samplers
    >>> f = pgm.MLPEnergy(6, hidden=(4,), domain="binary", seed=0)
    >>> s = samplers.sample(f, chains=3, draws=20, seed=1, progress=False)
    >>> s.states.shape, s.states.dtype.name
    ((3, 20, 6), 'int8')
    """

    name = "energy_gibbs"
    family = "binary energy models"
    methods = ("gibbs",)
    chunk_steps = 100

    @classmethod
    def accepts(cls, model):
        return getattr(model, "sampler_family", None) == "binary_energy"

    options = ("evidence",)

    def __init__(self, model, method, evidence=None):
        super().__init__(model, method)
        self.dim = int(model.dim)
        self.clamp = unit_evidence(evidence, self.dim, binary=True, what="unit")
        self.free = [j for j in range(self.dim) if j not in self.clamp]
        self.variables = list(range(self.dim))
        self.record_width, self.record_dtype = self.dim, np.dtype(np.int8)

    def init(self, chains, start, init):
        if isinstance(start, ChainState):
            x = apply(_initial(start, chains, self.dim, None), self.clamp, True, "ChainState.x")
            return EnergyGibbsState(x, check_streams(start.rng_state, chains))
        x = apply(_initial(init, chains, self.dim, start.initial), self.clamp, init is not None)
        return EnergyGibbsState(x, make_rng_state(start.streams, chains))

    def advance(self, state, n, thin=1, record=False, keep=False, phase=None):
        first = phase.start if phase is not None else 0
        warm = phase is None or phase.warmup
        if not record:
            for it in range(first, first + n):
                _sweep(self.model, state.x, state.rng, f"warm-up sweep {it}" if warm else f"sweep {it}",
                       self.free)
            return state, None
        chains = state.x.shape[0]
        lp = np.empty((chains, n))
        states = np.empty((chains, n, self.dim), dtype=np.int8) if keep else None
        for k in range(n):
            for _ in range(thin):
                _sweep(self.model, state.x, state.rng, f"draw {first + k}", self.free)
            lp[:, k] = -np.asarray(self.model.energy(state.x), dtype=np.float64)
            if keep:
                states[:, k] = state.x
        return state, EnergyGibbsInfo(states, lp, -lp)

    def to_user(self, state):
        return ChainState(state.x, state.rng)

    def info(self, state):
        return {"scan": "systematic", "domain": (0, 1), "cardinalities": [2] * self.dim,
                "evidence": {j: int(v) for j, v in self.clamp.items()}}
