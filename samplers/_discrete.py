"""Discrete models for the sampling kernels, and the Gibbs / Metropolis kernel (SPEC.md §2).

:class:`DiscreteTarget` gives any discrete model — ``Ising``, ``Potts``, ``BoltzmannMachine``,
``MarkovNetwork``, ``FactorGraph``, a discrete ``BayesianNetwork`` (moralised) — one face:
variables, cardinalities, domain, evidence, interaction graph, sweep orders and initial states.
:func:`spin_form` gives the pairwise binary ones (Ising, Boltzmann machines, binary pairwise
Markov networks) as ±1 spin models.  Both serve every discrete kernel (this module's
:class:`DiscreteGibbs`, the cluster moves of ``samplers/_cluster.py``).

:class:`DiscreteGibbs` (methods ``"gibbs"``, ``"block_gibbs"``, ``"metropolis"``) runs

* heat-bath Gibbs on the spin kernels (``samplers/_spin_kernels.py``) when the model has a spin
  form — systematic or random scan, or block Gibbs over the colour classes of a graph colouring
  (a checkerboard on even lattices) or user blocks;
* heat-bath Gibbs or single-site Metropolis (uniform proposal among the other states) on the
  general factor kernels (``samplers/_factor_kernels.py``) otherwise.

Each chain owns a xoshiro256 stream (``samplers/_rng.py``); a per-chain ``beta`` in the state
tempers the target to ``p̃^β`` (replica exchange, simulated tempering, AIS).  Recorded per
draw: ``lp = log p̃(x)`` (untempered), ``energy`` (``−log p̃ / β_model``), ``magnetization``
(spin and ±1 models) or ``mean_activation`` (0/1 models), ``acceptance_rate`` (Metropolis).
"""

import functools
from typing import NamedTuple, Optional

import networkx as nx
import numpy as np

from pgm.bayesian import BayesianNetwork
from pgm.compiled import compile_factors, pairwise_binary_to_spin
from pgm.discrete import DiscreteModel
from pgm.errors import EvidenceError, ModelError, UnknownVariableError
from pgm.spin import BoltzmannMachine, Ising, PairwiseModel
from pgm.validation import check_evidence

from ._factor_kernels import factor_chunk, factor_log_unnormalized
from ._kernel import Kernel, check_streams, register
from ._rng import make_rng_state
from ._spin_kernels import make_plan, plan_energy, run_plan, sample_plan
from .results import ChainState

__all__ = ["DiscreteTarget", "DiscreteState", "DiscreteInfo", "DiscreteKernel", "DiscreteGibbs",
           "SpinStates", "spin_form", "is_discrete", "SCANS"]

SCANS = ("systematic", "random")


def is_discrete(model):
    """A model of the discrete families (pairwise, factor models, discrete Bayesian networks)?"""
    return isinstance(model, (PairwiseModel, DiscreteModel, BayesianNetwork))


