"""Learning objectives: CD-k, PCD/SML, fast PCD, exact ML, (generalised) pseudolikelihood, ratio
matching, score matching, denoising score matching and NCE (SPEC.md §3).

Each objective is written once against the model protocol of :mod:`estimators._protocol`
(``params``, ``set_params``, ``free_energy``, ``grad_free_energy``; for score matching also
``grad_x``, ``laplacian``, ``grad_laplacian`` and ``grad_grad_x``).  Latent-variable models
(RBMs) enter through their free energy ``F(v) = −log Σ_h e^{−E(v,h)}``; fully visible models
have ``F = E``.  Every objective returns the gradient of the quantity it *minimises*
(``θ ← θ − lr·g`` descends it):

========================  =====================================================================
objective                 minimised quantity / gradient (batch ``x``, ``n`` rows)
========================  =====================================================================
:class:`ExactML`          ``mean F(x) + log Z``; ``g = mean ∂F(x) − E_p[∂F]`` (enumeration)
:class:`CD`               ``g = mean ∂F(x) − mean ∂F(x⁻)``, ``x⁻`` = k Gibbs sweeps from ``x``
:class:`PCD`              same, ``x⁻`` from persistent chains advanced k sweeps per update (SML)
:class:`FastPCD`          PCD whose chains sample ``θ_slow + θ_fast``; ``θ_fast ← d·θ_fast − η_f g``
:class:`PseudoLikelihood` ``−mean Σ_S log p(x_S | x_{−S})`` (singletons ``S = {i}``: PL)
:class:`RatioMatching`    ``mean Σ_j σ(F(x) − F(f(x,j)))²`` = ``Σ_j (1 + p̃(x)/p̃(f(x,j)))⁻²``
:class:`ScoreMatching`    ``mean [−ΔE(x) + ½‖∇ₓE(x)‖²]``
:class:`DenoisingScoreMatching` ``½ mean ‖∇E(x̃) − ε/σ‖²``, ``x̃ = x + σε`` (= ``½‖∇log p̃(x̃) − (x − x̃)/σ²‖²``)
:class:`NCE`              ``−(1/n)[Σ_data log σ(G) + Σ_noise log σ(−G)]``,
                          ``G = −F + c − log ν − log p_noise`` (``c`` learned, ≈ ``−log Z``)
========================  =====================================================================

Sampling objectives draw their negative phase with ``samplers.sample(model, method, chains,
draws=1, warmup=k−1, init=...)``; PCD keeps the returned ``final_state`` (a
:class:`samplers.ChainState`: states and per-chain RNG streams), so a checkpointed run resumes
bit for bit.  Binary objectives (PL, RM) evaluate ``F`` on batches with bits flipped: ``d``
extra evaluations per example for PL/RM, ``2^{|S|}−1`` per block ``S`` for generalised PL.
"""

import math
import numbers

import numpy as np

import samplers
from pgm.errors import ModelError, TooLargeError

from ._protocol import (check_data, is_layered, n_features, sampling_view, visible_is_binary,
                        weighted_grad, with_params)
from ._rbm_pcd import fast_pcd_step
from ._update import apply_update, check_finite, fresh_results, param_view
from .noise import BernoulliNoise, GaussianNoise
from .optimizers import SGD

__all__ = ["Objective", "CD", "PCD", "SML", "FastPCD", "ExactML", "PseudoLikelihood",
           "RatioMatching", "ScoreMatching", "DenoisingScoreMatching", "NCE"]

#: rows × columns of flipped states evaluated at once by PL / RM (bounds temporary memory)
FLIP_CHUNK_ELEMENTS = 2**22


