"""Block Gibbs for layered energy models: RBM, Gaussian–Bernoulli RBM, ssRBM, DBM, DBN.

SPEC.md §2 "Block Gibbs" on the layered models of §1 (RBM) and §5.  The units of a layer are
conditionally independent given the neighbouring layers, so a whole layer of all chains is
updated at once: one BLAS matrix product for the pre-activations (in the model's dtype:
float32 models stay in float32), numpy's SIMD ``exp``, and one compiled pass
(``_layered_kernels``, vectorised over chains) that draws every unit from its chain's own
xoshiro256 stream.  Only BLAS runs threads (see ``_layered_kernels`` for why).

Sweeps (one chain step):

* RBM / DBM: odd layers given even layers, then even layers given odd (for an RBM:
  ``h ~ p(h|v)`` then ``v ~ p(v|h)``);
* Gaussian–Bernoulli RBM: ``h ~ p(h|v)``, then ``v ~ N(b + Wh, σ²)``;
* spike-and-slab RBM: ``h ~ p(h|v)`` (slab integrated out), ``s ~ p(s|v,h)``, then
  ``v ~ p(v|s,h)``;
* DBN: one sweep of the top RBM, then one ancestral pass down the directed layers.  With
  clamped visible units (and at least one directed layer) the posterior does not factorise:
  the top layer is drawn as a block and every lower hidden layer by single-site Gibbs given the
  layers above and below.

Recorded per draw: ``sample_stats["lp"] = −E(x)`` of the *full* chain state ``x`` (all layers;
for a DBN ``log p̃(x)``), the observable ``energy = E(x)``, and the visible units (all layers
with ``include_hidden=True``).  ``E`` of the new state is assembled from the products already
computed for the sweep (no extra matrix product).

Reproducibility: the driver's seeds (``samplers/_kernel.py``) — one child draws the initial
states, another seeds one stream per chain; chain ``c``'s uniforms depend only on its own stream,
so results are identical for any thread count (and, for binary layers, whatever the number of
other chains), and ``init=samples.final_state`` continues a run exactly.

:class:`LayeredGibbs` is the kernel (``samplers/_kernel.py``) the driver runs; its options are
``evidence`` (``{visible index: value}``) and ``include_hidden``.
"""

from typing import NamedTuple, Optional

import numpy as np

from pgm.errors import EvidenceError, ModelError

from ._clamp import unit_evidence
from ._kernel import Kernel, check_streams, register
from ._layered_kernels import bernoulli_block, gaussian_block, sbn_site_gibbs
from ._rng import make_rng_state
from .results import ChainState

__all__ = ["LayeredGibbs", "LayeredState", "LayeredInfo", "LAYERED_METHODS"]

LAYERED_METHODS = ("block_gibbs", "gibbs")


# ---------------------------------------------------------------------------- engines
# Layers are held unit-major, x[j, c] (shape (n, chains)), and the RNG state as S (4, chains):
# the layout in which the kernels vectorise over chains (see _layered_kernels).  BLAS products
# are therefore written W-first: the pre-activations of h for all chains are Wᵀ v.
class _Engine:
    """Layers, buffers and one sweep of one model family over ``chains`` chains."""

    def __init__(self, model, chains, clamp):
        self.model = model
        self.dtype = model.dtype
        self.sizes = list(model.layer_sizes)
        self.kinds = list(model.layer_kinds)
        self.chains = chains
        dt = self.dtype
        self.masks = [np.zeros(n, dtype=np.uint8) for n in self.sizes]
        self.vals = [np.zeros(n, dtype=dt) for n in self.sizes]
        for i, x in clamp.items():
            self.masks[0][i] = 1
            self.vals[0][i] = x
        self.clamped = [np.flatnonzero(m) if m.any() else None for m in self.masks]
        self.pre = [np.empty((n, chains), dtype=dt) for n in self.sizes]
        self.exp = [np.empty((n, chains), dtype=dt) for n in self.sizes]
        self.dots = [np.zeros((2, chains)) for _ in self.sizes]

    def _bern(self, k, bias, S, xs, record):
        """Draw binary layer ``k`` from ``σ(bias − pre[k])``; ``pre[k]`` must hold the *negated*
        products ``−(Wᵀx …)`` (negated weights make BLAS produce them).  ``record``: 0 nothing,
        1 ``dots[k][1] = b·x``, 2 also ``dots[k][0] = a·x`` (``a`` the full pre-activation)."""
        e, pre, x = self.exp[k], self.pre[k], xs[k]
        np.subtract(pre, bias[:, None], out=e)   # −a
        np.exp(e, out=e)
        bernoulli_block(e, S, x)
        if self.clamped[k] is not None:  # evidence: the uniforms were drawn all the same
            x[self.clamped[k]] = self.vals[k][self.clamped[k], None]
        if record:
            d = self.dots[k]
            d[1] = bias @ x
            if record == 2:
                d[0] = d[1] - np.einsum("jc,jc->c", x, pre)

    def initial(self, rng):
        """Random initial layers ``(chains, n)`` (binary: fair coins)."""
        return [rng.integers(0, 2, size=(self.chains, n)).astype(self.dtype) for n in self.sizes]


