"""Learning conditional RBMs (Taylor, Hinton & Roweis 2007; SPEC.md §5 "Conditional RBM", §3
learners): contrastive divergence with per-row conditioned biases, and exact maximum
conditional likelihood for small models.

Data layout.  A training row is ``[v, u]`` concatenated: the first ``model.n_visible`` columns
are the binary visibles ``v``, the remaining ``model.n_context`` columns the real context
``u`` (e.g. the previous frames of a sequence).  The model reports the row width as
``model.data_width = n_visible + n_context``, which :func:`estimators.fit` checks the data
against; these objectives check the rest (finite values, binary ``v``) once in ``setup`` and on
every batch handed to :meth:`~estimators.Objective.grad` / ``loss`` directly.

Objectives (each minimises, or follows the gradient of, the negative mean conditional
log-likelihood ``−(1/n) Σ_k log p(v_k | u_k)``):

* :class:`ConditionalCD` — CD-k: ``g = mean ∂F(v; u) − mean ∂F(v⁻; u)`` where ``v⁻`` is ``k``
  steps of block Gibbs ``h ~ p(h | v, u)``, ``v ~ p(v | h, u)`` started at each row's data
  ``v`` with that row's context held fixed (the biases ``b + Au``, ``c + Bu`` differ per row);
  vectorised over the batch, uniforms from the fit's generator.
* :class:`ConditionalML` — exact: ``g = −(1/n) Σ_k ∂ log p(v_k | u_k)/∂θ``, the partition
  function ``Z(u_k)`` and its gradient by enumerating the smaller layer of the model (see
  :meth:`pgm.ConditionalRBM.grad_log_prob`); a true loss, so full-batch optimisers
  (:class:`estimators.LBFGS`) apply.
"""

import numpy as np

from pgm.errors import CardinalityError

from .objectives import Objective, _int

__all__ = ["ConditionalCD", "ConditionalML"]


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


class _ConditionalObjective(Objective):
    data_kind = None     # the context is real; the visible part is checked here

    def setup(self, model, data):
        self._split(model, data)

    def _batch(self, model, x):
        return np.concatenate(self._split(model, x), axis=1)

    @staticmethod
    def _split(model, x):
        """``(v, u)`` from rows ``[v, u]`` (typed errors for a wrong width, NaN, non-binary v)."""
        width = int(model.n_visible) + int(model.n_context)
        shape = np.shape(x)
        if len(shape) != 2 or shape[1] != width:
            raise CardinalityError(
                f"rows must be [v, context] with {model.n_visible} + {model.n_context} = {width} "
                f"columns for this {type(model).__name__}, got shape {shape}")
        return model.split(x)


class ConditionalCD(_ConditionalObjective):
    """CD-k for a :class:`pgm.ConditionalRBM` on rows ``[v, u]`` (see the module docstring).

    ``g = mean ∂F(v; u) − mean ∂F(v⁻; u)`` with ``v⁻`` after ``k`` block-Gibbs steps started at
    the data, each row conditioned on its own context.  Stats: ``recon_error`` (mean squared
    difference between ``v`` and ``v⁻``).

    Parameters
    ----------
    k : int
        Gibbs steps per update.

    Examples
    --------
    >>> import numpy as np, pgm, estimators
    >>> rng = np.random.default_rng(0)
    >>> u = rng.integers(0, 2, (200, 3)).astype(float)
    >>> v = np.abs(u - (rng.random((200, 3)) < 0.1))          # v = u with 10 % flips
    >>> m = pgm.ConditionalRBM(3, 4, 3, seed=0)
    >>> before = m.log_prob(v, u).mean()
    >>> _ = estimators.fit(m, np.hstack([v, u]), estimators.ConditionalCD(k=1),
    ...                    estimators.Adam(lr=0.05), epochs=30, batch_size=50, seed=0, progress=False)
    >>> bool(m.log_prob(v, u).mean() > before + 1.0)
    True
    """

    requires = ("n_context", "split", "conditioned_biases", "grad_free_energy")

    def __init__(self, k=1):
        super().__init__()
        self.k = _int(k, "k", 1)

    def config(self):
        return {"type": "ConditionalCD", "k": self.k}

    def _evaluate(self, model, x, rng, need_grad):
        d = model.n_visible
        v0, u = x[:, :d], x[:, d:]
        bv, bh = model.conditioned_biases(u)
        W = np.asarray(model.W, dtype=np.float64)
        v = v0
        for _ in range(self.k):
            h = (rng.random(bh.shape) < _sigmoid(v @ W + bh)).astype(np.float64)
            v = (rng.random(bv.shape) < _sigmoid(h @ W.T + bv)).astype(np.float64)
        n = x.shape[0]
        w = np.concatenate([np.full(n, 1.0 / n), np.full(n, -1.0 / n)])
        grads = model.grad_free_energy(np.concatenate([v0, v]), np.concatenate([u, u]), weights=w)
        return None, grads, {"recon_error": float(np.mean((v0 - v) ** 2))}


class ConditionalML(_ConditionalObjective):
    """Exact maximum conditional likelihood for a small :class:`pgm.ConditionalRBM`.

    Minimises ``−(1/n) Σ_k log p(v_k | u_k)`` (nats per row) with its exact gradient; every row
    needs its own ``Z(u_k)``, computed by enumerating the smaller layer (``2^min(D, H)``
    states per row; :class:`~pgm.errors.TooLargeError` above 25 units).  Stats: ``loss`` and
    ``bits_per_dim``.

    Examples
    --------
    >>> import numpy as np, pgm, estimators
    >>> rng = np.random.default_rng(0)
    >>> u = rng.integers(0, 2, (200, 2)).astype(float)
    >>> v = np.abs(u - (rng.random((200, 2)) < 0.1))
    >>> m = pgm.ConditionalRBM(2, 3, 2, seed=0)
    >>> h = estimators.fit(m, np.hstack([v, u]), estimators.ConditionalML(), estimators.LBFGS(),
    ...                    epochs=1, progress=False)
    >>> bool(h["loss"][-1] < 0.8)    # noise floor 2 H(0.1) = 0.65 nats; fair coins 2 log 2 = 1.39
    True
    """

    has_loss = True
    requires = ("n_context", "split", "log_prob", "log_prob_and_grad")

    def config(self):
        return {"type": "ConditionalML"}

    def _evaluate(self, model, x, rng, need_grad):
        d = model.n_visible
        v, u = x[:, :d], x[:, d:]
        grads = None
        if need_grad:
            lp, g = model.log_prob_and_grad(v, u)
            grads = {k: -np.asarray(gk, dtype=np.float64) for k, gk in g.items()}
        else:
            lp = model.log_prob(v, u)
        loss = -float(np.mean(lp))
        return loss, grads, {"bits_per_dim": loss / (d * np.log(2.0))}