def _int(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _real(value, name, low=None, high=None, low_open=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite real number, got {value!r}")
    value = float(value)
    if low is not None and (value < low or (low_open and value == low)):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {value!r}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value!r}")
    return value


def _log_sigmoid(t):
    return -np.logaddexp(0.0, -t)


def _sigmoid(t):
    return np.exp(_log_sigmoid(t))


def _mean_grad(model, x):
    return weighted_grad(model, x, np.full(x.shape[0], 1.0 / x.shape[0]))


def _contrast(model, x, neg):
    """``mean ∂F(x) − mean ∂F(neg)`` in one weighted pass over both batches."""
    w = np.concatenate([np.full(x.shape[0], 1.0 / x.shape[0]), np.full(neg.shape[0], -1.0 / neg.shape[0])])
    return weighted_grad(model, np.concatenate([np.asarray(x, np.float64), neg]), w)


class Objective:
    """Base class.  Subclasses implement :meth:`grad` (and :meth:`loss` where one exists).

    Attributes
    ----------
    data_kind : {None, "binary", "real"}
        What the data must be (checked by :func:`estimators.fit`).
    has_loss : bool
        Whether :meth:`loss` exists (needed by full-batch optimisers such as
        :class:`estimators.LBFGS`).
    own_params : dict
        Parameters that the objective learns besides the model's (NCE's ``c``); gradients for
        them come under the keys ``"objective." + name``.
    requires : tuple of str
        Model members the objective uses besides ``params`` / ``set_params``.
    """

    data_kind = None
    has_loss = False
    #: model members the objective uses besides ``params`` / ``set_params`` (checked by ``fit``)
    requires = ("free_energy", "grad_free_energy")

    def __init__(self):
        self.own_params = {}

    # ------------------------------------------------------------------ protocol
    def setup(self, model, data):
        """Called once by :func:`estimators.fit` before training (validate against the model)."""

    def grad(self, model, x, rng=None):
        """``(grads, stats)``: gradient of the minimised quantity on batch ``x`` (validated), and
        monitoring values (floats) such as ``"loss"``.  ``rng``: a Generator or a seed."""
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        return self._grad(model, self._batch(model, x), rng)

    def update(self, model, x, rng, optimizer, where="in this update"):
        """One training step on the validated batch ``x``: the gradient, the optimiser's step and
        the new parameters written into ``model`` (and into the objective's own parameters);
        returns the monitoring values.  :func:`estimators.fit` calls this for every minibatch;
        an objective may fuse the three (:class:`PCD` does on float64 binary RBMs).

        Raises ``FloatingPointError`` for a non-finite gradient or loss and
        :class:`pgm.errors.ModelError` for refused parameters (``where`` names the step); the
        model then keeps its old parameters."""
        grads, stats = self._grad(model, x, rng)
        check_finite(grads, where, stats)
        new = optimizer.step(param_view(model, self), grads)
        apply_update(model, self, new, where, owned=fresh_results(optimizer))
        return stats

    def _grad(self, model, x, rng):
        loss, grads, stats = self._evaluate(model, x, rng, need_grad=True)
        if loss is not None:
            stats = {"loss": loss, **stats}
        return grads, stats

    def loss(self, model, x, rng=None):
        """The minimised quantity on batch ``x`` (objectives with ``has_loss``)."""
        if not self.has_loss:
            raise TypeError(f"{type(self).__name__} has no loss (its gradient is not that of a function)")
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        x = self._batch(model, x)
        return self._evaluate(model, x, rng, need_grad=False)[0]

    def _evaluate(self, model, x, rng, need_grad):
        raise NotImplementedError

    def _batch(self, model, x):
        return check_data(x, model, binary=self.data_kind == "binary", name="batch")

    def set_own_params(self, **values):
        for k, v in values.items():
            if k not in self.own_params:
                raise KeyError(f"unknown objective parameter {k!r}")
            v = np.asarray(v, dtype=np.float64)
            if v.shape != self.own_params[k].shape or not np.all(np.isfinite(v)):
                raise ModelError(f"objective parameter {k!r} must be finite with shape {self.own_params[k].shape}")
            self.own_params[k][...] = v

    def config(self):
        """JSON-able description (checked when a checkpoint is resumed)."""
        return {"type": type(self).__name__}

    def state_dict(self):
        """Arrays of the objective's state (persistent chains, fast weights)."""
        return {}

    def load_state_dict(self, arrays):
        if arrays:
            raise ValueError(f"{type(self).__name__} keeps no state, got {sorted(arrays)}")

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "type")
        return f"{type(self).__name__}({args})"


# ---------------------------------------------------------------------------- sampling-based
def _method(model, method):
    if method is not None:
        return method
    if getattr(model, "sampler_family", None) == "continuous":
        return "langevin"
    return "block_gibbs" if is_layered(model) else "gibbs"


def _options(options):
    """Validated extra ``samplers.sample`` keywords (e.g. ``step_size`` for Langevin / HMC)."""
    if options is None:
        return {}
    if not isinstance(options, dict) or not all(isinstance(k, str) for k in options):
        raise TypeError(f"sampler_options must be a dict of keyword arguments, got {options!r}")
    reserved = {"method", "chains", "draws", "warmup", "init", "seed", "progress", "warn"} & set(options)
    if reserved:
        raise ValueError(f"sampler_options may not set {sorted(reserved)}: the objective does")
    return dict(options)


def _sampler_init(model, x):
    """Data rows as sampler initial states (integers for discrete models).

    Layered models get full states (the data, then zeros for the other layers, which the first
    half-sweep redraws given the data), so no random hidden layers are drawn only to be
    overwritten."""
    if is_layered(model):
        rest = np.zeros((x.shape[0], int(model.n_units) - x.shape[1]))
        return np.ascontiguousarray(np.concatenate([np.asarray(x, dtype=np.float64), rest], axis=1))
    if visible_is_binary(model):
        return np.ascontiguousarray(x, dtype=np.int8)
    return np.ascontiguousarray(x)


def _negative(model, init, chains, k, method, seed, options=None):
    if getattr(model, "sampler_family", None) == "continuous":
        options = {"adapt_step_size": False, **(options or {})}   # a fixed kernel per update
    s = samplers.sample(sampling_view(model), method=method, chains=chains, draws=1, warmup=k - 1,
                        init=init, seed=seed, progress=False, warn=False, **(options or {}))
    return np.asarray(s.states[:, 0, :], dtype=np.float64), s.final_state