def _neg(W, dtype):
    return np.ascontiguousarray(-np.asarray(W, dtype=np.float64), dtype=dtype)


class _BinaryEngine(_Engine):
    """RBM and DBM: odd layers | even layers, then even | odd."""

    def __init__(self, model, chains, clamp):
        super().__init__(model, chains, clamp)
        W, b = model.weights, model.biases
        self.Wn = [None] + [_neg(w, self.dtype) for w in W]  # negated weights
        self.b = [np.ascontiguousarray(x, dtype=self.dtype) for x in b]
        self.L = len(self.sizes) - 1
        self.tmp = [np.empty((n, chains), dtype=self.dtype) for n in self.sizes]

    def _pre(self, k, xs):
        """``pre[k] = −(W_kᵀ x_{k−1} + W_{k+1} x_{k+1})``."""
        pre = self.pre[k]
        if k > 0:
            np.matmul(self.Wn[k].T, xs[k - 1], out=pre)
        if k < self.L:
            if k > 0:
                np.matmul(self.Wn[k + 1], xs[k + 1], out=self.tmp[k])
                pre += self.tmp[k]
            else:
                np.matmul(self.Wn[k + 1], xs[k + 1], out=pre)

    def sweep(self, xs, S, record):
        for parity in (1, 0):
            for k in range(parity, self.L + 1, 2):
                self._pre(k, xs)
                self._bern(k, self.b[k], S, xs, (2 if k % 2 == 0 else 1) if record else 0)
        if record:
            e = np.zeros(self.chains)
            for k in range(self.L + 1):
                e -= self.dots[k][0] if k % 2 == 0 else self.dots[k][1]
            return e
        return None


class _GaussianEngine(_Engine):
    """Gaussian–Bernoulli RBM: ``h | v`` then ``v | h``."""

    def __init__(self, model, chains, clamp):
        super().__init__(model, chains, clamp)
        dt = self.dtype
        prec = np.exp(-2.0 * np.asarray(model.log_sigma, dtype=np.float64))
        self.Wsn = _neg(np.asarray(model.W, np.float64) * prec[:, None], dt)  # −W/σ²
        self.W = np.ascontiguousarray(model.W, dtype=dt)
        self.b, self.c = model.b.astype(dt), model.c.astype(dt)
        self.sigma = np.exp(np.asarray(model.log_sigma, np.float64)).astype(dt)

    def initial(self, rng):
        v = self.b + self.sigma * rng.standard_normal((self.chains, self.sizes[0]))
        return [v.astype(self.dtype), rng.integers(0, 2, size=(self.chains, self.sizes[1])).astype(self.dtype)]

    def sweep(self, xs, S, record):
        v, h = xs
        np.matmul(self.Wsn.T, v, out=self.pre[1])
        self._bern(1, self.c, S, xs, 1 if record else 0)
        np.matmul(self.W, h, out=self.pre[0])
        d = self.dots[0]
        gaussian_block(self.pre[0], self.b, self.sigma, S, v, d[0], self.masks[0], self.vals[0])
        return d[0] - self.dots[1][1] if record else None


