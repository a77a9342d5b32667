"""Learning sigmoid belief nets with a recognition network: wake–sleep (Hinton et al. 1995) and
NVIL (neural variational inference and learning, Mnih & Gregor 2014) — SPEC.md §4 "learned
approximate inference", §5 "directed: sigmoid belief nets", "REINFORCE with baselines for
discrete latents (NVIL: learned input-dependent baseline, variance normalisation)".

Both train a generative :class:`pgm.SigmoidBeliefNet` ``p(v, h)`` together with a factorial
recognition network ``q(h | v)`` (:class:`pgm.sigmoid_belief.Recognition`), whose parameters are
the objective's own (``own_params`` ``"recognition.R1"``, …; gradients under
``"objective.recognition.R1"``, …, updated by :func:`estimators.fit` with the model's).

* :class:`WakeSleep`.  *Wake*: draw ``h ~ q(h | v)`` for the data rows and follow
  ``∂ log p(v, h)/∂θ`` (the generative model learns to reproduce the recognised codes).
  *Sleep*: draw ``(h, v) ~ p`` ancestrally ("dreams") and follow ``∂ log q(h | v)/∂φ`` (the
  recognition network learns to invert the generative model).  The two phases minimise
  different divergences (``KL(q‖p)`` for θ, ``KL(p‖q)`` for φ), so the update is not the gradient
  of any one function: ``has_loss = False``.
* :class:`NVIL`.  Maximises the ELBO ``E_q[l(v, h)]``, ``l = log p(v, h) − log q(h | v)``, by
  one draw ``h ~ q(h | v)`` per row: ``∂/∂θ = ∂ log p(v, h)/∂θ`` (exact at the draw) and, by
  REINFORCE (:func:`estimators.reinforce`), ``∂/∂φ ≈ (l − b(v) − μ)/max(1, s) · ∂ log q(h | v)/∂φ``
  with an input-dependent baseline ``b(v)`` (a small :class:`pgm.Network` trained by squared
  error to the centred signal ``l − μ``) and running estimates ``μ, s²`` of the mean and variance
  of ``l − b(v)`` (variance normalisation).

The reported ``"loss"`` is minus a single-sample ELBO estimate (a monitor, noisy; an upper bound
on ``−log p(v)`` in expectation).  :meth:`~_RecognitionObjective.importance_bound` gives the
tighter importance-weighted estimate with the recognition network as proposal.
"""

import math
import numbers

import numpy as np

import samplers
from pgm.errors import CardinalityError
from pgm.network import Network, check_network, prefixed
from pgm.sigmoid_belief import Recognition

from .gradient_estimators import reinforce
from .objectives import Objective

__all__ = ["WakeSleep", "NVIL"]

_REC = "recognition."
_BASE = "baseline."


def _seed(seed):
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise TypeError(f"seed must be an integer or None, got {seed!r}")
    return None if seed is None else int(seed)


class _RecognitionObjective(Objective):
    """Shared: the recognition network (built for the model at setup when not given)."""

    data_kind = "binary"
    has_loss = False

    def __init__(self, recognition=None, seed=0):
        super().__init__()
        if recognition is not None:
            missing = [m for m in ("layer_sizes", "params", "set_params", "noise_shapes", "sample_and_log_prob",
                                   "log_prob", "log_prob_and_grad", "grad_log_prob")
                       if not hasattr(recognition, m)]
            if missing:
                raise TypeError(f"recognition must be a recognition network "
                                f"(pgm.sigmoid_belief.Recognition); {type(recognition).__name__} lacks {missing}")
        self.recognition = recognition
        self.seed = _seed(seed)
        if recognition is not None:
            self.own_params.update(prefixed(recognition.params, _REC[:-1]))

    def _check_model(self, model):
        sizes = getattr(model, "layer_sizes", None)
        if sizes is None:
            raise TypeError(f"{type(self).__name__} trains layered directed models (pgm.SigmoidBeliefNet); "
                            f"{type(model).__name__} has no layer_sizes")
        return tuple(int(s) for s in sizes)

    def _ensure(self, model):
        """Build (or check) the recognition network for ``model``."""
        sizes = self._check_model(model)
        if self.recognition is None:
            self.recognition = Recognition(sizes, seed=self.seed)
            self.own_params.update(prefixed(self.recognition.params, _REC[:-1]))
        elif tuple(self.recognition.layer_sizes) != sizes:
            raise CardinalityError(f"the recognition network has layer_sizes "
                                   f"{tuple(self.recognition.layer_sizes)}, the model {sizes}")

    def setup(self, model, data):
        self._ensure(model)

    def _recognise(self, x, rng):
        """``(h, log q(h | v))`` for one draw ``h ~ q(h | v)`` per row."""
        q = self.recognition
        h, lq = q.sample_and_log_prob(x, rng.random(q.noise_shapes(x.shape[0])["uniform"]))
        return h, np.asarray(lq, np.float64)

    def importance_bound(self, model, x, k=1000, seed=None):
        """Per-row ``log (1/k) Σ_j p(v, h_j)/q(h_j | v)`` with ``h_j ~ q(h | v)`` (the recognition
        network as proposal): a stochastic lower bound on ``log p(v)`` that tightens as ``k``
        grows (see :meth:`pgm.SigmoidBeliefNet.importance_bound`)."""
        self._ensure(model)
        return model.importance_bound(x, self.recognition, k=k, seed=seed)