class CD(Objective):
    """Contrastive divergence CD-k (SPEC §3): negative chains start at the minibatch and run
    ``k`` Gibbs sweeps; ``g = mean ∂F(x) − mean ∂F(x⁻)``.

    Biased (a fixed point of CD-k is not the ML estimate) and blind to spurious modes far from
    the data; cheap.

    Parameters
    ----------
    k : int
        Gibbs sweeps per update.
    method : str, optional
        ``samplers.sample`` method (default ``"block_gibbs"`` for layered models such as RBMs,
        ``"langevin"`` for continuous energies, ``"gibbs"`` otherwise).
    sampler_options : dict, optional
        Extra ``samplers.sample`` keywords, e.g. ``{"step_size": 1e-3}`` for a Langevin or HMC
        negative phase (continuous models run without step-size adaptation unless
        ``adapt_step_size=True`` is given here).

    Examples
    --------
    >>> import numpy as np, pgm, estimators
    >>> rbm = pgm.RBM(6, 3, seed=0)
    >>> x = np.random.default_rng(0).integers(0, 2, (20, 6))
    >>> g, stats = estimators.CD(k=1).grad(rbm, x, np.random.default_rng(1))
    >>> sorted(g), g["W"].shape
    (['W', 'b', 'c'], (6, 3))
    """

    def __init__(self, k=1, method=None, sampler_options=None):
        super().__init__()
        self.k = _int(k, "k", 1)
        self.method = method
        self.sampler_options = _options(sampler_options)
        self.streams = None

    def config(self):
        return {"type": type(self).__name__, "k": self.k, "method": self.method,
                "sampler_options": self.sampler_options}

    def _grad(self, model, x, rng):
        # The chains restart from the data at every update, but their random streams carry on
        # (a ChainState with the batch as states): seeding fresh per-chain streams costs more
        # than a few sweeps of a small model.
        n, init = x.shape[0], _sampler_init(model, x)
        method = _method(model, self.method)
        if self.streams is None or self.streams.shape[0] < n:
            neg, final = _negative(model, init, n, self.k, method, int(rng.integers(2**63)),
                                   self.sampler_options)
            self.streams = np.array(final.rng_state, copy=True)
        else:
            neg, final = _negative(model, samplers.ChainState(init, self.streams[:n]), n, self.k, method,
                                   None, self.sampler_options)
            self.streams[:n] = final.rng_state
        g = _contrast(model, x, neg)
        return g, {"recon_error": float(np.mean((x - neg) ** 2))}

    def state_dict(self):
        return {} if self.streams is None else {"streams": self.streams}

    def load_state_dict(self, arrays):
        arrays = dict(arrays)
        s = arrays.pop("streams", None)
        self.streams = None if s is None else np.array(s, dtype=np.uint64)
        return arrays


class PCD(Objective):
    """Persistent contrastive divergence / stochastic maximum likelihood, PCD-k = SML (SPEC §3).

    ``chains`` persistent negative chains advance ``k`` sweeps per update (their states *and*
    random streams are kept as a :class:`samplers.ChainState` in :attr:`state`, saved in
    checkpoints); ``g = mean ∂F(x) − mean ∂F(x⁻)``.  Evaluate a PCD-trained model with fresh
    chains, never with these.

    Parameters
    ----------
    k : int
    chains : int
    method, sampler_options :
        As :class:`CD`.

    Examples
    --------
    >>> import numpy as np, pgm, estimators
    >>> rbm = pgm.RBM(6, 3, seed=0)
    >>> x = np.random.default_rng(0).integers(0, 2, (20, 6))
    >>> pcd = estimators.PCD(k=1, chains=10)
    >>> g, _ = pcd.grad(rbm, x, np.random.default_rng(1))
    >>> pcd.state.x.shape   # visible and hidden layers of the 10 chains
    (10, 9)
    """

    def __init__(self, k=1, chains=100, method=None, sampler_options=None):
        super().__init__()
        self.k = _int(k, "k", 1)
        self.chains = _int(chains, "chains", 1)
        self.method = method
        self.sampler_options = _options(sampler_options)
        self.state = None
        self._fast = None

    def config(self):
        return {"type": type(self).__name__, "k": self.k, "chains": self.chains, "method": self.method,
                "sampler_options": self.sampler_options}

    def _sampler_model(self, model):
        return model

    def _advance(self, model, rng):
        if self.state is None:
            init, seed = None, int(rng.integers(2**63))
        else:
            init, seed = self.state, None
        neg, self.state = _negative(self._sampler_model(model), init, self.chains, self.k,
                                    _method(model, self.method), seed, self.sampler_options)
        return neg

    def fast_step(self, model):
        """The fused update of ``estimators/_rbm_pcd.py`` for ``model`` (a float64 binary RBM
        sampled by block Gibbs; its buffers kept between updates), or None."""
        self._fast = fast_pcd_step(model, self, self._fast)
        return self._fast

    @property
    def fusable(self):
        """May updates be fused (``estimators/_rbm_pcd.py``)?  Only for plain PCD: a subclass
        (:class:`FastPCD`, a user's) changes what an update does."""
        return type(self) is PCD

    def _grad(self, model, x, rng):
        fast = self.fast_step(model)
        if fast is not None:
            return fast(model, x, rng)
        neg = self._advance(model, rng)
        return _contrast(model, x, neg), {}

    def update(self, model, x, rng, optimizer, where="in this update"):
        """:meth:`Objective.update`, fused on a float64 binary RBM (``estimators/_rbm_pcd.py``):
        the gradient's ``∂W`` is finite when its ``∂c`` is, so only ``∂c`` is checked; with plain
        SGD (no momentum, no weight decay) the step itself is fused with the gradient's last
        product — the same numbers as ``SGD.step``, one pass over ``W`` fewer."""
        fast = self.fast_step(model)
        if fast is None:
            return super().update(model, x, rng, optimizer, where)
        owned = fresh_results(optimizer)
        if (type(optimizer) is SGD and optimizer.momentum == 0.0 and optimizer.weight_decay == 0.0
                and not self.own_params):
            new, grads, stats = fast.descend(model, x, rng, optimizer.current_lr())
            check_finite({"c": grads["c"]}, where)
            optimizer.t += 1
            # the new W was checked finite as the step wrote it (RBMPCDStep.new_W_finite)
            apply_update(model, self, new, where, owned=owned, finite=("W",) if fast.new_W_finite else ())
            return stats
        grads, stats = fast(model, x, rng, copy_grads=not owned)
        check_finite({"c": grads["c"]}, where)
        new = optimizer.step(param_view(model, self), grads)
        apply_update(model, self, new, where, owned=owned)
        return stats

    def state_dict(self):
        """The persistent chains: states, random streams and, for Langevin / HMC chains, the
        adapted step sizes (every field of the :class:`samplers.ChainState`)."""
        if self.state is None:
            return {}
        # "chains.rng" (not "chains.rng_state") as in checkpoints written before the other fields
        return {"chains." + ("rng" if k == "rng_state" else k): v for k, v in self.state.to_arrays().items()}

    def load_state_dict(self, arrays):
        arrays = dict(arrays)
        mine = {("rng_state" if k == "chains.rng" else k[len("chains."):]): arrays.pop(k)
                for k in list(arrays) if k.startswith("chains.")}
        self.state = samplers.ChainState.from_arrays(mine) if "x" in mine else None
        if self.state is not None and self.state.chains != self.chains:
            raise ValueError(f"checkpoint holds {self.state.chains} chains, the objective has {self.chains}")
        return arrays


