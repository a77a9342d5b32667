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

Reproducibility: ``SeedSequence(seed).spawn(2)`` — one child draws the initial states, the other
seeds one stream per chain; chain ``c``'s uniforms depend only on its own stream, so results
are identical for any thread count (and, for binary layers, whatever the number of other
chains), and ``init=samples.final_state`` continues a run exactly.
"""

import numbers
import time

import numpy as np

from pgm.errors import EvidenceError, ModelError, TooLargeError, UnknownVariableError

from ._layered_kernels import bernoulli_block, gaussian_block, sbn_site_gibbs
from ._rng import make_rng_state
from .results import ChainState, Samples
from .sample import STATE_MEMORY_LIMIT, _Progress, run_settings

__all__ = ["sample_layered", "LAYERED_METHODS"]

LAYERED_METHODS = ("block_gibbs", "gibbs")
_CHUNK_BYTES = 32 * 2**20


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
        if model.layered_kind == "rbm":
            W, b = [model.W], [model.b, model.c]
        else:
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
    if not isinstance(evidence, dict):
        raise TypeError(f"evidence must be a dict {{visible index: value}}, got {type(evidence).__name__}")
    n_v, binary = model.layer_sizes[0], model.layer_kinds[0] == "binary"
    out = {}
    for i, x in evidence.items():
        if isinstance(i, bool) or not isinstance(i, numbers.Integral) or not 0 <= i < n_v:
            raise UnknownVariableError(f"evidence names {i!r}; expected a visible unit index in 0..{n_v - 1}")
        if isinstance(x, bool) or not isinstance(x, numbers.Real) or not np.isfinite(x):
            raise EvidenceError(f"evidence value for visible unit {i} must be a finite number, got {x!r}")
        if binary and x not in (0, 1):
            raise EvidenceError(f"evidence value for visible unit {i} must be 0 or 1 (binary units), got {x!r}")
        out[int(i)] = float(x)
    return out


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


# ---------------------------------------------------------------------------- driver
def sample_layered(model, method="block_gibbs", chains=None, draws=1000, warmup=None, thin=1, seed=None,
                   evidence=None, init=None, scan="systematic", blocks=None, observables=None,
                   keep_states=True, progress=True, tempering=None, swap_interval=1, include_hidden=False):
    """Block-Gibbs samples of a layered model; called by :func:`samplers.sample`.

    Parameters are those of :func:`samplers.sample`, with:

    method : {"block_gibbs", "gibbs"}
        Both run the layer-wise block Gibbs sweep (``"gibbs"`` is an alias).
    evidence : dict, optional
        ``{visible index: value}`` clamped visible units; with all visibles clamped the hidden
        states are samples of the posterior ``p(h | v)``.
    init : array, ChainState or None
        Visible states ``(chains, n_visible)``, full states ``(chains, n_units)`` (layers
        concatenated in ``model.layer_names`` order), one such row, or a ChainState.
    tempering, swap_interval :
        Parallel tempering is not implemented for layered models: ``tempering`` must be None.
    include_hidden : bool
        Record all layers (columns named ``0..n_visible−1`` then ``"h[0]"``, …) instead of the
        visible units only.

    Returns
    -------
    Samples
        ``states`` ``(chain, draw, unit)`` (int8 when all recorded units are binary, else the
        model dtype), ``observables["energy"]`` ``E(x)`` and ``sample_stats["lp"] = −E(x)``
        of the full state, ``final_state`` (all layers as float64, and the RNG streams).

    Examples
    --------
    >>> import pgm, samplers
    >>> rbm = pgm.RBM(6, 4, seed=0)
    >>> s = samplers.sample(rbm, chains=3, draws=20, seed=1, progress=False)
    >>> s.states.shape, s.final_state.x.shape
    ((3, 20, 6), (3, 10))
    """
    if method not in LAYERED_METHODS:
        raise ValueError(f"unknown method {method!r} for a {type(model).__name__}; expected one of {LAYERED_METHODS}")
    if scan != "systematic":
        raise ValueError(f"scan={scan!r}: layered models are swept layer by layer (scan='systematic')")
    if blocks is not None:
        raise ValueError("blocks are fixed by the layer structure of a layered model; pass blocks=None")
    if tempering is not None:
        raise ValueError(f"parallel tempering is not implemented for {type(model).__name__}; pass tempering=None")
    chains, draws, warmup, thin, observables = run_settings(init, chains, draws, warmup, thin,
                                                            observables)
    if model.layered_kind not in _ENGINES:
        raise TypeError(f"no block-Gibbs engine for layered model kind {model.layered_kind!r}")
    for k, w in model.params.items():
        if not np.all(np.isfinite(w)):
            raise ModelError(f"parameter {k!r} of the model has non-finite values")
    model._validate()
    clamp = _check_evidence(model, evidence)
    engine = _ENGINES[model.layered_kind](model, chains, clamp)

    rec_layers = list(range(len(engine.sizes))) if include_hidden else [0]
    n_rec = sum(engine.sizes[k] for k in rec_layers)
    binary = all(engine.kinds[k] == "binary" for k in rec_layers)
    rec_dtype = np.dtype(np.int8) if binary else engine.dtype
    if keep_states and chains * draws * n_rec * rec_dtype.itemsize > STATE_MEMORY_LIMIT:
        raise TooLargeError(
            f"keeping {chains}×{draws}×{n_rec} states needs "
            f"{chains * draws * n_rec * rec_dtype.itemsize / 2**30:.1f} GiB; pass keep_states=False")

    if isinstance(init, ChainState):
        if init.x.shape != (chains, model.n_units):
            raise ModelError(f"ChainState has shape {init.x.shape}, expected ({chains}, {model.n_units})")
        if init.rng_state.shape != (chains, 4):
            raise ModelError(f"ChainState rng_state has shape {init.rng_state.shape}, expected ({chains}, 4)")
        layers = _initial(model, engine, init.x, chains, None, clamp)
        rng_state = np.asarray(init.rng_state, dtype=np.uint64)
    else:
        ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        init_ss, chain_ss = ss.spawn(2)
        layers = _initial(model, engine, init, chains, np.random.default_rng(init_ss), clamp)
        rng_state = make_rng_state(chain_ss, chains)
    S = np.ascontiguousarray(rng_state.T)  # (4, chains): the kernels' layout

    t0 = time.perf_counter()
    bar = _Progress(warmup + draws * thin, progress)
    with np.errstate(over="ignore"):  # exp(−a) = inf is meaningful (p = 0)
        shown = 0
        for i in range(1, warmup + 1):
            engine.sweep(layers, S, False)
            if i % 100 == 0 or i == warmup:
                bar.update(i - shown, "warmup")
                shown = i
        t_warm = time.perf_counter() - t0
        kept, energy, obs_out = _record(engine, layers, S, draws, thin, observables, keep_states,
                                        rec_layers, rec_dtype, bar)
    bar.close()
    final = ChainState(np.concatenate([x.T.astype(np.float64) for x in layers], axis=1), np.ascontiguousarray(S.T))
    info = {"method": method, "scan": scan, "chains": chains, "draws": draws, "warmup": warmup,
            "thin": thin, "seed": seed if isinstance(seed, (int, type(None))) else None,
            "domain": (0, 1) if binary else None, "model": type(model).__name__,
            "layers": dict(zip(model.layer_names, model.layer_sizes)), "include_hidden": bool(include_hidden),
            "evidence": dict(clamp), "lp": "-E(x) of the full chain state (all layers)",
            "dtype": engine.dtype.name, "seconds_warmup": t_warm,
            "seconds_sampling": time.perf_counter() - t0 - t_warm, "engine": type(engine).__name__}
    return Samples(kept, {"energy": energy, **obs_out}, {"lp": -energy}, _variable_names(model, include_hidden),
                   final, info)


def _record(engine, layers, S, draws, thin, observables, keep_states, rec_layers, rec_dtype, bar):
    """Run ``draws × thin`` sweeps in chunks, recording energies, states and observables."""
    chains = engine.chains
    n_rec = sum(engine.sizes[k] for k in rec_layers)
    need_states = keep_states or bool(observables)
    per_chunk = max(1, _CHUNK_BYTES // max(1, chains * n_rec * rec_dtype.itemsize))
    kept = np.empty((chains, draws, n_rec), dtype=rec_dtype) if keep_states else None
    energy = np.empty((chains, draws))
    obs_out = {name: np.empty((chains, draws)) for name in observables}
    done = 0
    while done < draws:
        k = min(draws - done, per_chunk)
        chunk = np.empty((chains, k, n_rec), dtype=rec_dtype) if need_states else None
        for d in range(k):
            for t in range(thin):
                e = engine.sweep(layers, S, t == thin - 1)
            energy[:, done + d] = e
            if need_states:
                at = 0
                for li in rec_layers:
                    n = engine.sizes[li]
                    chunk[:, d, at:at + n] = layers[li].T
                    at += n
        for name, f in observables.items():
            val = np.asarray(f(chunk))
            if val.shape != (chains, k):
                raise ModelError(f"observable {name!r} returned shape {val.shape}, expected ({chains}, {k})")
            obs_out[name][:, done:done + k] = val
        if keep_states:
            kept[:, done:done + k] = chunk
        done += k
        bar.update(k * thin, "sampling")
    return kept, energy, obs_out