class WakeSleep(_RecognitionObjective):
    """Wake–sleep learning of a sigmoid belief net and its recognition network (SPEC §4).

    One update on a batch ``v`` of ``n`` rows:

    * wake: ``h ~ q(h | v)``; generative gradient ``−(1/n) Σ_k ∂ log p(v_k, h_k)/∂θ``;
    * sleep: ``m`` ancestral samples ``(v', h') ~ p``; recognition gradient
      ``−(1/m) Σ_k ∂ log q(h'_k | v'_k)/∂φ`` (keys ``"objective.recognition.<name>"``).

    Parameters
    ----------
    recognition : pgm.sigmoid_belief.Recognition or None
        The recognition network (trained in place); default: built for the model at setup,
        weights ``N(0, 0.1²)`` from ``seed``.
    sleep_samples : int or None
        ``m``, dreams per update (default: the batch size).
    seed : int or None
        Seeds the default recognition network's initial weights.

    Stats: ``"loss"`` (minus the single-sample ELBO estimate ``mean(log p(v, h) − log q(h | v))``
    at the wake draws), ``"bound"`` (that estimate) and ``"sleep_loss"``
    (``−mean log q(h' | v')`` on the dreams).

    Examples
    --------
    >>> import numpy as np, estimators, samplers
    >>> from pgm.sigmoid_belief import SigmoidBeliefNet
    >>> true = SigmoidBeliefNet((6, 2), seed=1, scale=3.0)
    >>> x = samplers.ancestral(true, 1000, seed=0)
    >>> m = SigmoidBeliefNet((6, 2), seed=0)
    >>> before = m.log_likelihood(x).mean()
    >>> from estimators.wake_sleep import WakeSleep
    >>> ws = WakeSleep()
    >>> h = estimators.fit(m, x, ws, estimators.Adam(lr=0.05), epochs=20, batch_size=50, seed=0,
    ...                    progress=False)
    >>> bool(m.log_likelihood(x).mean() > before + 0.2)
    True
    """

    requires = ("layer_sizes", "log_prob_and_grad", "noise_shapes", "ancestral_pass")

    def __init__(self, recognition=None, sleep_samples=None, seed=0):
        super().__init__(recognition, seed)
        if sleep_samples is not None and (isinstance(sleep_samples, bool) or
                                          not isinstance(sleep_samples, numbers.Integral) or sleep_samples < 1):
            raise ValueError(f"sleep_samples must be a positive integer or None, got {sleep_samples!r}")
        self.sleep_samples = None if sleep_samples is None else int(sleep_samples)

    def config(self):
        return {"type": "WakeSleep", "sleep_samples": self.sleep_samples, "seed": self.seed}

    def _evaluate(self, model, x, rng, need_grad):
        self._ensure(model)
        q = self.recognition
        n = x.shape[0]
        # wake: recognise the data, fit the generative model to the recognised codes
        h, lq = self._recognise(x, rng)
        if need_grad:
            lp, g_gen = model.log_prob_and_grad(x, h)
        else:
            lp = model.log_prob(x, h)
        bound = float(np.mean(np.asarray(lp, np.float64) - lq))
        # sleep: dream from the generative model, fit the recognition network to the dreams
        m = n if self.sleep_samples is None else self.sleep_samples
        dream = samplers.ancestral(model, m, seed=rng, layers=True)
        if need_grad:
            lq, g_rec = q.log_prob_and_grad(dream[0], list(dream[1:]))
        else:
            lq = q.log_prob(dream[0], list(dream[1:]))
        stats = {"bound": bound, "sleep_loss": -float(np.mean(lq))}
        if not need_grad:
            return -bound, None, stats
        grads = {k: -np.asarray(g, np.float64) for k, g in g_gen.items()}
        grads.update({"objective." + _REC + k: -np.asarray(g, np.float64) for k, g in g_rec.items()})
        return -bound, grads, stats