SML = PCD


class FastPCD(PCD):
    """Fast persistent contrastive divergence (Tieleman & Hinton 2009; SPEC §3 "Fast PCD").

    ``θ = θ_slow + θ_fast``: the persistent chains sample the model with parameters
    ``θ_slow + θ_fast``; only ``θ_slow`` is the model (updated by the optimiser).  After each
    gradient ``g`` (positive phase on the data, negative phase from the chains, both with the
    slow model's ``∂F``), ``θ_fast ← fast_decay · θ_fast − fast_lr · g``: a large learning rate
    and strong decay toward 0, which pushes the chains out of the modes they have just visited.

    Parameters
    ----------
    k, chains, method :
        As :class:`PCD`.
    fast_lr : float
        Learning rate of the fast weights (typically larger than the slow one).
    fast_decay : float in [0, 1]
        Multiplicative decay of the fast weights per update (Tieleman & Hinton: 19/20).

    Examples
    --------
    >>> import numpy as np, pgm, estimators
    >>> rbm = pgm.RBM(6, 3, seed=0)
    >>> x = np.random.default_rng(0).integers(0, 2, (20, 6))
    >>> f = estimators.FastPCD(k=1, chains=10, fast_lr=0.05, fast_decay=0.95)
    >>> _ = f.grad(rbm, x, np.random.default_rng(1))
    >>> sorted(f.fast)
    ['W', 'b', 'c']
    """

    def __init__(self, k=1, chains=100, fast_lr=0.01, fast_decay=0.95, method=None, sampler_options=None):
        super().__init__(k, chains, method, sampler_options)
        self.fast_lr = _real(fast_lr, "fast_lr", 0.0)
        self.fast_decay = _real(fast_decay, "fast_decay", 0.0, 1.0)
        self.fast = None

    def config(self):
        return {**super().config(), "fast_lr": self.fast_lr, "fast_decay": self.fast_decay}

    def _sampler_model(self, model):
        if self.fast is None:
            self.fast = {k: np.zeros(np.shape(v)) for k, v in model.params.items()}
        if not any(np.any(v) for v in self.fast.values()):
            return model
        return with_params(model, {k: np.asarray(v, np.float64) + self.fast[k] for k, v in model.params.items()})

    def _grad(self, model, x, rng):
        g, stats = super()._grad(model, x, rng)
        for k in self.fast:
            self.fast[k] = self.fast_decay * self.fast[k] - self.fast_lr * g[k]
        return g, stats

    def state_dict(self):
        out = super().state_dict()
        if self.fast is not None:
            out.update({f"fast.{k}": v for k, v in self.fast.items()})
        return out

    def load_state_dict(self, arrays):
        rest = super().load_state_dict(arrays)
        fast = {k[5:]: np.array(v, dtype=np.float64) for k, v in rest.items() if k.startswith("fast.")}
        self.fast = fast or None
        return {k: v for k, v in rest.items() if not k.startswith("fast.")}


# ---------------------------------------------------------------------------- exact ML
def _all_binary_states(d):
    k = np.arange(2**d, dtype=np.int64)
    return ((k[:, None] >> np.arange(d, dtype=np.int64)) & 1).astype(np.float64)