class DiscreteTarget:
    """Variables, cardinalities, domain, evidence and graph of a discrete model, uniformly.

    ``evidence`` maps variable *indices* to state *indices*; ``domain`` is the tuple of values a
    state holds (``None``: state indices ``0..k−1``)."""

    def __init__(self, model, evidence):
        if isinstance(model, PairwiseModel):
            self.variables = model.variables
            self.cards = model.cardinality_array
            self.domain = tuple(model.domain)
            self.evidence = model.check_evidence(model.evidence if evidence is None else evidence)
            self._make_graph = lambda: model.graph
        elif isinstance(model, (DiscreteModel, BayesianNetwork)):
            if isinstance(model, BayesianNetwork):
                model._require_discrete("Gibbs sampling")
            self.variables = list(model.variables)
            self.cards = model.cardinality_array
            self.domain = None
            index = {v: i for i, v in enumerate(self.variables)}
            ev = check_evidence(model.evidence if evidence is None else evidence, index, self.cards,
                                getattr(model, "state_names", None))
            self.evidence = {index[v]: x for v, x in ev.items()}
            self._make_graph = lambda: nx.convert_node_labels_to_integers(
                model.moral_graph() if isinstance(model, BayesianNetwork) else _factor_graph(model),
                ordering="default")
        else:
            raise TypeError(f"expected a discrete model, got {type(model).__name__}")
        self.model = model
        self.n = len(self.variables)
        free = np.ones(self.n, dtype=bool)
        free[list(self.evidence)] = False
        self.free = np.flatnonzero(free).astype(np.int64)

    @functools.cached_property
    def graph(self):
        """Interaction graph over variable indices (built on first use: block orders need it,
        single-site sweeps do not — a dense Boltzmann machine's graph costs more than a sweep)."""
        return self._make_graph()

    def user_value(self, i, idx):
        return self.domain[idx] if self.domain is not None else idx

    def user_evidence(self):
        return {self.variables[i]: self.user_value(i, v) for i, v in self.evidence.items()}

    # ------------------------------------------------------------------ sweep orders
    def colour_order(self):
        """Block-Gibbs order: colour classes of the free variables, one after another."""
        free, model = self.free, self.model
        shape = getattr(model, "shape", None)
        if shape is not None and isinstance(model, Ising) and all(k % 2 == 0 for k in shape):
            rows, cols = shape
            colour = (np.arange(rows)[:, None] + np.arange(cols)[None, :]).reshape(-1) % 2
            colours = colour[free]
        else:
            g = self.graph.subgraph(free.tolist())
            if nx.is_bipartite(g):
                cmap = nx.bipartite.color(g)
            else:
                cmap = nx.greedy_color(g, strategy="smallest_last")
            colours = np.array([cmap[int(i)] for i in free])
        return free[np.argsort(colours, kind="stable")]

    def block_order(self, blocks):
        """User blocks (lists of variables) as one sweep order, after checking that each block
        is conditionally independent and that they partition the free variables."""
        index = {v: i for i, v in enumerate(self.variables)}
        seen = []
        for b, block in enumerate(blocks):
            idx = []
            for v in block:
                if v not in index:
                    raise UnknownVariableError(f"block {b} names unknown variable {v!r}")
                i = index[v]
                if i in self.evidence:
                    raise EvidenceError(f"block {b} contains observed variable {v!r}")
                idx.append(i)
            sub = self.graph.subgraph(idx)
            if sub.number_of_edges():
                u, w = next(iter(sub.edges))
                raise ModelError(f"block {b} is not conditionally independent: variables "
                                 f"{self.variables[u]!r} and {self.variables[w]!r} interact")
            seen.extend(idx)
        if sorted(seen) != sorted(self.free.tolist()):
            raise ModelError("blocks must partition the unobserved variables (each exactly once)")
        return np.array(seen, dtype=np.int64)

    # ------------------------------------------------------------------ states
    def initial_indices(self, init, chains, rng):
        """Initial states ``(chains, n)`` as state indices ``0..k−1``: uniformly random
        (``init=None``, drawn from ``rng``) or ``init`` (in the model's domain; one row or one per
        chain) checked against the domain and the evidence; observed variables are set to their
        evidence."""
        n = self.n
        if init is None:
            k = int(self.cards[0]) if n else 1
            if n and np.all(self.cards == k) and k <= 127:
                idx = rng.integers(0, k, size=(chains, n), dtype=np.int8)
            else:
                idx = rng.integers(0, self.cards, size=(chains, n))
        else:
            arr = np.asarray(init)
            if arr.ndim == 1:
                arr = np.broadcast_to(arr, (chains, n))
            if arr.shape != (chains, n):
                raise ModelError(f"init must have shape ({chains}, {n}) or ({n},), got {np.shape(init)}")
            if arr.dtype.kind not in "iu":
                raise TypeError(f"init must hold integers, got dtype {arr.dtype}")
            if self.domain is not None:
                ok = np.isin(arr, self.domain)
                if not ok.all():
                    raise EvidenceError(f"init value {arr[~ok].flat[0]!r} is outside the domain {self.domain}")
                idx = np.searchsorted(np.asarray(self.domain), arr)
            else:
                bad = (arr < 0) | (arr >= self.cards[None, :])
                if bad.any():
                    r, c = np.argwhere(bad)[0]
                    raise EvidenceError(f"init value {arr[r, c]} of variable {self.variables[c]!r} "
                                        f"is outside 0..{self.cards[c] - 1}")
                idx = np.array(arr, dtype=np.int64)
            for i, v in self.evidence.items():
                if np.any(idx[:, i] != v):
                    raise EvidenceError(f"init disagrees with the evidence on variable {self.variables[i]!r}")
        for i, v in self.evidence.items():
            idx[:, i] = v
        return idx


def _factor_graph(model):
    g = nx.Graph()
    g.add_nodes_from(model.variables)
    for f in model.factors:
        s = f.scope
        g.add_edges_from((s[a], s[b]) for a in range(len(s)) for b in range(a + 1, len(s)))
    return g


class SpinForm:
    """A binary pairwise factor model seen as a spin model (see ``pairwise_binary_to_spin``)."""

    domain = (0, 1)
    beta = 1.0
    observables = ("energy",)

    def __init__(self, arrays, log_const):
        self.arrays, self.log_const = arrays, log_const

    def spin_arrays(self):
        # log p̃ = −E_spin + C, so E = −log p̃ = E_spin − C
        return self.arrays, -self.log_const