class NVIL(_RecognitionObjective):
    """Neural variational inference and learning (Mnih & Gregor 2014; SPEC §5).

    Maximises the ELBO ``E_{q(h|v)}[l(v, h)]``, ``l = log p(v, h) − log q(h | v)``, with one draw
    ``h ~ q(h | v)`` per data row.  Gradients of the minimised ``−ELBO`` (batch of ``n`` rows):

    * generative θ: ``−(1/n) Σ_k ∂ log p(v_k, h_k)/∂θ`` (exact at the draws);
    * recognition φ (keys ``"objective.recognition.<name>"``): REINFORCE
      (:func:`estimators.reinforce`) ``−(1/n) Σ_k a_k ∂ log q(h_k | v_k)/∂φ`` with the normalised
      learning signal ``a_k = (l_k − b(v_k) − μ) / max(1, s)``;
    * baseline ψ (keys ``"objective.baseline.<name>"``): the gradient of
      ``½ mean_k (l_k − μ − b(v_k))² / max(1, s)``, i.e. ``−(1/n) Σ_k a_k ∂b(v_k)/∂ψ``.

    ``μ`` and ``s²`` are running (exponential, factor ``alpha`` per update) estimates of the mean
    and variance of ``l − b(v)`` taken from *earlier* batches, so the baseline never depends on
    the current draws and the estimate stays unbiased (the first batch uses its own statistics).
    They are kept in :meth:`state_dict` (checkpoints).  Each gradient evaluation advances them.

    Parameters
    ----------
    recognition : pgm.sigmoid_belief.Recognition or None
        As for :class:`WakeSleep`.
    baseline : pgm.Network, None or False
        The input-dependent baseline ``b(v)``, a network from ``n_visible`` inputs to 1 output;
        ``None``: ``pgm.Network((n_visible, baseline_hidden, 1), activation="tanh")`` with its
        output layer set to zero (``b = 0`` at the start); ``False``: no input-dependent baseline
        (only the running mean).
    baseline_hidden : int
        Width of the default baseline network's hidden layer.
    alpha : float in [0, 1)
        Decay of the running mean and variance of the centred signal.
    normalise : bool
        Divide the centred signal by ``max(1, s)`` (variance normalisation).
    seed : int or None
        Seeds the default recognition and baseline networks.

    Stats: ``"loss"`` (``−mean l``, minus the single-sample ELBO estimate), ``"elbo"``,
    ``"signal_mean"`` / ``"signal_std"`` (``μ``, ``s`` used by this update) and
    ``"baseline_loss"``.

    Examples
    --------
    >>> import numpy as np, estimators, samplers
    >>> from pgm.sigmoid_belief import SigmoidBeliefNet
    >>> true = SigmoidBeliefNet((6, 2), seed=1, scale=3.0)
    >>> x = samplers.ancestral(true, 1000, seed=0)
    >>> m = SigmoidBeliefNet((6, 2), seed=0)
    >>> before = m.log_likelihood(x).mean()
    >>> from estimators.wake_sleep import NVIL
    >>> nvil = NVIL(baseline_hidden=8)
    >>> h = estimators.fit(m, x, nvil, estimators.Adam(lr=0.05), epochs=20, batch_size=50, seed=0,
    ...                    progress=False)
    >>> bool(m.log_likelihood(x).mean() > before + 0.2)
    True
    """

    requires = ("layer_sizes", "log_prob", "log_prob_and_grad")

    def __init__(self, recognition=None, baseline=None, baseline_hidden=100, alpha=0.8, normalise=True,
                 seed=0):
        super().__init__(recognition, seed)
        if baseline is not None and baseline is not False:
            check_network(baseline, getattr(baseline, "n_in", None), 1, "baseline")
        if isinstance(baseline_hidden, bool) or not isinstance(baseline_hidden, numbers.Integral) \
                or baseline_hidden < 1:
            raise ValueError(f"baseline_hidden must be a positive integer, got {baseline_hidden!r}")
        if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0.0 <= alpha < 1.0:
            raise ValueError(f"alpha must be a real number in [0, 1), got {alpha!r}")
        self.baseline = baseline
        self.baseline_hidden = int(baseline_hidden)
        self.alpha = float(alpha)
        self.normalise = bool(normalise)
        if baseline is not None and baseline is not False:
            self.own_params.update(prefixed(baseline.params, _BASE[:-1]))
        self.signal_mean = np.zeros(())
        self.signal_var = np.ones(())
        self._started = False

    def config(self):
        return {"type": "NVIL", "baseline": self.baseline is not False, "baseline_hidden": self.baseline_hidden,
                "alpha": self.alpha, "normalise": self.normalise, "seed": self.seed}

    def _ensure(self, model):
        super()._ensure(model)
        n_in = self.recognition.layer_sizes[0]
        if self.baseline is None:
            net = Network((n_in, self.baseline_hidden, 1), activation="tanh", output="linear",
                          seed=None if self.seed is None else self.seed + 1)
            net.weights[-1][...] = 0.0
            self.baseline = net
            self.own_params.update(prefixed(net.params, _BASE[:-1]))
        elif self.baseline is not False and self.baseline.n_in != n_in:
            raise CardinalityError(f"the baseline network takes {self.baseline.n_in} inputs, the model has "
                                   f"{n_in} visible units")

    def state_dict(self):
        if not self._started:
            return {}
        return {"signal_mean": np.array(self.signal_mean), "signal_var": np.array(self.signal_var)}

    def load_state_dict(self, arrays):
        arrays = dict(arrays)
        mean, var = arrays.pop("signal_mean", None), arrays.pop("signal_var", None)
        if (mean is None) != (var is None):
            raise ValueError("NVIL state needs both signal_mean and signal_var")
        if mean is not None:
            mean, var = np.asarray(mean, np.float64).reshape(()), np.asarray(var, np.float64).reshape(())
            if not (np.isfinite(mean) and np.isfinite(var) and var >= 0):
                raise ValueError(f"NVIL state must be finite with a variance >= 0, got {mean}, {var}")
            self.signal_mean, self.signal_var, self._started = mean, var, True
        return arrays

    def _evaluate(self, model, x, rng, need_grad):
        self._ensure(model)
        q = self.recognition
        n = x.shape[0]
        h, lq = self._recognise(x, rng)
        if need_grad:
            lp, g_gen = model.log_prob_and_grad(x, h)
        else:
            lp = model.log_prob(x, h)
        signal = np.asarray(lp, np.float64) - lq
        if self.baseline is not False:
            b, cache = self.baseline.forward_cache(x)
            b = np.asarray(b, np.float64)[:, 0]
        else:
            b = np.zeros(n)
        centred = signal - b
        if self._started:
            mu, var = float(self.signal_mean), float(self.signal_var)
        else:
            mu, var = float(centred.mean()), float(centred.var())
        scale = max(1.0, math.sqrt(var)) if self.normalise else 1.0
        a = (centred - mu) / scale
        elbo = float(signal.mean())
        stats = {"elbo": elbo, "signal_mean": mu, "signal_std": math.sqrt(var),
                 "baseline_loss": 0.5 * float(np.mean((centred - mu) ** 2)) / scale}
        if not need_grad:
            return -elbo, None, stats
        grads = {k: -np.asarray(g, np.float64) for k, g in g_gen.items()}
        g_rec = reinforce(signal, lambda w: q.grad_log_prob(x, h, weights=w), baseline=b + mu)
        grads.update({"objective." + _REC + k: -g / scale for k, g in g_rec.items()})
        if self.baseline is not False:
            _, g_base = self.baseline.backward(cache, (-a / n)[:, None], need_x=False)
            grads.update({"objective." + _BASE + k: np.asarray(g, np.float64) for k, g in g_base.items()})
        # advance the running statistics (used from the next batch on)
        if self._started:
            self.signal_mean = np.array(self.alpha * mu + (1.0 - self.alpha) * centred.mean())
            self.signal_var = np.array(self.alpha * var + (1.0 - self.alpha) * centred.var())
        else:
            self.signal_mean, self.signal_var, self._started = np.array(mu), np.array(var), True
        return -elbo, grads, stats