class ExactML(Objective):
    """Exact maximum likelihood for models whose partition function is tractable.

    Minimises the negative log-likelihood ``mean F(x) + log Z`` with gradient
    ``mean ∂F(x) − E_{x~p}[∂F(x)]`` (SPEC §3, the log-likelihood gradient).  Models with
    ``exact_log_partition()`` and ``grad_log_partition()`` (e.g. :class:`pgm.GaussianEnergy`)
    use them; binary models are enumerated (``2^d`` visible states, ``d ≤ max_units``; RBM hidden
    units are summed out in ``F``).

    Examples
    --------
    >>> import numpy as np, pgm, estimators
    >>> bm = pgm.BoltzmannMachine(np.zeros((3, 3)))
    >>> round(estimators.ExactML().loss(bm, [[0, 1, 1]]), 6)   # 3 log 2
    2.079442
    """

    has_loss = True

    def __init__(self, max_units=20):
        super().__init__()
        self.max_units = _int(max_units, "max_units", 1)
        self._states = None

    def config(self):
        return {"type": "ExactML", "max_units": self.max_units}

    def setup(self, model, data):
        self._partition(model, need_grad=False)

    def _partition(self, model, need_grad):
        if hasattr(model, "exact_log_partition") and hasattr(model, "grad_log_partition"):
            return model.exact_log_partition(), (model.grad_log_partition() if need_grad else None)
        if not visible_is_binary(model):
            raise TypeError(f"ExactML needs a binary model or one with exact_log_partition and "
                            f"grad_log_partition; got {type(model).__name__}")
        d = n_features(model)
        if d > self.max_units:
            raise TooLargeError(f"ExactML would enumerate 2**{d} states (max_units={self.max_units})")
        if self._states is None or self._states.shape[1] != d:
            self._states = _all_binary_states(d)
        lp = -np.asarray(model.free_energy(self._states), dtype=np.float64)
        m = lp.max()
        w = np.exp(lp - m)
        log_z = float(m + np.log(w.sum()))
        if not need_grad:
            return log_z, None
        g = weighted_grad(model, self._states, w / w.sum())
        return log_z, {k: -v for k, v in g.items()}

    def _evaluate(self, model, x, rng, need_grad):
        log_z, g_logz = self._partition(model, need_grad)
        x, w = _compress(x) if visible_is_binary(model) else (x, np.full(x.shape[0], 1.0 / x.shape[0]))
        loss = float(w @ np.asarray(model.free_energy(x), dtype=np.float64)) + log_z
        if not need_grad:
            return loss, None, {}
        g = weighted_grad(model, x, w)
        return loss, {k: g[k] + np.asarray(g_logz[k], dtype=np.float64) for k in g}, {}


# ---------------------------------------------------------------------------- PL and RM
def _flip(x, masks):
    """``x ⊕ m`` for every row and mask: ``(n, M, d)``."""
    return np.abs(x[:, None, :] - masks[None, :, :])