class _SpikeSlabEngine(_Engine):
    """Spike-and-slab RBM: ``h | v`` (slabs integrated out), ``s | v, h``, then ``v | s, h``."""

    def __init__(self, model, chains, clamp):
        super().__init__(model, chains, clamp)
        dt = self.dtype
        col = lambda x: np.asarray(x, dtype=dt)[:, None]  # noqa: E731
        W = np.asarray(model.W, np.float64)
        b = np.asarray(model.b, np.float64)
        al = np.exp(np.asarray(model.log_alpha, np.float64))
        lam = np.exp(np.asarray(model.log_lam, np.float64))
        mu = np.asarray(model.mu, np.float64)
        self.WT = np.ascontiguousarray(W.T, dtype=dt)                 # (n_h, n_v)
        self.Wl = np.ascontiguousarray(W / lam[:, None], dtype=dt)   # Λ⁻¹ W
        self.bW = col(b @ W)
        self.half_ia, self.ia, self.mu_c = col(0.5 / al), col(1.0 / al), col(mu)
        self.b, self.c = b.astype(dt), np.asarray(model.c, dt)
        self.sig_s = (1.0 / np.sqrt(al)).astype(dt)
        self.sig_v = (1.0 / np.sqrt(lam)).astype(dt)
        self.zeros_h = np.zeros(self.sizes[1], dtype=dt)
        self.bWv = b @ W
        self.half_al, self.al_mu, self.half_al_mu2 = 0.5 * al, al * mu, 0.5 * al * mu * mu
        self.a = np.empty((self.sizes[1], chains), dtype=dt)
        self.hs = np.empty((self.sizes[1], chains), dtype=dt)

    def initial(self, rng):
        n_v, n_h = self.sizes[:2]
        v = self.b + self.sig_v * rng.standard_normal((self.chains, n_v))
        h = rng.integers(0, 2, size=(self.chains, n_h))
        s = self.sig_s * rng.standard_normal((self.chains, n_h))
        return [v.astype(self.dtype), h.astype(self.dtype), s.astype(self.dtype)]

    def sweep(self, xs, S, record):
        v, h, s = xs
        a = self.a
        np.matmul(self.WT, v, out=a)
        a -= self.bW                                        # a = Wᵀ(v − b)
        pre = self.pre[1]
        np.multiply(a, a, out=pre)
        pre *= self.half_ia
        pre += a * self.mu_c                                # a²/(2α) + aμ (+ c in _bern)
        np.negative(pre, out=pre)
        self._bern(1, self.c, S, xs, 1 if record else 0)
        smean = self.pre[2]
        np.multiply(a, self.ia, out=smean)
        smean += self.mu_c
        smean *= h                                          # h (a/α + μ)
        d = self.dots
        gaussian_block(smean, self.zeros_h, self.sig_s, S, s, d[2][0], self.masks[2], self.vals[2])
        np.multiply(h, s, out=self.hs)
        np.matmul(self.Wl, self.hs, out=self.pre[0])        # Λ⁻¹ W (s∘h)
        gaussian_block(self.pre[0], self.b, self.sig_v, S, v, d[0][0], self.masks[0], self.vals[0])
        if not record:
            return None
        hs = self.hs.astype(np.float64)
        s64, h64 = s.astype(np.float64), h.astype(np.float64)
        return (d[0][0] + self.bWv @ hs + self.half_al @ (s64 * s64) - self.al_mu @ hs
                - d[1][1] + self.half_al_mu2 @ h64)


class _DBNEngine(_Engine):
    """DBN: top RBM sweep + ancestral pass; with clamped visibles, posterior Gibbs."""

    def __init__(self, model, chains, clamp):
        super().__init__(model, chains, clamp)
        self.L = len(self.sizes) - 1
        self.W = [None] + [np.ascontiguousarray(w, dtype=self.dtype) for w in model.weights]
        self.Wn = [None] + [np.ascontiguousarray(-w) for w in self.W[1:]]  # negated
        self.b = [np.ascontiguousarray(x, dtype=self.dtype) for x in model.biases]
        self.posterior = bool(clamp) and self.L >= 2
        self.child_pre = [np.empty((n, chains), dtype=self.dtype) for n in self.sizes]

    def sweep(self, xs, S, record):
        L = self.L
        np.matmul(self.Wn[L].T, xs[L - 1], out=self.pre[L])
        self._bern(L, self.b[L], S, xs, 0)
        if not self.posterior:
            np.matmul(self.Wn[L], xs[L], out=self.pre[L - 1])
            self._bern(L - 1, self.b[L - 1], S, xs, 0)
            for k in range(L - 2, -1, -1):
                np.matmul(self.Wn[k + 1], xs[k + 1], out=self.pre[k])
                self._bern(k, self.b[k], S, xs, 0)
        else:
            for k in range(L - 1, 0, -1):
                prior = self.pre[k]
                np.matmul(self.W[k + 1], xs[k + 1], out=prior)
                prior += self.b[k][:, None]
                cp = self.child_pre[k - 1]
                np.matmul(self.W[k], xs[k], out=cp)
                cp += self.b[k - 1][:, None]
                sbn_site_gibbs(xs[k], prior, xs[k - 1], cp, self.W[k], S)
            np.matmul(self.Wn[1], xs[1], out=self.pre[0])
            self._bern(0, self.b[0], S, xs, 0)
        if not record:
            return None
        return -self.model._log_terms([x.T for x in xs], self.W, self.b).astype(np.float64)