def spin_form(model):
    """``model`` as a spin model (``spin_arrays()``, ``domain``, ``beta``), or None when it is
    not pairwise binary (Ising and Boltzmann machines are their own spin form)."""
    if isinstance(model, (Ising, BoltzmannMachine)):
        return model
    if isinstance(model, (DiscreteModel, BayesianNetwork)):
        converted = pairwise_binary_to_spin(*model.log_factors())
        return None if converted is None else SpinForm(*converted)
    return None


# ---------------------------------------------------------------------------- engines
class SpinStates:
    """States of a spin form as int8 spins ±1: conversions from state indices and to the model's
    domain, and the Info of recorded draws (``spin_form(model)`` gives ``spin_arrays``, ``beta``,
    ``domain`` and optionally ``observables``)."""

    dtype = np.int8

    def __init__(self, model):
        self.arrays, self.offset = model.spin_arrays()
        self.beta = float(model.beta)
        self.binary01 = tuple(model.domain) == (0, 1)
        self.builtin = getattr(model, "observables", None) or (
            ("energy", "mean_activation") if self.binary01 else ("energy", "magnetization"))

    def from_index(self, idx):
        """Spins from state indices (index 0 ↔ −1 for both the ±1 and the 0/1 domain)."""
        s = np.multiply(idx, 2, dtype=np.int8)
        s -= 1
        return s

    def to_user(self, s):
        return ((s + 1) // 2).astype(np.int8) if self.binary01 else s

    def draws(self, states, e_spin, mag, keep):
        """DiscreteInfo from recorded spins, spin energies and mean spins."""
        energy = e_spin + self.offset
        names = self.builtin
        return DiscreteInfo(
            states=self.to_user(states) if keep else None, lp=-self.beta * energy,
            energy=energy if "energy" in names else None,
            magnetization=mag if "magnetization" in names else None,
            mean_activation=(mag + 1.0) / 2.0 if "mean_activation" in names else None)


class SpinEngine(SpinStates):
    """Heat-bath Gibbs on pairwise ±1 spin models (states: int8 spins)."""

    def __init__(self, model, order, random_scan):
        super().__init__(model)
        a = self.arrays
        self.plan = make_plan(a.indptr, a.indices, a.weights, a.field, np.asarray(order, dtype=np.int64),
                              check_symmetric=False)
        self.random_scan = bool(random_scan)

    def log_unnormalized(self, x):
        return -self.beta * (plan_energy(self.plan, x) + self.offset)

    def run(self, x, rng, n, beta, thin=1, record=False, keep=False):
        beta = self.beta * beta
        if not record:
            run_plan(self.plan, x, rng, beta, n, self.random_scan)
            return None
        states, e_spin, mag = sample_plan(self.plan, x, rng, beta, n, thin, self.random_scan,
                                          record_states=keep)
        return self.draws(states, e_spin, mag, keep)


class FactorEngine:
    """Single-site Gibbs or Metropolis on any discrete factor model (states: int32 indices)."""

    dtype = np.int32

    def __init__(self, model, order, random_scan, metropolis):
        if hasattr(model, "compile_factors"):
            self.arrays = model.compile_factors()
        else:
            self.arrays = compile_factors(*model.log_factors())
        self.order = np.ascontiguousarray(order, dtype=np.int64)
        self.random_scan = bool(random_scan)
        self.metropolis = bool(metropolis)
        domain = getattr(model, "domain", None)
        self.domain = None if domain is None or tuple(domain) == tuple(range(len(domain))) else \
            np.asarray(domain, dtype=np.int8)
        self.beta = float(getattr(model, "beta", 1.0))

    def log_unnormalized(self, x):
        a = self.arrays
        return factor_log_unnormalized(x, a.f_offset, a.f_ptr, a.f_var, a.f_stride, a.tables)

    def from_index(self, idx):
        return np.ascontiguousarray(idx, dtype=np.int32)

    def to_user(self, x):
        return self.domain[x] if self.domain is not None else x

    def run(self, x, rng, n, beta, thin=1, record=False, keep=False):
        chains, n_vars = x.shape
        d = n if record else 0
        out_states = np.empty((chains, d, n_vars), dtype=np.int32)
        lp = np.empty((chains, d))
        acc = np.empty((chains, d))
        a = self.arrays
        factor_chunk(x, rng, self.order, self.random_scan, self.metropolis, beta, n,
                     thin if record else 1, record, a.cards, a.v_ptr, a.v_factor, a.v_stride,
                     a.f_offset, a.f_ptr, a.f_var, a.f_stride, a.tables, out_states, lp, acc)
        if not record:
            return None
        user = self.to_user(out_states)
        return DiscreteInfo(
            states=user if keep else None, lp=lp, energy=-lp / self.beta,
            magnetization=user.mean(axis=2, dtype=np.float64) if self.domain is not None else None,
            acceptance_rate=acc if self.metropolis else None)


# ---------------------------------------------------------------------------- the kernel
class DiscreteState(NamedTuple):
    """Chains of a discrete kernel: states in the engine's form (int8 spins or int32 state
    indices), xoshiro256 streams, and a per-chain factor on β (tempering; ones otherwise)."""

    x: np.ndarray
    rng: np.ndarray
    beta: np.ndarray


class DiscreteInfo(NamedTuple):
    """Per-draw records ``(chains, draws)`` of a discrete kernel (None: not recorded)."""

    states: Optional[np.ndarray] = None
    lp: Optional[np.ndarray] = None
    energy: Optional[np.ndarray] = None
    magnetization: Optional[np.ndarray] = None
    mean_activation: Optional[np.ndarray] = None
    acceptance_rate: Optional[np.ndarray] = None


class DiscreteKernel(Kernel):
    """Shared start and resume of the kernels over :class:`DiscreteTarget` states."""

    family = "discrete models"
    sample_stats = ("lp", "acceptance_rate")
    supports_beta = True

    @classmethod
    def accepts(cls, model):
        return is_discrete(model)

    def _setup(self, model, evidence):
        self.target = DiscreteTarget(model, evidence)
        self.variables = self.target.variables

    def init(self, chains, start, init):
        target, engine = self.target, self.engine
        if isinstance(start, ChainState):
            if start.x.shape != (chains, target.n):
                raise ModelError(f"ChainState has shape {start.x.shape}, expected ({chains}, {target.n})")
            idx = target.initial_indices(start.x, chains, None)
            rng = check_streams(start.rng_state, chains)
        else:
            idx = target.initial_indices(init, chains, start.initial)
            rng = make_rng_state(start.streams, chains)
        return DiscreteState(engine.from_index(idx), rng, np.ones(chains))

    def to_user(self, state):
        return ChainState(self.engine.to_user(state.x), state.rng)

    def permute_rows(self, state, perm):
        state.x[:] = state.x[perm]

    def log_unnormalized(self, state):
        """``log p̃`` of every chain's state (untempered)."""
        return self.engine.log_unnormalized(state.x)

    def info(self, state):
        t = self.target
        return {"domain": t.domain, "cardinalities": t.cards.tolist(), "evidence": t.user_evidence(),
                "engine": type(self.engine).__name__}


@register
class DiscreteGibbs(DiscreteKernel):
    """Single-site heat-bath Gibbs (systematic or random scan), block Gibbs, or single-site
    Metropolis on a discrete model.

    Options: ``evidence`` (``{variable: value}``, default ``model.evidence``), ``scan``
    (``"systematic"`` or ``"random"``; single-site methods), ``blocks`` (block Gibbs: lists of
    conditionally independent variables partitioning the free ones; default the colour classes
    of a ``smallest_last`` colouring, a checkerboard on even lattices).
    """

    name = "discrete_gibbs"
    methods = ("gibbs", "block_gibbs", "metropolis")
    options = ("evidence", "scan", "blocks")

    def __init__(self, model, method, evidence=None, scan="systematic", blocks=None):
        super().__init__(model, method)
        if scan not in SCANS:
            raise ValueError(f"unknown scan {scan!r}; expected one of {SCANS}")
        self._setup(model, evidence)
        target = self.target
        if method == "block_gibbs":
            if scan != "systematic":
                raise ValueError("block_gibbs visits blocks in sequence; scan='random' applies to "
                                 "'gibbs' and 'metropolis'")
            order = target.block_order(blocks) if blocks is not None else target.colour_order()
        else:
            if blocks is not None:
                raise ValueError(f"blocks apply to method='block_gibbs', not {method!r}")
            order = target.free
        self.scan = scan
        spins = spin_form(model) if method != "metropolis" else None
        if spins is not None:
            self.engine = SpinEngine(spins, order, scan == "random")
        else:
            self.engine = FactorEngine(model, order, scan == "random", metropolis=method == "metropolis")
        self.record_width = target.n
        self.record_dtype = np.dtype(self.engine.dtype)

    def advance(self, state, n, thin=1, record=False, keep=False, phase=None):
        info = self.engine.run(state.x, state.rng, n, state.beta, thin, record, keep)
        return state, info

    def info(self, state):
        return {"scan": self.scan, **super().info(state)}