def _free_energy_rows(model, y):
    """``F`` of states ``(n, M, d)`` → ``(n, M)``, in chunks."""
    n, M, d = y.shape
    flat = y.reshape(n * M, d)
    step = max(1, FLIP_CHUNK_ELEMENTS // max(1, d))
    out = np.empty(n * M)
    for a in range(0, n * M, step):
        out[a:a + step] = model.free_energy(flat[a:a + step])
    return out.reshape(n, M)


def _weighted_grad_rows(model, y, w):
    """``Σ w ∂F(y)`` for states ``(n, M, d)`` and weights ``(n, M)``, in chunks."""
    n, M, d = y.shape
    flat, wf = y.reshape(n * M, d), w.reshape(-1)
    step = max(1, FLIP_CHUNK_ELEMENTS // max(1, d))
    out = None
    for a in range(0, n * M, step):
        g = weighted_grad(model, flat[a:a + step], wf[a:a + step])
        out = g if out is None else {k: out[k] + g[k] for k in out}
    return out


def _compress(x):
    """Distinct rows of a binary batch and their frequencies ``(rows, weights summing to 1)``.

    Data sets of few variables repeat states (20 000 draws of 10 bits hold ≤ 1024 distinct
    ones); evaluating each distinct state once makes the flip-based objectives that much
    cheaper.  Rows are packed into integers, so this applies up to 62 variables."""
    n, d = x.shape
    if d > 62 or n < 2:
        return x, np.full(n, 1.0 / n)
    keys = x.astype(np.int64) @ (np.int64(1) << np.arange(d, dtype=np.int64))
    _, first, counts = np.unique(keys, return_index=True, return_counts=True)
    if first.size == n:
        return x, np.full(n, 1.0 / n)
    return x[first], counts / n


def _check_blocks(blocks, d):
    if blocks is None:
        return [[i] for i in range(d)]
    out, seen = [], set()
    for b, block in enumerate(blocks):
        idx = [int(i) for i in block] if not isinstance(block, (int, np.integer)) else [int(block)]
        if not idx:
            raise ValueError(f"block {b} is empty")
        for i in idx:
            if not 0 <= i < d:
                raise ValueError(f"block {b} names variable {i}; expected indices in 0..{d - 1}")
        if len(set(idx)) != len(idx):
            raise ValueError(f"block {b} repeats a variable: {idx}")
        if len(idx) > 16:
            raise TooLargeError(f"block {b} has {len(idx)} variables; a conditional needs 2**{len(idx)} "
                                "evaluations (at most 16 variables per block)")
        seen.update(idx)
        out.append(idx)
    return out


class PseudoLikelihood(Objective):
    """(Generalised) pseudolikelihood for binary models (SPEC §3).

    Minimises ``−mean Σ_S log p(x_S | x_{−S})`` over index sets ``S`` (default: singletons, the
    ordinary pseudolikelihood ``Σ_i log p(x_i | x_{−i})``).  Each conditional needs only ratios
    of ``p̃``: ``log p(x_S|x_{−S}) = −log Σ_{m ⊆ S} exp(F(x) − F(x ⊕ m))``, i.e. ``2^{|S|} − 1``
    free-energy evaluations of flipped states (``d`` per example for PL).  ``stochastic=True``
    uses one random block per example per step, scaled by the number of blocks (unbiased).

    Parameters
    ----------
    blocks : list of lists of int, optional
        Index sets ``S^(1..m)`` (columns of the data); they may overlap.
    stochastic : bool

    Examples
    --------
    >>> import numpy as np, pgm, estimators
    >>> bm = pgm.BoltzmannMachine(np.zeros((3, 3)))
    >>> round(estimators.PseudoLikelihood().loss(bm, [[0, 1, 1]]), 6)   # 3 log 2
    2.079442
    """

    data_kind = "binary"
    has_loss = True

    def __init__(self, blocks=None, stochastic=False):
        super().__init__()
        self.blocks = None if blocks is None else [list(map(int, np.atleast_1d(b))) for b in blocks]
        self.stochastic = bool(stochastic)
        self._groups = None

    def config(self):
        return {"type": "PseudoLikelihood", "blocks": self.blocks, "stochastic": self.stochastic}

    def setup(self, model, data):
        if not visible_is_binary(model):
            raise TypeError(f"{type(self).__name__} needs a model of binary units, got {type(model).__name__}")
        self._prepare(n_features(model))

    def _prepare(self, d):
        if self._groups is not None and self._groups[0] == d:
            return self._groups[1]
        blocks = _check_blocks(self.blocks, d)
        groups = {}  # size → (block ids, masks (n_blocks, 2^s − 1, d))
        for b, idx in enumerate(blocks):
            s = len(idx)
            sub = ((np.arange(1, 2**s)[:, None] >> np.arange(s)) & 1).astype(np.float64)
            masks = np.zeros((2**s - 1, d))
            masks[:, idx] = sub
            ids, ms = groups.setdefault(s, ([], []))
            ids.append(b)
            ms.append(masks)
        out = (len(blocks), [(np.array(ids), np.stack(ms)) for ids, ms in groups.values()])
        self._groups = (d, out)
        return out

    def _evaluate(self, model, x, rng, need_grad):
        n_blocks, groups = self._prepare(x.shape[1])
        if self.stochastic:
            choice = rng.integers(n_blocks, size=x.shape[0])
            wr = np.full(x.shape[0], float(n_blocks) / x.shape[0])
        else:
            choice = None
            x, wr = _compress(x)
        n, d = x.shape
        f0 = np.asarray(model.free_energy(x), dtype=np.float64)
        loss, grads, w0 = 0.0, None, np.zeros(n)
        for ids, masks in groups:                     # blocks of one size: masks (m_g, M, d)
            M = masks.shape[1]
            if choice is None:                        # every block for every row, in chunks of blocks
                per = max(1, FLIP_CHUNK_ELEMENTS // max(1, n * M * d))
                parts = [(np.arange(n), masks[None, a:a + per]) for a in range(0, len(ids), per)]
            else:                                     # each row's own block, if it is in this group
                pos = {int(b): j for j, b in enumerate(ids)}
                rows = np.array([r for r in range(n) if int(choice[r]) in pos], dtype=np.int64)
                parts = [(rows, masks[[pos[int(choice[r])] for r in rows]][:, None])] if rows.size else []
            for rows, m in parts:
                loss_j, g_j = self._blocks(model, x[rows], f0[rows], m, wr[rows], w0, rows, need_grad)
                loss += loss_j
                if g_j is not None:
                    grads = g_j if grads is None else {k: grads[k] + g_j[k] for k in grads}
        if not need_grad:
            return loss, None, {}
        g0 = weighted_grad(model, x, w0)
        grads = g0 if grads is None else {k: grads[k] + g0[k] for k in g0}
        return loss, grads, {}

    @staticmethod
    def _blocks(model, x, f0, masks, c, w0, rows, need_grad):
        """Loss and flipped-state gradient of ``K`` blocks for rows ``x`` (weights ``c``);
        ``masks`` is ``(r or 1, K, M, d)``.  Adds the weights of the unflipped states to ``w0``."""
        y = np.abs(x[:, None, None, :] - masks)                     # (r, K, M, d)
        r, K, M, d = y.shape
        y = y.reshape(r, K * M, d)
        a = f0[:, None, None] - _free_energy_rows(model, y).reshape(r, K, M)   # log p̃(y) − log p̃(x)
        full = np.concatenate([np.zeros((r, K, 1)), a], axis=2)
        mx = full.max(axis=2, keepdims=True)
        e = np.exp(full - mx)
        z = e.sum(axis=2, keepdims=True)
        loss = float(c @ (mx + np.log(z))[:, :, 0].sum(axis=1))
        if not need_grad:
            return loss, None
        q = e / z                                                   # conditional of each configuration
        np.add.at(w0, rows, c * (1.0 - q[:, :, 0]).sum(axis=1))
        return loss, _weighted_grad_rows(model, y, (-c[:, None, None] * q[:, :, 1:]).reshape(r, K * M))


def pseudo_log_likelihood_rows(model, x):
    """``Σ_i log p(x_i | x_{−i})`` of each row of a binary batch (exact, ``d`` flips per row)."""
    x = np.asarray(x, dtype=np.float64)
    f0 = np.asarray(model.free_energy(x), dtype=np.float64)
    a = f0[:, None] - _free_energy_rows(model, _flip(x, np.eye(x.shape[1])))
    return -np.logaddexp(0.0, a).sum(axis=1)


class RatioMatching(Objective):
    """Ratio matching for binary models (Hyvärinen 2007; SPEC §3).

    Minimises ``mean Σ_j (1 / (1 + p̃(x)/p̃(f(x,j))))² = mean Σ_j σ(F(x) − F(f(x,j)))²``,
    ``f(x,j)`` = ``x`` with bit ``j`` flipped: ``d`` free-energy evaluations per example.

    Examples
    --------
    >>> import numpy as np, pgm, estimators
    >>> bm = pgm.BoltzmannMachine(np.zeros((3, 3)))
    >>> estimators.RatioMatching().loss(bm, [[0, 1, 1]])   # 3 × (1/2)²
    0.75
    """

    data_kind = "binary"
    has_loss = True

    def setup(self, model, data):
        if not visible_is_binary(model):
            raise TypeError(f"RatioMatching needs a model of binary units, got {type(model).__name__}")

    def _evaluate(self, model, x, rng, need_grad):
        x, wr = _compress(x)
        f0 = np.asarray(model.free_energy(x), dtype=np.float64)
        y = _flip(x, np.eye(x.shape[1]))             # (n, d, d)
        a = f0[:, None] - _free_energy_rows(model, y)
        s = _sigmoid(a)
        loss = float(wr @ np.sum(s * s, axis=1))
        if not need_grad:
            return loss, None, {}
        t = 2.0 * s * s * (1.0 - s) * wr[:, None]   # ∂(s²)/∂a, weighted
        g0 = weighted_grad(model, x, t.sum(axis=1))
        gy = _weighted_grad_rows(model, y, -t)
        return loss, {k: g0[k] + gy[k] for k in g0}, {}


# ---------------------------------------------------------------------------- continuous
def _require_score_model(model, name):
    missing = [m for m in ("grad_x", "laplacian", "grad_laplacian", "grad_grad_x") if not hasattr(model, m)]
    if missing:
        raise TypeError(f"{name} needs a continuous model with {', '.join(missing)} "
                        f"(e.g. pgm.GaussianEnergy); {type(model).__name__} lacks them")
    if visible_is_binary(model):
        raise TypeError(f"{name} is for continuous data; {type(model).__name__} has binary units")


class ScoreMatching(Objective):
    """Score matching for continuous models (Hyvärinen 2005; SPEC §3).

    Minimises ``J = mean Σ_j [∂²_j log p̃(x) + ½ (∂_j log p̃(x))²] = mean [−ΔE(x) + ½‖∇ₓE(x)‖²]``
    (the SPEC's ``½ E‖∇ log p_model − ∇ log p_data‖²`` up to a constant), with gradient
    ``−∂ΔE/∂θ + ∂(∇ₓE·v)/∂θ |_{v = ∇ₓE}``.  On Gaussian data with a :class:`pgm.GaussianEnergy`
    the minimiser is the sample mean and the inverse of the (1/n) sample covariance, exactly —
    use the full-batch :class:`estimators.LBFGS` to reach it to ~1e-10.

    Examples
    --------
    >>> import numpy as np, pgm, estimators
    >>> g = pgm.GaussianEnergy([0.0], [[1.0]])
    >>> estimators.ScoreMatching().loss(g, [[1.0], [-1.0]])   # −1 + ½
    -0.5
    """

    data_kind = "real"
    has_loss = True

    def setup(self, model, data):
        _require_score_model(model, "ScoreMatching")

    def _evaluate(self, model, x, rng, need_grad):
        gx = np.asarray(model.grad_x(x), dtype=np.float64)
        lap = np.asarray(model.laplacian(x), dtype=np.float64)
        loss = float(np.mean(-lap + 0.5 * np.sum(gx * gx, axis=1)))
        if not need_grad:
            return loss, None, {}
        g1, g2 = model.grad_laplacian(x), model.grad_grad_x(x, gx)
        return loss, {k: np.asarray(g2[k], np.float64) - np.asarray(g1[k], np.float64) for k in g2}, {}


class DenoisingScoreMatching(Objective):
    """Denoising score matching (Vincent 2011; SPEC §3).

    Fits the score of the data smoothed by ``q(x̃|x) = N(x, σ²I)``: minimises
    ``½ mean ‖∇_x̃ log p̃(x̃) − (x − x̃)/σ²‖² = ½ mean ‖∇E(x̃) − ε/σ‖²`` with ``x̃ = x + σε``.
    Its minimiser is the model closest to the *smoothed* density (a Gaussian's covariance
    grows by ``σ²I``), so ``σ`` trades bias (``O(σ²)``) for variance (``O(1/σ)`` per noise draw).

    Parameters
    ----------
    sigma : float > 0
    n_noise : int
        Noise draws per example per evaluation.
    antithetic : bool
        Draw the noise in pairs ``±ε`` (the ``O(1/σ)`` term of the gradient cancels within a pair;
        same expectation).  ``n_noise`` must then be even.

    Examples
    --------
    >>> import numpy as np, pgm, estimators
    >>> g = pgm.GaussianEnergy([0.0], [[1.0]])
    >>> dsm = estimators.DenoisingScoreMatching(sigma=0.1, n_noise=2, antithetic=True)
    >>> grads, stats = dsm.grad(g, np.array([[1.0], [-1.0]]), np.random.default_rng(0))
    >>> sorted(grads)
    ['mean', 'precision']
    """

    data_kind = "real"
    has_loss = True

    def __init__(self, sigma, n_noise=1, antithetic=False):
        super().__init__()
        self.sigma = _real(sigma, "sigma", 0.0, low_open=True)
        self.n_noise = _int(n_noise, "n_noise", 1)
        self.antithetic = bool(antithetic)
        if self.antithetic and self.n_noise % 2:
            raise ValueError(f"antithetic noise comes in pairs: n_noise must be even, got {n_noise}")

    def config(self):
        return {"type": "DenoisingScoreMatching", "sigma": self.sigma, "n_noise": self.n_noise,
                "antithetic": self.antithetic}

    def setup(self, model, data):
        _require_score_model(model, "DenoisingScoreMatching")

    def _evaluate(self, model, x, rng, need_grad):
        n, d = x.shape
        if self.antithetic:
            half = rng.standard_normal((self.n_noise // 2, n, d))
            eps = np.concatenate([half, -half]).reshape(-1, d)
        else:
            eps = rng.standard_normal((self.n_noise, n, d)).reshape(-1, d)
        xt = np.tile(x, (self.n_noise, 1)) + self.sigma * eps
        r = np.asarray(model.grad_x(xt), dtype=np.float64) - eps / self.sigma
        loss = 0.5 * float(np.mean(np.sum(r * r, axis=1)))
        if not need_grad:
            return loss, None, {}
        return loss, {k: np.asarray(v, np.float64) for k, v in model.grad_grad_x(xt, r).items()}, {}


# ---------------------------------------------------------------------------- NCE
class NCE(Objective):
    """Noise-contrastive estimation (Gutmann & Hyvärinen 2010; SPEC §3).

    ``log p_model(x) = −F(x) + c`` with ``c`` learned (it estimates ``−log Z``).  Each batch of
    ``n`` data points (label 1) is contrasted with ``ν n`` fresh noise samples (label 0) by
    logistic regression on ``G(x) = log p_model(x) − log(ν p_noise(x))``; the minimised loss is
    ``−(1/n)[Σ_data log σ(G) + Σ_noise log σ(−G)]``.  ``∂G/∂θ = −∂F/∂θ``, ``∂G/∂c = 1``.

    Parameters
    ----------
    noise : object with ``sample(n, rng)`` and ``log_prob(x)``, optional
        Default: fitted to the training data by :func:`estimators.fit` —
        :class:`~estimators.GaussianNoise` (mean, covariance) for real-valued models,
        :class:`~estimators.BernoulliNoise` (smoothed marginals) for binary ones.
    ratio : int
        ``ν``, noise samples per data point.
    c : float
        Initial ``c``.

    Examples
    --------
    >>> import numpy as np, pgm, estimators
    >>> g = pgm.GaussianEnergy([0.0], [[1.0]])
    >>> nce = estimators.NCE(estimators.GaussianNoise([0.0], [[2.0]]), ratio=4)
    >>> grads, stats = nce.grad(g, np.array([[0.5], [-0.3]]), np.random.default_rng(0))
    >>> sorted(grads)
    ['mean', 'objective.c', 'precision']
    """

    has_loss = True

    def __init__(self, noise=None, ratio=1, c=0.0):
        super().__init__()
        if noise is not None and not (hasattr(noise, "sample") and hasattr(noise, "log_prob")):
            raise TypeError(f"noise must have sample(n, rng) and log_prob(x), got {type(noise).__name__}")
        self.noise = noise
        self._noise_given = noise is not None
        self.ratio = _int(ratio, "ratio", 1)
        self.own_params = {"c": np.array(_real(c, "c"))}

    @property
    def c(self):
        """The learned log-normaliser ``c ≈ −log Z``."""
        return float(self.own_params["c"])

    def config(self):
        noise = self.noise.config() if self._noise_given and hasattr(self.noise, "config") else \
            (type(self.noise).__name__ if self._noise_given else "from_data")
        return {"type": "NCE", "ratio": self.ratio, "noise": noise}

    def setup(self, model, data):
        if not self._noise_given:
            self.noise = BernoulliNoise.from_data(data) if visible_is_binary(model) else GaussianNoise.from_data(data)
        if self.noise is None:
            raise ValueError("NCE needs a noise distribution (pass noise=..., or train with estimators.fit)")

    def _evaluate(self, model, x, rng, need_grad):
        if self.noise is None:
            raise ValueError("NCE has no noise distribution yet: pass noise=... or call setup(model, data)")
        n = x.shape[0]
        y = np.asarray(self.noise.sample(self.ratio * n, rng), dtype=np.float64)
        c, log_nu = float(self.own_params["c"]), math.log(self.ratio)
        gx = -np.asarray(model.free_energy(x), np.float64) + c - log_nu - self.noise.log_prob(x)
        gy = -np.asarray(model.free_energy(y), np.float64) + c - log_nu - self.noise.log_prob(y)
        loss = -(float(np.sum(_log_sigmoid(gx))) + float(np.sum(_log_sigmoid(-gy)))) / n
        if not need_grad:
            return loss, None, {}
        dx = -_sigmoid(-gx) / n            # ∂loss/∂G on data
        dy = _sigmoid(gy) / n              # ∂loss/∂G on noise
        g = weighted_grad(model, np.concatenate([x, y]), -np.concatenate([dx, dy]))
        g["objective.c"] = np.array(float(dx.sum() + dy.sum()))
        acc = (np.sum(gx > 0) + np.sum(gy < 0)) / (x.shape[0] + y.shape[0])
        return loss, g, {"accuracy": float(acc), "c": c}