_ENGINES = {"rbm": _BinaryEngine, "dbm": _BinaryEngine, "gbrbm": _GaussianEngine,
            "ssrbm": _SpikeSlabEngine, "dbn": _DBNEngine}


# ---------------------------------------------------------------------------- checks
def _check_evidence(model, evidence):
    if evidence is None:
        evidence = getattr(model, "evidence", None) or {}
    return unit_evidence(evidence, model.layer_sizes[0], model.layer_kinds[0] == "binary")


def _split(x, sizes):
    out, at = [], 0
    for n in sizes:
        out.append(x[:, at:at + n])
        at += n
    return out


def _check_layers(model, layers, what):
    for k, (x, kind) in enumerate(zip(layers, model.layer_kinds)):
        if not np.all(np.isfinite(x)):
            raise EvidenceError(f"{what}: layer {model.layer_names[k]!r} has non-finite values")
        if kind == "binary" and not np.all((x == 0) | (x == 1)):
            bad = x[(x != 0) & (x != 1)].flat[0]
            raise EvidenceError(f"{what}: layer {model.layer_names[k]!r} must be binary (0 or 1), found {bad!r}")


def _initial(model, engine, init, chains, rng, clamp):
    """Layer arrays from ``init`` (visible or full states), random where not given, clamped."""
    sizes, n_full, n_v = engine.sizes, sum(engine.sizes), engine.sizes[0]
    given = []
    if init is not None:
        arr = np.asarray(init)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"init must be numeric, got dtype {arr.dtype}")
        width = arr.shape[-1] if arr.ndim in (1, 2) else None
        if width not in (n_v, n_full) or (arr.ndim == 2 and arr.shape[0] != chains):
            raise ModelError(f"init must have shape ({chains}, {n_v}) (visible units), ({chains}, {n_full}) "
                             f"(all layers) or one such row, got {arr.shape}")
        arr = np.broadcast_to(arr.astype(np.float64), (chains, width))
        given = _split(arr, sizes if width == n_full else sizes[:1])
        _check_layers(model, given, "init")
    layers = engine.initial(rng) if len(given) < len(sizes) else [None] * len(sizes)
    for k, x in enumerate(given):
        layers[k] = x.astype(engine.dtype)
    for i, x in clamp.items():
        if init is not None and np.any(layers[0][:, i] != np.asarray(x, engine.dtype)):
            raise EvidenceError(f"init disagrees with the evidence on visible unit {i}")
        layers[0][:, i] = x
    return [np.ascontiguousarray(x.T) for x in layers]  # unit-major (n, chains)


def _variable_names(model, include_hidden):
    names = list(range(model.layer_sizes[0]))
    if include_hidden:
        for name, n in zip(model.layer_names[1:], model.layer_sizes[1:]):
            names += [f"{name}[{j}]" for j in range(n)]
    return names


# ---------------------------------------------------------------------------- the kernel
class LayeredState(NamedTuple):
    """Chains of a layered model: one array per layer, unit-major ``(n_k, chains)`` in the model
    dtype, and the xoshiro256 streams column-wise ``(4, chains)`` (the kernels' layout)."""

    layers: list
    rng: np.ndarray


class LayeredInfo(NamedTuple):
    """Per-draw records: recorded units ``(chains, draws, units)``, ``lp = −E(x)`` and
    ``energy = E(x)`` of the full chain state ``(chains, draws)``."""

    states: Optional[np.ndarray]
    lp: np.ndarray
    energy: np.ndarray


@register
class LayeredGibbs(Kernel):
    """Block Gibbs of a layered model (see the module docstring).

    Options: ``evidence`` (``{visible index: value}`` clamped visible units; with all visibles
    clamped the hidden states are samples of ``p(h | v)``) and ``include_hidden`` (record every
    layer — columns ``0..n_visible−1`` then ``"h[0]"``, … — instead of the visible units).
    ``init`` may give visible states ``(chains, n_visible)``, full states ``(chains, n_units)``
    (layers concatenated in ``model.layer_names`` order) or one such row.  States are int8 when
    all recorded units are binary, else the model dtype; ``final_state.x`` holds all layers as
    float64.

    Examples
    --------
    >>> import pgm, samplers
    >>> rbm = pgm.RBM(6, 4, seed=0)
    >>> s = samplers.sample(rbm, chains=3, draws=20, seed=1, progress=False)
    >>> s.states.shape, s.final_state.x.shape
    ((3, 20, 6), (3, 10))
    """

    name = "layered_block_gibbs"
    family = "layered models"
    methods = LAYERED_METHODS
    options = ("evidence", "include_hidden")
    chunk_steps = 100

    @classmethod
    def accepts(cls, model):
        return getattr(model, "sampler_family", None) == "layered"

    def __init__(self, model, method, evidence=None, include_hidden=False):
        super().__init__(model, method)
        if model.layered_kind not in _ENGINES:
            raise TypeError(f"no block-Gibbs engine for layered model kind {model.layered_kind!r}")
        if not isinstance(include_hidden, bool):
            raise TypeError(f"include_hidden must be True or False, got {include_hidden!r}")
        for k, w in model.params.items():
            if not np.all(np.isfinite(w)):
                raise ModelError(f"parameter {k!r} of the model has non-finite values")
        model._validate()
        self.clamp = _check_evidence(model, evidence)
        self.include_hidden = include_hidden
        sizes, kinds = list(model.layer_sizes), list(model.layer_kinds)
        self.rec_layers = list(range(len(sizes))) if include_hidden else [0]
        self.record_width = sum(sizes[k] for k in self.rec_layers)
        self.binary = all(kinds[k] == "binary" for k in self.rec_layers)
        self.record_dtype = np.dtype(np.int8) if self.binary else np.dtype(model.dtype)
        self.variables = _variable_names(model, include_hidden)
        self.engine = None

    def init(self, chains, start, init):
        model = self.model
        if self.engine is None or self.engine.chains != chains:
            self.engine = _ENGINES[model.layered_kind](model, chains, self.clamp)
        if isinstance(start, ChainState):
            if start.x.shape != (chains, model.n_units):
                raise ModelError(f"ChainState has shape {start.x.shape}, expected ({chains}, {model.n_units})")
            rng = check_streams(start.rng_state, chains)
            layers = _initial(model, self.engine, start.x, chains, None, self.clamp)
        else:
            layers = _initial(model, self.engine, init, chains, start.initial, self.clamp)
            rng = make_rng_state(start.streams, chains)
        return LayeredState(layers, np.ascontiguousarray(rng.T))

    def advance(self, state, n, thin=1, record=False, keep=False, phase=None):
        engine, layers, S = self.engine, state.layers, state.rng
        with np.errstate(over="ignore"):  # exp(−a) = inf is meaningful (p = 0)
            if not record:
                for _ in range(n):
                    engine.sweep(layers, S, False)
                return state, None
            chains = engine.chains
            energy = np.empty((chains, n))
            states = np.empty((chains, n, self.record_width), dtype=self.record_dtype) if keep else None
            for d in range(n):
                for t in range(thin):
                    e = engine.sweep(layers, S, t == thin - 1)
                energy[:, d] = e
                if keep:
                    at = 0
                    for li in self.rec_layers:
                        k = engine.sizes[li]
                        states[:, d, at:at + k] = layers[li].T
                        at += k
        return state, LayeredInfo(states, -energy, energy)

    def to_user(self, state):
        x = np.concatenate([layer.T.astype(np.float64) for layer in state.layers], axis=1)
        return ChainState(x, np.ascontiguousarray(state.rng.T))

    def info(self, state):
        model = self.model
        return {"scan": "systematic", "domain": (0, 1) if self.binary else None,
                "model": type(model).__name__,
                "layers": dict(zip(model.layer_names, model.layer_sizes)),
                "include_hidden": self.include_hidden, "evidence": dict(self.clamp),
                "lp": "-E(x) of the full chain state (all layers)", "dtype": self.engine.dtype.name,
                "engine": type(self.engine).__name__}
